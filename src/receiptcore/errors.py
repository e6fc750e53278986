"""The one exception tree of receiptcore.

Every error the core, an adapter or an entrypoint raises on purpose derives from
``ReceiptcoreError``. Adapters translate driver errors at their boundary
(``raise StorageUnavailable(...) from exc``) so no driver exception escapes them.
HTTP status mapping lives in ``receiptcore.entrypoints.http.errors`` only.

    ReceiptcoreError
    ├── ValidationFailed            input that breaks a domain rule (422)
    │   ├── InvalidUpload           corrupt, empty or hostile file (422)
    │   │   ├── UnsupportedMediaType  sniffed type is not JPEG/PNG/WebP/PDF (415)
    │   │   └── UploadTooLarge      bytes or pixels over the cap (413)
    │   ├── MalformedRequest        a request body that breaks its own syntax (bad multipart framing) (400)
    │   └── WeakPassword            password refused by the password policy (422)
    ├── NotFound                    no such thing, or not visible to the caller (404)
    ├── Conflict                    uniqueness or state conflict (409)
    │   ├── InvalidTransition       the receipt's status forbids this change (409)
    │   └── VersionConflict         optimistic concurrency check failed (412)
    ├── AuthenticationFailed        no or bad credentials / token (401)
    │   ├── InvalidCredentials      wrong email or password (401)
    │   └── TokenRejected           expired, malformed, revoked or reused token (401)
    │       └── UnknownSigningKey   signed by a key the verifier does not know (yet) (401)
    ├── PermissionDenied            authenticated but not allowed (403)
    ├── RateLimited                 too many attempts; retry after ``retry_after`` seconds (429)
    │   └── Overloaded              shed at once: too much of this work in progress (logins) (429)
    ├── QuotaExceeded               the owner's stored bytes would pass their storage quota (413)
    ├── RequestTimeout              the request body did not arrive in time (408)
    ├── StorageUnavailable          a store cannot be reached (503)
    │   └── UpstreamUnavailable     a service we depend on (the auth service's keys) cannot be reached (503)
    ├── ExtractionFailed            an extractor could not read a document
    │   └── ExtractionDeferred      try again later (rate limit, spend cap, outage)
    └── ConfigurationError          settings that cannot work (missing extra, bad URL)
"""

from __future__ import annotations


class ReceiptcoreError(Exception):
    """Root of every error raised on purpose by receiptcore.

    Attributes:
        code: a stable, machine-readable slug; the HTTP layer puts it in the problem ``type``.
        detail: a sentence for people; never contains secrets or stack traces.
    """

    code = "error"

    def __init__(self, detail: str = "", **extra: object) -> None:
        super().__init__(detail or self.__class__.__name__)
        self.detail = detail or self.__class__.__name__
        self.extra = extra


class ValidationFailed(ReceiptcoreError):
    """Input breaks a domain rule; ``extra['errors']`` may list field errors."""

    code = "validation-failed"


class InvalidUpload(ValidationFailed):
    """The uploaded bytes are corrupt, empty, or hostile (e.g. a decompression bomb)."""

    code = "invalid-upload"


class UnsupportedMediaType(InvalidUpload):
    """The type sniffed from the bytes is not one we accept."""

    code = "unsupported-media-type"


class UploadTooLarge(InvalidUpload):
    """The upload exceeds the byte, page or pixel cap."""

    code = "upload-too-large"


class MalformedRequest(ValidationFailed):
    """A request body that breaks its own syntax (multipart framing, header encoding): a 400, not a 422."""

    code = "malformed-request"


class WeakPassword(ValidationFailed):
    """The password breaks the password policy (length, common password)."""

    code = "weak-password"


class NotFound(ReceiptcoreError):
    """The thing does not exist, or the caller's scope does not reach it."""

    code = "not-found"


class Conflict(ReceiptcoreError):
    """A uniqueness rule or a state transition forbids the change."""

    code = "conflict"


class InvalidTransition(Conflict):
    """The receipt's life cycle does not allow this change from its current status.

    ``extra`` holds ``transition``, ``status`` (current) and ``target``. The code stays ``conflict``: the API
    documents a receipt's state conflicts as that problem type, and clients branch on it.
    """

    code = "conflict"


class VersionConflict(Conflict):
    """The caller's expected version is not the stored version (optimistic concurrency)."""

    code = "version-conflict"


def require_version(what: str, current_version: int | None, expected_version: int) -> None:
    """The compare-and-set check every store's ``save`` makes: ``what`` (e.g. ``"receipt <id>"``) is stored at
    ``current_version`` (None: absent or outside the caller's reach).

    Raises:
        NotFound: ``current_version`` is None.
        VersionConflict: it is not ``expected_version`` (``current_version`` in the error).
    """
    if current_version is None:
        raise NotFound(f"{what} not found")
    if current_version != expected_version:
        raise VersionConflict(
            f"{what} is at version {current_version}, not {expected_version}", current_version=current_version
        )


class AuthenticationFailed(ReceiptcoreError):
    """No credentials, or credentials that do not authenticate anyone."""

    code = "unauthenticated"


class InvalidCredentials(AuthenticationFailed):
    """Wrong email or password (never says which)."""

    code = "invalid-credentials"


class TokenRejected(AuthenticationFailed):
    """A token that is malformed, expired, revoked, of an old token version, or reused."""

    code = "token-rejected"


class UnknownSigningKey(TokenRejected):
    """The token's ``kid`` names no key the verifier holds; a verifier that fetches keys may learn it on reload."""

    code = "token-rejected"


class PermissionDenied(ReceiptcoreError):
    """The caller is authenticated but lacks the permission for this action."""

    code = "forbidden"


class RateLimited(ReceiptcoreError):
    """Too many attempts (e.g. failed logins); ``retry_after`` says when to try again."""

    code = "rate-limited"

    def __init__(self, detail: str = "", retry_after: float = 60.0, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class Overloaded(RateLimited):
    """Shed before any work: this instance already runs and queues as much of it as it may (password checks).

    Nothing was checked or counted; the same request may come back after ``retry_after`` seconds.
    """

    code = "overloaded"


class QuotaExceeded(ReceiptcoreError):
    """Storing this file would take its owner past their storage quota (``quota_bytes``)."""

    code = "quota-exceeded"


class RequestTimeout(ReceiptcoreError):
    """The client sent its request body too slowly (a gap between chunks, or the whole body, over the limit)."""

    code = "request-timeout"


class StorageUnavailable(ReceiptcoreError):
    """A store (database, file system, broker) cannot be reached right now."""

    code = "storage-unavailable"


class UpstreamUnavailable(StorageUnavailable):
    """A service this one depends on (e.g. the auth service publishing the token keys) cannot be reached."""

    code = "upstream-unavailable"


class ExtractionFailed(ReceiptcoreError):
    """An extractor could not produce a receipt from a document."""

    code = "extraction-failed"


class ExtractionDeferred(ExtractionFailed):
    """Extraction should be retried later (rate limit, spend cap, outage); nothing is wrong with the file."""

    code = "extraction-deferred"

    def __init__(self, detail: str = "", retry_after: float = 60.0, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class ConfigurationError(ReceiptcoreError):
    """Settings that cannot work, such as an adapter whose optional extra is not installed."""

    code = "configuration-error"
