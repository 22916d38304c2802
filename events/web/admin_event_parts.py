"""An event's parts: questions, consent purposes, consultation advisors and windows, meeting slots and tables.

Each page is one form with numbered rows. Buttons such as "Add another advisor" post the form
and get it back with the change made and nothing saved, so the pages need no JavaScript; only
Save stores. Anyone of a hosting organisation sees the values; only owners and editors of the
owning organisation change them (viewers and co-hosts: 403, others: 404).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from events.services import consents, event_parts, questions
from events.services import events as event_service
from events.services.access import Actor
from events.services.errors import DomainError, NotFound
from events.services.event_parts import Day, FormProblem
from events.services.events import EventView
from events.services.hosts import hosts_of, require_editor
from events.settings import LANGUAGES
from events.tables import Organisation
from events.web.auth import session_organiser
from events.web.errors import localise


async def _load(organiser: Actor, event_id: int, kind: str | None = None) -> tuple[EventView, int, bool]:
    """The event (404 for someone with no role in a hosting organisation, or the wrong kind),
    its owning organisation, and whether this organiser may change it."""
    owner, co_hosts = await hosts_of(event_id)
    if not any(organiser.role_in(org) for org in (owner, *co_hosts)):
        raise NotFound()
    event = await event_service.get_event(event_id, organiser)
    if kind is not None and event.kind != kind:
        raise NotFound()
    return event, owner, organiser.can_edit_for(owner)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form as `name -> text` (the pages never repeat a name)."""
    form = await request.form()
    return {key: str(form.get(key) or "") for key in form}


def _problem(exc: DomainError) -> tuple[str, dict[str, str], int]:
    """A page-level message, messages per field, and the status for a form that did not save."""
    if exc.status_code in (403, 404) or exc.status_code >= 500:
        raise exc
    errors: dict[str, str] = {}
    if isinstance(exc, FormProblem):
        errors = {name: localise(error.message, **error.params) for name, error in exc.errors.items()}
    return localise(exc.message, **exc.params), errors, exc.status_code


def _day(event: EventView) -> Day:
    return Day.of(event.starts_at, event.ends_at, event.timezone)


