"""Consultation days: advisors, availability windows, generated slots, bookings.

Slots are computed in UTC from windows stored in UTC, so a window across the spring-forward
night holds exactly the real time it spans (no phantom slot) and the autumn night no doubled
one. A slot is booked by `UPDATE slot SET status = 'booked' WHERE id = ? AND status = 'free'`
inside the event-locked transaction, and a unique index allows one active booking per slot.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from events.db import is_unique_violation, write_transaction
from events.services import audit, consents, notifications, tokens, webhooks
from events.services.access import Actor
from events.services.errors import N_, Conflict, InvalidInput, NotFound
from events.services.host_view import host_view, shown
from events.services.hosts import require_editor
from events.services.organisers import normalise_email
from events.services.registrations import (
    ACTIVE,
    RegistrationInput,
    RegistrationResult,
    by_token,
    clean_participant,
    lock_event,
)
from events.settings import get_settings
from events.tables import Advisor, AvailabilityWindow, Consultation, Event, Organisation, Registration, Slot

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Language = Literal["nl", "fr", "en"]
Topic = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")]


class WindowInput(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class AdvisorInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    languages: Annotated[list[Language], msgspec.Meta(min_length=1, max_length=3)]
    topics: Annotated[list[Topic], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    room: Annotated[str, msgspec.Meta(max_length=200)] = ""
    online_url: Annotated[str, msgspec.Meta(max_length=500)] = ""
    organisation: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    windows: Annotated[list[WindowInput], msgspec.Meta(min_length=1, max_length=20)]


class ConsultationInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A consultation day's settings and advisors (the `consultation` object of an event)."""

    slot_minutes: Annotated[int, msgspec.Meta(ge=5, le=480)] = 30
    buffer_minutes: Annotated[int, msgspec.Meta(ge=0, le=240)] = 0
    min_notice_hours: Annotated[int, msgspec.Meta(ge=0, le=720)] = 12
    booking_opens_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 60
    max_bookings_per_person: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    advisors: Annotated[list[AdvisorInput], msgspec.Meta(min_length=1, max_length=50)]


class AdvisorView(msgspec.Struct, omit_defaults=True):
    id: int
    name: str
    languages: list[str]
    topics: list[str]
    room: str = ""
    online: bool = False


class SlotView(msgspec.Struct, omit_defaults=True):
    id: int
    starts_at: datetime
    ends_at: datetime
    advisor: AdvisorView
    status: str = "free"


class BookingInput(RegistrationInput, kw_only=True, forbid_unknown_fields=True):
    """A registration plus the intake used to route to an advisor."""

    topic: Topic | None = None


class SuitableBookingInput(BookingInput, kw_only=True, forbid_unknown_fields=True):
    """Book "the first suitable advisor" at a time (POST /api/v1/events/{id}/booking)."""

    starts_at: AwareDatetime


# Pure rules ---------------------------------------------------------------------------------------


def generate_slots(
    windows: Iterable[tuple[datetime, datetime]], slot_minutes: int, buffer_minutes: int
) -> list[tuple[datetime, datetime]]:
    """Back-to-back slots (plus buffers) inside each window, in real (UTC) time."""
    length, buffer = timedelta(minutes=slot_minutes), timedelta(minutes=buffer_minutes)
    slots = []
    for start, end in sorted(windows):
        moment = start.astimezone(UTC)
        end = end.astimezone(UTC)
        while moment + length <= end:
            slots.append((moment, moment + length))
            moment += length + buffer
    return slots


def check_windows(advisor: AdvisorInput, event_start: datetime, event_end: datetime) -> list[tuple[datetime, datetime]]:
    windows = sorted((w.starts_at.astimezone(UTC), w.ends_at.astimezone(UTC)) for w in advisor.windows)
    for start, end in windows:
        if end <= start:
            raise InvalidInput(N_("An availability window must end after it starts."), field="windows")
        if start < event_start or end > event_end:
            raise InvalidInput(N_("Availability windows must lie within the consultation day."), field="windows")
    for (_, first_end), (second_start, _) in itertools.pairwise(windows):
        if second_start < first_end:
            raise InvalidInput(
                N_("The availability windows of %(name)s overlap."), field="windows", name=advisor.name[:100]
            )
    return windows


