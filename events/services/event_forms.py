"""The back office's event form: the flat HTML form ⇄ EventInput / EventPatch, and what saving
or cancelling will tell people (so the page can say it before anything is sent).

Parsing is pure (no database): every problem is reported against the field it belongs to, so
the page can show all of them at once next to their inputs. The rules themselves stay in
`events.services.events`; this module only asks them questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec

from events.db import write_transaction
from events.services import audit
from events.services import events as event_service
from events.services.access import Actor
from events.services.errors import N_, Forbidden, NotFound
from events.services.events import (
    KINDS,
    DescriptionTexts,
    EventInput,
    EventPatch,
    EventView,
    TitleTexts,
    VenueInput,
)
from events.services.hosts import require_editor, require_host
from events.settings import DEFAULT_TIMEZONE, LANGUAGES
from events.tables import Event, Organisation, Question, Registration, Room, Venue

# Offered in the form's time zone list; an event in another zone keeps its own as an extra choice.
TIMEZONES: tuple[str, ...] = (
    "Europe/Brussels",
    "Europe/Amsterdam",
    "Europe/Luxembourg",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/London",
    "UTC",
)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
MAX_REMINDERS = 5
MAX_CAPACITY = 100_000

Short = Annotated[str, msgspec.Meta(max_length=20)]
Line = Annotated[str, msgspec.Meta(max_length=500)]
Long = Annotated[str, msgspec.Meta(max_length=20_000)]


class EventForm(msgspec.Struct, kw_only=True):
    """The event form as the browser sends it: text only; unchecked boxes are simply absent."""

    kind: Annotated[str, msgspec.Meta(max_length=32)] = "info_session"
    organisation: Short = ""
    title_nl: Line = ""
    title_fr: Line = ""
    title_en: Line = ""
    description_nl: Long = ""
    description_fr: Long = ""
    description_en: Long = ""
    hosts: (
        Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=200)]
        | Annotated[str, msgspec.Meta(max_length=64)]
    ) = msgspec.field(default_factory=list)
    timezone: Annotated[str, msgspec.Meta(max_length=64)] = DEFAULT_TIMEZONE
    starts_at: Short = ""
    ends_at: Short = ""
    venue_name: Line = ""
    venue_address: Line = ""
    venue_city: Line = ""
    venue_room: Line = ""
    online_url: Line = ""
    capacity: Short = ""
    waitlist: Short = ""
    requires_approval: Short = ""
    double_opt_in: Short = ""
    registration_opens_at: Short = ""
    registration_closes_at: Short = ""
    reminder_hours: Annotated[str, msgspec.Meta(max_length=100)] = ""
    follow_up_event_id: Short = ""
    # The two-step save: "yes" once the organiser has seen how many people will be told.
    confirm: Short = ""
    # "Back" on the confirmation step: show the form again with the values entered.
    back: Short = ""

    @property
    def host_slugs(self) -> list[str]:
        return [self.hosts] if isinstance(self.hosts, str) else list(self.hosts)

    def fields(self) -> dict[str, str | list[str]]:
        """Every value to carry over as hidden inputs (the confirmation step)."""
        values: dict[str, str | list[str]] = {
            name: getattr(self, name) for name in self.__struct_fields__ if name not in ("hosts", "confirm", "back")
        }
        values["hosts"] = self.host_slugs
        return values


@dataclass(frozen=True)
class FieldError:
    """A gettext message id with its parameters, for one form field."""

    message: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedEvent:
    """The form's values, typed; only meaningful when parsing reported no errors."""

    kind: str = "info_session"
    organisation_id: int | None = None
    title: dict[str, str] = field(default_factory=dict)
    description: dict[str, str] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    timezone: str = DEFAULT_TIMEZONE
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    venue: VenueInput | None = None
    online_url: str = ""
    capacity: int | None = None
    waitlist: bool = False
    requires_approval: bool = False
    double_opt_in: bool = False
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    reminder_hours: list[int] = field(default_factory=list)
    follow_up_event_id: int | None = None

    def as_input(self) -> EventInput:
        """The parsed form as the create use case takes it."""
        assert self.starts_at is not None and self.ends_at is not None
        return EventInput(
            kind=self.kind,  # type: ignore[arg-type]
            title=TitleTexts(**self.title),
            description=DescriptionTexts(**self.description),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            timezone=self.timezone,
            venue=self.venue,
            online_url=self.online_url,
            capacity=self.capacity,
            waitlist=self.waitlist,
            requires_approval=self.requires_approval,
            double_opt_in=self.double_opt_in,
            registration_opens_at=self.registration_opens_at,
            registration_closes_at=self.registration_closes_at,
            reminder_hours=self.reminder_hours,
            hosts=self.hosts,
            follow_up_event_id=self.follow_up_event_id,
        )

    def patch_for(self, current: EventView) -> EventPatch:
        """Only what differs from the event as it is: an unchanged form is an empty patch, and
        a description-only edit stays a description-only change."""
        changes: dict[str, Any] = {}
        if self.kind != current.kind:
            changes["kind"] = self.kind
        if self.title != {lang: current.title.get(lang, "") for lang in LANGUAGES}:
            changes["title"] = TitleTexts(**self.title)
        if self.description != {lang: current.description.get(lang, "") for lang in LANGUAGES}:
            changes["description"] = DescriptionTexts(**self.description)
        if self.timezone != current.timezone:
            changes["timezone"] = self.timezone
        for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
            if getattr(self, name) != getattr(current, name):
                changes[name] = getattr(self, name)
        if _venue_key(self.venue) != _venue_key(current.venue):
            changes["venue"] = self.venue
        for name in ("online_url", "capacity", "waitlist", "requires_approval", "double_opt_in"):
            if getattr(self, name) != getattr(current, name):
                changes[name] = getattr(self, name)
        if sorted(set(self.reminder_hours), reverse=True) != sorted(set(current.reminder_hours), reverse=True):
            changes["reminder_hours"] = self.reminder_hours
        if sorted(set(self.hosts) - {current.organisation}) != sorted(current.hosts):
            changes["hosts"] = self.hosts
        if self.follow_up_event_id != current.follow_up_event_id:
            changes["follow_up_event_id"] = self.follow_up_event_id
        return EventPatch(**changes)


