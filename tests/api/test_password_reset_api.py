"""``POST /users/{id}/reset-password``: an admin gives someone a new password and ends their sessions."""

from __future__ import annotations

from tests.api.conftest import PASSWORD, Api

MISSING_ID = "01900000-0000-7000-8000-000000000000"
NEW_PASSWORD = "a brand new passphrase 77"


async def _email_of(api: Api, headers: dict[str, str]) -> str:
    return str((await api.client.get("/auth/me", headers=headers)).json()["email"])


async def test_reset_generates_a_one_time_password_and_ends_every_session(api: Api) -> None:
    admin = await api.admin()
    user_id, headers = await api.user()
    email = await _email_of(api, headers)
    login = await api.client.post("/auth/login", json={"email": email, "password": PASSWORD})
    refresh_token = login.cookies["receiptcore_refresh"]
    api.client.cookies.clear()

    response = await api.client.post(f"/users/{user_id}/reset-password", headers=admin)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == user_id
    assert "password_hash" not in response.text
    one_time = body["password"]
    assert isinstance(one_time, str)
    assert len(one_time) >= 20
    # the old access token and the old refresh token are dead, the old password too; the new one works
    assert (await api.client.get("/auth/me", headers=headers)).status_code == 401
    assert (await api.client.post("/auth/refresh", json={"refresh_token": refresh_token})).status_code == 401
    old = await api.client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    await api.login(email, one_time)
    empty = await api.client.post(f"/users/{user_id}/reset-password", json={}, headers=admin)
    assert empty.status_code == 200, empty.text
    assert empty.json()["password"] not in (None, one_time)


async def test_reset_with_a_chosen_password_sets_it_and_returns_none(api: Api) -> None:
    admin = await api.admin()
    user_id, headers = await api.user()
    email = await _email_of(api, headers)
    response = await api.client.post(f"/users/{user_id}/reset-password", json={"password": NEW_PASSWORD}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["password"] is None
    await api.login(email, NEW_PASSWORD)


async def test_a_chosen_password_that_breaks_the_policy_is_422_and_changes_nothing(api: Api) -> None:
    admin = await api.admin()
    user_id, headers = await api.user()
    weak = await api.client.post(f"/users/{user_id}/reset-password", json={"password": "password"}, headers=admin)
    assert weak.status_code == 422
    assert weak.json()["type"].endswith("/weak-password")
    extra = await api.client.post(
        f"/users/{user_id}/reset-password", json={"password": NEW_PASSWORD, "x": 1}, headers=admin
    )
    assert extra.status_code == 422
    assert (await api.client.get("/auth/me", headers=headers)).status_code == 200  # the session lives on


async def test_members_get_403_and_unknown_users_404(api: Api) -> None:
    admin = await api.admin()
    other_id, other = await api.user()
    _, member = await api.user()
    forbidden = await api.client.post(f"/users/{other_id}/reset-password", headers=member)
    assert forbidden.status_code == 403
    assert forbidden.json()["type"].endswith("/forbidden")
    assert (await api.client.get("/auth/me", headers=other)).status_code == 200
    for user_id in (MISSING_ID, "not-a-uuid"):
        missing = await api.client.post(f"/users/{user_id}/reset-password", headers=admin)
        assert missing.status_code == 404, user_id
        assert missing.json()["type"].endswith("/not-found")
    anonymous = await api.client.post(f"/users/{other_id}/reset-password")
    assert anonymous.status_code == 401


async def test_a_delegated_manager_cannot_take_over_an_admin_and_nobody_resets_themselves(api: Api) -> None:
    admin = await api.admin()
    admin_id = (await api.client.get("/auth/me", headers=admin)).json()["id"]
    created = await api.client.post(
        "/roles",
        json={"name": "helpdesk", "permissions": ["users:read", "users:manage", "receipts:read", "receipts:write"]},
        headers=admin,
    )
    assert created.status_code == 201
    helpdesk_id, helpdesk = await api.user(roles=["helpdesk"])
    member_id, _ = await api.user()
    # a users:manage holder who is not an admin may reset a member, never an admin
    assert (await api.client.post(f"/users/{member_id}/reset-password", headers=helpdesk)).status_code == 200
    refused = await api.client.post(f"/users/{admin_id}/reset-password", headers=helpdesk)
    assert refused.status_code == 403
    # the last admin cannot end their own sessions with a password nobody knows: /auth/password is the way
    own = await api.client.post(f"/users/{admin_id}/reset-password", headers=admin)
    assert own.status_code == 403
    assert "/auth/password" in own.json()["detail"]
    assert (await api.client.get("/auth/me", headers=admin)).status_code == 200
    assert (await api.client.post(f"/users/{helpdesk_id}/reset-password", headers=helpdesk)).status_code == 403


async def test_the_operation_is_documented_with_its_problems(api: Api) -> None:
    schema = (await api.client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/users/{user_id}/reset-password"]["post"]
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
    assert "requestBody" in operation