def suitable(advisor: dict[str, Any], language: str | None, topic: str | None) -> bool:
    languages = advisor["languages"].split(",") if advisor["languages"] else []
    topics = advisor["topics"].split(",") if advisor["topics"] else []
    return (language is None or language in languages) and (topic is None or topic in topics)


def _advisor_view(row: dict[str, Any]) -> AdvisorView:
    return AdvisorView(
        id=row["id"],
        name=row["name"],
        languages=[x for x in row["languages"].split(",") if x],
        topics=[x for x in row["topics"].split(",") if x],
        room=row["room"],
        online=bool(row["online_url"]),
    )


# Defining a day -----------------------------------------------------------------------------------


async def apply_consultation(event_id: int, data: ConsultationInput) -> None:
    """Store settings, advisors and windows; regenerate free slots, never touching booked or
    blocked ones. Call inside the event's write transaction."""
    event = (
        await Event.select(Event.starts_at, Event.ends_at, Event.kind, Event.organisation)
        .where(Event.id == event_id)
        .first()
    )
    assert event is not None
    if event["kind"] != "consultation_day":
        raise InvalidInput(N_("Only a consultation day has advisors and slots."), field="consultation")
    emails = [normalise_email(a.email) for a in data.advisors]
    if len(set(emails)) != len(emails):
        raise InvalidInput(N_("Each advisor appears once."), field="advisors")
    for advisor in data.advisors:
        if advisor.online_url and urlsplit(advisor.online_url).scheme not in ("http", "https"):
            raise InvalidInput(N_("The online link must be an http(s) address."), field="online_url")
    windows = {
        email: check_windows(a, event["starts_at"], event["ends_at"])
        for email, a in zip(emails, data.advisors, strict=True)
    }
    settings = {
        "slot_minutes": data.slot_minutes,
        "buffer_minutes": data.buffer_minutes,
        "min_notice_hours": data.min_notice_hours,
        "booking_opens_days": data.booking_opens_days,
        "max_bookings_per_person": data.max_bookings_per_person,
    }
    if await Consultation.exists().where(Consultation.event == event_id):
        await Consultation.update(settings).where(Consultation.event == event_id)  # type: ignore[arg-type]
    else:
        await Consultation.insert(Consultation(event=event_id, **settings))  # type: ignore[arg-type]
    existing = {row["email"]: row for row in await Advisor.select().where(Advisor.event == event_id)}
    for email, row in existing.items():
        if email not in windows:
            if await Slot.exists().where((Slot.advisor == row["id"]) & (Slot.status == "booked")):
                raise Conflict(
                    N_("%(name)s has bookings; move or cancel them before removing the advisor."),
                    name=row["name"][:100],
                )
            await Advisor.delete().where(Advisor.id == row["id"])
    org_slugs = {a.organisation for a in data.advisors if a.organisation}
    orgs = {
        r["slug"]: r["id"]
        for r in await Organisation.select(Organisation.id, Organisation.slug).where(
            Organisation.slug.is_in(list(org_slugs) or ["-"])
        )
    }
    for position, (email, advisor) in enumerate(zip(emails, data.advisors, strict=True)):
        if advisor.organisation and advisor.organisation not in orgs:
            raise InvalidInput(N_("Unknown organisation %(slug)s."), field="organisation", slug=advisor.organisation)
        values: dict[str, Any] = {
            "name": " ".join(advisor.name.split()),
            "position": position,
            "languages": ",".join(dict.fromkeys(advisor.languages)),
            "topics": ",".join(dict.fromkeys(advisor.topics)),
            "room": advisor.room.strip(),
            "online_url": advisor.online_url,
            "organisation": orgs.get(advisor.organisation or "", event["organisation"]),
        }
        if email in existing:
            advisor_id = existing[email]["id"]
            await Advisor.update(values).where(Advisor.id == advisor_id)  # type: ignore[arg-type]
        else:
            nonce = tokens.new_nonce()
            rows = await Advisor.insert(
                Advisor(
                    event=event_id,
                    email=email,
                    feed_token_nonce=nonce,
                    feed_token_hash=tokens.token_hash(tokens.derive("advisor", nonce)),
                    **values,
                )
            )
            advisor_id = rows[0]["id"]
        await AvailabilityWindow.delete().where(AvailabilityWindow.advisor == advisor_id)
        await AvailabilityWindow.insert(
            *[AvailabilityWindow(advisor=advisor_id, starts_at=s, ends_at=e) for s, e in windows[email]]
        )
        await _regenerate(event_id, advisor_id, windows[email], data.slot_minutes, data.buffer_minutes)