def _venue_key(venue: Any) -> tuple[str, str, str, str] | None:
    if venue is None:
        return None
    return (venue.name, venue.address, venue.city, venue.room or "")


def _local_to_utc(text: str, timezone: str) -> datetime:
    """A datetime-local value read in `timezone`, as UTC. A wall-clock time the clocks skip
    (spring forward) is refused; a repeated one (autumn) means its first occurrence."""
    local = datetime.strptime(text[:16], LOCAL_FORMAT)
    zone = ZoneInfo(timezone)
    moment = local.replace(tzinfo=zone).astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != local:
        raise ValueError("skipped")
    return moment


def utc_to_local(moment: datetime | None, timezone: str) -> str:
    """A stored UTC moment as the value of a datetime-local input in the event's zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime(LOCAL_FORMAT)


def parse_event_form(form: EventForm) -> tuple[ParsedEvent, dict[str, FieldError]]:
    """Read the form; returns the typed values and, per field name, what is wrong with it."""
    errors: dict[str, FieldError] = {}
    parsed = ParsedEvent()

    if form.kind in KINDS:
        parsed.kind = form.kind
    else:
        errors["kind"] = FieldError(N_("Choose a type of event."))

    if form.organisation.strip():
        if form.organisation.strip().isdigit():
            parsed.organisation_id = int(form.organisation.strip())
        else:
            errors["organisation"] = FieldError(N_("Choose an organisation."))

    parsed.title = {lang: getattr(form, f"title_{lang}").strip() for lang in LANGUAGES}
    parsed.description = {lang: getattr(form, f"description_{lang}").replace("\r\n", "\n") for lang in LANGUAGES}
    if not any(parsed.title.values()):
        errors["title"] = FieldError(N_("Give the event a title in at least one language."))
    for lang in LANGUAGES:
        text = parsed.title[lang]
        if len(text) > 200:
            errors[f"title_{lang}"] = FieldError(N_("At most %(max)s characters."), {"max": 200})
        elif any(ord(c) < 32 for c in text):
            errors[f"title_{lang}"] = FieldError(N_("A title cannot contain line breaks or control characters."))

    parsed.hosts = list(dict.fromkeys(slug.strip() for slug in form.host_slugs if slug.strip()))
    if len(parsed.hosts) > 10:
        errors["hosts"] = FieldError(N_("At most %(max)s co-hosting organisations."), {"max": 10})

    timezone = form.timezone.strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        errors["timezone"] = FieldError(N_("Unknown time zone %(name)s."), {"name": timezone[:64]})
        timezone = DEFAULT_TIMEZONE
    parsed.timezone = timezone

    for name, required in (
        ("starts_at", True),
        ("ends_at", True),
        ("registration_opens_at", False),
        ("registration_closes_at", False),
    ):
        text = getattr(form, name).strip()
        if not text:
            if required:
                errors[name] = FieldError(N_("Give a date and a time."))
            continue
        try:
            setattr(parsed, name, _local_to_utc(text, timezone))
        except ValueError as exc:
            if str(exc) == "skipped":
                errors[name] = FieldError(N_("This time does not exist in that time zone (the clocks move forward)."))
            else:
                errors[name] = FieldError(N_("Give a date and a time."))
    if parsed.starts_at and parsed.ends_at and "ends_at" not in errors:
        if parsed.ends_at <= parsed.starts_at:
            errors["ends_at"] = FieldError(N_("The event must end after it starts."))
        elif parsed.ends_at - parsed.starts_at > event_service.MAX_DURATION:
            errors["ends_at"] = FieldError(N_("An event can last at most 31 days."))
    opens, closes = parsed.registration_opens_at, parsed.registration_closes_at
    if opens and closes and closes <= opens and "registration_closes_at" not in errors:
        errors["registration_closes_at"] = FieldError(N_("Registration must close after it opens."))
    elif closes and parsed.ends_at and closes > parsed.ends_at and "registration_closes_at" not in errors:
        errors["registration_closes_at"] = FieldError(N_("Registration cannot close after the event has ended."))

    venue = {part: getattr(form, f"venue_{part}").strip() for part in ("name", "address", "city", "room")}
    limits = {"name": 200, "address": 300, "city": 100, "room": 200}
    for part, limit in limits.items():
        if len(venue[part]) > limit:
            errors[f"venue_{part}"] = FieldError(N_("At most %(max)s characters."), {"max": limit})
    if venue["name"]:
        parsed.venue = VenueInput(
            name=venue["name"], address=venue["address"], city=venue["city"], room=venue["room"] or None
        )
    elif any(venue.values()):
        errors["venue_name"] = FieldError(N_("Give the venue a name, or leave the whole address empty."))

    url = form.online_url.strip()
    if url and (not url.startswith(("http://", "https://")) or any(c in url for c in '\r\n\t <>"')):
        errors["online_url"] = FieldError(N_("The online link must be an http(s) address."))
    parsed.online_url = url

    capacity = form.capacity.strip()
    if capacity:
        if capacity.isdigit() and int(capacity) <= MAX_CAPACITY:
            parsed.capacity = int(capacity)
        else:
            errors["capacity"] = FieldError(
                N_("Give a whole number from 0 to %(max)s, or leave empty for no limit."), {"max": MAX_CAPACITY}
            )

    parsed.waitlist = bool(form.waitlist)
    parsed.requires_approval = bool(form.requires_approval)
    parsed.double_opt_in = bool(form.double_opt_in)

    parts = [part.strip() for part in form.reminder_hours.replace(";", ",").split(",") if part.strip()]
    if not all(part.isdigit() and 1 <= int(part) <= 720 for part in parts):
        errors["reminder_hours"] = FieldError(
            N_("Give whole numbers of hours from 1 to 720, separated by commas (for example 48, 2).")
        )
    elif len(set(parts)) > MAX_REMINDERS:
        errors["reminder_hours"] = FieldError(N_("At most %(max)s reminders."), {"max": MAX_REMINDERS})
    else:
        parsed.reminder_hours = sorted({int(part) for part in parts}, reverse=True)

    follow_up = form.follow_up_event_id.strip()
    if follow_up:
        if follow_up.isdigit():
            parsed.follow_up_event_id = int(follow_up)
        else:
            errors["follow_up_event_id"] = FieldError(N_("Choose a consultation day."))
    return parsed, errors


def form_from_event(event: EventView, organisation_id: int) -> EventForm:
    """The form filled in with an event as it is stored (for editing or duplicating)."""
    venue = event.venue
    return EventForm(
        kind=event.kind,
        organisation=str(organisation_id),
        **{f"title_{lang}": event.title.get(lang, "") for lang in LANGUAGES},
        **{f"description_{lang}": event.description.get(lang, "") for lang in LANGUAGES},
        hosts=list(event.hosts),
        timezone=event.timezone,
        starts_at=utc_to_local(event.starts_at, event.timezone),
        ends_at=utc_to_local(event.ends_at, event.timezone),
        venue_name=venue.name if venue else "",
        venue_address=venue.address if venue else "",
        venue_city=venue.city if venue else "",
        venue_room=(venue.room or "") if venue else "",
        online_url=event.online_url,
        capacity="" if event.capacity is None else str(event.capacity),
        waitlist="yes" if event.waitlist else "",
        requires_approval="yes" if event.requires_approval else "",
        double_opt_in="yes" if event.double_opt_in else "",
        registration_opens_at=utc_to_local(event.registration_opens_at, event.timezone),
        registration_closes_at=utc_to_local(event.registration_closes_at, event.timezone),
        reminder_hours=", ".join(str(hours) for hours in event.reminder_hours),
        follow_up_event_id="" if event.follow_up_event_id is None else str(event.follow_up_event_id),
    )


def blank_form(organisation_id: int | None, kind: str | None) -> EventForm:
    """A new event's form: defaults as the API has them (waiting list on, reminders 48 h and 2 h)."""
    return EventForm(
        kind=kind if kind in KINDS else "info_session",
        organisation="" if organisation_id is None else str(organisation_id),
        waitlist="yes",
        reminder_hours="48, 2",
    )


