"""Organiser sign-in and the first back-office pages (the full back office is its own issue)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from events.services import attendees, consultations, networking, organisers, registrations
from events.services import events as event_service
from events.services.access import Actor
from events.services.attendees import neutralise
from events.services.errors import NotFound
from events.services.events import EventFilters
from events.services.hosts import hosts_of
from events.tables import Organisation
from events.web.admin_people import attendees_page, check_in_page
from events.web.auth import rotate_session, session_organiser

RegistrationStatus = Literal["pending_email", "pending_approval", "confirmed", "waitlisted", "cancelled", "rejected"]
MailStatus = Literal["queued", "sending", "sent", "failed"]


class BackTo(msgspec.Struct):
    back: Annotated[str, msgspec.Meta(max_length=500)] = "/admin"


class AttendanceForm(msgspec.Struct):
    attendance: Literal["attended", "no_show", ""]
    back: Annotated[str, msgspec.Meta(max_length=500)] = "/admin"


class LoginForm(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=254)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    next: Annotated[str, msgspec.Meta(max_length=500)] = "/admin"


def _safe_next(target: str) -> str:
    """Only paths on this site: no `//evil.example` or `https://…` open redirect."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        return "/admin"
    return target


class LoginController(Controller):
    include_in_schema = False

    @get("/login", name="login")
    async def login_page(
        self, next_: Annotated[str, QueryParameter(name="next", max_length=500)] = "/admin"
    ) -> Template:
        return Template("admin/login.html", context={"next": _safe_next(next_), "error": None})

    @post("/login", name="login-submit")
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: URLEncodedBody[LoginForm],
    ) -> Template | Redirect:
        organiser_id = await organisers.authenticate(data.email, data.password)
        if organiser_id is None:
            return Template(
                "admin/login.html",
                context={"next": _safe_next(data.next), "error": True, "email": data.email},
                status_code=401,
            )
        await rotate_session(request, {"organiser_id": organiser_id})
        return Redirect(_safe_next(data.next), status_code=303)

    @post("/logout", name="logout")
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        request.clear_session()
        return Redirect("/", status_code=303)