async def _regenerate(
    event_id: int, advisor_id: int, windows: list[tuple[datetime, datetime]], slot_minutes: int, buffer_minutes: int
) -> None:
    kept = await Slot.select().where((Slot.advisor == advisor_id) & (Slot.status != "free"))
    await Slot.delete().where((Slot.advisor == advisor_id) & (Slot.status == "free"))
    fresh = [
        Slot(event=event_id, advisor=advisor_id, starts_at=start, ends_at=end, status="free")
        for start, end in generate_slots(windows, slot_minutes, buffer_minutes)
        if not any(start < k["ends_at"] and k["starts_at"] < end for k in kept)
    ]
    if fresh:
        await Slot.insert(*fresh)


# Finding slots ------------------------------------------------------------------------------------


async def _settings(event_id: int) -> dict[str, Any]:
    row = await Consultation.select().where(Consultation.event == event_id).first()
    if row is None:
        raise NotFound(N_("This consultation day has no advisors yet."))
    return row


def _bookable_from(event: dict[str, Any], settings: dict[str, Any], now: datetime) -> tuple[datetime, bool]:
    """The earliest bookable start (minimum notice) and whether booking has opened."""
    opened = now >= event["starts_at"] - timedelta(days=settings["booking_opens_days"])
    return now + timedelta(hours=settings["min_notice_hours"]), opened