class AdminEventPartsController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    # Questions and consent purposes ----------------------------------------------------------------

    async def _questions_page(
        self,
        organiser: Actor,
        event: EventView,
        owner: int,
        can_edit: bool,
        *,
        rows: list[event_parts.QuestionRow] | None = None,
        purpose: event_parts.PurposeRow | None = None,
        error: str | None = None,
        errors: dict[str, str] | None = None,
        purpose_error: str | None = None,
        purpose_errors: dict[str, str] | None = None,
        status_code: int = 200,
        saved: str | None = None,
        edited: bool = False,
    ) -> Template:
        if rows is None:
            rows = event_parts.rows_from_questions(await questions.list_questions(event.id))
        organisations = await Organisation.select(Organisation.id, Organisation.slug).where(
            Organisation.slug.is_in([event.organisation, *event.hosts])
        )
        names = {org.slug: org.name for org in event.organisations}
        slug_of = {row["id"]: row["slug"] for row in organisations}
        purposes = await consents.purposes_for(list(slug_of))
        return Template(
            "admin/event_questions.html",
            context={
                "organiser": organiser,
                "event": event,
                "can_edit": can_edit,
                "rows": rows,
                "kinds": event_parts.KINDS,
                "purposes": [(p, names.get(slug_of[p.organisation_id], {})) for p in purposes],
                "owner_id": owner,
                "purpose": purpose or event_parts.PurposeRow(),
                "error": error,
                "errors": errors or {},
                "purpose_error": purpose_error,
                "purpose_errors": purpose_errors or {},
                "saved": saved,
                "edited": edited,
            },
            status_code=status_code,
        )

    @get("/events/{event_id:int}/questions", name="admin-event-questions")
    async def questions_page(
        self,
        organiser: NamedDependency[Actor],
        event_id: FromPath[int],
        saved: FromQuery[str | None] = None,
        purpose: FromQuery[int | None] = None,
    ) -> Template:
        event, owner, can_edit = await _load(organiser, event_id)
        row = None
        if purpose is not None and can_edit:
            # "Change wording": the form starts from that purpose's current text.
            match = next((p for p in await consents.purposes_for([owner]) if p.id == purpose), None)
            if match is not None:
                row = event_parts.PurposeRow(key=match.key, text={lang: match.text.get(lang, "") for lang in LANGUAGES})
        return await self._questions_page(organiser, event, owner, can_edit, purpose=row, saved=saved)

    @post("/events/{event_id:int}/questions", name="admin-event-questions-save")
    async def save_questions(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], event_id: FromPath[int]
    ) -> Template | Redirect:
        event, owner, can_edit = await _load(organiser, event_id)
        await require_editor(organiser, event_id)
        form = await _form(request)
        rows = event_parts.question_rows_from_form(form)
        edited = event_parts.edit_question_rows(rows, form)
        if edited is not None:
            return await self._questions_page(organiser, event, owner, can_edit, rows=edited, edited=True)
        try:
            stored = await questions.list_questions(event_id)
            await event_parts.save_questions(organiser, event_id, event_parts.questions_from_rows(rows, stored))
        except DomainError as exc:
            error, errors, status = _problem(exc)
            return await self._questions_page(
                organiser, event, owner, can_edit, rows=rows, error=error, errors=errors, status_code=status
            )
        return Redirect(f"/admin/events/{event_id}/questions?saved=questions", status_code=303)

    @post("/events/{event_id:int}/consent-purposes", name="admin-event-purpose")
    async def define_purpose(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], event_id: FromPath[int]
    ) -> Template | Redirect:
        event, owner, can_edit = await _load(organiser, event_id)
        await require_editor(organiser, event_id)
        row = event_parts.purpose_row_from_form(await _form(request))
        try:
            await event_parts.define_event_purpose(organiser, event_id, event_parts.purpose_from_row(row))
        except DomainError as exc:
            error, errors, status = _problem(exc)
            return await self._questions_page(
                organiser,
                event,
                owner,
                can_edit,
                purpose=row,
                purpose_error=error,
                purpose_errors=errors,
                status_code=status,
            )
        return Redirect(f"/admin/events/{event_id}/questions?saved=purpose#purposes", status_code=303)

    # Consultation days -----------------------------------------------------------------------------

    async def _advisors_page(
        self,
        organiser: Actor,
        event: EventView,
        can_edit: bool,
        data: event_parts.ConsultationForm,
        *,
        error: str | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
        saved: bool = False,
        edited: bool = False,
    ) -> Template:
        return Template(
            "admin/event_advisors.html",
            context={
                "organiser": organiser,
                "event": event,
                "can_edit": can_edit,
                "form": data,
                "day": _day(event),
                "organisations": event.organisations,
                "error": error,
                "errors": errors or {},
                "saved": saved,
                "edited": edited,
            },
            status_code=status_code,
        )

    @get("/events/{event_id:int}/advisors", name="admin-event-advisors")
    async def advisors_page(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], saved: FromQuery[bool] = False
    ) -> Template:
        event, _, can_edit = await _load(organiser, event_id, "consultation_day")
        data = await event_parts.consultation_form(event_id, _day(event))
        return await self._advisors_page(organiser, event, can_edit, data, saved=saved)

    @post("/events/{event_id:int}/advisors", name="admin-event-advisors-save")
    async def save_advisors(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], event_id: FromPath[int]
    ) -> Template | Redirect:
        event, _, can_edit = await _load(organiser, event_id, "consultation_day")
        await require_editor(organiser, event_id)
        form = await _form(request)
        data = event_parts.consultation_form_from_form(form)
        edited = event_parts.edit_consultation_form(data, form)
        if edited is not None:
            return await self._advisors_page(organiser, event, can_edit, edited, edited=True)
        try:
            consultation = event_parts.consultation_from_form(
                data, _day(event), [org.slug for org in event.organisations]
            )
            event_parts.check_consultation_windows(consultation, event.starts_at, event.ends_at)
            await event_parts.save_consultation(organiser, event_id, consultation)
        except DomainError as exc:
            error, errors, status = _problem(exc)
            return await self._advisors_page(
                organiser, event, can_edit, data, error=error, errors=errors, status_code=status
            )
        return Redirect(f"/admin/events/{event_id}/advisors?saved=true", status_code=303)

    # Networking ------------------------------------------------------------------------------------

    async def _networking_page(
        self,
        organiser: Actor,
        event: EventView,
        can_edit: bool,
        data: event_parts.NetworkingForm,
        *,
        error: str | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
        saved: bool = False,
    ) -> Template:
        return Template(
            "admin/event_networking.html",
            context={
                "organiser": organiser,
                "event": event,
                "can_edit": can_edit,
                "form": data,
                "day": _day(event),
                "slots": await event_parts.meeting_slots(event.id),
                "error": error,
                "errors": errors or {},
                "saved": saved,
            },
            status_code=status_code,
        )

    @get("/events/{event_id:int}/networking", name="admin-event-networking")
    async def networking_page(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], saved: FromQuery[bool] = False
    ) -> Template:
        event, _, can_edit = await _load(organiser, event_id, "networking")
        data = await event_parts.networking_form(event_id, _day(event), event.starts_at, event.ends_at)
        return await self._networking_page(organiser, event, can_edit, data, saved=saved)

    @post("/events/{event_id:int}/networking", name="admin-event-networking-save")
    async def save_networking(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], event_id: FromPath[int]
    ) -> Template | Redirect:
        event, _, can_edit = await _load(organiser, event_id, "networking")
        await require_editor(organiser, event_id)
        data = event_parts.networking_form_from_form(await _form(request))
        try:
            await event_parts.save_networking(organiser, event_id, event_parts.networking_from_form(data, _day(event)))
        except DomainError as exc:
            error, errors, status = _problem(exc)
            return await self._networking_page(
                organiser, event, can_edit, data, error=error, errors=errors, status_code=status
            )
        return Redirect(f"/admin/events/{event_id}/networking?saved=true", status_code=303)
