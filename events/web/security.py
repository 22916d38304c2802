"""Security headers on every response; a looser CSP only for the OpenAPI viewer."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import PermissionDeniedException, TooManyRequestsException
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from events.settings import get_settings

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs load their viewer from a CDN; nothing else does.
SCHEMA_CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    "https://fonts.googleapis.com; font-src https://fonts.gstatic.com; script-src 'self' 'unsafe-inline' "
    "https://cdn.jsdelivr.net; worker-src blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


# Mails carry inline styles (mail clients need them); the preview shows them in a sandboxed frame.
DEV_MAIL_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'"
)


def _host_of(scope: Scope) -> str:
    """The Host header's name without its port ("[::1]:8000" → "[::1]")."""
    for key, value in scope.get("headers", ()):
        if key == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):
                return host[: host.find("]") + 1]
            return host.split(":", 1)[0]
    return ""


async def _reject_host(send: Send) -> None:
    body = json.dumps({"status_code": 400, "detail": "Invalid Host header."}).encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 400,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    """Checks the Host header against the allowed hosts (any port) and adds security headers.

    Litestar's AllowedHostsConfig matches "host:port" literally, so a server on another port
    than the public URL's would refuse its own name; we compare host names only.
    """
    settings = get_settings()
    hsts = settings.secure_cookies
    allowed = set(settings.allowed_hosts)
    allow_any = "*" in allowed

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if not allow_any and _host_of(scope) not in allowed:
            await _reject_host(send)
            return
        path = scope["path"]
        csp = SCHEMA_CSP if path.startswith("/schema") else DEV_MAIL_CSP if path.startswith("/dev/mail") else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers["Content-Security-Policy"] = csp
                # Private links carry tokens in their path: never hand them to another site.
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
                if hsts:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


# Cross-site form posts -----------------------------------------------------------------------------
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _origin_host(origin: str) -> str | None:
    """The host name of an Origin header ("https://a.example:8443" → "a.example"); None for "null"."""
    parts = urlsplit(origin)
    return parts.hostname if parts.scheme in ("http", "https") and parts.hostname else None


def cross_site_guard_middleware(app: ASGIApp) -> ASGIApp:
    """Refuse (403) a state-changing form post that a browser says came from another site.

    The CSRF token already stops forged posts; this is the second lock: a foreign `Origin` or
    `Sec-Fetch-Site: cross-site` on a POST/PUT/PATCH/DELETE outside the token-authenticated API.
    """
    allowed = set(get_settings().allowed_hosts)
    allow_any = "*" in allowed

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        method = str(scope.get("method", ""))
        if scope["type"] == "http" and method in UNSAFE_METHODS and not scope["path"].startswith("/api/"):
            headers = dict(scope.get("headers", ()))
            origin = headers.get(b"origin", b"").decode("latin-1").strip()
            site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
            foreign_origin = bool(origin) and not allow_any and _origin_host(origin) not in allowed
            if foreign_origin or site == "cross-site":
                raise PermissionDeniedException()
        await app(scope, receive, send)

    return middleware


# Guessing private links ----------------------------------------------------------------------------
# Paths that carry a private token: a client that keeps getting 404 on them is guessing.
TOKEN_PATH = re.compile(
    r"^/(?:r|me|advisors|privacy|invitations)/(?!\d+$)[^/]+"
    r"|^/api/v1/(?:registrations|me|bookings)/(?!\d+(?:/|$))[^/]+"
)
GUESS_LIMIT = 100  # failed look-ups per client address and minute; a person mistypes a few
GUESS_WINDOW = 60


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "127.0.0.1"


def token_guess_middleware(app: ASGIApp) -> ASGIApp:
    """Answer 429 to a client after GUESS_LIMIT unknown tokens (404s) within a minute of its first.

    Only failures count, so a participant reloading their own page or a calendar client polling
    a feed is never limited. The counter lives in the rate-limit store (Redis when configured).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not TOKEN_PATH.match(scope["path"]) or not get_settings().rate_limit:
            await app(scope, receive, send)
            return
        store = scope["app"].stores.get("rate_limit")
        key = f"token-guess:{_client(scope)}"
        failures = int(await store.get(key) or 0)
        if failures >= GUESS_LIMIT:
            raise TooManyRequestsException(headers={"Retry-After": str(GUESS_WINDOW)})

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 404:
                # The window opens at the first failure and closes GUESS_WINDOW seconds later.
                count = int(await store.get(key) or 0)
                left = await store.expires_in(key) if count else None
                await store.set(key, str(count + 1), expires_in=left if left and left > 0 else GUESS_WINDOW)
            await send(message)

        await app(scope, receive, counting_send)

    return middleware
