"""The registration lifecycle: register, confirm, approve, reject, cancel, waitlist promotion.

Capacity is guarded by the database (DESIGN.md): a seat is taken by
`UPDATE event SET confirmed_count = confirmed_count + 1 WHERE id = ? AND (capacity IS NULL OR
confirmed_count < capacity)`, inside a transaction that first locks the event (SQLite:
BEGIN IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE), and a unique index allows one active
registration per (event, email). Every use case writes its mails to the outbox in the same
transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from piccolo.engine.postgres import PostgresEngine

from events.db import engine, is_unique_violation, write_transaction
from events.services import audit, consents, notifications, tokens, webhooks
from events.services.access import Actor
from events.services.errors import N_, Conflict, InvalidInput, NotFound
from events.services.hosts import hosts_of, require_door, require_editor
from events.services.organisers import normalise_email
from events.services.questions import check_answers, list_questions
from events.tables import Event, Registration, Slot

ACTIVE = ("pending_email", "pending_approval", "confirmed", "waitlisted")
Status = Literal["pending_email", "pending_approval", "confirmed", "waitlisted", "cancelled", "rejected"]
AnswerValue = str | bool | list[str]


class RegistrationInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a participant submits (POST /api/v1/events/{id}/registrations, or the form)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    language: Literal["nl", "fr", "en"]
    phone: Annotated[str, msgspec.Meta(max_length=50)] = ""
    company: Annotated[str, msgspec.Meta(max_length=200)] = ""
    answers: Annotated[dict[str, AnswerValue], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=dict)
    consents: Annotated[list[int], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)


class RegistrationResult(msgspec.Struct, omit_defaults=True):
    id: int | None
    status: str
    manage_url: str | None = None
    waitlist_position: int | None = None
    detail: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def manage_token(row: dict[str, Any]) -> str:
    return tokens.derive("manage", row["token_nonce"])


def _clean_text(value: str, field: str, message: str) -> str:
    text = " ".join(value.split()) if field == "name" else value.strip()
    if any(ord(c) < 32 or c in "\u2028\u2029\x7f" for c in value.replace("\t", " ")):
        raise InvalidInput(message, field=field)
    return text


# Locks and seats ------------------------------------------------------------------------------


async def lock_event(event_id: int) -> dict[str, Any]:
    """Lock the event row for this transaction (PostgreSQL) and return it."""
    if isinstance(engine(), PostgresEngine):
        await Event.raw("SELECT id FROM event WHERE id = {} FOR UPDATE", event_id)
    row = await Event.select().where(Event.id == event_id).first()
    if row is None:
        raise NotFound(N_("This event does not exist."))
    return row


async def take_seat(event_id: int) -> bool:
    """Take one seat if the database says one is free; never more than capacity."""
    rows = await Event.raw(
        "UPDATE event SET confirmed_count = confirmed_count + 1 "
        "WHERE id = {} AND (capacity IS NULL OR confirmed_count < capacity) RETURNING id",
        event_id,
    )
    return bool(rows)


async def free_seat(event_id: int) -> None:
    await Event.raw(
        "UPDATE event SET confirmed_count = confirmed_count - 1 WHERE id = {} AND confirmed_count > 0", event_id
    )


async def waitlist_position(registration: dict[str, Any]) -> int | None:
    if registration["status"] != "waitlisted":
        return None
    ahead = await Registration.count().where(
        (Registration.event == registration["event"])
        & (Registration.status == "waitlisted")
        & (Registration.id < registration["id"])
    )
    return int(ahead) + 1


# Mails ----------------------------------------------------------------------------------------


async def _reload(registration_id: int) -> dict[str, Any]:
    row = await Registration.select().where(Registration.id == registration_id).first()
    assert row is not None
    return row


async def _confirm_with_invite(facts: notifications.EventFacts, registration: dict[str, Any], kind: str) -> None:
    changes: dict[Any, Any] = {Registration.status: "confirmed", Registration.updated_at: _now()}
    if registration["status"] == "waitlisted":
        changes[Registration.promoted_at] = _now()
    await Registration.update(changes).where(Registration.id == registration["id"])
    row = await _reload(registration["id"])
    await notifications.queue_registration_mail(facts, row, kind, "REQUEST", manage_url=tokens.manage_url(row))
    if registration["status"] == "waitlisted":
        await webhooks.emit("registration.promoted", row["event"], row)


async def _seat_or_waitlist(facts: notifications.EventFacts, registration: dict[str, Any], kind: str) -> str:
    """Give a registration a seat (with its invite) or a waitlist place; returns the new status."""
    if await take_seat(facts.row["id"]):
        await _confirm_with_invite(facts, registration, kind)
        return "confirmed"
    if not facts.row["waitlist"]:
        raise Conflict(N_("This event is full."))
    await Registration.update(
        {Registration.status: "waitlisted", Registration.updated_at: _now(), Registration.waitlisted_at: _now()}
    ).where(Registration.id == registration["id"])
    row = await _reload(registration["id"])
    await notifications.queue_plain_mail(facts, row, "waitlisted", position=await waitlist_position(row))
    return "waitlisted"


async def promote_waitlist(event_id: int) -> list[int]:
    """Fill free seats from the waitlist, first come first served; each is promoted once.

    Call inside a transaction that holds the event lock.
    """
    promoted: list[int] = []
    facts: notifications.EventFacts | None = None
    while True:
        candidate = (
            await Registration.select()
            .where((Registration.event == event_id) & (Registration.status == "waitlisted"))
            .order_by(Registration.id)
            .first()
        )
        if candidate is None or not await take_seat(event_id):
            break
        facts = facts or await notifications.load_event_facts(event_id)
        await _confirm_with_invite(facts, candidate, "promoted")
        promoted.append(candidate["id"])
    return promoted


# Use cases ------------------------------------------------------------------------------------


def _check_open(event: dict[str, Any], now: datetime) -> None:
    if event["status"] == "draft":
        raise NotFound(N_("This event does not exist."))
    if event["status"] == "cancelled":
        raise Conflict(N_("This event has been cancelled."))
    if event["kind"] == "consultation_day":
        raise Conflict(N_("Book a time slot for this consultation day instead."))
    if event["registration_opens_at"] and now < event["registration_opens_at"]:
        raise Conflict(N_("Registration for this event has not opened yet."))
    closes = event["registration_closes_at"] or event["ends_at"]
    if now >= closes:
        raise Conflict(N_("Registration for this event is closed."))


async def _already_registered(event_id: int, email_key: str) -> RegistrationResult:
    """A second attempt creates nothing and re-sends the private link (at most once an hour)."""
    async with write_transaction():
        existing = (
            await Registration.select()
            .where(
                (Registration.event == event_id)
                & (Registration.email_key == email_key)
                & Registration.status.is_in(list(ACTIVE))
            )
            .first()
        )
        if existing is not None:
            facts = await notifications.load_event_facts(event_id)
            hour = _now().strftime("%Y%m%d%H")
            await notifications.queue_plain_mail(facts, existing, "your_link", dedupe_suffix=f":{hour}")
    return RegistrationResult(id=None, status="already_registered")


class Participant(msgspec.Struct, kw_only=True):
    """A participant's submitted details, checked and normalised."""

    name: str
    email: str
    email_key: str
    phone: str
    company: str
    answers: dict[str, Any]
    purposes: list[consents.PurposeView]


