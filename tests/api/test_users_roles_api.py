"""User and role administration over HTTP, with their 401/403/404/409/422 paths."""

from __future__ import annotations

import secrets

from tests.api.conftest import PASSWORD, Api

MISSING_ID = "01900000-0000-7000-8000-000000000000"


def _email() -> str:
    return f"p-{secrets.token_hex(4)}@example.com"


async def test_admin_creates_lists_reads_and_updates_users(api: Api) -> None:
    admin = await api.admin()
    created = await api.client.post(
        "/users", json={"email": _email(), "password": PASSWORD, "display_name": "Ann"}, headers=admin
    )
    assert created.status_code == 201
    user = created.json()
    assert user["roles"] == ["member"]
    assert "receipts:write" in user["permissions"]
    assert "password_hash" not in created.text
    listed = await api.client.get("/users", headers=admin)
    assert listed.status_code == 200
    assert user["id"] in [u["id"] for u in listed.json()["items"]]
    got = await api.client.get(f"/users/{user['id']}", headers=admin)
    assert got.json()["display_name"] == "Ann"
    patched = await api.client.patch(f"/users/{user['id']}", json={"display_name": "Ann B."}, headers=admin)
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "Ann B."


async def test_user_listing_pages_with_a_cursor(api: Api) -> None:
    admin = await api.admin()
    for _ in range(3):
        await api.user()
    first = (await api.client.get("/users", params={"limit": 2}, headers=admin)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = (await api.client.get("/users", params={"limit": 2, "after": first["next_cursor"]}, headers=admin)).json()
    ids = [u["id"] for u in first["items"] + second["items"]]
    assert len(ids) == len(set(ids))
    bad = await api.client.get("/users", params={"limit": 0}, headers=admin)
    assert bad.status_code == 422
    bad_after = await api.client.get("/users", params={"after": "'; drop table users; --"}, headers=admin)
    assert bad_after.status_code == 422


async def test_duplicate_email_is_409_and_bad_bodies_are_422(api: Api) -> None:
    admin = await api.admin()
    email = _email()
    assert (
        await api.client.post("/users", json={"email": email, "password": PASSWORD}, headers=admin)
    ).status_code == 201
    again = await api.client.post("/users", json={"email": email.upper(), "password": PASSWORD}, headers=admin)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/conflict")
    weak = await api.client.post("/users", json={"email": _email(), "password": "password"}, headers=admin)
    assert weak.status_code == 422
    not_email = await api.client.post("/users", json={"email": "not-an-email", "password": PASSWORD}, headers=admin)
    assert not_email.status_code == 422
    unknown_role = await api.client.post(
        "/users", json={"email": _email(), "password": PASSWORD, "roles": ["wizard"]}, headers=admin
    )
    assert unknown_role.status_code == 422


async def test_members_cannot_administer_users_or_roles(api: Api) -> None:
    member_id, member = await api.user()
    other_id, _ = await api.user()
    assert (await api.client.get("/users", headers=member)).status_code == 403
    assert (
        await api.client.post("/users", json={"email": _email(), "password": PASSWORD}, headers=member)
    ).status_code == 403
    assert (await api.client.patch(f"/users/{other_id}", json={"display_name": "x"}, headers=member)).status_code == 403
    assert (
        await api.client.put(f"/users/{member_id}/roles", json={"roles": ["admin"]}, headers=member)
    ).status_code == 403
    assert (await api.client.post(f"/users/{other_id}/disable", headers=member)).status_code == 403
    assert (
        await api.client.post("/roles", json={"name": "x-role", "permissions": []}, headers=member)
    ).status_code == 403
    assert (await api.client.get("/roles", headers=member)).status_code == 403
    forbidden = await api.client.get(f"/users/{other_id}", headers=member)
    assert forbidden.status_code in (403, 404)
    own = await api.client.get(f"/users/{member_id}", headers=member)
    assert own.status_code == 200


async def test_user_routes_without_a_token_are_401(api: Api) -> None:
    for method, path in (("GET", "/users"), ("POST", "/users"), ("GET", f"/users/{MISSING_ID}"), ("GET", "/roles")):
        response = await api.client.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 401, path


async def test_unknown_or_malformed_user_ids_are_404(api: Api) -> None:
    admin = await api.admin()
    for user_id in (MISSING_ID, "not-a-uuid", "1%20OR%201=1"):
        response = await api.client.get(f"/users/{user_id}", headers=admin)
        assert response.status_code == 404, user_id
        assert response.json()["type"].endswith("/not-found")
    assert (await api.client.post(f"/users/{MISSING_ID}/disable", headers=admin)).status_code == 404


async def test_setting_roles_takes_effect_on_the_next_request(api: Api) -> None:
    admin = await api.admin()
    user_id, headers = await api.user()
    assert (await api.client.get("/users", headers=headers)).status_code == 403
    response = await api.client.put(f"/users/{user_id}/roles", json={"roles": ["auditor"]}, headers=admin)
    assert response.status_code == 200
    assert response.json()["roles"] == ["auditor"]
    # the role change bumped the token version: the old token is dead, a new login has the new rights
    assert (await api.client.get("/auth/me", headers=headers)).status_code == 401
    email = response.json()["email"]
    fresh = await api.login(email)
    assert (await api.client.get("/users", headers=fresh)).status_code == 200


async def test_disable_and_enable_a_user(api: Api) -> None:
    admin = await api.admin()
    user_id, headers = await api.user()
    email = (await api.client.get("/auth/me", headers=headers)).json()["email"]
    disabled = await api.client.post(f"/users/{user_id}/disable", headers=admin)
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert (await api.client.get("/auth/me", headers=headers)).status_code == 401
    refused = await api.client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 401
    enabled = await api.client.post(f"/users/{user_id}/enable", headers=admin)
    assert enabled.json()["disabled"] is False
    await api.login(email)


async def test_the_last_admin_cannot_be_disabled_or_demoted(api: Api) -> None:
    admin = await api.admin()
    me = (await api.client.get("/auth/me", headers=admin)).json()
    assert (await api.client.post(f"/users/{me['id']}/disable", headers=admin)).status_code == 409
    demote = await api.client.put(f"/users/{me['id']}/roles", json={"roles": ["member"]}, headers=admin)
    assert demote.status_code == 409


async def test_custom_roles_lifecycle(api: Api) -> None:
    admin = await api.admin()
    listed = await api.client.get("/roles", headers=admin)
    assert {"admin", "auditor", "member"} <= {r["name"] for r in listed.json()["items"]}
    created = await api.client.post(
        "/roles",
        json={"name": "bookkeeper", "permissions": ["receipts:read:any"], "description": "books"},
        headers=admin,
    )
    assert created.status_code == 201
    assert created.json()["builtin"] is False
    assert (
        await api.client.post("/roles", json={"name": "bookkeeper", "permissions": []}, headers=admin)
    ).status_code == 409
    bad_perm = await api.client.post("/roles", json={"name": "hacker", "permissions": ["root"]}, headers=admin)
    assert bad_perm.status_code == 422
    updated = await api.client.patch(
        "/roles/bookkeeper", json={"permissions": ["receipts:read", "receipts:read:any"]}, headers=admin
    )
    assert updated.status_code == 200
    assert updated.json()["permissions"] == ["receipts:read", "receipts:read:any"]
    assert (await api.client.patch("/roles/admin", json={"description": "x"}, headers=admin)).status_code == 409
    assert (await api.client.delete("/roles/admin", headers=admin)).status_code == 409
    user_id, _ = await api.user(roles=["bookkeeper"])
    assert (await api.client.delete("/roles/bookkeeper", headers=admin)).status_code == 409  # still held
    await api.client.put(f"/users/{user_id}/roles", json={"roles": ["member"]}, headers=admin)
    assert (await api.client.delete("/roles/bookkeeper", headers=admin)).status_code == 204
    assert (await api.client.delete("/roles/bookkeeper", headers=admin)).status_code == 404
    assert (await api.client.patch("/roles/NOT%20A%20ROLE", json={}, headers=admin)).status_code == 404
