"""Public pages: the event list and the event page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from events.services import events as event_service
from events.services import registrations
from events.services.events import EventFilters
from events.tables import Organisation
from events.web.participant import form_context

Kind = Literal["info_session", "consultation_day", "networking", "workshop"]
Language = Literal["nl", "fr", "en"]


async def _organisations() -> list[dict[str, Any]]:
    return await Organisation.select(
        Organisation.slug, Organisation.name_nl, Organisation.name_fr, Organisation.name_en
    ).order_by(Organisation.slug)


class PublicController(Controller):
    include_in_schema = False

    @get(["/", "/events"], name="events")
    async def event_list(
        self,
        request: Request[Any, Any, Any],
        organisation: Annotated[str | None, QueryParameter(max_length=64)] = None,
        kind: FromQuery[Kind | None] = None,
        language: FromQuery[Language | None] = None,
        date_from: Annotated[date | None, QueryParameter(name="date")] = None,
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    ) -> Template:
        filters = EventFilters(organisation=organisation or None, kind=kind, language=language, on_or_after=date_from)
        result = await event_service.list_events(filters, page=page)
        params = {
            "organisation": organisation,
            "kind": kind,
            "language": language,
            "date": date_from.isoformat() if date_from else None,
        }
        return Template(
            "public/events.html",
            context={
                "page": result,
                "params": params,
                "organisations": await _organisations(),
                "kinds": event_service.KINDS,
            },
        )

    @get("/events/{event_id:int}", name="event")
    async def event_page(
        self,
        event_id: FromPath[int],
        language: FromQuery[Language | None] = None,
        topic: Annotated[str | None, QueryParameter(max_length=40)] = None,
        from_token: Annotated[str | None, QueryParameter(name="from", max_length=64)] = None,
    ) -> Template:
        context = await form_context(event_id, language=language, topic=topic)
        if from_token:
            # Booking a follow-up from a session's private link: fill in what we already know.
            context["form"] = await registrations.prefill(from_token)
        return Template("public/event.html", context=context)