async def clean_participant(data: RegistrationInput, event_id: int) -> Participant:
    """Check name, email, phone, company, answers and consents (against the event's questions
    and its hosts' purposes); raises InvalidInput naming the field at fault."""
    name = _clean_text(data.name, "name", N_("A name cannot contain line breaks or control characters."))
    if not name:
        raise InvalidInput(N_("Please enter your name."), field="name")
    email = normalise_email(data.email)
    phone = _clean_text(data.phone, "phone", N_("Enter a valid phone number."))
    company = _clean_text(data.company, "company", N_("A company name cannot contain line breaks."))
    answers = check_answers(await list_questions(event_id), data.answers)
    owner, co_hosts = await hosts_of(event_id)
    wanted = set(data.consents)
    purposes = [p for p in await consents.purposes_for([owner, *co_hosts]) if p.id in wanted]
    if len(purposes) != len(wanted):
        raise InvalidInput(N_("Unknown consent purpose."), field="consents")
    return Participant(
        name=name,
        email=data.email.strip(),
        email_key=email,
        phone=phone,
        company=company,
        answers=answers,
        purposes=purposes,
    )


async def register(
    event_id: int, data: RegistrationInput, *, source: str = "api", now: datetime | None = None
) -> RegistrationResult:
    """Register a participant: confirmed, waitlisted, pending approval or pending email."""
    now = now or _now()
    person = await clean_participant(data, event_id)
    email = person.email_key
    try:
        async with write_transaction():
            event = await lock_event(event_id)
            _check_open(event, now)
            duplicate = await Registration.exists().where(
                (Registration.event == event_id)
                & (Registration.email_key == email)
                & Registration.status.is_in(list(ACTIVE))
            )
            if duplicate:
                raise _Duplicate()
            rows = await Registration.insert(
                Registration(
                    event=event_id,
                    name=person.name,
                    email=data.email.strip(),
                    email_key=email,
                    phone=person.phone,
                    company=person.company,
                    language=data.language,
                    answers=json.dumps(person.answers, ensure_ascii=False),
                    status="pending_email",
                    token_nonce=tokens.new_nonce(),
                    feed_token_nonce=tokens.new_nonce(),
                    consents=json.dumps(sorted(p.id for p in person.purposes)),
                )
            )
            registration = await _reload(rows[0]["id"])
            await Registration.update(
                {
                    Registration.manage_token_hash: tokens.token_hash(manage_token(registration)),
                    Registration.feed_token_hash: tokens.token_hash(
                        tokens.derive("feed", registration["feed_token_nonce"])
                    ),
                }
            ).where(Registration.id == registration["id"])
            registration = await _reload(registration["id"])
            await consents.record(registration["id"], email, person.purposes, "given", source)
            facts = await notifications.load_event_facts(event_id)
            if event["double_opt_in"]:
                status = "pending_email"
                await notifications.queue_plain_mail(facts, registration, "confirm_email")
            elif event["requires_approval"]:
                status = "pending_approval"
                await Registration.update({Registration.status: status}).where(Registration.id == registration["id"])
                await notifications.queue_plain_mail(facts, await _reload(registration["id"]), "pending_approval")
            else:
                status = await _seat_or_waitlist(facts, registration, "invitation")
            registration = await _reload(registration["id"])
            position = await waitlist_position(registration)
            await webhooks.emit("registration.created", event_id, registration)
    except _Duplicate:
        return await _already_registered(event_id, email)
    except Exception as exc:
        if is_unique_violation(exc):  # a double click that raced past the check above
            return await _already_registered(event_id, email)
        raise
    return RegistrationResult(
        id=registration["id"], status=status, manage_url=tokens.manage_url(registration), waitlist_position=position
    )


