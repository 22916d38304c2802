"""Who is told what, and with which calendar SEQUENCE. Runs inside the caller's transaction.

Each participant's calendar holds the SEQUENCE of the last invite we sent them
(`Registration.ical_sequence`). A new REQUEST never goes below it, and a CANCEL — or a REQUEST
after a CANCEL — always goes above it, so every client applies the newest message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from events.calendar import links
from events.calendar.ics import Attendee, CalendarItem, build_invite
from events.i18n import pick_translation
from events.mail.message import check_in_cid
from events.mail.outbox import OutgoingMail, enqueue
from events.mail.render import RenderedMail, render_mail
from events.services import tokens
from events.settings import LANGUAGES, get_settings
from events.tables import Event, Registration

Method = Literal["REQUEST", "CANCEL"]

# The mails that give someone their seat also give them a check-in code (text and QR code).
CHECK_IN_KINDS = frozenset({"invitation", "approved", "promoted"})


def next_sequence(event_sequence: int, last_sent: int, last_method: str, method: Method) -> int:
    """The SEQUENCE for the next message to one participant."""
    if method == "CANCEL" or last_method == "CANCEL":
        return max(event_sequence, last_sent + 1)
    return max(event_sequence, last_sent)


@dataclass(frozen=True)
class EventFacts:
    """An event with what its mails and invites need, in every language."""

    row: dict[str, Any]
    organisation: dict[str, Any]
    place: str

    def title(self, language: str) -> str:
        return pick_translation({lang: self.row[f"title_{lang}"] for lang in LANGUAGES}, language)[0]

    def description(self, language: str) -> str:
        return pick_translation({lang: self.row[f"description_{lang}"] for lang in LANGUAGES}, language)[0]

    def organisation_name(self, language: str) -> str:
        names = {lang: self.organisation[f"name_{lang}"] for lang in LANGUAGES}
        return pick_translation(names, language)[0] or self.organisation["slug"]

    @property
    def url(self) -> str:
        return f"{get_settings().base_url}/events/{self.row['id']}"

    def calendar_item(self, language: str, sequence: int, *, cancelled: bool | None = None) -> CalendarItem:
        return CalendarItem(
            uid=self.row["uid"],
            sequence=sequence,
            starts_at=self.row["starts_at"],
            ends_at=self.row["ends_at"],
            timezone=self.row["timezone"],
            summary=self.title(language),
            description=self.description(language),
            location=self.place,
            url=self.url,
            online_url=self.row["online_url"],
            cancelled=self.row["status"] == "cancelled" if cancelled is None else cancelled,
            last_modified=self.row["updated_at"],
            organizer_email=self.organisation["email"],
            organizer_name=self.organisation_name(language),
        )

    def mail_context(self, language: str) -> dict[str, Any]:
        return {
            "title": self.title(language),
            "starts_at": self.row["starts_at"],
            "ends_at": self.row["ends_at"],
            "timezone": self.row["timezone"],
            "place": self.place,
            "online_url": self.row["online_url"],
            "event_url": self.url,
            "organisation_name": self.organisation_name(language),
            "organisation_email": self.organisation["email"],
            "organisation_address": self.organisation["address"],
            "colour": self.organisation["colour"],
            "google_url": links.google_add(
                self.title(language), self.row["starts_at"], self.row["ends_at"], self.url, self.place
            ),
            "outlook_url": links.outlook_add(
                self.title(language), self.row["starts_at"], self.row["ends_at"], self.url, self.place
            ),
        }


async def load_event_facts(event_id: int) -> EventFacts:
    row = (
        await Event.select(
            *Event.all_columns(),
            Event.venue.name.as_alias("venue_name"),
            Event.venue.address.as_alias("venue_address"),
            Event.venue.city.as_alias("venue_city"),
            Event.room.name.as_alias("room_name"),
            *(
                getattr(Event.organisation, column).as_alias(f"org_{column}")
                for column in ("slug", "email", "colour", "address", "name_nl", "name_fr", "name_en")
            ),
        )
        .where(Event.id == event_id)
        .first()
    )
    if row is None:
        raise LookupError(event_id)
    organisation = {key[4:]: value for key, value in row.items() if key.startswith("org_")}
    parts = [row["venue_name"], row["room_name"], row["venue_address"], row["venue_city"]]
    place = ", ".join(part for part in parts if part)
    return EventFacts(row=row, organisation=organisation, place=place)


async def queue_registration_mail(
    facts: EventFacts,
    registration: dict[str, Any],
    kind: str,
    method: Method,
    *,
    manage_url: str | None = None,
    dedupe_suffix: str = "",
) -> None:
    """One mail with its invite or cancellation to one participant, deduplicated per SEQUENCE."""
    language = rendered_language(registration)
    sequence = next_sequence(facts.row["sequence"], registration["ical_sequence"], registration["ical_method"], method)
    item = facts.calendar_item(language, sequence, cancelled=method == "CANCEL" or None)
    ics = build_invite(
        item, Attendee(registration["email"], registration["name"]), method=method, stamp=datetime.now(UTC)
    )
    follow_up = facts.row["follow_up_event"]
    follow_up_url = None
    if follow_up and method == "REQUEST" and registration.get("token_nonce"):
        token = tokens.derive("manage", registration["token_nonce"])
        follow_up_url = f"{get_settings().base_url}/events/{follow_up}?from={token}"
    check_in: dict[str, str] = {}
    if kind in CHECK_IN_KINDS and method == "REQUEST" and registration.get("token_nonce"):
        code = tokens.check_in_code(registration["id"], registration["token_nonce"])
        check_in = {"check_in_code": code, "check_in_cid": check_in_cid(code)}
    rendered = render_mail(
        kind,
        language,
        recipient_name=registration["name"],
        manage_url=manage_url,
        follow_up_url=follow_up_url,
        **facts.mail_context(language),
        **check_in,
    )
    await enqueue(
        _mail_to(
            facts,
            registration,
            kind,
            rendered,
            dedupe_key=f"registration:{registration['id']}:{kind}:{method}:{sequence}{dedupe_suffix}",
            ics=ics.decode("utf-8"),
            method=method,
        )
    )
    await Registration.update({Registration.ical_sequence: sequence, Registration.ical_method: method}).where(
        Registration.id == registration["id"]
    )


def _mail_to(
    facts: EventFacts,
    registration: dict[str, Any],
    kind: str,
    rendered: RenderedMail,
    *,
    dedupe_key: str,
    ics: str = "",
    method: str = "",
) -> OutgoingMail:
    """The outbox row for one participant: from the owning organisation, in their language."""
    language = rendered_language(registration)
    return OutgoingMail(
        dedupe_key=dedupe_key,
        kind=kind,
        recipient=registration["email"],
        recipient_name=registration["name"],
        language=language,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        sender_name=f"{facts.organisation_name(language)} via Trefpunt",
        reply_to=facts.organisation["email"],
        ics=ics,
        ics_method=method,
        event_id=facts.row["id"],
        registration_id=registration["id"],
        organisation_id=facts.row["organisation"],
    )


def rendered_language(registration: dict[str, Any]) -> str:
    return registration["language"] if registration["language"] in LANGUAGES else "nl"


async def queue_plain_mail(
    facts: EventFacts, registration: dict[str, Any], kind: str, dedupe_suffix: str = "", **extra: Any
) -> None:
    """A mail without an invite (waitlisted, pending approval, rejected, confirm your email …)."""
    language = rendered_language(registration)
    rendered = render_mail(
        kind,
        language,
        recipient_name=registration["name"],
        manage_url=tokens.manage_url(registration),
        **facts.mail_context(language),
        **extra,
    )
    await enqueue(
        _mail_to(
            facts, registration, kind, rendered, dedupe_key=f"registration:{registration['id']}:{kind}{dedupe_suffix}"
        )
    )


async def _confirmed(event_id: int) -> list[dict[str, Any]]:
    """Confirmed participants who hold the event's invite (an appointment holds its own)."""
    return (
        await Registration.select()
        .where((Registration.event == event_id) & (Registration.status == "confirmed") & Registration.slot.is_null())
        .order_by(Registration.id)
    )