# Choices the form offers ---------------------------------------------------------------------


class OrganisationChoice(msgspec.Struct):
    id: int
    slug: str
    name: dict[str, str]


async def organisation_choices(actor: Actor) -> tuple[list[OrganisationChoice], list[OrganisationChoice]]:
    """(organisations the actor may create events for, every organisation as a possible co-host)."""
    rows = await Organisation.select(
        Organisation.id, Organisation.slug, Organisation.name_nl, Organisation.name_fr, Organisation.name_en
    ).order_by(Organisation.slug)
    everyone = [
        OrganisationChoice(
            id=row["id"],
            slug=row["slug"],
            name={lang: row[f"name_{lang}"] for lang in LANGUAGES if row[f"name_{lang}"]} or {"nl": row["slug"]},
        )
        for row in rows
    ]
    return [org for org in everyone if actor.can_edit_for(org.id)], everyone


class FollowUpChoice(msgspec.Struct):
    id: int
    title: dict[str, str]
    starts_at: datetime
    timezone: str
    organisation: int


async def follow_up_choices(actor: Actor, keep: int | None = None) -> list[FollowUpChoice]:
    """Consultation days (not cancelled) of the organisations the actor edits for, soonest first;
    `keep` stays in the list even when it no longer qualifies, so editing never loses it."""
    editable = [org for org in actor.roles if actor.can_edit_for(org)] or [-1]
    where: Any = (
        (Event.kind == "consultation_day") & (Event.organisation.is_in(editable)) & (Event.status != "cancelled")
    )
    if keep is not None:
        where = where | (Event.id == keep)
    rows = (
        await Event.select(
            Event.id,
            Event.title_nl,
            Event.title_fr,
            Event.title_en,
            Event.starts_at,
            Event.timezone,
            Event.organisation,
        )
        .where(where)
        .order_by(Event.starts_at)
        .limit(200)
    )
    return [
        FollowUpChoice(
            id=row["id"],
            title={lang: row[f"title_{lang}"] for lang in LANGUAGES if row[f"title_{lang}"]},
            starts_at=row["starts_at"],
            timezone=row["timezone"],
            organisation=row["organisation"],
        )
        for row in rows
    ]


