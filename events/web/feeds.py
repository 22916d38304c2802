"""Calendar feeds over HTTP: strong ETag, monotonic Last-Modified, 304 without building."""

from __future__ import annotations

from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery, QueryParameter

from events.services import feeds
from events.services.feeds import FeedQuery

Kind = Literal["info_session", "consultation_day", "networking", "workshop"]
Language = Literal["nl", "fr", "en"]
FEED_OPT = {"skip_session": True}


def _not_modified(request: Request[Any, Any, Any], validators: feeds.Validators) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return validators.etag in tags or "*" in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            return validators.last_modified <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


async def _respond(request: Request[Any, Any, Any], feed: FeedQuery, filename: str) -> Response[bytes]:
    validators = await feeds.validators(feed)
    headers = {
        "ETag": validators.etag,
        "Last-Modified": format_datetime(validators.last_modified, usegmt=True),
        "Cache-Control": "public, max-age=300",
    }
    if _not_modified(request, validators):
        return Response(b"", status_code=304, headers=headers)
    body = await feeds.build(feed)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return Response(body, media_type="text/calendar", headers=headers)


def _lang(request: Request[Any, Any, Any], lang: str | None) -> str:
    return lang or str(request.scope.get("state", {}).get("language", "nl"))


@get("/calendar.ics", opt=FEED_OPT, tags=["feeds"], summary="Feed of all public events")
async def all_events_feed(
    request: Request[Any, Any, Any],
    organisation: Annotated[str | None, QueryParameter(max_length=64)] = None,
    kind: FromQuery[Kind | None] = None,
    language: FromQuery[Language | None] = None,
    lang: FromQuery[Language | None] = None,
) -> Response[bytes]:
    feed = FeedQuery(scope="all", organisation=organisation, kind=kind, language=language, lang=_lang(request, lang))
    return await _respond(request, feed, "trefpunt.ics")


@get("/organisations/{slug:str}/calendar.ics", opt=FEED_OPT, tags=["feeds"], summary="An organisation's feed")
async def organisation_feed(
    request: Request[Any, Any, Any], slug: FromPath[str], lang: FromQuery[Language | None] = None
) -> Response[bytes]:
    feed = FeedQuery(scope="organisation", key=slug[:64], lang=_lang(request, lang))
    return await _respond(request, feed, f"{feed.key}.ics")


@get("/series/{series_id:int}/calendar.ics", opt=FEED_OPT, tags=["feeds"], summary="A series' feed")
async def series_feed(
    request: Request[Any, Any, Any], series_id: FromPath[int], lang: FromQuery[Language | None] = None
) -> Response[bytes]:
    feed = FeedQuery(scope="series", key=str(series_id), lang=_lang(request, lang))
    return await _respond(request, feed, f"series-{series_id}.ics")


@get("/events/{event_id:int}/calendar.ics", opt=FEED_OPT, tags=["feeds"], summary="One event as a calendar file")
async def event_feed(
    request: Request[Any, Any, Any], event_id: FromPath[int], lang: FromQuery[Language | None] = None
) -> Response[bytes]:
    feed = FeedQuery(scope="event", key=str(event_id), lang=_lang(request, lang))
    return await _respond(request, feed, f"event-{event_id}.ics")


FEED_HANDLERS = [all_events_feed, organisation_feed, series_feed, event_feed]