async def notify_event_changed(event_id: int) -> int:
    """Everyone confirmed gets the updated invite (same UID, higher SEQUENCE). Returns the count."""
    facts = await load_event_facts(event_id)
    registrations = await _confirmed(event_id)
    for registration in registrations:
        await queue_registration_mail(
            facts, registration, "event_updated", "REQUEST", manage_url=tokens.manage_url(registration)
        )
    return len(registrations)


async def notify_event_cancelled(event_id: int) -> int:
    """Everyone confirmed gets METHOD:CANCEL, which removes the event from their calendar; people
    on the waiting list or waiting for approval are told too, without an invite (their calendar
    holds nothing). An address that was never confirmed (double opt-in) gets nothing more."""
    facts = await load_event_facts(event_id)
    registrations = await _confirmed(event_id)
    for registration in registrations:
        await queue_registration_mail(facts, registration, "event_cancelled", "CANCEL")
    bookings = await Registration.select().where(
        (Registration.event == event_id) & (Registration.status == "confirmed") & Registration.slot.is_not_null()
    )
    for booking in bookings:
        await notify_booking(booking, "booking_cancelled", "CANCEL")
    waiting = (
        await Registration.select()
        .where((Registration.event == event_id) & Registration.status.is_in(["waitlisted", "pending_approval"]))
        .order_by(Registration.id)
    )
    for registration in waiting:
        await queue_plain_mail(facts, registration, "event_cancelled_plain")
    return len(registrations) + len(bookings) + len(waiting)