def require_some_edit_role(actor: Actor) -> None:
    """Creating needs an owner or editor role somewhere; a viewer everywhere gets 403."""
    if not any(actor.can_edit_for(org) for org in actor.roles):
        raise Forbidden()


def require_edit_role_in(actor: Actor, organisation_id: int) -> None:
    """The same answer create_event gives: no tie → 404, viewer → 403."""
    if actor.can_edit_for(organisation_id):
        return
    raise NotFound() if actor.role_in(organisation_id) is None else Forbidden()


# What saving and cancelling will tell people ---------------------------------------------------


async def _stored_venue(organisation_id: int, venue: VenueInput | None) -> tuple[int | None, int | None]:
    """The venue and room ids saving `venue` would store, without creating anything: a place
    not stored yet gets an id no row has (-1), which differs from any stored one."""
    if venue is None:
        return None, None
    row = (
        await Venue.select(Venue.id)
        .where((Venue.organisation == organisation_id) & (Venue.name == venue.name) & (Venue.address == venue.address))
        .first()
    )
    if row is None:
        return -1, (-1 if venue.room else None)
    if not venue.room:
        return row["id"], None
    room = await Room.select(Room.id).where((Room.venue == row["id"]) & (Room.name == venue.room)).first()
    return row["id"], (room["id"] if room else -1)


