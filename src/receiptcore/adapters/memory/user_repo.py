"""MemoryUserRepo: users, custom roles and refresh tokens in process memory.

Production code, not a test fake: it is the user store of the memory profile (``RECEIPTCORE_PROFILE=memory``)
and the double of the unit tests, and it passes the same contract suite as the SQLite repo. Every method runs without an
``await`` between its check and its write, so on one event loop each call is atomic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from receiptcore.domain.users import ADMIN, RefreshToken, Role, User
from receiptcore.errors import Conflict, NotFound
from receiptcore.ports import UserRepo

LAST_ADMIN = "the last active admin cannot lose the admin role or be disabled"
CHANGED = "the user was changed by someone else meanwhile; reload and try again"


def _active_admin(user: User) -> bool:
    return ADMIN in user.roles and not user.disabled


class MemoryUserRepo(UserRepo):
    """The UserRepo port over dictionaries. Stored and returned objects are copies, so callers cannot change
    stored state by mutating what they got back."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._ids_by_email: dict[str, str] = {}
        self._roles: dict[str, Role] = {}
        self._tokens: dict[str, RefreshToken] = {}
        self._token_ids_by_hash: dict[str, str] = {}

    async def add_user(self, user: User) -> None:
        """Store a new user. Raises Conflict on a taken email or id."""
        email = user.email.lower()
        if email in self._ids_by_email or user.id in self._users:
            raise Conflict("a user with this email already exists")
        self._users[user.id] = user.model_copy(deep=True)
        self._ids_by_email[email] = user.id

    async def get_user(self, user_id: str) -> User:
        """Return the user with this id. Raises NotFound."""
        user = self._users.get(user_id)
        if user is None:
            raise NotFound("no such user")
        return user.model_copy(deep=True)

    async def find_user_by_email(self, email: str) -> User | None:
        """Return the user with this email (compared case-insensitively), or None."""
        user_id = self._ids_by_email.get(email.strip().lower())
        return None if user_id is None else self._users[user_id].model_copy(deep=True)

    async def save_user(self, user: User) -> None:
        """Overwrite an existing user. Raises NotFound if absent, Conflict on a taken email."""
        self._overwrite(self._current(user.id), user)

    async def save_user_keeping_admin(self, user: User, expected: User | None = None) -> None:
        """Overwrite an existing user unless that takes away the last active admin, or the stored user differs
        from ``expected`` (Conflict, nothing stored). Atomic because no ``await`` separates the checks from the
        write. Raises NotFound, Conflict."""
        current = self._current(user.id)
        if expected is not None and current != expected:
            raise Conflict(CHANGED)
        others = (u for u in self._users.values() if u.id != user.id)
        if _active_admin(current) and not _active_admin(user) and not any(map(_active_admin, others)):
            raise Conflict(LAST_ADMIN)
        self._overwrite(current, user)

    def _current(self, user_id: str) -> User:
        current = self._users.get(user_id)
        if current is None:
            raise NotFound("no such user")
        return current

    def _overwrite(self, current: User, user: User) -> None:
        email = user.email.lower()
        holder = self._ids_by_email.get(email)
        if holder is not None and holder != user.id:
            raise Conflict("a user with this email already exists")
        del self._ids_by_email[current.email.lower()]
        self._ids_by_email[email] = user.id
        self._users[user.id] = user.model_copy(deep=True)

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[User]:
        """Users ordered by id ascending, at most ``limit``, starting after the id ``after``."""
        ids = sorted(i for i in self._users if after is None or i > after)
        return [self._users[i].model_copy(deep=True) for i in ids[: max(limit, 0)]]

    async def count_users(self) -> int:
        """Number of users, disabled ones included."""
        return len(self._users)

    async def count_active_with_role(self, role: str) -> int:
        """Number of users that hold ``role`` and are not disabled."""
        return sum(1 for u in self._users.values() if role in u.roles and not u.disabled)

    async def add_role(self, role: Role) -> None:
        """Store a new custom role. Raises Conflict when the name exists."""
        if role.name in self._roles:
            raise Conflict(f"a role named {role.name!r} already exists")
        self._roles[role.name] = role.model_copy(deep=True)

    async def save_role(self, role: Role) -> None:
        """Overwrite an existing custom role. Raises NotFound if absent."""
        if role.name not in self._roles:
            raise NotFound(f"no role named {role.name!r}")
        self._roles[role.name] = role.model_copy(deep=True)

    async def delete_role(self, name: str) -> None:
        """Delete a custom role. Raises NotFound if absent."""
        if self._roles.pop(name, None) is None:
            raise NotFound(f"no role named {name!r}")

    async def list_roles(self) -> list[Role]:
        """Every custom role, ordered by name."""
        return [self._roles[name].model_copy(deep=True) for name in sorted(self._roles)]

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Store a refresh token. Raises Conflict on a duplicate id or hash."""
        if token.id in self._tokens or token.token_hash in self._token_ids_by_hash:
            raise Conflict("refresh token already stored")
        self._tokens[token.id] = token.model_copy(deep=True)
        self._token_ids_by_hash[token.token_hash] = token.id

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """Return the refresh token with this hash, used or not, or None."""
        token_id = self._token_ids_by_hash.get(token_hash)
        return None if token_id is None else self._tokens[token_id].model_copy(deep=True)

    async def use_refresh_token(self, token_id: str, at: dt.datetime) -> bool:
        """Mark an unused, unrevoked token used; True if this call used it."""
        token = self._tokens.get(token_id)
        if token is None or token.used_at is not None or token.revoked_at is not None:
            return False
        self._tokens[token_id] = token.model_copy(update={"used_at": at})
        return True

    async def revoke_refresh_family(self, family_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked token of a family; returns how many were revoked."""
        return self._revoke(lambda t: t.family_id == family_id, at)

    async def session_revoked(self, session_id: str) -> bool:
        """True once any token of the family was revoked, or for an unknown family."""
        family = [token for token in self._tokens.values() if token.family_id == session_id]
        return not family or any(token.revoked_at is not None for token in family)

    async def revoke_user_refresh_tokens(self, user_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked refresh token of a user; returns how many were revoked."""
        return self._revoke(lambda t: t.user_id == user_id, at)

    def _revoke(self, match: Callable[[RefreshToken], bool], at: dt.datetime) -> int:
        revoked = 0
        for token_id, token in self._tokens.items():
            if token.revoked_at is None and match(token):
                self._tokens[token_id] = token.model_copy(update={"revoked_at": at})
                revoked += 1
        return revoked
