"""Password policy and secret handling shared by the auth and user use cases.

Passwords are NFKC-normalised before they are checked or hashed, so the same visible password typed on
different keyboards (composed vs. decomposed accents, full-width digits) is the same password.
"""

from __future__ import annotations

import hashlib
import unicodedata

from receiptcore.errors import WeakPassword
from receiptcore.services.common_passwords import is_common_password

# NFKC can expand one code point into up to 18; anything this long before normalising is refused unread.
_RAW_LENGTH_FACTOR = 4


def normalise_password(password: str) -> str:
    """The NFKC form of ``password`` (what gets hashed and verified)."""
    return unicodedata.normalize("NFKC", password)


def check_password(password: str, *, email: str, min_length: int, max_length: int) -> str:
    """Apply the password policy and return the normalised password to hash.

    Rules: ``min_length`` to ``max_length`` characters (after NFKC), any Unicode, not a common password, not
    the account's email (or its local part), not a single repeated character.

    Raises:
        WeakPassword: with a sentence saying which rule failed and ``extra['reason']`` as a stable slug.
    """
    if len(password) > max_length * _RAW_LENGTH_FACTOR:
        raise WeakPassword(f"passwords are at most {max_length} characters long", reason="too_long")
    normalised = normalise_password(password)
    length = len(normalised)
    if length < min_length:
        raise WeakPassword(f"passwords need at least {min_length} characters", reason="too_short")
    if length > max_length:
        raise WeakPassword(f"passwords are at most {max_length} characters long", reason="too_long")
    folded = normalised.strip().casefold()
    address = email.strip().casefold()
    if folded in {address, address.partition("@")[0]}:
        raise WeakPassword("the password must not be the account's email address", reason="equals_email")
    if len(set(folded)) <= 1:
        raise WeakPassword("the password must not be one repeated character", reason="repeated")
    if is_common_password(normalised):
        raise WeakPassword("this password is too common; choose another", reason="common")
    return normalised


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of a high-entropy secret (refresh tokens are stored only as this)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