class AdminController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    @get("/", name="admin")
    async def dashboard(self, organiser: NamedDependency[Actor]) -> Template:
        ids = list(organiser.roles)
        orgs = await Organisation.select().where(Organisation.id.is_in(ids or [-1])).order_by(Organisation.slug)
        page = await event_service.list_events(EventFilters(), organisation_ids=ids, include_drafts=True, page_size=100)
        health = await attendees.event_health([(event.id, event.capacity) for event in page.items])
        attention = [event for event in page.items if health[event.id].needs_attention]
        return Template(
            "admin/dashboard.html",
            context={
                "organiser": organiser,
                "organisations": orgs,
                "events": page.items,
                "health": health,
                "attention": attention,
                "recent": await attendees.recent_registrations(organiser),
            },
        )

    @get("/events/{event_id:int}", name="admin-event")
    async def event_detail(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template:
        owner, hosts = await hosts_of(event_id)
        if not any(organiser.role_in(org) for org in (owner, *hosts)):
            raise NotFound()
        event = await event_service.get_event(event_id, organiser)
        return Template(
            "admin/event.html",
            context={"organiser": organiser, "event": event, "can_edit": organiser.can_edit_for(owner)},
        )

    @get("/events/{event_id:int}/day", name="admin-day")
    async def day(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], advisor: FromQuery[int | None] = None
    ) -> Template:
        """A consultation day at a glance (and, with ?advisor=, one advisor's printable day sheet)."""
        overview = await consultations.day_overview(organiser, event_id, advisor)
        event = await event_service.get_event(event_id, organiser)
        owner, _ = await hosts_of(event_id)
        return Template(
            "admin/day.html",
            context={
                "organiser": organiser,
                "event": event,
                "overview": overview,
                "sheet": advisor is not None,
                "can_edit": organiser.can_edit_for(owner),
            },
        )

    @get("/events/{event_id:int}/meetings", name="admin-meetings")
    async def meetings(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], cards: FromQuery[bool] = False
    ) -> Template:
        """The networking schedule (slots × tables), or printable table cards with ?cards=true."""
        schedule = await networking.meeting_schedule(organiser, event_id)
        event = await event_service.get_event(event_id, organiser)
        grid = {(entry.slot.id, entry.table): entry for entry in schedule.entries}
        return Template(
            "admin/meetings.html",
            context={"organiser": organiser, "event": event, "schedule": schedule, "grid": grid, "cards": cards},
        )

    @get("/events/{event_id:int}/meetings.csv", name="admin-meetings-csv")
    async def meetings_csv(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Response[str]:
        schedule = await networking.meeting_schedule(organiser, event_id)
        event = await event_service.get_event(event_id, organiser)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["start", "end", "table", "person 1", "person 2"])
        for entry in schedule.entries:
            writer.writerow(
                [
                    entry.slot.starts_at.astimezone(ZoneInfo(event.timezone)).isoformat(),
                    entry.slot.ends_at.astimezone(ZoneInfo(event.timezone)).isoformat(),
                    *(neutralise(value) for value in (entry.table, *entry.people)),
                ]
            )
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="meetings-{event_id}.csv"'},
        )

    @get("/events/{event_id:int}/attendees", name="admin-attendees")
    async def attendee_list(
        self,
        organiser: NamedDependency[Actor],
        event_id: FromPath[int],
        q: Annotated[str, QueryParameter(max_length=100)] = "",
        status: FromQuery[RegistrationStatus | None] = None,
        added: FromQuery[int | None] = None,
        queued: FromQuery[int | None] = None,
    ) -> Template:
        """Search, filter, act on a person; add one by hand; mail a selection (admin_people.py)."""
        return await attendees_page(organiser, event_id, q=q, status=status, added=added, queued=queued)

    @get("/events/{event_id:int}/attendees.csv", name="admin-attendees-csv")
    async def attendees_csv(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], event_id: FromPath[int]
    ) -> Response[str]:
        header, rows = await attendees.export_table(organiser, event_id, request.scope["state"].get("language", "nl"))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="attendees-{event_id}.csv"',
                "Cache-Control": "private",
            },
        )

    @get("/events/{event_id:int}/attendees.xlsx", name="admin-attendees-xlsx")
    async def attendees_xlsx(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], event_id: FromPath[int]
    ) -> Response[bytes]:
        header, rows = await attendees.export_table(organiser, event_id, request.scope["state"].get("language", "nl"))
        body = attendees.to_xlsx(header, rows, f"Event {event_id}")
        return Response(
            body,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={
                "Content-Disposition": f'attachment; filename="attendees-{event_id}.xlsx"',
                "Cache-Control": "private",
            },
        )

    @post("/registrations/{registration_id:int}/{action:str}", name="admin-registration")
    async def registration_action(
        self,
        organiser: NamedDependency[Actor],
        registration_id: FromPath[int],
        action: FromPath[str],
        data: URLEncodedBody[BackTo],
    ) -> Redirect:
        actions = {
            "approve": registrations.approve,
            "reject": registrations.reject,
            "cancel": registrations.cancel_by_organiser,
            "move-up": registrations.move_up,
        }
        if action not in actions:
            raise NotFound()
        await actions[action](organiser, registration_id)
        return Redirect(_safe_next(data.back), status_code=303)

    @get("/events/{event_id:int}/check-in", name="admin-check-in")
    async def check_in(
        self,
        organiser: NamedDependency[Actor],
        event_id: FromPath[int],
        q: Annotated[str, QueryParameter(max_length=100)] = "",
        checked: FromQuery[int | None] = None,
        already: FromQuery[bool] = False,
        no_shows: FromQuery[int | None] = None,
    ) -> Template:
        """At the door, on a phone: find a confirmed person by name, check in with one tap, undo;
        or check in with the code of their mail (admin_people.py)."""
        return await check_in_page(organiser, event_id, q=q, checked=checked, already=already, no_shows=no_shows)

    @get("/mail", name="admin-mail")
    async def mail(self, organiser: NamedDependency[Actor], status: FromQuery[MailStatus | None] = None) -> Template:
        entries = await attendees.mail_log(organiser, status=status)
        return Template("admin/mail.html", context={"organiser": organiser, "entries": entries, "status": status})

    @post("/mail/{message_id:int}/resend", name="admin-mail-resend")
    async def resend(self, organiser: NamedDependency[Actor], message_id: FromPath[int]) -> Redirect:
        await attendees.resend(organiser, message_id)
        return Redirect("/admin/mail", status_code=303)

    @post("/slots/{slot_id:int}/{action:str}", name="admin-slot")
    async def slot_action(
        self,
        organiser: NamedDependency[Actor],
        slot_id: FromPath[int],
        action: FromPath[str],
        data: URLEncodedBody[BackTo],
    ) -> Redirect:
        if action not in ("block", "unblock"):
            raise NotFound()
        await consultations.set_blocked(organiser, slot_id, action == "block")
        return Redirect(_safe_next(data.back), status_code=303)

    @post("/registrations/{registration_id:int}/attendance", name="admin-attendance")
    async def attendance(
        self, organiser: NamedDependency[Actor], registration_id: FromPath[int], data: URLEncodedBody[AttendanceForm]
    ) -> Redirect:
        await registrations.mark_attendance(organiser, registration_id, data.attendance)
        return Redirect(_safe_next(data.back), status_code=303)

    @post("/events/{event_id:int}/publish", name="admin-event-publish")
    async def publish(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Redirect:
        await event_service.publish_event(organiser, event_id)
        return Redirect(f"/admin/events/{event_id}", status_code=303)

    @post("/events/{event_id:int}/cancel", name="admin-event-cancel")
    async def cancel(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Redirect:
        await event_service.cancel_event(organiser, event_id)
        return Redirect(f"/admin/events/{event_id}", status_code=303)
