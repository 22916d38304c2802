"""Public pages: the event list and the event page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from events.services import events as event_service
from events.services import registrations
from events.services.events import EventFilters
from events.tables import Organisation
from events.web.cache import PagePolicy, csrf_token, page_cache
from events.web.participant import form_context, form_stamp

Kind = Literal["info_session", "consultation_day", "networking", "workshop"]
Language = Literal["nl", "fr", "en"]
# The list's filter form sends every field, the ones left on "all" empty: `?kind=&language=&date=`.
Blank = Literal[""]


def _date_param(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationException("date: not a date (YYYY-MM-DD)") from None


def _form_values(scope: Any) -> dict[str, str]:
    """The per-request values of a cached event page's form."""
    return {"_csrf_token": csrf_token(scope), "stamp": form_stamp(int(scope["path_params"]["event_id"]))}


# `?from=` fills the form with a participant's own details: never cached.
EVENT_PAGE_CACHE = page_cache(PagePolicy(personal_params=("from",), fill=_form_values))


async def _organisations() -> list[dict[str, Any]]:
    return await Organisation.select(
        Organisation.slug, Organisation.name_nl, Organisation.name_fr, Organisation.name_en
    ).order_by(Organisation.slug)


class PublicController(Controller):
    include_in_schema = False

    @get(["/", "/events"], name="events", middleware=[page_cache()])
    async def event_list(
        self,
        request: Request[Any, Any, Any],
        organisation: Annotated[str | None, QueryParameter(max_length=64)] = None,
        kind: FromQuery[Kind | Blank | None] = None,
        language: FromQuery[Language | Blank | None] = None,
        date_text: Annotated[str, QueryParameter(name="date", max_length=10)] = "",
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    ) -> Template:
        kind, language, date_from = kind or None, language or None, _date_param(date_text)
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

    @get("/events/{event_id:int}", name="event", middleware=[EVENT_PAGE_CACHE])
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