class _Duplicate(Exception):
    pass


async def by_token(token: str) -> dict[str, Any]:
    """The registration a private link stands for; 404 for unknown, rotated or dead tokens."""
    if not tokens.looks_like_token(token):
        raise NotFound()
    row = await Registration.select().where(Registration.manage_token_hash == tokens.token_hash(token)).first()
    if row is None:
        raise NotFound()
    return row


async def confirm_email(token: str) -> str:
    """Double opt-in: the participant pressed the button in the page their mail linked to."""
    registration = await by_token(token)
    async with write_transaction():
        await lock_event(registration["event"])
        registration = await _reload(registration["id"])
        if registration["status"] != "pending_email":
            return str(registration["status"])
        event = await lock_event(registration["event"])
        facts = await notifications.load_event_facts(event["id"])
        if event["status"] != "published":
            raise Conflict(N_("This event has been cancelled."))
        if event["requires_approval"]:
            await Registration.update({Registration.status: "pending_approval"}).where(
                Registration.id == registration["id"]
            )
            await notifications.queue_plain_mail(facts, await _reload(registration["id"]), "pending_approval")
            return "pending_approval"
        return await _seat_or_waitlist(facts, registration, "invitation")


async def _cancel(registration: dict[str, Any], *, kind: str, actor: Actor | None) -> None:
    """Cancel inside the caller's transaction: free the seat, promote, tell the participant."""
    was = registration["status"]
    await Registration.update(
        {
            Registration.status: "cancelled",
            Registration.cancelled_at: _now(),
            Registration.updated_at: _now(),
            Registration.manage_token_hash: None,
            Registration.feed_token_hash: None,
        }
    ).where(Registration.id == registration["id"])
    await webhooks.emit("registration.cancelled", registration["event"], registration)
    facts = await notifications.load_event_facts(registration["event"])
    if facts.row["kind"] == "networking":
        # Imported here: networking builds on registrations (tokens, locks).
        from events.services.networking import cancel_meetings_of

        await cancel_meetings_of(registration["id"])
    if registration["slot"] is not None:
        # A consultation booking: the slot becomes free again; participant and advisor are told.
        await Slot.update({Slot.status: "free"}).where((Slot.id == registration["slot"]) & (Slot.status == "booked"))
        if was == "confirmed":
            await notifications.notify_booking(registration, "booking_cancelled", "CANCEL")
    elif was == "confirmed":
        await free_seat(registration["event"])
        await notifications.queue_registration_mail(facts, registration, kind, "CANCEL")
        if facts.row["status"] == "published":
            await promote_waitlist(registration["event"])
    elif was in ("waitlisted", "pending_approval", "pending_email"):
        await notifications.queue_plain_mail(facts, registration, f"{kind}_plain")
    if actor is not None:
        await audit.record(
            actor,
            "registration.cancelled",
            organisation_id=facts.row["organisation"],
            target=f"registration:{registration['id']}",
        )


