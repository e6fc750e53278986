"""Sessions over HTTP: login, refresh (cookie and body), logout, me, password change, JWKS."""

from __future__ import annotations

from tests.api.conftest import ADMIN_EMAIL, PASSWORD, Api

PROBLEM = "application/problem+json"


def _cookie_header(response: object) -> str:
    values = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    assert len(values) == 1
    return str(values[0])


async def test_login_returns_a_bearer_token_and_a_strict_httponly_refresh_cookie(api: Api) -> None:
    await api.admin()
    response = await api.client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == api.settings.access_token_ttl_seconds
    cookie = _cookie_header(response).lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/auth" in cookie
    assert "secure" not in cookie  # cookie_secure is off by default (plain HTTP on localhost)
    assert "max-age=" in cookie
    assert response.headers["cache-control"] == "no-store"


async def test_login_email_is_case_insensitive(api: Api) -> None:
    await api.admin()
    response = await api.client.post("/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": PASSWORD})
    assert response.status_code == 200


async def test_wrong_password_and_unknown_email_get_the_same_401_problem(api: Api) -> None:
    await api.admin()
    wrong = await api.client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": "not the password!!"})
    unknown = await api.client.post("/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.headers["www-authenticate"].lower().startswith("bearer")
        assert "set-cookie" not in response.headers
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["type"] == unknown.json()["type"]


async def test_repeated_failed_logins_are_throttled_with_retry_after(api: Api) -> None:
    await api.admin()
    statuses = []
    for _ in range(8):
        response = await api.client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": "wrong password 123"})
        statuses.append(response.status_code)
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["type"].endswith("/rate-limited")


async def test_login_body_errors_are_422_problems(api: Api) -> None:
    for body in ({"email": ADMIN_EMAIL}, {"email": 1, "password": []}, {"email": "a", "password": "b", "x": 1}, []):
        response = await api.client.post("/auth/login", json=body)
        assert response.status_code == 422, body
        problem = response.json()
        assert problem["status"] == 422
        assert problem["type"] == "https://receiptcore.dev/problems/validation-failed"
        assert problem["errors"]


async def test_refresh_with_the_cookie_rotates_it_and_the_old_one_is_then_refused(api: Api) -> None:
    await api.admin()
    login = await api.client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    old = login.cookies["receiptcore_refresh"]
    refreshed = await api.client.post("/auth/refresh")  # the client sends the cookie back (path /auth)
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"]
    new = refreshed.cookies["receiptcore_refresh"]
    assert new != old
    me = await api.client.get("/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"})
    assert me.status_code == 200
    # presenting the used token again is reuse: refused, and the whole family (the new token too) is revoked
    reused = await api.client.post("/auth/refresh", json={"refresh_token": old})
    assert reused.status_code == 401
    after = await api.client.post("/auth/refresh", json={"refresh_token": new})
    assert after.status_code == 401


async def test_refresh_accepts_the_token_in_the_body_for_clients_without_cookies(api: Api) -> None:
    await api.admin()
    login = await api.client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    token = login.cookies["receiptcore_refresh"]
    api.client.cookies.clear()
    response = await api.client.post("/auth/refresh", json={"refresh_token": token})
    assert response.status_code == 200
    assert "access_token" in response.json()


async def test_refresh_without_any_token_is_401(api: Api) -> None:
    response = await api.client.post("/auth/refresh")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/token-rejected")
    garbage = await api.client.post("/auth/refresh", json={"refresh_token": "x" * 40})
    assert garbage.status_code == 401


async def test_logout_clears_the_cookie_and_revokes_the_refresh_token(api: Api) -> None:
    await api.admin()
    login = await api.client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    token = login.cookies["receiptcore_refresh"]
    response = await api.client.post("/auth/logout")
    assert response.status_code == 204
    cookie = _cookie_header(response).lower()
    assert "max-age=0" in cookie
    assert "path=/auth" in cookie
    refused = await api.client.post("/auth/refresh", json={"refresh_token": token})
    assert refused.status_code == 401
    again = await api.client.post("/auth/logout")  # idempotent
    assert again.status_code == 204


async def test_me_shows_the_user_with_permissions_and_never_the_password_hash(api: Api) -> None:
    headers = await api.admin()
    response = await api.client.get("/auth/me", headers=headers)
    assert response.status_code == 200
    me = response.json()
    assert me["email"] == ADMIN_EMAIL
    assert me["roles"] == ["admin"]
    assert "users:manage" in me["permissions"]
    assert {"id", "display_name", "created_at"} <= set(me)
    assert "password_hash" not in response.text
    assert "argon2" not in response.text


async def test_me_without_or_with_a_bad_token_is_401(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ):
        response = await api.client.get("/auth/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].lower().startswith("bearer")
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_password_change_ends_existing_sessions(api: Api) -> None:
    _, headers = await api.user()
    me = (await api.client.get("/auth/me", headers=headers)).json()
    new_password = "another long passphrase 99"
    weak = await api.client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
    )
    assert weak.status_code == 422
    wrong = await api.client.post(
        "/auth/password", json={"current_password": "wrong wrong wrong", "new_password": new_password}, headers=headers
    )
    assert wrong.status_code == 401
    response = await api.client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": new_password}, headers=headers
    )
    assert response.status_code == 204
    assert (await api.client.get("/auth/me", headers=headers)).status_code == 401
    fresh = await api.login(me["email"], new_password)
    assert (await api.client.get("/auth/me", headers=fresh)).status_code == 200


async def test_jwks_is_public_and_lists_an_ed25519_key(api: Api) -> None:
    response = await api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    assert keys[0]["kty"] == "OKP"
    assert keys[0]["crv"] == "Ed25519"
    assert "d" not in keys[0]  # never the private part
    assert "max-age" in response.headers["cache-control"]