def _holds_the_invite() -> Any:
    """Confirmed participants who hold the event's own invite (an appointment holds its own)."""
    return (Registration.status == "confirmed") & Registration.slot.is_null()


async def invite_impact(actor: Actor, event_id: int, patch: EventPatch) -> int:
    """How many people would get an updated invite if `patch` were saved now: everyone
    confirmed, when the event is published and the change is one a calendar must act on
    (the same rule `update_event` applies to raise the SEQUENCE); otherwise 0."""
    await require_editor(actor, event_id)
    row = await Event.select().where(Event.id == event_id).first()
    if row is None:
        raise NotFound()
    if row["status"] != "published":
        return 0
    changes: dict[str, Any] = {}
    for name in ("starts_at", "ends_at"):
        value = getattr(patch, name)
        if value is not msgspec.UNSET:
            changes[name] = value.astimezone(UTC)
    if patch.online_url is not msgspec.UNSET:
        changes["online_url"] = patch.online_url
    if patch.venue is not msgspec.UNSET:
        changes["venue"], changes["room"] = await _stored_venue(row["organisation"], patch.venue)
    if not event_service.material_changes(row, changes):
        return 0
    return int(await Registration.count().where((Registration.event == event_id) & _holds_the_invite()))


class Person(msgspec.Struct):
    name: str
    email: str
    status: str
    appointment: bool = False


class CancelImpact(msgspec.Struct):
    """Who cancelling tells (their calendar entry is removed) and who is registered but gets no mail."""

    told: list[Person]
    not_told: list[Person]


# Who cancelling tells (events.cancel_event → notifications.notify_event_cancelled): confirmed
# people and appointments get METHOD:CANCEL, the waiting list and those awaiting approval a
# plain mail. An address never confirmed (double opt-in) is not mailed again.
TOLD_ON_CANCEL = ("confirmed", "waitlisted", "pending_approval")
STILL_WAITING = ("pending_email",)


async def cancel_impact(actor: Actor, event_id: int) -> CancelImpact:
    """Everyone cancelling the event would tell, by name and email, and everyone still waiting
    (waiting list, approval, email confirmation) that the cancellation does not mail."""
    await require_editor(actor, event_id)
    rows = (
        await Registration.select(Registration.name, Registration.email, Registration.status, Registration.slot)
        .where((Registration.event == event_id) & Registration.status.is_in([*TOLD_ON_CANCEL, *STILL_WAITING]))
        .order_by(Registration.name)
        .order_by(Registration.id)
    )
    people = [
        Person(name=row["name"], email=row["email"], status=row["status"], appointment=row["slot"] is not None)
        for row in rows
    ]
    return CancelImpact(
        told=[p for p in people if p.status in TOLD_ON_CANCEL],
        not_told=[p for p in people if p.status not in TOLD_ON_CANCEL],
    )


# Duplicating ---------------------------------------------------------------------------------