async def cancel_by_participant(token: str) -> None:
    """The participant cancels; their link dies, the seat goes to the waitlist."""
    registration = await by_token(token)
    async with write_transaction():
        await lock_event(registration["event"])
        registration = await _reload(registration["id"])
        if registration["status"] not in ACTIVE:
            raise NotFound()
        await _cancel(registration, kind="registration_cancelled", actor=None)


async def cancel_within_transaction(registration: dict[str, Any]) -> None:
    """Cancel as the participant would, inside the caller's transaction (which holds the event
    lock): the seat goes to the waitlist, the advisor or meeting partners are told. Used by
    erasure (events/services/privacy.py)."""
    await _cancel(registration, kind="registration_cancelled", actor=None)


# Organiser use cases --------------------------------------------------------------------------


async def _for_organiser(actor: Actor, registration_id: int) -> dict[str, Any]:
    registration = await Registration.select().where(Registration.id == registration_id).first()
    if registration is None:
        raise NotFound()
    await require_editor(actor, registration["event"])
    return registration


async def approve(actor: Actor, registration_id: int) -> str:
    registration = await _for_organiser(actor, registration_id)
    async with write_transaction():
        event = await lock_event(registration["event"])
        registration = await _reload(registration_id)
        if registration["status"] != "pending_approval":
            raise Conflict(N_("Only registrations waiting for approval can be approved."))
        facts = await notifications.load_event_facts(event["id"])
        status = await _seat_or_waitlist(facts, registration, "approved")
        await audit.record(
            actor,
            "registration.approved",
            organisation_id=event["organisation"],
            target=f"registration:{registration_id}",
        )
    return status