async def send_invitation(registration_id: int, *, manage_url: str | None = None) -> None:
    """The confirmation with its REQUEST invite, for a confirmed registration."""
    registration = await Registration.select().where(Registration.id == registration_id).first()
    if registration is None or registration["status"] != "confirmed":
        return
    facts = await load_event_facts(registration["event"])
    await queue_registration_mail(facts, registration, "invitation", "REQUEST", manage_url=manage_url)


# Consultation-day bookings ----------------------------------------------------------------------

SHARE_INTAKE = "share_intake"  # the consent purpose key that lets an advisor see intake answers


@dataclass(frozen=True)
class BookingFacts:
    facts: EventFacts
    slot: dict[str, Any]
    advisor: dict[str, Any]

    def place(self) -> str:
        if self.advisor["online_url"]:
            return self.advisor["online_url"]
        return ", ".join(part for part in (self.advisor["room"], self.facts.place) if part)

    def mail_context(self, language: str) -> dict[str, Any]:
        online = self.advisor["online_url"] or self.facts.row["online_url"]
        return {
            **self.facts.mail_context(language),
            "starts_at": self.slot["starts_at"],
            "ends_at": self.slot["ends_at"],
            "place": self.place() if not self.advisor["online_url"] else self.facts.place,
            "online_url": online,
            "advisor_name": self.advisor["name"],
        }

    def item(
        self,
        registration: dict[str, Any],
        language: str,
        sequence: int,
        *,
        for_advisor: bool,
        cancelled: bool,
        intake: str = "",
    ) -> CalendarItem:
        title = self.facts.title(language)
        if for_advisor:
            who = registration["name"] + (f" ({registration['company']})" if registration["company"] else "")
            summary, description = f"{title}: {who}", intake
        else:
            summary, description = f"{title} — {self.advisor['name']}", self.facts.description(language)
        return CalendarItem(
            uid=registration["booking_uid"],
            sequence=sequence,
            starts_at=self.slot["starts_at"],
            ends_at=self.slot["ends_at"],
            timezone=self.facts.row["timezone"],
            summary=summary,
            description=description,
            location=self.place(),
            url=self.facts.url,
            online_url=self.advisor["online_url"] or self.facts.row["online_url"],
            cancelled=cancelled,
            last_modified=self.facts.row["updated_at"],
            organizer_email=self.facts.organisation["email"],
            organizer_name=self.facts.organisation_name(language),
        )


async def load_booking_facts(registration: dict[str, Any], slot_id: int | None = None) -> BookingFacts:
    from events.tables import Advisor, Slot

    slot = await Slot.select().where(Slot.id == (slot_id or registration["slot"])).first()
    assert slot is not None
    advisor = await Advisor.select().where(Advisor.id == slot["advisor"]).first()
    assert advisor is not None
    return BookingFacts(await load_event_facts(registration["event"]), slot, advisor)


async def intake_for_advisor(registration: dict[str, Any], advisor: dict[str, Any]) -> str:
    """Intake answers, only when the participant consented to share them with the advisor's
    organisation; otherwise nothing beyond name and company."""
    from events.tables import Consent, ConsentPurpose

    purposes = await ConsentPurpose.select(ConsentPurpose.id).where(
        (ConsentPurpose.organisation == advisor["organisation"]) & (ConsentPurpose.key == SHARE_INTAKE)
    )
    ids = [p["id"] for p in purposes]
    if not ids:
        return ""
    ledger = (
        await Consent.select(Consent.purpose, Consent.action)
        .where((Consent.registration == registration["id"]) & Consent.purpose.is_in(ids))
        .order_by(Consent.id)
    )
    state = {row["purpose"]: row["action"] for row in ledger}
    if "given" not in state.values():
        return ""
    import json

    answers = json.loads(registration["answers"] or "{}")
    return "\n".join(f"{key}: {value}" for key, value in answers.items())


