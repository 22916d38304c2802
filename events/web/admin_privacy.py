"""Privacy in the back office: retention settings, erasure on request."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from events.services import events as event_service
from events.services import privacy, retention, team
from events.services.access import Actor
from events.services.errors import N_, DomainError, Forbidden, InvalidInput
from events.services.hosts import require_editor
from events.web.auth import session_organiser
from events.web.errors import localise

NO_STORE = {"Cache-Control": "no-store"}
NOTICES = {
    "saved": N_("The retention period is saved."),
}


class MonthsForm(msgspec.Struct):
    retention_months: Annotated[str, msgspec.Meta(max_length=10)] = ""


class EraseForm(msgspec.Struct):
    confirm: Annotated[str, msgspec.Meta(max_length=10)] = ""


def _months(value: str, *, optional: bool) -> int | None:
    text = value.strip()
    if not text and optional:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 4:
        raise InvalidInput(
            N_("Give a number of months from %(low)s to %(high)s."),
            field="retention_months",
            low=retention.MIN_MONTHS,
            high=retention.MAX_MONTHS,
        )
    return int(text)


def _user_error(exc: DomainError) -> str:
    """A mistake in the form is shown next to it; 403/404 (and 5xx) become the error page."""
    if exc.status_code not in (400, 409, 422):
        raise exc
    return localise(exc.message, **exc.params)


async def _privacy_page(
    organiser: Actor,
    organisation_id: int | None,
    *,
    notice: str | None = None,
    form_error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    organisation, mine = await team.choose_organisation(organiser, organisation_id)
    settings = await retention.organisation_retention(organiser, organisation.id)
    return Template(
        "admin/privacy.html",
        context={
            "organiser": organiser,
            "organisation": organisation,
            "organisations": mine,
            "settings": settings,
            "is_owner": organisation.role == "owner",
            "can_edit": organisation.role in ("owner", "editor"),
            "notice": localise(NOTICES[notice]) if notice in NOTICES else None,
            "form_error": form_error,
            "form": form or {"retention_months": str(settings.retention_months)},
        },
        status_code=status_code,
        headers=NO_STORE,
    )


async def _event_page(
    organiser: Actor,
    event_id: int,
    *,
    form_error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Template:
    view = await retention.event_retention(organiser, event_id)
    event = await event_service.get_event(event_id, organiser)
    return Template(
        "admin/privacy_event.html",
        context={
            "organiser": organiser,
            "event": event,
            "view": view,
            "form_error": form_error,
            "form": form or {"retention_months": "" if view.retention_months is None else str(view.retention_months)},
        },
        status_code=status,
        headers=NO_STORE,
    )


class AdminPrivacyController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    @get("/privacy", name="admin-privacy")
    async def privacy_page(
        self,
        organiser: NamedDependency[Actor],
        organisation: FromQuery[int | None] = None,
        done: Annotated[str | None, QueryParameter(max_length=30)] = None,
    ) -> Template:
        """The organisation's retention period and each event's own; every role reads."""
        return await _privacy_page(organiser, organisation, notice=done)

    @post("/privacy", name="admin-privacy-save")
    async def save_privacy(
        self,
        organiser: NamedDependency[Actor],
        data: URLEncodedBody[MonthsForm],
        organisation: FromQuery[int | None] = None,
    ) -> Template | Redirect:
        """Owners change the period (1–120 months)."""
        chosen, _ = await team.choose_organisation(organiser, organisation)
        if chosen.role != "owner":  # the role first: a viewer's form is not checked
            raise Forbidden()
        try:
            months = _months(data.retention_months, optional=False)
            assert months is not None
            await retention.set_organisation_retention(organiser, chosen.id, months)
        except DomainError as exc:
            error = _user_error(exc)
            return await _privacy_page(
                organiser, chosen.id, form_error=error, form=msgspec.structs.asdict(data), status_code=exc.status_code
            )
        return Redirect(f"/admin/privacy?organisation={chosen.id}&done=saved", status_code=303)

    @get("/events/{event_id:int}/retention", name="admin-event-retention")
    async def event_retention(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template:
        """An event's own, stricter period (owners and editors)."""
        return await _event_page(organiser, event_id)

    @post("/events/{event_id:int}/retention", name="admin-event-retention-save")
    async def save_event_retention(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], data: URLEncodedBody[MonthsForm]
    ) -> Template | Redirect:
        owner = await require_editor(organiser, event_id)  # the role first: a viewer's form is not checked
        try:
            months = _months(data.retention_months, optional=True)
            await retention.set_event_retention(organiser, event_id, months)
        except DomainError as exc:
            error = _user_error(exc)
            return await _event_page(
                organiser, event_id, form_error=error, form=msgspec.structs.asdict(data), status=exc.status_code
            )
        return Redirect(f"/admin/privacy?organisation={owner}&done=saved", status_code=303)

    @get("/registrations/{registration_id:int}/erase", name="admin-person-erase-confirm")
    async def erase_confirm(self, organiser: NamedDependency[Actor], registration_id: FromPath[int]) -> Template:
        """What erasing this person covers, with the button that does it."""
        preview = await privacy.organiser_erasure_preview(organiser, registration_id)
        event = await event_service.get_event(preview.event_id, organiser)
        return Template(
            "admin/privacy_erase.html",
            context={"organiser": organiser, "event": event, "preview": preview, "form_error": None},
            headers=NO_STORE,
        )

    @post("/registrations/{registration_id:int}/erase", name="admin-person-erase")
    async def erase(
        self, organiser: NamedDependency[Actor], registration_id: FromPath[int], data: URLEncodedBody[EraseForm]
    ) -> Template | Redirect:
        """Erase on the person's request: their data at this organisation's events."""
        preview = await privacy.organiser_erasure_preview(organiser, registration_id)
        if data.confirm != "yes":
            event = await event_service.get_event(preview.event_id, organiser)
            error = localise(N_("Tick the box to confirm the erasure."))
            return Template(
                "admin/privacy_erase.html",
                context={"organiser": organiser, "event": event, "preview": preview, "form_error": error},
                status_code=422,
                headers=NO_STORE,
            )
        await privacy.erase_by_organiser(organiser, registration_id)
        return Redirect(f"/admin/registrations/{registration_id}", status_code=303)