async def duplicate_event(actor: Actor, source_id: int, organisation_id: int, data: EventInput) -> int:
    """A new draft from the form (texts, place, capacity, flags, reminders, co-hosts as given)
    with the source event's registration questions, in one transaction; it has its own UID.
    The source must be one the actor hosts (404 otherwise)."""
    await require_host(actor, source_id)
    questions = (
        await Question.select().where(Question.event == source_id).order_by(Question.position).order_by(Question.id)
    )
    async with write_transaction():
        event_id = await event_service.create_event(actor, organisation_id, data)
        for question in questions:
            values = {key: value for key, value in question.items() if key not in ("id", "event")}
            await Question.insert(Question(event=event_id, **values))
        await _copy_setup(source_id, event_id)
        await audit.record(
            actor,
            "event.duplicated",
            organisation_id=organisation_id,
            target=f"event:{event_id}",
            source=f"event:{source_id}",
        )
    return event_id


def _moved(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The same wall-clock time `days` later in `zone` (so 10:00 stays 10:00 across DST)."""
    local = moment.astimezone(zone).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _clamped(start: datetime, end: datetime, low: datetime, high: datetime) -> tuple[datetime, datetime] | None:
    start, end = max(start, low), min(end, high)
    return (start, end) if start < end else None


async def _copy_setup(source_id: int, copy_id: int) -> None:
    """A copied consultation day keeps its advisors and opening hours, a copied networking event
    its meeting slots and tables: moved by the number of days between the two events, at the
    same local times, and cut to the copy's hours (a window left empty is dropped)."""
    from events.services.consultations import AdvisorInput, ConsultationInput, WindowInput, apply_consultation
    from events.services.networking import NetworkingInput, apply_networking
    from events.tables import Advisor, AvailabilityWindow, Consultation, MeetingTable, NetworkingSettings

    source = await Event.select().where(Event.id == source_id).first()
    copy = await Event.select().where(Event.id == copy_id).first()
    assert source is not None and copy is not None
    if source["kind"] != copy["kind"] or copy["kind"] not in ("consultation_day", "networking"):
        return
    zone = ZoneInfo(copy["timezone"])
    days = (copy["starts_at"].astimezone(zone).date() - source["starts_at"].astimezone(zone).date()).days
    low, high = copy["starts_at"], copy["ends_at"]

    if copy["kind"] == "consultation_day":
        settings = await Consultation.select().where(Consultation.event == source_id).first()
        if settings is None:
            return
        slugs = {row["id"]: row["slug"] for row in await Organisation.select(Organisation.id, Organisation.slug)}
        advisors = []
        for advisor in await Advisor.select().where(Advisor.event == source_id).order_by(Advisor.position):
            windows = []
            for window in await AvailabilityWindow.select().where(AvailabilityWindow.advisor == advisor["id"]):
                kept = _clamped(
                    _moved(window["starts_at"], days, zone), _moved(window["ends_at"], days, zone), low, high
                )
                if kept:
                    windows.append(WindowInput(starts_at=kept[0], ends_at=kept[1]))
            if windows:
                advisors.append(
                    AdvisorInput(
                        name=advisor["name"],
                        email=advisor["email"],
                        languages=[lang for lang in advisor["languages"].split(",") if lang],
                        topics=[topic for topic in advisor["topics"].split(",") if topic],
                        room=advisor["room"],
                        online_url=advisor["online_url"],
                        organisation=slugs.get(advisor["organisation"]),
                        windows=windows,
                    )
                )
        if advisors:
            await apply_consultation(
                copy_id,
                ConsultationInput(
                    slot_minutes=settings["slot_minutes"],
                    buffer_minutes=settings["buffer_minutes"],
                    min_notice_hours=settings["min_notice_hours"],
                    booking_opens_days=settings["booking_opens_days"],
                    max_bookings_per_person=settings["max_bookings_per_person"],
                    advisors=advisors,
                ),
            )
        return

    networking = await NetworkingSettings.select().where(NetworkingSettings.event == source_id).first()
    tables = await MeetingTable.select().where(MeetingTable.event == source_id).order_by(MeetingTable.position)
    if networking is None or not tables:
        return
    kept = _clamped(
        _moved(networking["meetings_start"], days, zone), _moved(networking["meetings_end"], days, zone), low, high
    )
    if kept:
        await apply_networking(
            copy_id,
            NetworkingInput(
                meeting_minutes=networking["meeting_minutes"],
                meetings_start=kept[0],
                meetings_end=kept[1],
                tables=[table["name"] for table in tables],
                max_pending=networking["max_pending"],
                vocabulary=[tag for tag in networking["vocabulary"].split(",") if tag],
            ),
        )
