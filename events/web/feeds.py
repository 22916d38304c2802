"""Calendar feeds over HTTP: strong ETag, monotonic Last-Modified, 304 without building."""

from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal

from litestar import Request, Response, route
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter

from events.services import feeds
from events.services.feeds import FeedQuery
from events.settings import DEFAULT_LANGUAGE
from events.web.cache import FEED_TTL, cached_bytes, feed_key, page_store, pages_version
from events.web.openapi_docs import errors

Kind = Literal["info_session", "consultation_day", "networking", "workshop"]
Language = Literal["nl", "fr", "en"]
FEED_OPT = {"skip_session": True}
GET_AND_HEAD: list[Any] = ["GET", "HEAD"]
# What the OpenAPI document says a feed answers: iCalendar, 304 to a matching If-None-Match or
# If-Modified-Since, and (for one organisation, series or event) 404 when there is no such feed.
FEED_ROUTE: dict[str, Any] = {
    "opt": FEED_OPT,
    "tags": ["feeds"],
    "media_type": "text/calendar",
    "responses": {304: ResponseSpec(None, description="Not modified since the ETag or date sent."), **errors()},
}
KEYED_FEED_ROUTE: dict[str, Any] = {**FEED_ROUTE, "responses": {**FEED_ROUTE["responses"], **errors(404)}}


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110): `W/"x"` matches `"x"`."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _not_modified(request: Request[Any, Any, Any], validators: feeds.Validators) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(if_none_match, validators.etag)
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            return validators.last_modified <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


def _validator_headers(validators: feeds.Validators) -> dict[str, str]:
    return {
        "ETag": validators.etag,
        "Last-Modified": format_datetime(validators.last_modified, usegmt=True),
        "Cache-Control": "public, max-age=300",
    }


async def _body(request: Request[Any, Any, Any], feed: FeedQuery, validators: feeds.Validators) -> bytes:
    """The feed's bytes, built once per ETag (data version, day, feed) and "pages" version: the
    latter also moves with writes the ETag's version does not follow (e.g. an organisation's name)."""
    version = await pages_version()
    if version is None:
        return await feeds.build(feed)
    key = feed_key(validators.etag, version, feed.cache_key())
    return await cached_bytes(page_store(request.scope), key, lambda: feeds.build(feed), FEED_TTL)


async def _respond(request: Request[Any, Any, Any], feed: FeedQuery, filename: str) -> Response[bytes]:
    validators = await feeds.validators(feed)
    headers = _validator_headers(validators)
    if request.method == "HEAD":
        await _body(request, feed, validators)  # a HEAD of a feed that doesn't exist is a 404 too
        return Response(b"", headers={**headers, "Content-Type": "text/calendar; charset=utf-8"})
    if _not_modified(request, validators):
        return Response(b"", status_code=304, headers=headers)
    body = await _body(request, feed, validators)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return Response(body, media_type="text/calendar", headers=headers)


def _lang(request: Request[Any, Any, Any], lang: str | None) -> str:
    """`?lang=` or Dutch: a feed never depends on headers or cookies, so caches can share it
    (the pages' links always name the language)."""
    return lang or DEFAULT_LANGUAGE


@route("/calendar.ics", http_method=GET_AND_HEAD, **FEED_ROUTE, summary="Feed of all public events")
async def all_events_feed(
    request: Request[Any, Any, Any],
    organisation: Annotated[str | None, QueryParameter(max_length=64)] = None,
    kind: FromQuery[Kind | None] = None,
    language: FromQuery[Language | None] = None,
    lang: FromQuery[Language | None] = None,
) -> Response[bytes]:
    feed = FeedQuery(scope="all", organisation=organisation, kind=kind, language=language, lang=_lang(request, lang))
    return await _respond(request, feed, "trefpunt.ics")


@route(
    "/organisations/{slug:str}/calendar.ics",
    http_method=GET_AND_HEAD,
    **KEYED_FEED_ROUTE,
    summary="An organisation's feed",
)
async def organisation_feed(
    request: Request[Any, Any, Any], slug: FromPath[str], lang: FromQuery[Language | None] = None
) -> Response[bytes]:
    feed = FeedQuery(scope="organisation", key=slug[:64], lang=_lang(request, lang))
    return await _respond(request, feed, f"{feed.key}.ics")


@route("/series/{series_id:int}/calendar.ics", http_method=GET_AND_HEAD, **KEYED_FEED_ROUTE, summary="A series' feed")
async def series_feed(
    request: Request[Any, Any, Any], series_id: FromPath[int], lang: FromQuery[Language | None] = None
) -> Response[bytes]:
    feed = FeedQuery(scope="series", key=str(series_id), lang=_lang(request, lang))
    return await _respond(request, feed, f"series-{series_id}.ics")


@route(
    "/events/{event_id:int}/calendar.ics",
    http_method=GET_AND_HEAD,
    **KEYED_FEED_ROUTE,
    summary="One event as a calendar file",
)
async def event_feed(
    request: Request[Any, Any, Any], event_id: FromPath[int], lang: FromQuery[Language | None] = None
) -> Response[bytes]:
    feed = FeedQuery(scope="event", key=str(event_id), lang=_lang(request, lang))
    return await _respond(request, feed, f"event-{event_id}.ics")


FEED_HANDLERS = [all_events_feed, organisation_feed, series_feed, event_feed]