async def free_slots(
    event_id: int, *, language: str | None = None, topic: str | None = None, now: datetime | None = None
) -> list[SlotView]:
    """Free, bookable slots, earliest first, of advisors who speak `language` and cover `topic`."""
    now = now or datetime.now(UTC)
    event = await Event.select().where(Event.id == event_id).first()
    if event is None or event["status"] == "draft" or event["kind"] != "consultation_day":
        raise NotFound(N_("This event does not exist."))
    if event["status"] != "published":
        return []
    settings = await _settings(event_id)
    earliest, opened = _bookable_from(event, settings, now)
    if not opened:
        return []
    advisors = {row["id"]: row for row in await Advisor.select().where(Advisor.event == event_id)}
    rows = (
        await Slot.select()
        .where((Slot.event == event_id) & (Slot.status == "free") & (Slot.starts_at >= earliest))
        .order_by(Slot.starts_at)
        .order_by(Slot.id)
    )
    return [
        SlotView(
            id=row["id"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            advisor=_advisor_view(advisors[row["advisor"]]),
        )
        for row in rows
        if suitable(advisors[row["advisor"]], language, topic)
    ]


async def alternatives(
    event_id: int, language: str | None, topic: str | None, around: datetime | None, now: datetime | None = None
) -> list[SlotView]:
    """The nearest free slots that fit, else those of advisors who speak the language."""
    options = await free_slots(event_id, language=language, topic=topic, now=now)
    if not options and topic:
        options = await free_slots(event_id, language=language, now=now)
    if around is not None:
        options.sort(key=lambda s: abs((s.starts_at - around).total_seconds()))
    return options[:5]


# Booking ------------------------------------------------------------------------------------------


def _booking_uid() -> str:
    host = urlsplit(get_settings().base_url).hostname or "trefpunt"
    return f"booking-{uuid.uuid4()}@{host}"


async def book_slot(
    slot_id: int, data: BookingInput, *, now: datetime | None = None, source: str = "api"
) -> RegistrationResult:
    """Book one free slot for a participant; 409 when somebody else was first."""
    now = now or datetime.now(UTC)
    slot = await Slot.select().where(Slot.id == slot_id).first()
    if slot is None:
        raise NotFound(N_("This time slot does not exist."))
    person = await clean_participant(data, slot["event"])
    try:
        async with write_transaction():
            event = await lock_event(slot["event"])
            if event["status"] != "published":
                raise Conflict(N_("This consultation day is not open for booking."))
            settings = await _settings(event["id"])
            earliest, opened = _bookable_from(event, settings, now)
            if not opened:
                raise Conflict(N_("Booking for this consultation day has not opened yet."))
            slot = await Slot.select().where(Slot.id == slot_id).first()
            assert slot is not None
            if slot["status"] == "blocked":
                raise Conflict(N_("This time slot is not available."))
            if slot["starts_at"] < earliest:
                raise Conflict(N_("This time slot is too soon or already past."))
            taken = await Registration.count().where(
                (Registration.event == event["id"])
                & (Registration.email_key == person.email_key)
                & Registration.status.is_in(list(ACTIVE))
            )
            if taken >= settings["max_bookings_per_person"]:
                raise Conflict(N_("You already have an appointment on this day. Reschedule it from your private page."))
            claimed = await Slot.raw(
                "UPDATE slot SET status = 'booked' WHERE id = {} AND status = 'free' RETURNING id", slot_id
            )
            if not claimed:
                raise Conflict(N_("Someone else just booked this time slot. Please choose another."))
            nonce, feed_nonce = tokens.new_nonce(), tokens.new_nonce()
            rows = await Registration.insert(
                Registration(
                    event=event["id"],
                    slot=slot_id,
                    booking_uid=_booking_uid(),
                    status="confirmed",
                    name=person.name,
                    email=person.email,
                    email_key=person.email_key,
                    phone=person.phone,
                    company=person.company,
                    language=data.language,
                    answers=json.dumps({**person.answers, **({"topic": data.topic} if data.topic else {})}),
                    token_nonce=nonce,
                    feed_token_nonce=feed_nonce,
                    manage_token_hash=tokens.token_hash(tokens.derive("manage", nonce)),
                    feed_token_hash=tokens.token_hash(tokens.derive("feed", feed_nonce)),
                    consents=json.dumps(sorted(data.consents)),
                )
            )
            registration = await Registration.select().where(Registration.id == rows[0]["id"]).first()
            assert registration is not None
            await consents.record(registration["id"], person.email_key, person.purposes, "given", source)
            await notifications.notify_booking(registration, "booking_confirmed", "REQUEST")
            await webhooks.emit("booking.created", event["id"], registration)
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(N_("Someone else just booked this time slot. Please choose another.")) from None
        raise
    return RegistrationResult(id=registration["id"], status="confirmed", manage_url=tokens.manage_url(registration))


async def book_first_suitable(
    event_id: int, data: SuitableBookingInput, *, now: datetime | None = None, source: str = "api"
) -> RegistrationResult:
    """Route by intake: the first advisor (in the organisers' order) who speaks the participant's
    language, covers the topic and is free at that time."""
    options = [
        s
        for s in await free_slots(event_id, language=data.language, topic=data.topic, now=now)
        if s.starts_at == data.starts_at.astimezone(UTC)
    ]
    base = msgspec.structs.asdict(data)
    base.pop("starts_at")
    for option in options:
        try:
            return await book_slot(option.id, BookingInput(**base), now=now, source=source)
        except Conflict:
            continue  # taken meanwhile: try the next suitable advisor
    nearest = await alternatives(event_id, data.language, data.topic, data.starts_at, now)
    raise Conflict(
        N_("No suitable advisor is free at that time. These times are still free."),
        field="starts_at",
        extra={"alternatives": [msgspec.to_builtins(s) for s in nearest]},
    )


async def reschedule(token: str, new_slot_id: int, *, now: datetime | None = None) -> int:
    """The participant moves their booking to another free slot of the same day."""
    registration = await by_token(token)
    return await _move(registration["id"], new_slot_id, now=now or datetime.now(UTC), enforce_notice=True)


async def move_booking(actor: Actor, registration_id: int, new_slot_id: int) -> int:
    """An organiser moves a booking to another slot or advisor; both parties get updated invites."""
    registration = await Registration.select().where(Registration.id == registration_id).first()
    if registration is None:
        raise NotFound()
    event = await _require_editor(actor, registration["event"])
    slot = await _move(registration_id, new_slot_id, now=datetime.now(UTC), enforce_notice=False)
    await audit.record(
        actor,
        "booking.moved",
        organisation_id=event["organisation"],
        target=f"registration:{registration_id}",
        slot=new_slot_id,
    )
    return slot


async def _move(registration_id: int, new_slot_id: int, *, now: datetime, enforce_notice: bool) -> int:
    """Same UID, higher SEQUENCE; the old slot is freed in the same transaction as the new one
    is taken, so two people moving into one slot cannot both win, and the loser keeps theirs."""
    before = await Registration.select(Registration.event).where(Registration.id == registration_id).first()
    if before is None:
        raise NotFound()
    async with write_transaction():
        # Lock first, then read: a cancellation that committed meanwhile is seen here.
        event = await lock_event(before["event"])
        registration = await Registration.select().where(Registration.id == registration_id).first()
        if registration is None:
            raise NotFound()
        if registration["slot"] is None or registration["status"] != "confirmed":
            raise Conflict(N_("Only a confirmed appointment can be moved."))
        target = await Slot.select().where(Slot.id == new_slot_id).first()
        if target is None or target["event"] != event["id"]:
            raise NotFound(N_("This time slot does not exist."))
        if enforce_notice:
            earliest, _ = _bookable_from(event, await _settings(event["id"]), now)
            if target["starts_at"] < earliest:
                raise Conflict(N_("This time slot is too soon or already past."))
        claimed = await Slot.raw(
            "UPDATE slot SET status = 'booked' WHERE id = {} AND status = 'free' RETURNING id", new_slot_id
        )
        if not claimed:
            raise Conflict(N_("Someone else just booked this time slot. Please choose another."))
        old_slot = registration["slot"]
        await Slot.update({Slot.status: "free"}).where((Slot.id == old_slot) & (Slot.status == "booked"))
        await Registration.update({Registration.slot: new_slot_id, Registration.updated_at: now}).where(
            Registration.id == registration["id"]
        )
        await notifications.notify_booking_moved(registration, old_slot, new_slot_id)
    return new_slot_id


class DayCell(msgspec.Struct, omit_defaults=True):
    slot_id: int
    status: str
    registration_id: int | None = None
    name: str = ""
    company: str = ""
    attendance: str = ""


class DayOverview(msgspec.Struct):
    advisors: list[AdvisorView]
    rows: list[tuple[datetime, list[DayCell | None]]]


async def day_overview(actor: Actor, event_id: int, advisor_id: int | None = None) -> DayOverview:
    """Advisors as columns, start times as rows: free, blocked, booked (with who and attendance);
    who, as the viewer may see them (a co-host without consent: a pseudonym)."""
    view = await host_view(actor, event_id)
    query = Advisor.select().where(Advisor.event == event_id)
    if advisor_id is not None:
        query = query.where(Advisor.id == advisor_id)
    advisors = await query.order_by(Advisor.position).order_by(Advisor.id)
    column = {row["id"]: index for index, row in enumerate(advisors)}
    slots = await Slot.select().where((Slot.event == event_id) & Slot.advisor.is_in(list(column) or [-1]))
    booked = await Registration.select().where(
        (Registration.event == event_id) & (Registration.status == "confirmed") & Registration.slot.is_not_null()
    )
    bookings = {r["slot"]: r for r in await shown(view, booked)}
    rows: dict[datetime, list[DayCell | None]] = {}
    for slot in slots:
        booking = bookings.get(slot["id"])
        cell = DayCell(slot_id=slot["id"], status=slot["status"])
        if booking is not None:
            cell = DayCell(
                slot_id=slot["id"],
                status="booked",
                registration_id=booking["id"],
                name=booking["name"],
                company=booking["company"],
                attendance=booking["attendance"],
            )
        rows.setdefault(slot["starts_at"], [None] * len(advisors))[column[slot["advisor"]]] = cell
    return DayOverview(advisors=[_advisor_view(a) for a in advisors], rows=sorted(rows.items()))


# Organisers ---------------------------------------------------------------------------------------


async def _require_editor(actor: Actor, event_id: int) -> dict[str, Any]:
    await require_editor(actor, event_id)
    event = await Event.select().where(Event.id == event_id).first()
    assert event is not None
    return event


async def set_blocked(actor: Actor, slot_id: int, blocked: bool) -> None:
    """Block a free slot (nobody can book it) or free a blocked one."""
    slot = await Slot.select().where(Slot.id == slot_id).first()
    if slot is None:
        raise NotFound()
    await _require_editor(actor, slot["event"])
    async with write_transaction():
        frm, to = ("free", "blocked") if blocked else ("blocked", "free")
        changed = await Slot.raw(
            "UPDATE slot SET status = {} WHERE id = {} AND status = {} RETURNING id", to, slot_id, frm
        )
        if not changed and slot["status"] != to:
            raise Conflict(N_("A booked slot cannot be blocked; move or cancel the booking first."))
        await audit.record(
            actor, "slot.blocked" if blocked else "slot.freed", organisation_id=None, target=f"slot:{slot_id}"
        )


async def advisor_feed_rows(token: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The advisor a feed token belongs to, and their booked appointments."""
    if not tokens.looks_like_token(token):
        raise NotFound()
    advisor = await Advisor.select().where(Advisor.feed_token_hash == tokens.token_hash(token)).first()
    if advisor is None:
        raise NotFound()
    bookings = await Registration.select().where(
        (Registration.event == advisor["event"])
        & (Registration.status == "confirmed")
        & Registration.slot.is_in(
            [r["id"] for r in await Slot.select(Slot.id).where(Slot.advisor == advisor["id"])] or [-1]
        )
    )
    return advisor, bookings


def advisor_feed_url(advisor: dict[str, Any]) -> str:
    return f"{get_settings().base_url}/advisors/{tokens.derive('advisor', advisor['feed_token_nonce'])}/calendar.ics"


async def advisor_feed(token: str) -> bytes:
    """The advisor's appointments as a private feed (names of their own participants only)."""
    from events.calendar.ics import build_feed

    advisor, bookings = await advisor_feed_rows(token)
    language = (advisor["languages"].split(",") or ["nl"])[0] or "nl"
    items = []
    for registration in bookings:
        booking = await notifications.load_booking_facts(registration)
        intake = await notifications.intake_for_advisor(registration, advisor)
        items.append(
            booking.item(
                registration,
                language,
                max(0, registration["ical_sequence"]),
                for_advisor=True,
                cancelled=False,
                intake=intake,
            )
        )
    items.sort(key=lambda item: (item.starts_at, item.uid))
    host = urlsplit(get_settings().base_url).hostname or "trefpunt"
    return build_feed(advisor["name"], items, calendar_uid=f"feed-advisor-{advisor['id']}@{host}")
