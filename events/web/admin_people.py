"""Attendees beyond the list: add by hand, mail a selection, QR check-in, attendance sheet, no-shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from events import i18n
from events.services import attendees, registrations
from events.services import events as event_service
from events.services.access import Actor
from events.services.errors import N_, DomainError, InvalidInput
from events.services.hosts import can_work_the_door, hosts_of, require_editor
from events.web.auth import session_organiser
from events.web.errors import localise

STATUSES = ("confirmed", "waitlisted", "pending_approval", "pending_email", "cancelled", "rejected")


class AddPersonForm(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    email: Annotated[str, msgspec.Meta(max_length=254)] = ""
    language: Annotated[str, msgspec.Meta(max_length=2)] = "nl"
    phone: Annotated[str, msgspec.Meta(max_length=50)] = ""
    company: Annotated[str, msgspec.Meta(max_length=200)] = ""
    notify: Annotated[str, msgspec.Meta(max_length=10)] = ""  # a checkbox: absent when unticked


class CheckInCodeForm(msgspec.Struct):
    code: Annotated[str, msgspec.Meta(max_length=100)] = ""


async def attendees_page(
    organiser: Actor,
    event_id: int,
    *,
    q: str = "",
    status: str | None = None,
    added: int | None = None,
    queued: int | None = None,
    add_form: dict[str, Any] | None = None,
    add_error: str | None = None,
    add_field: str | None = None,
    mail_form: dict[str, Any] | None = None,
    mail_error: str | None = None,
    mail_field: str | None = None,
    status_code: int = 200,
) -> Template:
    """The attendee list with its add-a-person and mail forms (also re-rendered with errors)."""
    people = await attendees.attendees(organiser, event_id, query=q, status=status)
    event = await event_service.get_event(event_id, organiser)
    owner, _ = await hosts_of(event_id)
    return Template(
        "admin/attendees.html",
        context={
            "organiser": organiser,
            "event": event,
            "people": people,
            "q": q,
            "status": status,
            "statuses": STATUSES,
            "can_edit": organiser.can_edit_for(owner),
            "added": await _added(organiser, event_id, added),
            "queued": queued,
            "add_form": add_form or {"language": "nl", "notify": "on"},
            "add_error": add_error,
            "add_field": add_field,
            "add_open": add_error is not None,
            "mail_form": mail_form or {},
            "mail_error": mail_error,
            "mail_field": mail_field,
        },
        status_code=status_code,
    )


async def _added(organiser: Actor, event_id: int, registration_id: int | None) -> attendees.Attendee | None:
    """The person just added (shown in a notice), if they belong to this event."""
    if registration_id is None:
        return None
    return next((p for p in await attendees.attendees(organiser, event_id) if p.id == registration_id), None)


async def check_in_page(
    organiser: Actor,
    event_id: int,
    *,
    q: str = "",
    checked: int | None = None,
    already: bool = False,
    code: str = "",
    code_error: str | None = None,
    no_shows: int | None = None,
    page_error: str | None = None,
    status_code: int = 200,
) -> Template:
    """The check-in page: search, tap, undo, a code form (typed or scanned) and, after the end,
    marking the no-shows."""
    confirmed = await attendees.attendees(organiser, event_id, status="confirmed")
    needle = q.strip().lower()
    people = [p for p in confirmed if not needle or needle in f"{p.name} {p.email} {p.company}".lower()]
    event = await event_service.get_event(event_id, organiser)
    owner, co_hosts = await hosts_of(event_id)
    return Template(
        "admin/check_in.html",
        context={
            "organiser": organiser,
            "event": event,
            "people": people,
            "q": q,
            "checked": sum(1 for p in confirmed if p.attendance == "attended"),
            "not_in": sum(1 for p in confirmed if p.attendance == ""),
            "can_edit": can_work_the_door(organiser, owner, co_hosts),
            "ended": event.ends_at <= datetime.now(UTC),
            "just_in": next((p for p in confirmed if p.id == checked), None),
            "already": already,
            "code": code,
            "code_error": code_error,
            "no_shows": no_shows,
            "page_error": page_error,
        },
        status_code=status_code,
    )


def _form_error(exc: DomainError) -> tuple[str, str | None]:
    if exc.status_code >= 500 or exc.status_code in (403, 404):
        raise exc  # not a mistake in the form: the error page says it
    return localise(exc.message, **exc.params), exc.field


class AdminPeopleController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    @post("/events/{event_id:int}/attendees", name="admin-attendees-add")
    async def add_person(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], data: URLEncodedBody[AddPersonForm]
    ) -> Template | Redirect:
        """Add a person by hand; mistakes come back on the page next to their field, input kept."""
        await require_editor(organiser, event_id)  # the role first: a viewer's form is not checked
        values = msgspec.structs.asdict(data)
        try:
            if data.language not in ("nl", "fr", "en"):
                raise InvalidInput(N_("Choose a language."), field="language")
            person = msgspec.convert(
                {k: v for k, v in values.items() if k != "notify"}, registrations.PersonInput, strict=False
            )
            result = await registrations.add_by_organiser(organiser, event_id, person, notify=data.notify == "on")
        except DomainError as exc:
            error, field = _form_error(exc)
            return await attendees_page(
                organiser,
                event_id,
                add_form=values,
                add_error=error,
                add_field=field,
                status_code=exc.status_code,
            )
        return Redirect(f"/admin/events/{event_id}/attendees?added={result.id}", status_code=303)

    @post("/events/{event_id:int}/attendees/mail", name="admin-attendees-mail")
    async def mail_people(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], event_id: FromPath[int]
    ) -> Template | Redirect:
        """Mail the ticked people, or everyone with one status, through the outbox."""
        await require_editor(organiser, event_id)
        form = await request.form()
        subject = str(form.get("subject") or "")[:300]
        message = str(form.get("message") or "")[:10000]
        target = str(form.get("target") or "")
        to_status = str(form.get("to_status") or "confirmed")
        ticked = [str(v) for v in form.getall("registration", [])]
        values = {"subject": subject, "message": message, "to_status": to_status, "ticked": ticked}
        try:
            if target == "selected":
                if not ticked:
                    raise InvalidInput(N_("Tick at least one person to mail."), field="registration")
                if not all(v.isascii() and v.isdigit() and len(v) < 12 for v in ticked):
                    raise InvalidInput(N_("Tick at least one person to mail."), field="registration")
                count = await registrations.broadcast(
                    organiser, event_id, subject, message, registration_ids=[int(v) for v in ticked]
                )
            elif target == "status" and to_status in STATUSES:
                count = await registrations.broadcast(organiser, event_id, subject, message, status=to_status)
            else:
                raise InvalidInput(N_("Choose whom to mail."), field="target")
        except DomainError as exc:
            error, field = _form_error(exc)
            return await attendees_page(
                organiser,
                event_id,
                mail_form=values,
                mail_error=error,
                mail_field=field,
                status_code=exc.status_code,
            )
        return Redirect(f"/admin/events/{event_id}/attendees?queued={count}", status_code=303)

    @get("/registrations/{registration_id:int}", name="admin-person")
    async def person(self, organiser: NamedDependency[Actor], registration_id: FromPath[int]) -> Template:
        """One person: details, answers, consents, what happened when, and every mail sent to them."""
        view = await attendees.person(organiser, registration_id, i18n.current_language.get())
        event = await event_service.get_event(view.event_id, organiser)
        owner, _ = await hosts_of(view.event_id)
        return Template(
            "admin/person.html",
            context={
                "organiser": organiser,
                "event": event,
                "person": view,
                "can_edit": organiser.can_edit_for(owner),
            },
        )

    @post("/registrations/{registration_id:int}/mails/{message_id:int}/resend", name="admin-person-resend")
    async def resend(
        self, organiser: NamedDependency[Actor], registration_id: FromPath[int], message_id: FromPath[int]
    ) -> Redirect:
        await attendees.resend(organiser, message_id, registration_id=registration_id)
        return Redirect(f"/admin/registrations/{registration_id}?resent={message_id}", status_code=303)

    @post("/events/{event_id:int}/check-in/code", name="admin-check-in-code")
    async def check_in_code(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], data: URLEncodedBody[CheckInCodeForm]
    ) -> Template | Redirect:
        """Check in with the code of a confirmation mail (typed, or scanned by check-in.js)."""
        try:
            result = await registrations.check_in_by_code(organiser, event_id, data.code)
        except DomainError as exc:
            error, _ = _form_error(exc)
            return await check_in_page(
                organiser, event_id, code=data.code, code_error=error, status_code=exc.status_code
            )
        already = "&already=1" if result.already else ""
        return Redirect(f"/admin/events/{event_id}/check-in?checked={result.registration_id}{already}", status_code=303)

    @post("/events/{event_id:int}/no-shows", name="admin-no-shows")
    async def no_shows(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template | Redirect:
        """After the event: everyone confirmed who did not come becomes a no-show."""
        try:
            count = await registrations.mark_no_shows(organiser, event_id)
        except DomainError as exc:
            error, _ = _form_error(exc)
            return await check_in_page(organiser, event_id, page_error=error, status_code=exc.status_code)
        return Redirect(f"/admin/events/{event_id}/check-in?no_shows={count}", status_code=303)

    @get("/events/{event_id:int}/attendance-sheet", name="admin-attendance-sheet")
    async def attendance_sheet(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template:
        """A sheet to print: confirmed people by name, with an empty column to sign."""
        people = await attendees.attendance_sheet(organiser, event_id)
        event = await event_service.get_event(event_id, organiser)
        return Template(
            "admin/attendance_sheet.html", context={"organiser": organiser, "event": event, "people": people}
        )