async def _queue_booking_mail(
    booking: BookingFacts, registration: dict[str, Any], kind: str, method: Method, sequence: int, *, for_advisor: bool
) -> None:
    advisor = booking.advisor
    if for_advisor:
        language = (advisor["languages"].split(",") or ["nl"])[0] or "nl"
        recipient = {"email": advisor["email"], "name": advisor["name"]}
        intake = await intake_for_advisor(registration, advisor)
        feed = tokens.derive("advisor", advisor["feed_token_nonce"])
        extra = {
            "participant_name": registration["name"],
            "participant_company": registration["company"],
            "intake": intake,
            "advisor_feed_url": f"{get_settings().base_url}/advisors/{feed}/calendar.ics",
        }
    else:
        language = rendered_language(registration)
        recipient = {"email": registration["email"], "name": registration["name"]}
        intake, extra = "", {}
    item = booking.item(
        registration, language, sequence, for_advisor=for_advisor, cancelled=method == "CANCEL", intake=intake
    )
    ics = build_invite(item, Attendee(recipient["email"], recipient["name"]), method=method, stamp=datetime.now(UTC))
    rendered = render_mail(
        kind,
        language,
        recipient_name=recipient["name"],
        manage_url=None if for_advisor or method == "CANCEL" else tokens.manage_url(registration),
        **booking.mail_context(language),
        **extra,
    )
    who = f"advisor:{advisor['id']}" if for_advisor else "participant"
    mail = _mail_to(
        booking.facts,
        registration,
        kind,
        rendered,
        dedupe_key=f"booking:{registration['id']}:{who}:{method}:{sequence}",
        ics=ics.decode(),
        method=method,
    )
    if for_advisor:
        mail = replace(mail, recipient=recipient["email"], recipient_name=recipient["name"], language=language)
    await enqueue(mail)


async def notify_booking(registration: dict[str, Any], kind: str, method: Method) -> None:
    """A new booking (REQUEST) or its cancellation (CANCEL), to the participant and the advisor."""
    booking = await load_booking_facts(registration)
    sequence = next_sequence(0, registration["ical_sequence"], registration["ical_method"], method)
    await _queue_booking_mail(booking, registration, kind, method, sequence, for_advisor=False)
    await _queue_booking_mail(booking, registration, f"advisor_{kind}", method, sequence, for_advisor=True)
    await Registration.update({Registration.ical_sequence: sequence, Registration.ical_method: method}).where(
        Registration.id == registration["id"]
    )


async def notify_booking_moved(registration: dict[str, Any], old_slot: int, new_slot: int) -> None:
    """Same UID, higher SEQUENCE for the participant; the advisor gets the update, or — when the
    appointment moved to another advisor — the old one a CANCEL and the new one an invite."""
    sequence = max(0, registration["ical_sequence"]) + 1
    old = await load_booking_facts(registration, old_slot)
    new = await load_booking_facts(registration, new_slot)
    moved = {**registration, "slot": new_slot}
    await _queue_booking_mail(new, moved, "booking_moved", "REQUEST", sequence, for_advisor=False)
    if old.advisor["id"] != new.advisor["id"]:
        await _queue_booking_mail(old, moved, "advisor_booking_cancelled", "CANCEL", sequence, for_advisor=True)
        await _queue_booking_mail(new, moved, "advisor_booking_confirmed", "REQUEST", sequence, for_advisor=True)
    else:
        await _queue_booking_mail(new, moved, "advisor_booking_moved", "REQUEST", sequence, for_advisor=True)
    await Registration.update({Registration.ical_sequence: sequence, Registration.ical_method: "REQUEST"}).where(
        Registration.id == registration["id"]
    )


