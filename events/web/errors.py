"""One place that turns exceptions into answers: JSON `{status_code, detail, extra?}` for the API,
a page in the user's language for browsers. Never a 500 for bad input."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from events import i18n
from events.db import is_database_busy, is_database_unreachable, is_storage_full
from events.services.errors import N_, DomainError
from events.settings import LANGUAGES
from events.web.middleware import LANGUAGE_RESTORED

log = logging.getLogger("trefpunt")

STATUS_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("Please sign in or send a valid API token."),
    403: N_("Your role does not allow this."),
    404: N_("This page does not exist."),
    405: N_("This method is not allowed here."),
    409: N_("This conflicts with the current state."),
    413: N_("The request is too large."),
    415: N_("This content type is not supported."),
    422: N_("Some fields are not valid."),
    429: N_("Too many requests. Please wait a moment and try again."),
    # Not "nothing was lost": an error after COMMIT leaves the change made. The mail tells.
    500: N_(
        "Something went wrong on our side. Please try again in a moment. If you were registering "
        "or booking, look in your mailbox first: a mail from us means it went through."
    ),
    503: N_("The server is busy. Please try again in a moment."),
}
STORAGE_FULL = N_("The server cannot save anything right now. Nothing was saved; please try again later.")


def wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/schema")) or path.endswith(".ics"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def localise(message: str, **params: Any) -> str:
    """A domain message in the current request's language; a parameter given in several
    languages (a question's label) is shown in that language too."""
    language = i18n.current_language.get()
    params = {
        key: i18n.pick_translation(value, language)[0] if isinstance(value, dict) else value
        for key, value in params.items()
    }
    text = i18n.gettext(message)
    try:
        return text % params if params else text
    except (KeyError, TypeError, ValueError):
        return message % params if params else message


def speak_request_language(request: Request[Any, Any, Any]) -> None:
    """Errors raised by middleware (CSRF, rate limits, guards) reach the app's outer handler after
    the language middleware has restored the default: answer in the request's language anyway.
    (Errors of a handler are answered inside, in the language it may have chosen, e.g. a link's.)"""
    state = request.scope.get("state", {})
    language = state.get("language")
    if state.get(LANGUAGE_RESTORED) and language in LANGUAGES and language != i18n.current_language.get():
        i18n.current_language.set(language)


def _answer(
    request: Request[Any, Any, Any], status: int, detail: str, extra: Any = None, headers: dict[str, str] | None = None
) -> Response[Any]:
    if wants_json(request):
        body: dict[str, Any] = {"status_code": status, "detail": detail}
        if extra:
            body["extra"] = extra
        return Response(body, status_code=status, headers=headers, media_type="application/json")
    return Template(
        "error.html",
        context={"status_code": status, "detail": detail},
        status_code=status,
        headers=headers,
    )


def _validation_extra(exc: ValidationException) -> list[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    return [
        {k: v for k, v in item.items() if k in ("key", "message", "source")} for item in extra if isinstance(item, dict)
    ]


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    speak_request_language(request)
    headers = {"Retry-After": "2"} if exc.status_code == 503 else None
    if exc.status_code == 401 and not wants_json(request):
        return Redirect(f"/login?next={request.url.path}")
    if exc.status_code == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    extra = {**({"field": exc.field} if exc.field else {}), **exc.extra} or None
    return _answer(request, exc.status_code, localise(exc.message, **exc.params), extra, headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    speak_request_language(request)
    status = exc.status_code
    extra: Any = None
    if isinstance(exc, ValidationException):
        # Litestar says 400 for both; a body that parses but breaks the schema is a 422.
        # Query, path and header mistakes are 400: only a well-formed body can be "unprocessable".
        extra = _validation_extra(exc)
        detail_lower = str(exc.detail).lower()
        body_only = bool(extra) and all(item.get("source") == "body" for item in extra)
        status = 422 if body_only and "malformed" not in detail_lower and "decode" not in detail_lower else 400
        if any("json is malformed" in str(item.get("message", "")).lower() for item in extra):
            status = 400
    if isinstance(exc, NotAuthorizedException) and not wants_json(request):
        return Redirect(f"/login?next={request.url.path}")
    message = STATUS_MESSAGES.get(status, STATUS_MESSAGES[400 if status < 500 else 500])
    headers = dict(exc.headers or {})
    if status == 429:
        # Litestar's rate limiter says when the window resets only in RateLimit-Reset; clients and
        # proxies act on Retry-After (RFC 9110).
        reset = str(headers.get("RateLimit-Reset", "60"))
        headers.setdefault("Retry-After", str(max(1, int(reset))) if reset.lstrip("-").isdigit() else "60")
    if status == 401 and wants_json(request):
        headers.setdefault("WWW-Authenticate", "Bearer")
    return _answer(request, status, localise(message), extra, headers or None)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    speak_request_language(request)
    # The JSON decoder gives up on absurd nesting or bytes that are not UTF-8: the body is bad.
    if isinstance(exc, RecursionError | UnicodeDecodeError):
        return _answer(request, 400, localise(STATUS_MESSAGES[400]))
    if is_database_busy(exc):
        return _answer(request, 503, localise(STATUS_MESSAGES[503]), headers={"Retry-After": "2"})
    # A connection cut mid-transaction rolls it back (or loses only the answer to its COMMIT):
    # the client may retry, and the pool reconnects by itself.
    if is_database_unreachable(exc):
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, exc)
        return _answer(request, 503, localise(STATUS_MESSAGES[503]), headers={"Retry-After": "5"})
    if is_storage_full(exc):
        log.error("storage full on %s %s: %s", request.method, request.url.path, exc)
        return _answer(request, 503, localise(STORAGE_FULL), headers={"Retry-After": "60"})
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _answer(request, HTTP_500_INTERNAL_SERVER_ERROR, localise(STATUS_MESSAGES[500]))


def handle_conversion_error(request: Request[Any, Any, Any], exc: msgspec.ValidationError) -> Response[Any]:
    """Form values a handler converted itself (msgspec.convert) that do not fit: 422, not 500."""
    speak_request_language(request)
    return _answer(request, 422, localise(STATUS_MESSAGES[422]), [{"message": str(exc)[:300]}])


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: handle_domain_error,
    msgspec.ValidationError: handle_conversion_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
