"""Ports: what the core needs from the outside world, as ``typing.Protocol``s.

Each method's docstring is the contract the suites in ``tests/contract/`` check against every adapter.
Adapters raise only ``receiptcore.errors`` exceptions; ``StorageUnavailable`` whenever their backend cannot
be reached.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from receiptcore.domain.backoff import Backoff
from receiptcore.domain.events import Event
from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import Page, ReceiptQuery, SpendingSummary
from receiptcore.domain.receipt import ExtractedReceipt, Receipt, ReceiptStatus, SourceFile
from receiptcore.domain.users import RefreshToken, Role, User


class Clock(Protocol):
    """The time source (timezone-aware UTC)."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware, UTC."""
        ...


class UserRepo(Protocol):
    """Users, custom roles and refresh tokens."""

    async def add_user(self, user: User) -> None:
        """Store a new user. Raises Conflict when a user with the same (normalised) email exists."""
        ...

    async def get_user(self, user_id: str) -> User:
        """Return the user with this id. Raises NotFound."""
        ...

    async def find_user_by_email(self, email: str) -> User | None:
        """Return the user with this normalised email, or None."""
        ...

    async def save_user(self, user: User) -> None:
        """Overwrite an existing user (matched by id). Raises NotFound if absent, Conflict on a taken email."""
        ...

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[User]:
        """Users ordered by id ascending, at most ``limit``, starting after the id ``after``."""
        ...

    async def count_users(self) -> int:
        """Number of users, disabled ones included."""
        ...

    async def count_active_with_role(self, role: str) -> int:
        """Number of users that hold ``role`` and are not disabled."""
        ...

    async def add_role(self, role: Role) -> None:
        """Store a new custom role. Raises Conflict when the name exists."""
        ...

    async def save_role(self, role: Role) -> None:
        """Overwrite an existing custom role. Raises NotFound if absent."""
        ...

    async def delete_role(self, name: str) -> None:
        """Delete a custom role. Raises NotFound if absent."""
        ...

    async def list_roles(self) -> list[Role]:
        """Every custom role, ordered by name (built-in roles are not stored)."""
        ...

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Store a refresh token (by its hash)."""
        ...

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """Return the refresh token with this hash, used or not, or None."""
        ...

    async def use_refresh_token(self, token_id: str, at: dt.datetime) -> bool:
        """Atomically mark an unused, unrevoked token used. True if this call used it; False if it already was
        used or revoked (the caller then treats the presentation as reuse)."""
        ...

    async def revoke_refresh_family(self, family_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked token of a family; returns how many were revoked."""
        ...

    async def revoke_user_refresh_tokens(self, user_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked refresh token of a user; returns how many were revoked."""
        ...

    async def session_revoked(self, session_id: str) -> bool:
        """Whether the session ``session_id`` (a refresh-token family id, the ``sid`` of its access tokens) is
        over: True once any token of the family was revoked (logout, reuse detected, password change, disable)
        and for a family never stored; False while the family is live."""
        ...

    async def save_user_keeping_admin(self, user: User, expected: User | None = None) -> None:
        """Like ``save_user``, but refuse (Conflict, nothing stored) when the stored user is an active (not
        disabled) holder of the ``admin`` role and no user would be one after the save. With ``expected`` (the
        user as the caller read it), also refuse (Conflict, nothing stored) when the stored user no longer equals
        it: someone changed it meanwhile, and saving would silently undo that change. The checks and the write
        are one atomic step, also across processes sharing the store, so two concurrent calls that demote or
        disable the last two admins cannot both succeed. Raises NotFound if absent, Conflict on a taken email."""
        ...


@runtime_checkable
class AuthChangeCounter(Protocol):
    """Optional beside ``UserRepo``: a counter of the writes of user rows, roles and revocations, for a store that
    other processes write without a shared event bus (the embedded SQLite file the CLI writes beside a running
    server).

    The Authenticator reads it on every request and drops its cached user, role and session state when it moved,
    so such a change applies on the next request instead of after the cache TTL (and ``GET /auth/me`` keeps its
    answer only while it stands still)."""

    async def auth_change_count(self) -> int:
        """A number that changes (in this and every other process sharing the store) whenever a user row, a
        custom role or a refresh-token revocation is committed. Cheap: it is read once per request."""
        ...


@runtime_checkable
class DumpedReceiptReader(Protocol):
    """Optional beside ``ReceiptStore``: a store that keeps each receipt as its JSON-mode dump hands that dump out
    without building the receipt (for the one-receipt read, whose answer is that JSON reshaped)."""

    async def get_dumped(self, receipt_id: str, scope: Scope) -> dict[str, Any]:
        """What ``get(receipt_id, scope).model_dump(mode="json")`` gives, for every receipt the store holds; a
        fresh dict the caller may keep. NotFound when absent or outside ``scope``, as ``get``."""
        ...


class CacheFactory(Protocol):
    """Makes the bounded per-instance caches of the core (the core says what to cache and when to drop it; the
    adapter, on cachetools, does the bounding and expiry). Entries may vanish at any time: a cache is never the
    only copy of anything."""

    def lru(self, maxsize: int, *, expires_at: Callable[[Any], dt.datetime]) -> MutableMapping[str, Any]:
        """A mapping of at most ``maxsize`` entries, least recently used evicted first; each value is gone once
        the clock reaches ``expires_at(value)``."""
        ...

    def ttl(self, maxsize: int, ttl: dt.timedelta) -> MutableMapping[str, Any]:
        """A mapping of at most ``maxsize`` entries, each gone ``ttl`` after it was stored."""
        ...


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """What a throttle store remembers about one key: counted attempts and when the last one was made."""

    attempts: int
    last_at: dt.datetime


class ThrottleStore(Protocol):
    """Counters of login attempts per key (a hashed account or client address), shared by every instance.

    Bounded by design, not by eviction: a record is kept until its key has been quiet for the policy's
    ``forget_after_seconds`` (an attacker cannot push other keys' records out by spraying new keys), and only
    then may the store drop it. Keys are opaque strings of at most 128 characters.
    """

    async def acquire(self, key: str, now: dt.datetime, policy: Backoff) -> float:
        """Atomically, also across processes sharing the store: if ``key`` may try now under ``policy``
        (``policy.wait(attempts, last_at, now) == 0``, a forgotten record counting as none), count one attempt
        (``attempts + 1``, ``last_at = now``) and return 0.0; otherwise change nothing and return the seconds
        until it may try (> 0). Of concurrent callers on one key at most the allowed number get 0.0."""
        ...

    async def acquire_all(self, tries: Sequence[tuple[str, Backoff]], now: dt.datetime) -> list[float]:
        """``acquire`` for several distinct keys (each under its own policy) as one atomic step (one write where
        the store has transactions): if every key may try now, count one attempt on each and return zeros;
        otherwise change nothing on any key and return each key's wait, in ``tries`` order (> 0 for those that
        must wait)."""
        ...

    async def release(self, key: str) -> None:
        """Take back one counted attempt of ``key`` (it turned out to be a success); at zero the record goes.
        ``last_at`` is unchanged. Nothing happens for an unknown key."""
        ...

    async def reset(self, key: str) -> int:
        """Forget ``key`` entirely; returns the attempts it had counted (0 if unknown)."""
        ...

    async def settle(self, reset_key: str, release_key: str | None) -> None:
        """What a successful try does, as one atomic step (one write where the store has transactions):
        ``reset(reset_key)`` and, when given, ``release(release_key)``, with exactly their effects."""
        ...

    async def peek(self, key: str, now: dt.datetime, policy: Backoff) -> ThrottleState | None:
        """The record of ``key``, or None when there is none or ``policy`` has forgotten it by ``now``."""
        ...


class ReceiptStore(Protocol):
    """Receipts, their original files, the extraction queue (leases) and idempotency records.

    Every read and write takes a Scope; a receipt outside it behaves exactly like a missing one (NotFound).
    """

    async def add(self, receipt: Receipt, content: bytes, *, quota_bytes: int | None = None) -> tuple[Receipt, bool]:
        """Store a new receipt and its file in one step. If the same owner already has a receipt whose source
        sha256 equals ``receipt.source.sha256``, store nothing and return ``(existing, False)``; else
        ``(receipt, True)``. Never leaves a file without a receipt or a receipt without its file.

        With ``quota_bytes``, raises QuotaExceeded (storing nothing) when the ``source.size`` of the owner's
        stored receipts plus this one would pass it; concurrent adds never take an owner past it together."""
        ...

    async def get(self, receipt_id: str, scope: Scope) -> Receipt:
        """Return the receipt. Raises NotFound when absent or outside ``scope``."""
        ...

    async def open_file(self, receipt_id: str, scope: Scope) -> tuple[SourceFile, bytes]:
        """Return the original file's metadata and bytes. Raises NotFound when absent or outside ``scope``."""
        ...

    async def list(self, query: ReceiptQuery, scope: Scope) -> Page[Receipt]:
        """Receipts matching ``query`` inside ``scope``, sorted by ``query.sort`` with id as tie-breaker,
        ``query.limit`` per page; ``next_cursor`` continues after the last item and is None on the last page.
        Text search ``q`` is case-insensitive over merchant name and address, line item descriptions,
        receipt number, notes and raw text. Items may be summaries that leave out what a listing never shows:
        ``extracted`` None and every extraction attempt's ``output`` None (their count and other fields kept);
        ``get`` returns the whole receipt. Raises ValidationFailed on a cursor it did not issue."""
        ...

    async def update(self, receipt: Receipt, expected_version: int) -> Receipt:
        """Replace the stored receipt (same id) if its stored version equals ``expected_version``; the stored
        and returned copy has ``version = expected_version + 1``. Raises NotFound if absent, VersionConflict
        if the version differs."""
        ...

    async def delete(self, receipt_id: str, scope: Scope) -> None:
        """Delete the receipt and its file. Raises NotFound when absent or outside ``scope``."""
        ...

    async def claim_pending(self, worker_id: str, now: dt.datetime, lease_until: dt.datetime) -> Receipt | None:
        """Atomically take one receipt that is ``pending`` (with ``next_attempt_at`` empty or ≤ now) or
        ``processing`` with a lease that expired before ``now``. Sets status ``processing``, ``lease_owner``,
        ``lease_until`` and bumps the version. Two concurrent callers never get the same receipt. Returns None
        when nothing is claimable.

        A ``processing`` receipt leased to ``worker_id`` itself is claimable at once and comes first: a worker
        claims only with nothing in hand, so such a lease was left by this worker's previous life (a restart
        after SIGKILL with a stable worker id; issue 9, hole 6) and waiting for it to expire would only delay it.

        Then the fair order (issue 9, hole 2), so one owner's flood cannot starve another's upload:
        1. first attempts before retries: a receipt with ``next_attempt_at`` set (a failed or deferred attempt
           waits for its retry) comes after every claimable receipt without one, whoever owns it;
        2. round robin by owner: the owner whose receipt was claimed least recently (never: first) goes next;
           every claim makes its owner the most recently served;
        3. then the oldest (``created_at``, then id)."""
        ...

    async def find_matching(self, receipt: Receipt) -> builtins.list[str]:
        """Ids of the same owner's other receipts with equal merchant name (case-insensitive), purchase date,
        total and currency; empty when any of those is missing on ``receipt``."""
        ...

    async def summarize(self, query: ReceiptQuery, scope: Scope) -> SpendingSummary:
        """Totals by month of purchase date, by category and by merchant name, per currency, over the
        receipts matching ``query``'s filters (its sort, limit and cursor are ignored)."""
        ...

    async def recall_idempotency(self, owner_id: str, key: str) -> tuple[str, builtins.list[str]] | None:
        """Return ``(request_fingerprint, receipt_ids)`` remembered for this owner and key, or None."""
        ...

    async def remember_idempotency(
        self, owner_id: str, key: str, fingerprint: str, receipt_ids: builtins.list[str]
    ) -> None:
        """Remember the outcome of an idempotent request; an existing record for the key is kept unchanged."""
        ...


class ListingProjection(Protocol):
    """How a receipt is shown as a list item, as bytes (the HTTP API's JSON of it); an entrypoint defines it.

    ``key`` names the rendering: it must change whenever ``render`` could give other bytes for the same receipt
    (a store that keeps rendered items serves a stored one only under the key it was rendered with)."""

    @property
    def key(self) -> str:
        """The rendering's name and version."""
        ...

    def render(self, receipt: Receipt) -> bytes:
        """The list item of ``receipt``; it must not depend on ``extracted`` or the attempts' ``output``s."""
        ...


@runtime_checkable
class ListsRendered(Protocol):
    """Optional, for a ReceiptStore that keeps each receipt's list item rendered beside it (written with the
    receipt, so a page is mostly stored bytes). ``ReceiptService.list_rendered`` renders ``list`` pages itself for
    a store without it."""

    async def list_rendered(self, query: ReceiptQuery, scope: Scope, projection: ListingProjection) -> Page[bytes]:
        """The page ``list(query, scope)`` returns, same items in the same order and the same ``next_cursor``,
        each item as ``projection.render`` gives it for that receipt (a stored rendering is used only when it was
        made under ``projection.key``)."""
        ...


@runtime_checkable
class RenderedReceiptReader(Protocol):
    """Optional beside ``ListsRendered``: one receipt as the list item the store keeps rendered (the one-receipt
    read, whose answer is that item's bytes)."""

    async def get_rendered(
        self, receipt_id: str, scope: Scope, projection: ListingProjection
    ) -> tuple[bytes, int] | None:
        """``projection.render(get(receipt_id, scope))`` and the receipt's version, when the stored rendering was
        made under ``projection.key`` for the stored receipt; None when the store keeps none under that key (the
        caller renders it). NotFound when absent or outside ``scope``, as ``get``."""
        ...


class MerchantDirectory(Protocol):
    """The install's merchant directory, partitioned by owner (``receiptcore.domain.merchants``).

    Reads and writes a person makes take a Scope; an entry outside it behaves exactly like a missing one
    (NotFound). An owner's entries have distinct keys (``MerchantEntry.key``, the normalised canonical name).
    """

    async def entries(self, owner_id: str) -> builtins.list[MerchantEntry]:
        """Every entry of ``owner_id``, ordered by id: what that owner's new receipts are matched against."""
        ...

    async def list(self, scope: Scope, *, limit: int = 100, after: str | None = None) -> builtins.list[MerchantEntry]:
        """Entries inside ``scope`` ordered by id ascending, at most ``limit``, starting after the id ``after``."""
        ...

    async def get(self, entry_id: str, scope: Scope) -> MerchantEntry:
        """The entry with this id. Raises NotFound when absent or outside ``scope``."""
        ...

    async def add(self, entry: MerchantEntry) -> None:
        """Store a new entry. Raises Conflict when its id exists or its owner already has an entry with the same
        key; nothing is stored then."""
        ...

    async def save(self, entry: MerchantEntry, expected_version: int) -> MerchantEntry:
        """Replace the stored entry with the same id and owner if its stored version equals ``expected_version``;
        the stored and returned copy has ``version = expected_version + 1``. Raises NotFound if absent,
        VersionConflict if the version differs, Conflict when another entry of the owner has the new key."""
        ...

    async def delete(self, entry_id: str, scope: Scope) -> None:
        """Delete the entry. Raises NotFound when absent or outside ``scope``."""
        ...


@dataclass(frozen=True, slots=True)
class ReceiptCounts:
    """Monitoring figures of a receipt store: receipts by status, the queue and its oldest waiting receipt."""

    by_status: dict[ReceiptStatus, int]
    pending: int
    oldest_pending_at: dt.datetime | None


@runtime_checkable
class ReceiptStats(Protocol):
    """Aggregate figures of every receipt, for metrics (no scope: operators see counts, never contents).

    Optional beside ``ReceiptStore``: a store without it simply has no receipt gauges in ``/metrics``."""

    async def receipt_stats(self) -> ReceiptCounts:
        """Counts by status (statuses without receipts may be absent), how many are ``pending`` (due or
        waiting for a retry) and the ``created_at`` of the oldest pending one (None when none is)."""
        ...


@dataclass(frozen=True, slots=True)
class Document:
    """A document handed to an extractor: the original bytes and their sniffed media type."""

    content: bytes
    media_type: str
    filename: str | None = None


@runtime_checkable
class Extractor(Protocol):
    """Turns a document into receipt data. Found by name through the ``receiptcore.extractors`` entry points."""

    name: str
    version: str

    async def extract(self, document: Document) -> ExtractedReceipt:
        """Read the document. Must not block the event loop (CPU work runs in a bounded pool). Raises
        ExtractionFailed when the document cannot be read, ExtractionDeferred when it should be retried later."""
        ...


@runtime_checkable
class ReportsHealth(Protocol):
    """Optional, for an adapter that is not critical but can be in trouble (the event bus, an extractor calling a
    remote API). Readiness asks it and reports it "degraded" (never "unavailable") while it names a problem."""

    async def health(self) -> str | None:
        """None while it works, else a short sentence saying why not. Never raises; answers within ~2 s."""
        ...


@runtime_checkable
class Warms(Protocol):
    """Optional, for an extractor whose first call pays a start-up cost (loading OCR or ML models). The worker
    calls ``warm`` once when it starts, in the background, and claims its first receipt when it has returned (or
    failed, or taken longer than the worker's warm-up limit): start-up and readiness are never delayed by it."""

    async def warm(self) -> None:
        """Load what the first ``extract`` would load. Idempotent. Must not block the event loop (the work runs in
        the extractor's pool). Any exception is logged once by the worker and ignored: ``extract`` must still try
        normally afterwards."""
        ...


@runtime_checkable
class Closeable(Protocol):
    """An adapter holding connections, pools or threads; the composition root calls ``aclose`` at shutdown."""

    async def aclose(self) -> None:
        """Release what it holds. Safe to call twice; never raises for an already broken connection."""
        ...


class EventBus(Protocol):
    """Publishes domain events to every subscriber in every instance (a doorbell: nothing depends on delivery)."""

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to current subscribers; never raises for a missing subscriber or a broker outage
        (it logs and drops)."""
        ...

    def subscribe(self) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """A context manager yielding an async iterator of every event published after entering it."""
        ...


class PasswordHasher(Protocol):
    """Password hashing (Argon2id in production)."""

    async def hash(self, password: str) -> str:
        """Return an encoded hash of ``password`` (salted; different on every call)."""
        ...

    async def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches ``encoded``; False (never an exception) for a mismatch or a bad hash.

        Raises:
            Overloaded: the adapter sheds load and refused to start this check (nothing was compared).
        """
        ...

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with weaker parameters than the current ones."""
        ...


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified contents of an access token."""

    subject: str
    roles: tuple[str, ...]
    token_version: int
    token_id: str
    expires_at: dt.datetime
    # The session (refresh-token family) the token was issued for; None for tokens issued before sessions were
    # written into tokens (they still expire within the access-token lifetime).
    session_id: str | None = None


class TokenVerifier(Protocol):
    """Verifies short-lived access tokens with public keys only (the receipt API holds nothing that signs)."""

    def verify(self, token: str, now: dt.datetime) -> AccessClaims:
        """Verify signature (algorithm pinned), issuer, audience and expiry. Raises UnknownSigningKey when the
        token's key id is not among the keys held (``refresh_keys`` may then learn it), TokenRejected otherwise."""
        ...

    async def refresh_keys(self) -> bool:
        """Reload the verifying keys from their source if it may have changed; True if the key set changed.
        Reloads are rate-limited by the adapter, so calling this for every unknown key id is safe. Raises
        UpstreamUnavailable when the source cannot be reached and no keys are held at all."""
        ...


class TokenIssuer(TokenVerifier, Protocol):
    """Signs and verifies short-lived access tokens; publishes the public keys."""

    def issue(self, user: User, now: dt.datetime, session_id: str | None = None) -> tuple[str, int]:
        """Return ``(token, expires_in_seconds)`` for ``user``: subject, roles, token version, jti, exp, and the
        session id ``sid`` when given (then checked on every request against the session's state)."""
        ...

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set of the public keys that verify tokens."""
        ...


@dataclass(frozen=True, slots=True)
class Inspection:
    """What sniffing an upload found: media type, page count and pixel size of the first page."""

    media_type: str
    pages: int
    width: int
    height: int


class FileInspector(Protocol):
    """Sniffs and sanity-checks uploaded bytes."""

    def inspect(self, content: bytes) -> Inspection:
        """Identify the type from the bytes (JPEG, PNG, WebP, PDF) and check the file decodes within the pixel
        and page caps. Raises UnsupportedMediaType, UploadTooLarge (pixel/page bomb) or InvalidUpload (corrupt)."""
        ...


__all__: Sequence[str] = [
    "AccessClaims",
    "AuthChangeCounter",
    "CacheFactory",
    "Clock",
    "Document",
    "EventBus",
    "Extractor",
    "FileInspector",
    "Inspection",
    "MerchantDirectory",
    "PasswordHasher",
    "ReceiptStore",
    "ThrottleState",
    "ThrottleStore",
    "TokenIssuer",
    "TokenVerifier",
    "UserRepo",
]