async def queue_booking_reminder(registration: dict[str, Any], hours: int) -> None:
    """A reminder of an appointment, with the booking's own invite attached again."""
    booking = await load_booking_facts(registration)
    sequence = max(0, registration["ical_sequence"])
    language = rendered_language(registration)
    item = booking.item(registration, language, sequence, for_advisor=False, cancelled=False)
    ics = build_invite(
        item, Attendee(registration["email"], registration["name"]), method="REQUEST", stamp=datetime.now(UTC)
    )
    rendered = render_mail(
        "reminder",
        language,
        recipient_name=registration["name"],
        manage_url=tokens.manage_url(registration),
        **booking.mail_context(language),
    )
    await enqueue(
        _mail_to(
            booking.facts,
            registration,
            "reminder",
            rendered,
            dedupe_key=f"booking:{registration['id']}:reminder:{hours}h",
            ics=ics.decode(),
            method="REQUEST",
        )
    )


# Networking meetings -------------------------------------------------------------------------------


async def meeting_items(meeting_id: int, language: str) -> tuple[dict[str, Any], CalendarItem, EventFacts]:
    """A 1:1 meeting as a calendar item (its own UID; the table in LOCATION)."""
    from events.tables import Meeting, MeetingSlot, MeetingTable, NetworkProfile

    meeting = await Meeting.select().where(Meeting.id == meeting_id).first()
    assert meeting is not None
    slot = await MeetingSlot.select().where(MeetingSlot.id == meeting["slot"]).first()
    assert slot is not None
    table = (
        await MeetingTable.select().where(MeetingTable.id == meeting["meeting_table"]).first()
        if meeting["meeting_table"]
        else None
    )
    facts = await load_event_facts(meeting["event"])
    profiles = {
        row["id"]: row
        for row in await NetworkProfile.select().where(
            NetworkProfile.id.is_in([meeting["requester"], meeting["invitee"]])
        )
    }
    names = " & ".join(profiles[pid]["display_name"] for pid in (meeting["requester"], meeting["invitee"]))
    item = CalendarItem(
        uid=meeting["uid"],
        sequence=meeting["sequence"],
        starts_at=slot["starts_at"],
        ends_at=slot["ends_at"],
        timezone=facts.row["timezone"],
        summary=f"{facts.title(language)}: {names}",
        description=facts.title(language),
        location=", ".join(p for p in ((table or {}).get("name"), facts.place) if p),
        url=facts.url,
        online_url=facts.row["online_url"],
        cancelled=meeting["status"] == "cancelled",
        last_modified=meeting["updated_at"],
        organizer_email=facts.organisation["email"],
        organizer_name=facts.organisation_name(language),
    )
    return meeting, item, facts


async def notify_meeting(meeting_id: int, kind: str) -> None:
    """meeting_request: a mail to the invitee; meeting_accepted: an invite to both;
    meeting_cancelled: a CANCEL with a higher SEQUENCE to both."""
    from events.tables import Meeting, NetworkProfile

    meeting = await Meeting.select().where(Meeting.id == meeting_id).first()
    assert meeting is not None
    profiles = {
        row["id"]: row
        for row in await NetworkProfile.select().where(
            NetworkProfile.id.is_in([meeting["requester"], meeting["invitee"]])
        )
    }
    people = [meeting["invitee"]] if kind == "meeting_request" else [meeting["requester"], meeting["invitee"]]
    methods: dict[str, Method] = {"meeting_accepted": "REQUEST", "meeting_cancelled": "CANCEL"}
    method = methods.get(kind)
    for profile_id in people:
        registration = (
            await Registration.select().where(Registration.id == profiles[profile_id]["registration"]).first()
        )
        if registration is None:
            continue
        language = rendered_language(registration)
        _, item, facts = await meeting_items(meeting_id, language)
        other = profiles[meeting["requester"] if profile_id == meeting["invitee"] else meeting["invitee"]]
        ics = ""
        if method:
            ics = build_invite(
                item, Attendee(registration["email"], registration["name"]), method=method, stamp=datetime.now(UTC)
            ).decode()
        context = {
            **facts.mail_context(language),
            "starts_at": item.starts_at,
            "ends_at": item.ends_at,
            "place": item.location,
        }
        rendered = render_mail(
            kind,
            language,
            recipient_name=registration["name"],
            manage_url=tokens.manage_url(registration),
            other_name=other["display_name"],
            **context,
        )
        await enqueue(
            _mail_to(
                facts,
                registration,
                kind,
                rendered,
                dedupe_key=f"meeting:{meeting_id}:{kind}:{profile_id}:{meeting['sequence']}",
                ics=ics,
                method=method or "",
            )
        )
