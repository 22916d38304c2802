"""JSON API v1: events. Thin: parse, authorise through the token, call one service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from events.services import events as event_service
from events.services.access import Actor
from events.services.errors import N_, InvalidInput
from events.services.events import EventFilters, EventInput, EventPatch, EventView
from events.web.auth import bearer_actor, require_actor
from events.web.cache import page_cache
from events.web.openapi_docs import BODY, OPTIONAL_TOKEN, TOKEN, errors
from events.web.templating import query_url


class UnsupportedMediaType(HTTPException):
    status_code = 415


Kind = Literal["info_session", "consultation_day", "networking", "workshop"]
Language = Literal["nl", "fr", "en"]


class EventList(msgspec.Struct, omit_defaults=True):
    items: list[EventView]
    next: str | None = None


def _owner_of(actor: Actor) -> int:
    """A token belongs to exactly one organisation: new events are owned by it."""
    if len(actor.roles) != 1:
        raise InvalidInput(N_("This token does not belong to one organisation."))
    return next(iter(actor.roles))


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """A body sent to the API must say it is JSON: other content types get 415."""
    if request.method not in ("POST", "PATCH", "PUT"):
        return
    length = request.headers.get("content-length")
    if length in (None, "0") and "transfer-encoding" not in request.headers:
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType()


class EventApiController(Controller):
    path = "/api/v1/events"
    tags = ["events"]
    dependencies = {"actor": Provide(bearer_actor)}
    opt = {"skip_session": True}

    @get("/", summary="List upcoming published events", responses=errors(), middleware=[page_cache()])
    async def list_events(
        self,
        request: Request[Any, Any, Any],
        organisation: Annotated[str | None, QueryParameter(max_length=64)] = None,
        kind: FromQuery[Kind | None] = None,
        language: FromQuery[Language | None] = None,
        date_from: Annotated[date | None, QueryParameter(name="date")] = None,
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> EventList:
        filters = EventFilters(organisation=organisation, kind=kind, language=language, on_or_after=date_from)
        result = await event_service.list_events(filters, page=page, page_size=limit)
        params = {
            "organisation": organisation,
            "kind": kind,
            "language": language,
            "date": date_from.isoformat() if date_from else None,
            "limit": limit,
        }
        next_url = (
            query_url(str(request.base_url).rstrip("/") + self.path, params, page=page + 1) if result.has_next else None
        )
        return EventList(items=result.items, next=next_url)

    @get(
        "/{event_id:int}",
        summary="One event (drafts only with a token of a hosting organisation)",
        responses=errors(401, 404),
        security=OPTIONAL_TOKEN,
    )
    async def get_event(self, event_id: FromPath[int], actor: NamedDependency[Actor | None]) -> EventView:
        return await event_service.get_event(event_id, actor)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create a draft event owned by the token's organisation",
        before_request=require_json_body,
        responses=errors(401, 403, *BODY),
        security=TOKEN,
    )
    async def create_event(self, data: JSONBody[EventInput], actor: NamedDependency[Actor | None]) -> EventView:
        who = require_actor(actor)
        event_id = await event_service.create_event(who, _owner_of(who), data)
        return await event_service.get_event(event_id, who)

    @patch(
        "/{event_id:int}",
        summary="Change an event; start, end, place, link or status raise its SEQUENCE",
        before_request=require_json_body,
        responses=errors(401, 403, 404, 409, *BODY),
        security=TOKEN,
    )
    async def update_event(
        self, event_id: FromPath[int], data: JSONBody[EventPatch], actor: NamedDependency[Actor | None]
    ) -> EventView:
        who = require_actor(actor)
        await event_service.update_event(who, event_id, data)
        return await event_service.get_event(event_id, who)

    @post(
        "/{event_id:int}/publish",
        status_code=HTTP_200_OK,
        summary="Publish a draft",
        responses=errors(401, 403, 404, 409),
        security=TOKEN,
    )
    async def publish_event(self, event_id: FromPath[int], actor: NamedDependency[Actor | None]) -> EventView:
        who = require_actor(actor)
        await event_service.publish_event(who, event_id)
        return await event_service.get_event(event_id, who)

    @post(
        "/{event_id:int}/cancel",
        status_code=HTTP_200_OK,
        summary="Cancel an event (cancelling twice is harmless)",
        responses=errors(401, 403, 404),
        security=TOKEN,
    )
    async def cancel_event(self, event_id: FromPath[int], actor: NamedDependency[Actor | None]) -> EventView:
        who = require_actor(actor)
        await event_service.cancel_event(who, event_id)
        return await event_service.get_event(event_id, who)