async def reject(actor: Actor, registration_id: int) -> None:
    registration = await _for_organiser(actor, registration_id)
    async with write_transaction():
        event = await lock_event(registration["event"])
        registration = await _reload(registration_id)
        if registration["status"] not in ACTIVE:
            raise Conflict(N_("This registration is no longer active."))
        was = registration["status"]
        await Registration.update(
            {Registration.status: "rejected", Registration.updated_at: _now(), Registration.manage_token_hash: None}
        ).where(Registration.id == registration_id)
        facts = await notifications.load_event_facts(event["id"])
        if registration["slot"] is not None:  # an appointment: free its slot, cancel both invites
            await Slot.update({Slot.status: "free"}).where(
                (Slot.id == registration["slot"]) & (Slot.status == "booked")
            )
            if was == "confirmed":
                await notifications.notify_booking(registration, "booking_cancelled", "CANCEL")
        elif was == "confirmed":
            await free_seat(event["id"])
            await notifications.queue_registration_mail(facts, registration, "rejected", "CANCEL")
            await promote_waitlist(event["id"])
        else:
            await notifications.queue_plain_mail(facts, registration, "rejected")
        await audit.record(
            actor,
            "registration.rejected",
            organisation_id=event["organisation"],
            target=f"registration:{registration_id}",
        )


async def cancel_by_organiser(actor: Actor, registration_id: int) -> None:
    registration = await _for_organiser(actor, registration_id)
    async with write_transaction():
        await lock_event(registration["event"])
        registration = await _reload(registration_id)
        if registration["status"] not in ACTIVE:
            raise Conflict(N_("This registration is no longer active."))
        await _cancel(registration, kind="registration_cancelled", actor=actor)


async def move_up(actor: Actor, registration_id: int) -> None:
    """Give a waitlisted person a free seat now, ahead of the queue (an organiser's choice)."""
    registration = await _for_organiser(actor, registration_id)
    async with write_transaction():
        event = await lock_event(registration["event"])
        registration = await _reload(registration_id)
        if registration["status"] != "waitlisted":
            raise Conflict(N_("Only waitlisted registrations can be moved up."))
        if not await take_seat(event["id"]):
            raise Conflict(N_("There is no free place; raise the capacity first."))
        facts = await notifications.load_event_facts(event["id"])
        await _confirm_with_invite(facts, registration, "promoted")
        await audit.record(
            actor,
            "registration.moved_up",
            organisation_id=event["organisation"],
            target=f"registration:{registration_id}",
        )


async def mark_attendance(actor: Actor, registration_id: int, attendance: Literal["attended", "no_show", ""]) -> None:
    registration = await Registration.select().where(Registration.id == registration_id).first()
    if registration is None:
        raise NotFound()
    await require_door(actor, registration["event"])
    if registration["status"] != "confirmed":
        raise Conflict(N_("Only confirmed participants can be checked in."))
    # checked_in_at: when they came in (kept on a second tap), cleared by undo or a no-show.
    checked_in_at = registration["checked_in_at"] if registration["attendance"] == "attended" else _now()
    async with write_transaction():
        await Registration.update(
            {
                Registration.attendance: attendance,
                Registration.updated_at: _now(),
                Registration.checked_in_at: checked_in_at if attendance == "attended" else None,
            }
        ).where(Registration.id == registration_id)


async def after_capacity_change(event_id: int) -> list[int]:
    """A raised capacity promotes from the waitlist; a lowered one drops nobody."""
    return await promote_waitlist(event_id)


# The participant's private page -----------------------------------------------------------------


class PrivateView(msgspec.Struct, kw_only=True):
    registration: dict[str, Any]
    waitlist_position: int | None
    feed_url: str
    manage_url: str
    purposes: list[consents.PurposeView]
    consented: set[int]


async def private_view(token: str) -> PrivateView:
    registration = await by_token(token)
    owner, co_hosts = await hosts_of(registration["event"])
    purposes = await consents.purposes_for([owner, *co_hosts])
    return PrivateView(
        registration=registration,
        waitlist_position=await waitlist_position(registration),
        feed_url=tokens.feed_url(registration),
        manage_url=tokens.manage_url(registration),
        purposes=purposes,
        consented=await consents.current_for_registration(registration["id"]),
    )


async def change_language(token: str, language: Literal["nl", "fr", "en"]) -> None:
    """Mails (and invites) from now on come in this language."""
    registration = await by_token(token)
    async with write_transaction():
        await Registration.update({Registration.language: language, Registration.updated_at: _now()}).where(
            Registration.id == registration["id"]
        )


