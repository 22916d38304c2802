"""ASGI middleware: the request's language (and its cookie when `?lang=` changes it); path ids
beyond the database's integer range."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import NotFoundException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from events import i18n
from events.settings import LANGUAGES

LANG_COOKIE = "lang"
LANGUAGE_RESTORED = "language_restored"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def language_middleware(app: ASGIApp) -> ASGIApp:
    """Resolve the language once per request: `?lang=`, then the cookie, then Accept-Language."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
        cookie_header = _header(scope, b"cookie")
        cookie_lang = None
        if cookie_header:
            try:
                jar: SimpleCookie = SimpleCookie(cookie_header)
                cookie_lang = jar[LANG_COOKIE].value if LANG_COOKIE in jar else None
            except Exception:  # noqa: BLE001 - a malformed cookie header is ignored, not fatal
                cookie_lang = None
        language = i18n.negotiate_language(query, cookie_lang, _header(scope, b"accept-language"))
        token = i18n.current_language.set(language)
        scope.setdefault("state", {})["language"] = language
        path = scope.get("path", "")
        # Pages remember the choice; feeds and the API stay cookie-free.
        stateless = path.endswith(".ics") or path.startswith("/api/")
        remember = bool(query and query.lower() in LANGUAGES and query.lower() != cookie_lang and not stateless)

        async def send_with_cookie(message: Message) -> None:
            if remember and message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers.add(
                    "Set-Cookie",
                    f"{LANG_COOKIE}={language}; Max-Age={LANG_COOKIE_MAX_AGE}; Path=/; SameSite=Lax",
                )
            await send(message)

        try:
            await app(scope, receive, send_with_cookie)
        finally:
            # Errors raised by middleware inside this one are answered after this point:
            # the flag tells the error handlers to speak the request's language again.
            scope["state"][LANGUAGE_RESTORED] = True
            i18n.current_language.reset(token)

    return middleware


# Ids are 32-bit serials on PostgreSQL: a larger number in a path names nothing, and the database
# would refuse the query's parameter outright (asyncpg DataError, SQLite OverflowError) — a 500.
MAX_ID = 2**31 - 1


def path_id_range_middleware(app: ASGIApp) -> ASGIApp:
    """A 404 for an integer path parameter no row can have (negative or beyond MAX_ID)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for value in (scope.get("path_params") or {}).values():
                if isinstance(value, int) and not 0 <= value <= MAX_ID:
                    raise NotFoundException()
        await app(scope, receive, send)

    return middleware
