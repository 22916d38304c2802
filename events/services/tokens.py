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
