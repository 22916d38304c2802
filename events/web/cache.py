"""Response cache of anonymous public pages: the event list, the event page, the JSON list, feeds.

A cached response is keyed on (data version "pages", language, host, path and query). The
database bumps that version in the transaction of every write to a table those pages show
(triggers, migration 2026-11-23T08:30), so a cached page is never stale after a write; what
only time changes (an event that just ended, a registration window that just closed) is
bounded by a short time to live.

Never cached: anything but GET, responses that set a cookie or are not 200, requests with a
personal query parameter (`?from=` on the event page), and every private route, which simply
has no cache. Per-request values in a cached form (the CSRF token, the anti-bot time stamp)
are stored as markers and filled in for each request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
from litestar.middleware.csrf import CSRFMiddleware
from litestar.stores.base import StorageObject, Store
from litestar.stores.memory import MemoryStore
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from events.tables import DataVersion

STORE_NAME = "pages"
# What only the clock changes: events that ended, registration windows, slots' minimum notice.
PAGE_TTL = timedelta(seconds=15)
# Feed bodies depend on the day (their window) and the versions only: both are in the key.
FEED_TTL = timedelta(hours=1)
MAX_ENTRY_BYTES = 2 * 1024 * 1024
MAX_MEMORY_BYTES = 32 * 1024 * 1024

_FORM_FIELD = re.compile(rb'(<input type="hidden" name="(_csrf_token|stamp)" value=")([^"]*)(")')
_MARKER = re.compile(rb"\x00(_csrf_token|stamp)\x00")


class BoundedMemoryStore(MemoryStore):
    """A MemoryStore that forgets its oldest entries beyond `max_bytes` (the default MemoryStore
    only forgets expired entries when they are read again)."""

    __slots__ = ("_bytes", "max_bytes")

    def __init__(self, max_bytes: int = MAX_MEMORY_BYTES) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self._bytes = 0

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        async with self._lock:
            old = self._store.pop(key, None)
            if old is not None:
                self._bytes -= len(old.data)
            self._store[key] = StorageObject.new(data=data, expires_in=expires_in)
            self._bytes += len(data)
            while self._bytes > self.max_bytes and self._store:
                oldest = next(iter(self._store))
                self._bytes -= len(self._store.pop(oldest).data)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        async with self._lock:
            entry = self._store.get(key)
            if entry is None:
                return None
            if entry.expired:
                self._bytes -= len(self._store.pop(key).data)
                return None
            return entry.data

    async def delete(self, key: str) -> None:
        async with self._lock:
            old = self._store.pop(key, None)
            if old is not None:
                self._bytes -= len(old.data)

    async def delete_all(self) -> None:
        async with self._lock:
            self._store.clear()
            self._bytes = 0


async def pages_version() -> int | None:
    """The "pages" data version; None (no caching) on a database without its row."""
    rows = await DataVersion.raw("SELECT version FROM data_version WHERE scope = 'pages'")
    return int(rows[0]["version"]) if rows else None


def page_store(scope: Scope) -> Store:
    return scope["litestar_app"].stores.get(STORE_NAME)


def _digest(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(str(part) for part in parts).encode(), digest_size=20).hexdigest()


async def cached_bytes(store: Store, key: str, make: Callable[[], Awaitable[bytes]], ttl: timedelta) -> bytes:
    """The bytes under `key`, made (and stored) when absent. `key` must name everything the bytes
    depend on."""
    body = await store.get(key)
    if body is not None:
        return body
    body = await make()
    if len(body) <= MAX_ENTRY_BYTES:
        await store.set(key, body, expires_in=ttl)
    return body


class _Entry(msgspec.Struct, array_like=True):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Entry).decode


@dataclass(frozen=True)
class PagePolicy:
    """How one route is cached: query parameters that make a request personal (never cached),
    and the per-request values of hidden form fields (`_csrf_token`, `stamp`)."""

    personal_params: tuple[str, ...] = ()
    fill: Callable[[Scope], dict[str, str]] | None = None


def csrf_token(scope: Scope) -> str:
    token = ScopeState.from_scope(scope).csrf_token
    return token if isinstance(token, str) else ""


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return b""


def _personal(scope: Scope, policy: PagePolicy) -> bool:
    if not policy.personal_params:
        return False
    query = scope.get("query_string", b"")
    return any(re.search(rb"(?:^|&)" + re.escape(name.encode()) + rb"=", query) for name in policy.personal_params)


def feed_key(etag: str, version: int, feed: str) -> str:
    return "feed:" + _digest(etag, version, feed)


def page_key(scope: Scope, version: int) -> str:
    language = scope.get("state", {}).get("language", "")
    query = scope.get("query_string", b"").decode("latin-1")
    return "page:" + _digest(version, language, _header(scope, b"host").decode("latin-1"), scope["path"], query)


def _fill(body: bytes, values: dict[str, str]) -> bytes:
    return _MARKER.sub(lambda match: values.get(match.group(1).decode(), "").encode(), body)


def _with_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    return [*((k, v) for k, v in headers if k.lower() != b"content-length"), (b"content-length", str(length).encode())]


def _serve(entry: _Entry, fill: Callable[[Scope], dict[str, str]] | None) -> ASGIApp:
    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        body = _fill(entry.body, fill(scope)) if fill else entry.body
        headers = _with_length(entry.headers, len(body))
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return serve


def _storable_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]] | None:
    """The response's headers to store, or None when it sets a cookie of its own. The CSRF
    cookie is per visitor and set again for each served copy, as Litestar does."""
    config = scope["litestar_app"].csrf_config
    csrf_cookie = f"{config.cookie_name}=".encode() if config else None
    kept = []
    for name, value in headers:
        lower = name.lower()
        if lower == b"set-cookie":
            if csrf_cookie and value.startswith(csrf_cookie):
                continue
            return None
        if lower != b"content-length":
            kept.append((name, value))
    return kept


def page_cache(policy: PagePolicy | None = None) -> Callable[[ASGIApp], ASGIApp]:
    """Route middleware: serve a stored copy of the handler's response for the same key.

    Route middleware runs outside Litestar's CSRF middleware, so a served copy goes through
    that middleware too: a visitor without a CSRF cookie gets one, and its token in the form."""
    policy = policy or PagePolicy()

    def middleware_factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope.get("method") != "GET" or _personal(scope, policy):
                await app(scope, receive, send)
                return
            version = await pages_version()
            if version is None:
                await app(scope, receive, send)
                return
            store = page_store(scope)
            key = page_key(scope, version)
            stored = await store.get(key)
            if stored is not None:
                serve = _serve(_decode(stored), policy.fill)
                csrf_config = scope["litestar_app"].csrf_config
                if csrf_config is not None:
                    serve = CSRFMiddleware(app=serve, config=csrf_config)
                await serve(scope, receive, send)
                return
            start: dict[str, Any] = {}
            chunks: list[bytes] = []

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))
                await send(message)

            await app(scope, receive, capture)
            headers = _storable_headers(scope, [(bytes(k), bytes(v)) for k, v in start.get("headers", ())])
            body = b"".join(chunks)
            if start.get("status") != 200 or headers is None or len(body) > MAX_ENTRY_BYTES:
                return
            if policy.fill:
                body = _FORM_FIELD.sub(lambda m: m.group(1) + b"\x00" + m.group(2) + b"\x00" + m.group(4), body)
            await store.set(key, _encode(_Entry(status=200, headers=headers, body=body)), expires_in=PAGE_TTL)

        return middleware

    return middleware_factory