async def rotate_feed(token: str) -> str:
    """A new personal feed address; the old one stops working at once."""
    registration = await by_token(token)
    nonce = tokens.new_nonce()
    async with write_transaction():
        await Registration.update(
            {
                Registration.feed_token_nonce: nonce,
                Registration.feed_token_hash: tokens.token_hash(tokens.derive("feed", nonce)),
            }
        ).where(Registration.id == registration["id"])
    return tokens.feed_url({**registration, "feed_token_nonce": nonce})


async def set_consent(token: str, purpose_id: int, give: bool) -> None:
    """Give or withdraw one consent from the private page (a new ledger row either way)."""
    view = await private_view(token)
    purpose = next((p for p in view.purposes if p.id == purpose_id), None)
    if purpose is None:
        raise NotFound()
    if (purpose_id in view.consented) == give:
        return
    async with write_transaction():
        await consents.record(
            view.registration["id"],
            view.registration["email_key"],
            [purpose],
            "given" if give else "withdrawn",
            "private_page",
        )


async def personal_feed_rows(feed_token: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The registration a feed token belongs to, and its owner's confirmed events (any organisation)."""
    if not tokens.looks_like_token(feed_token):
        raise NotFound()
    owner = await Registration.select().where(Registration.feed_token_hash == tokens.token_hash(feed_token)).first()
    if owner is None:
        raise NotFound()
    confirmed = await Registration.select(Registration.event).where(
        (Registration.email_key == owner["email_key"]) & (Registration.status == "confirmed")
    )
    return owner, confirmed


class RegistrationRow(msgspec.Struct, omit_defaults=True):
    """A registration as organisers see it (GET …/registrations)."""

    id: int
    name: str
    email: str
    language: str
    status: str
    created_at: datetime
    answers: dict[str, Any]
    consents: list[int]
    phone: str = ""
    company: str = ""
    attendance: str = ""
    waitlist_position: int | None = None
    # True for a co-host's token when the person did not consent to it: `name` is a
    # pseudonym, contact fields and answers are empty (visibility.py).
    redacted: bool = False


async def list_for_organiser(
    actor: Actor, event_id: int, *, status: str | None, page: int, page_size: int
) -> tuple[list[RegistrationRow], bool]:
    """Registrations of an event for its hosts (any role), as the token's organisation may see
    them (visibility.py); others get 404. Two queries of the ledger per page, not one a row."""
    from events.services.consent_overview import current_purposes
    from events.services.host_view import host_view, shown

    view = await host_view(actor, event_id)
    query = Registration.select().where(Registration.event == event_id)
    if status:
        query = query.where(Registration.status == status)
    rows = await query.order_by(Registration.id).offset((page - 1) * page_size).limit(page_size + 1)
    page_rows = await shown(view, rows[:page_size])
    current = await current_purposes([row["id"] for row in page_rows])
    waitlisted = [
        r["id"]
        for r in await Registration.select(Registration.id)
        .where((Registration.event == event_id) & (Registration.status == "waitlisted"))
        .order_by(Registration.id)
    ]
    positions = {registration_id: index + 1 for index, registration_id in enumerate(waitlisted)}
    items = [
        RegistrationRow(
            id=row["id"],
            name=row["name"],
            email=row["email"],
            language=row["language"],
            status=row["status"],
            created_at=row["created_at"],
            answers=json.loads(row["answers"] or "{}"),
            consents=sorted(current.get(row["id"], set())),
            phone=row["phone"],
            company=row["company"],
            attendance=row["attendance"],
            waitlist_position=positions.get(row["id"]),
            redacted=row["redacted"],
        )
        for row in page_rows
    ]
    return items, len(rows) > page_size


async def broadcast(
    actor: Actor,
    event_id: int,
    subject: str,
    message: str,
    *,
    status: str = "confirmed",
    registration_ids: list[int] | None = None,
) -> int:
    """Mail the event's participants with one status (confirmed by default), or exactly the
    registrations listed (any status; one not of this event is a 404), through the outbox,
    each in their own language; returns the count."""
    owner = await require_editor(actor, event_id)
    if any(c in subject for c in "\r\n\0"):
        raise InvalidInput(N_("A subject cannot contain line breaks."), field="subject")
    if not message.strip():
        raise InvalidInput(N_("Please write a message."), field="message")
    async with write_transaction():
        facts = await notifications.load_event_facts(event_id)
        if registration_ids is not None:
            wanted = set(registration_ids)
            recipients = (
                await Registration.select()
                .where((Registration.event == event_id) & Registration.id.is_in(list(wanted) or [-1]))
                .order_by(Registration.id)
            )
            if len(recipients) != len(wanted):
                raise NotFound()
        else:
            recipients = (
                await Registration.select()
                .where((Registration.event == event_id) & (Registration.status == status))
                .order_by(Registration.id)
            )
        selection = "selected" if registration_ids is not None else status
        rows = await audit_broadcast(actor, owner, event_id, len(recipients), selection=selection)
        for registration in recipients:
            await notifications.queue_plain_mail(
                facts,
                registration,
                "broadcast",
                dedupe_suffix=f":{rows}",
                message_text=message,
                subject_override=subject,
            )
    return len(recipients)


async def audit_broadcast(
    actor: Actor, organisation_id: int, event_id: int, count: int, selection: str = "confirmed"
) -> str:
    """Record the broadcast; its timestamp makes each broadcast's dedupe keys unique."""
    stamp = _now().strftime("%Y%m%d%H%M%S%f")
    await audit.record(
        actor,
        "event.broadcast",
        organisation_id=organisation_id,
        target=f"event:{event_id}",
        recipients=count,
        selection=selection,
        stamp=stamp,
    )
    return stamp


async def prefill(token: str) -> dict[str, str]:
    """Form values from a registration's private token (empty for an unknown one)."""
    try:
        registration = await by_token(token)
    except NotFound:
        return {}
    return {key: registration[key] for key in ("name", "email", "phone", "company", "language")}


# The back office: people added by hand, check-in codes, no-shows ---------------------------------


class PersonInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who an organiser adds by hand (no questions, no consents: the person did not fill a form)."""

    name: Annotated[str, msgspec.Meta(max_length=200)]
    email: Annotated[str, msgspec.Meta(max_length=254)]
    language: Literal["nl", "fr", "en"]
    phone: Annotated[str, msgspec.Meta(max_length=50)] = ""
    company: Annotated[str, msgspec.Meta(max_length=200)] = ""


async def add_by_organiser(
    actor: Actor, event_id: int, data: PersonInput, *, notify: bool = True
) -> RegistrationResult:
    """An organiser adds a person: no honeypot, rate limit, registration window, approval or
    double opt-in, but capacity holds (a full event puts them on the waitlist, or says it is
    full when it has none) and one active registration per email (409). With `notify`, the
    person gets the confirmation with its invite, or the waitlist mail."""
    owner = await require_editor(actor, event_id)
    name = _clean_text(data.name, "name", N_("A name cannot contain line breaks or control characters."))
    if not name:
        raise InvalidInput(N_("Please enter a name."), field="name")
    email_key = normalise_email(data.email)
    phone = _clean_text(data.phone, "phone", N_("Enter a valid phone number."))
    company = _clean_text(data.company, "company", N_("A company name cannot contain line breaks."))
    duplicate = Conflict(N_("%(email)s is already registered for this event."), field="email", email=data.email.strip())
    try:
        async with write_transaction():
            event = await lock_event(event_id)
            if event["status"] == "cancelled":
                raise Conflict(N_("This event has been cancelled."))
            if event["kind"] == "consultation_day":
                raise Conflict(N_("Book a time slot for this consultation day instead."))
            if await Registration.exists().where(
                (Registration.event == event_id)
                & (Registration.email_key == email_key)
                & Registration.status.is_in(list(ACTIVE))
            ):
                raise duplicate
            token_nonce, feed_nonce = tokens.new_nonce(), tokens.new_nonce()
            rows = await Registration.insert(
                Registration(
                    event=event_id,
                    name=name,
                    email=data.email.strip(),
                    email_key=email_key,
                    phone=phone,
                    company=company,
                    language=data.language,
                    answers="{}",
                    status="pending_approval",  # not yet holding a seat; set just below
                    source="organiser",
                    token_nonce=token_nonce,
                    feed_token_nonce=feed_nonce,
                    manage_token_hash=tokens.token_hash(tokens.derive("manage", token_nonce)),
                    feed_token_hash=tokens.token_hash(tokens.derive("feed", feed_nonce)),
                )
            )
            registration = await _reload(rows[0]["id"])
            facts = await notifications.load_event_facts(event_id)
            if notify:
                status = await _seat_or_waitlist(facts, registration, "invitation")
            elif await take_seat(event_id):
                status = "confirmed"
                await Registration.update({Registration.status: status}).where(Registration.id == registration["id"])
            elif event["waitlist"]:
                status = "waitlisted"
                await Registration.update({Registration.status: status, Registration.waitlisted_at: _now()}).where(
                    Registration.id == registration["id"]
                )
            else:
                raise Conflict(N_("This event is full."))
            await audit.record(
                actor,
                "registration.added",
                organisation_id=owner,
                target=f"registration:{registration['id']}",
                status=status,
                notified=notify,
            )
            registration = await _reload(registration["id"])
            position = await waitlist_position(registration)
            await webhooks.emit("registration.created", event_id, registration)
    except Exception as exc:
        if is_unique_violation(exc):  # another tab added the same person a moment earlier
            raise duplicate from None
        raise
    return RegistrationResult(
        id=registration["id"], status=status, manage_url=tokens.manage_url(registration), waitlist_position=position
    )


class CheckInResult(msgspec.Struct, kw_only=True):
    registration_id: int
    name: str
    company: str
    already: bool  # they had been checked in before: not an error, the page just says so


async def check_in_by_code(actor: Actor, event_id: int, code: str) -> CheckInResult:
    """Check in the person whose check-in code (typed or scanned) this is, for this event.

    A code that is not genuine is a 422; a genuine code of another event's registration, or of
    someone without a seat, a 409 that says so."""
    await require_door(actor, event_id)
    parsed = tokens.parse_check_in_code(code)
    invalid = InvalidInput(N_("This is not a valid check-in code."), field="code")
    if parsed is None:
        raise invalid
    registration_id, normalised = parsed
    async with write_transaction():
        registration = await Registration.select().where(Registration.id == registration_id).first()
        if registration is None or not tokens.check_in_code_matches(
            normalised, registration_id, registration["token_nonce"]
        ):
            raise invalid
        if registration["event"] != event_id:
            raise Conflict(N_("This check-in code is for another event."), field="code")
        if registration["status"] != "confirmed":
            raise Conflict(
                N_("%(name)s has no confirmed place (status: %(status)s)."),
                field="code",
                name=registration["name"],
                status=registration["status"],
            )
        already = registration["attendance"] == "attended"
        if not already:
            await Registration.update(
                {
                    Registration.attendance: "attended",
                    Registration.checked_in_at: _now(),
                    Registration.updated_at: _now(),
                }
            ).where(Registration.id == registration_id)
    return CheckInResult(
        registration_id=registration_id, name=registration["name"], company=registration["company"], already=already
    )


async def mark_no_shows(actor: Actor, event_id: int, now: datetime | None = None) -> int:
    """After the event: every confirmed person not checked in becomes a no-show. Returns how
    many; before the end it is a 409."""
    owner = await require_door(actor, event_id)
    async with write_transaction():
        event = await lock_event(event_id)
        if (now or _now()) < event["ends_at"]:
            raise Conflict(N_("No-shows can only be marked after the event has ended."))
        absent = await Registration.select(Registration.id).where(
            (Registration.event == event_id) & (Registration.status == "confirmed") & (Registration.attendance == "")
        )
        ids = [row["id"] for row in absent]
        if ids:
            await Registration.update(
                {Registration.attendance: "no_show", Registration.checked_in_at: None, Registration.updated_at: _now()}
            ).where(Registration.id.is_in(ids))
        await audit.record(
            actor, "event.no_shows_marked", organisation_id=owner, target=f"event:{event_id}", count=len(ids)
        )
    return len(ids)
