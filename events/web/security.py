"""Security headers on every response; a looser CSP only for the OpenAPI viewer."""

from __future__ import annotations

import json

from litestar.datastructures import MutableScopeHeaders
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
