"""Private-link tokens: 256-bit HMACs of a stored nonce under SECRET_KEY, looked up by SHA-256.

The database holds the nonce and the token's hash, never the token: a copy of the database
alone opens no private page, yet mails queued later can carry the link again. Rotating means
a new nonce; killing means clearing the hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from events.settings import get_settings


def new_nonce() -> str:
    return secrets.token_hex(16)


def derive(purpose: str, nonce: str) -> str:
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"{purpose}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def looks_like_token(token: str) -> bool:
    return len(token) == 43 and all(c.isalnum() or c in "-_" for c in token)


def manage_url(registration: dict[str, object]) -> str:
    """The private page of a registration (`/r/{token}`)."""
    return f"{get_settings().base_url}/r/{derive('manage', str(registration['token_nonce']))}"


def feed_url(registration: dict[str, object]) -> str:
    """The personal feed of a registration's owner (`/me/{token}/calendar.ics`)."""
    return f"{get_settings().base_url}/me/{derive('feed', str(registration['feed_token_nonce']))}/calendar.ics"


# Check-in codes ---------------------------------------------------------------------------------
# "<registration id>-<8 characters>": short enough to type at the door, shown in the confirmation
# mail as text and as a QR code. The characters are base32 of an HMAC of the registration's
# token_nonce (purpose "check-in"), so only someone with SECRET_KEY can make one, and a new nonce
# (a rotated private link) changes the code too.

_CODE_LENGTH = 8
# Digits people type for the letters of base32's alphabet (which has no 0, 1, 8 or 9).
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


def check_in_code(registration_id: int, nonce: str) -> str:
    """The code a participant shows at the door."""
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"check-in:{nonce}".encode(), hashlib.sha256).digest()
    return f"{registration_id}-{base64.b32encode(digest).decode()[:_CODE_LENGTH]}"


def parse_check_in_code(code: str) -> tuple[int, str] | None:
    """(registration id, normalised code) of something typed or scanned, or None if it cannot be
    a code at all. Spaces, case and look-alike digits in the check part are forgiven."""
    text = "".join(code.split()).upper()
    number, dash, check = text.partition("-")
    if not dash or not (number.isascii() and number.isdigit()) or len(number) > 12:
        return None
    check = check.translate(_LOOKALIKES)
    if len(check) != _CODE_LENGTH or not all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in check):
        return None
    return int(number), f"{int(number)}-{check}"


def check_in_code_matches(code: str, registration_id: int, nonce: str) -> bool:
    """Constant-time comparison of a normalised code with the registration's own."""
    if not nonce:
        return False
    return hmac.compare_digest(code.encode(), check_in_code(registration_id, nonce).encode())
