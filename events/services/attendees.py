"""Organisers' views of an event's people: the attendee list, its exports, and the mail log."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import msgspec

from events.db import write_transaction
from events.i18n import pick_translation, translate
from events.services import audit
from events.services.access import Actor
from events.services.errors import N_, Conflict, NotFound
from events.services.host_view import host_view, shown, viewers_of
from events.services.hosts import require_editor, require_host
from events.services.questions import QuestionView, list_questions
from events.settings import LANGUAGES
from events.tables import OutboxMessage, Registration

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Spreadsheets run a text cell that starts with = + - @ as a formula: prefix it with '."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class Attendee(msgspec.Struct):
    id: int
    name: str
    email: str
    phone: str
    company: str
    language: str
    status: str
    attendance: str
    created_at: datetime
    answers: dict[str, Any]
    # True when the viewer (a co-host without the person's consent) sees a pseudonym only.
    redacted: bool = False
    # A mail to this person gave up (failed after its retries, or refused for good) and has not
    # been sent again since: the organiser should check the address or phone them.
    mail_failed: bool = False


async def attendees(actor: Actor, event_id: int, *, query: str = "", status: str | None = None) -> list[Attendee]:
    """The event's registrations for its hosts, filtered by status and a search in name, email
    or company — as the viewer may see them (visibility.py): the search never finds what the
    viewer may not see."""
    view = await host_view(actor, event_id)
    select = Registration.select().where(Registration.event == event_id)
    if status:
        select = select.where(Registration.status == status)
    rows = await shown(view, await select.order_by(Registration.name).order_by(Registration.id))
    if not view.is_owner:
        # Ordered by what the viewer sees: the order of hidden names would say something of them.
        rows.sort(key=lambda r: (r["redacted"], r["name"].casefold() if not r["redacted"] else "", r["id"]))
    needle = query.strip().lower()
    failed = await _failed_mail_registrations(actor, event_id)
    return [
        Attendee(
            id=r["id"],
            name=r["name"],
            email=r["email"],
            phone=r["phone"],
            company=r["company"],
            language=r["language"],
            status=r["status"],
            attendance=r["attendance"],
            created_at=r["created_at"],
            answers=json.loads(r["answers"] or "{}"),
            redacted=r["redacted"],
            mail_failed=r["id"] in failed,
        )
        for r in rows
        if not needle or needle in f"{r['name']} {r['email']} {r['company']}".lower()
    ]


def _own_mail(actor: Actor) -> Any:
    """The mails an organiser may see: those of its own organisations. Participants' mails belong
    to the organisation that owns the event, so a co-host never sees their recipients."""
    return OutboxMessage.organisation.is_in(list(actor.roles) or [-1])


async def _failed_mail_registrations(actor: Actor, event_id: int) -> set[int]:
    """Registrations of the event with a failed mail, among the mails the actor may see (those
    of its own organisations, as in the mail log). A failed mail sent again is queued, then sent:
    it leaves this set by itself."""
    rows = await OutboxMessage.select(OutboxMessage.registration).where(
        (OutboxMessage.event == event_id)
        & (OutboxMessage.status == "failed")
        & OutboxMessage.registration.is_not_null()
        & _own_mail(actor)
    )
    return {r["registration"] for r in rows}


async def export_table(actor: Actor, event_id: int, language: str) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the attendee export, with one column per question; every text cell
    neutralised against formula injection. A co-host's export has no answer columns (answers
    stay with the owner) and contact details only of people who consented to it."""
    people = await attendees(actor, event_id)
    questions = await list_questions(event_id) if (await host_view(actor, event_id)).is_owner else []
    lang = language if language in LANGUAGES else "nl"
    header = ["id", "name", "email", "phone", "company", "language", "status", "attendance", "registered_at"]
    header += [q.label.get(lang) or next(iter(q.label.values()), str(q.id)) for q in questions]
    rows = []
    for person in people:
        answers = [person.answers.get(str(q.id), "") for q in questions]
        cells = [
            person.id,
            person.name,
            person.email,
            person.phone,
            person.company,
            person.language,
            person.status,
            person.attendance,
            person.created_at.astimezone(UTC).isoformat(),
        ]
        cells += [answer_text(question, answer, lang) for question, answer in zip(questions, answers, strict=True)]
        rows.append([neutralise(cell) for cell in cells])
    return [str(neutralise(h)) for h in header], rows


def answer_text(question: QuestionView, answer: Any, language: str) -> Any:
    """An answer as the organiser reads it: a choice as its option's wording in the export's
    language (not its internal key), yes/no in that language, other answers as given."""
    if answer is True or answer is False:
        return translate(N_("yes") if answer else N_("no"), language)
    wording = {
        option.get("key", ""): pick_translation({k: v for k, v in option.items() if k != "key" and v}, language)[0]
        for option in question.options
    }
    if isinstance(answer, list):
        # In the order the question lists its options, whatever order they were stored in.
        order = {key: index for index, key in enumerate(wording)}
        chosen = sorted((str(item) for item in answer), key=lambda key: order.get(key, len(order)))
        return ", ".join(wording.get(key) or key for key in chosen)
    if question.options and isinstance(answer, str):
        return wording.get(answer) or answer
    return answer


def to_xlsx(header: list[str], rows: list[list[Any]], title: str) -> bytes:
    """The same table as a real spreadsheet (openpyxl); cells are stored as values, never formulas."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = (title or "Attendees")[:31].translate(str.maketrans("", "", "[]:*?/\\")) or "Attendees"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text stays text, even if it looks like a formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class MailLogEntry(msgspec.Struct):
    id: int
    recipient: str
    subject: str
    kind: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    event: int | None


async def mail_log(
    actor: Actor, *, event_id: int | None = None, status: str | None = None, limit: int = 200
) -> list[MailLogEntry]:
    """Outbox messages of the actor's organisations (or of one event they host), newest first.

    Participants' mails belong to the organisation that owns the event: a co-host never sees
    their recipients here, not even through an event it co-hosts."""
    own = _own_mail(actor)
    if event_id is not None:
        await require_host(actor, event_id)
        select = OutboxMessage.select().where((OutboxMessage.event == event_id) & own)
    else:
        select = OutboxMessage.select().where(own)
    if status:
        select = select.where(OutboxMessage.status == status)
    rows = await select.order_by(OutboxMessage.id, ascending=False).limit(limit)
    return [
        MailLogEntry(
            id=r["id"],
            recipient=r["recipient"],
            subject=r["subject"],
            kind=r["kind"],
            status=r["status"],
            attempts=r["attempts"],
            last_error=r["last_error"],
            created_at=r["created_at"],
            sent_at=r["sent_at"],
            event=r["event"],
        )
        for r in rows
    ]


async def resend(actor: Actor, message_id: int, *, registration_id: int | None = None) -> None:
    """Queue a failed (or sent) message again, same Message-ID, attempts reset. With
    `registration_id`, only a message of that registration (404 otherwise)."""
    row = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
    if row is None or row["organisation"] not in actor.roles:
        raise NotFound()
    if registration_id is not None and row["registration"] != registration_id:
        raise NotFound()
    if row["event"] is not None:
        await require_editor(actor, row["event"])
    elif not actor.can_edit_for(row["organisation"]):
        raise NotFound()
    if row["status"] in ("queued", "sending"):
        raise Conflict(N_("This message is still on its way."))
    async with write_transaction():
        await OutboxMessage.update(
            {
                OutboxMessage.status: "queued",
                OutboxMessage.attempts: 0,
                OutboxMessage.next_attempt_at: datetime.now(UTC),
                OutboxMessage.last_error: "",
                OutboxMessage.lease_until: None,
            }
        ).where(OutboxMessage.id == message_id)
        await audit.record(actor, "mail.resent", organisation_id=row["organisation"], target=f"mail:{message_id}")


class EventHealth(msgspec.Struct):
    """What an organiser sees of an event on the dashboard."""

    event_id: int
    confirmed: int
    capacity: int | None
    waitlisted: int
    pending_approval: int
    failed_mails: int

    @property
    def overbooked(self) -> bool:
        return self.capacity is not None and self.confirmed > self.capacity

    @property
    def needs_attention(self) -> bool:
        return self.overbooked or self.pending_approval > 0 or self.failed_mails > 0

    @property
    def fill_percent(self) -> int | None:
        if not self.capacity:
            return None
        return min(100, round(100 * self.confirmed / self.capacity))


async def event_health(events: list[tuple[int, int | None]]) -> dict[int, EventHealth]:
    """Counts per event in two grouped queries, whatever the number of events."""
    ids = [event_id for event_id, _ in events] or [-1]
    placeholders = ", ".join("{}" for _ in ids)
    counts = await Registration.raw(
        f"SELECT event, status, COUNT(*) AS n FROM registration WHERE event IN ({placeholders}) "  # noqa: S608  # nosec B608
        "GROUP BY event, status",
        *ids,
    )
    failed = await OutboxMessage.raw(
        f"SELECT event, COUNT(*) AS n FROM outbox_message WHERE status = 'failed' AND event IN ({placeholders}) "  # noqa: S608  # nosec B608
        "GROUP BY event",
        *ids,
    )
    by_status: dict[tuple[int, str], int] = {(row["event"], row["status"]): int(row["n"]) for row in counts}
    failures = {row["event"]: int(row["n"]) for row in failed}
    return {
        event_id: EventHealth(
            event_id=event_id,
            capacity=capacity,
            confirmed=by_status.get((event_id, "confirmed"), 0),
            waitlisted=by_status.get((event_id, "waitlisted"), 0),
            pending_approval=by_status.get((event_id, "pending_approval"), 0),
            failed_mails=failures.get(event_id, 0),
        )
        for event_id, capacity in events
    }


async def recent_registrations(actor: Actor, limit: int = 10) -> list[dict[str, Any]]:
    """The latest registrations for events of the actor's organisations (owned or co-hosted)."""
    from events.services.events import EventFilters, list_events

    page = await list_events(EventFilters(), organisation_ids=list(actor.roles), include_drafts=True, page_size=200)
    titles = {event.id: event.title for event in page.items}
    rows = (
        await Registration.select(
            Registration.id, Registration.event, Registration.name, Registration.status, Registration.created_at
        )
        .where(Registration.event.is_in(list(titles) or [-1]))
        .order_by(Registration.id, ascending=False)
        .limit(limit)
    )
    return [{**row, "title": titles[row["event"]]} for row in await _shown_across_events(actor, rows)]


async def _shown_across_events(actor: Actor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registration rows of several events, each as the actor may see it for its event (the
    actor may own one event and only co-host another): three queries whatever the number."""
    from events.services.visibility import consented_organisations, seen_by
    from events.tables import Event, EventHost

    event_ids = list({row["event"] for row in rows}) or [-1]
    owners = {
        r["id"]: r["organisation"]
        for r in await Event.select(Event.id, Event.organisation).where(Event.id.is_in(event_ids))
    }
    co_hosts: dict[int, list[int]] = {}
    for r in await EventHost.select(EventHost.event, EventHost.organisation).where(EventHost.event.is_in(event_ids)):
        co_hosts.setdefault(r["event"], []).append(r["organisation"])
    viewers = {event_id: viewers_of(actor, owner, co_hosts.get(event_id, [])) for event_id, owner in owners.items()}
    hidden = [row["id"] for row in rows if owners.get(row["event"]) not in viewers.get(row["event"], frozenset())]
    consented = await consented_organisations(hidden)
    return [
        seen_by(
            row, viewers.get(row["event"], frozenset()), owners.get(row["event"], -1), consented.get(row["id"], set())
        )
        for row in rows
    ]


# One person, as the back office shows them -----------------------------------------------------


class AnswerLine(msgspec.Struct):
    question: dict[str, str]  # label per language
    answer: str


class ConsentLine(msgspec.Struct):
    text: dict[str, str]  # the purpose's wording per language
    action: str  # given | withdrawn
    version: int
    source: str
    at: datetime


class HistoryLine(msgspec.Struct):
    what: str  # registered | waitlisted | promoted | checked_in | cancelled
    at: datetime


class PersonMail(msgspec.Struct):
    id: int
    kind: str
    subject: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None


class PersonView(msgspec.Struct, kw_only=True):
    id: int
    event_id: int
    name: str
    email: str
    phone: str
    company: str
    language: str
    status: str
    attendance: str
    source: str
    answers: list[AnswerLine]
    consents: list[ConsentLine]
    history: list[HistoryLine]
    mails: list[PersonMail]
    # A co-host without the person's consent: a pseudonym, no contact details, no answers.
    redacted: bool = False
    answers_hidden: bool = False


async def person(actor: Actor, registration_id: int, language: str = "nl") -> PersonView:
    """A registration with its answers, consent ledger, the moments its row records, and every
    mail queued for it; any host of its event may look (404 for everyone else). A co-host sees
    what visibility.py allows: no answers, contact details only with the person's consent, and
    only the mails its own organisations sent."""
    from events.tables import Consent, ConsentPurpose

    found = await Registration.select().where(Registration.id == registration_id).first()
    if found is None:
        raise NotFound()
    view = await host_view(actor, found["event"])
    row = (await shown(view, [found]))[0]
    answers = json.loads(row["answers"] or "{}") if view.is_owner else {}
    questions = {str(q.id): q for q in await list_questions(row["event"])}
    lines = [
        AnswerLine(
            question=questions[key].label if key in questions else {"en": key},
            answer=str(answer_text(questions[key], value, language) if key in questions else value),
        )
        for key, value in answers.items()
        if value not in ("", None, [])
    ]
    ledger = await Consent.select().where(Consent.registration == registration_id).order_by(Consent.id)
    purposes = {
        p["id"]: p
        for p in await ConsentPurpose.select().where(
            ConsentPurpose.id.is_in([entry["purpose"] for entry in ledger] or [-1])
        )
    }
    consent_lines = [
        ConsentLine(
            text={
                lang: purposes[c["purpose"]][f"text_{lang}"]
                for lang in LANGUAGES
                if purposes[c["purpose"]][f"text_{lang}"]
            },
            action=c["action"],
            version=c["wording_version"],
            source=c["source"],
            at=c["created_at"],
        )
        for c in ledger
        if c["purpose"] in purposes
    ]
    moments = [
        ("registered", row["created_at"]),
        ("waitlisted", row["waitlisted_at"]),
        ("promoted", row["promoted_at"]),
        ("checked_in", row["checked_in_at"]),
        ("cancelled", row["cancelled_at"]),
    ]
    history = sorted((HistoryLine(what=what, at=at) for what, at in moments if at is not None), key=lambda h: h.at)
    mails = (
        await OutboxMessage.select()
        .where(
            (OutboxMessage.registration == registration_id)
            & OutboxMessage.organisation.is_in(list(view.viewers) or [-1])
        )
        .order_by(OutboxMessage.id, ascending=False)
    )
    return PersonView(
        id=row["id"],
        event_id=row["event"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        company=row["company"],
        language=row["language"],
        status=row["status"],
        attendance=row["attendance"],
        source=row["source"],
        redacted=row["redacted"],
        answers_hidden=not view.is_owner,
        answers=lines,
        consents=consent_lines,
        history=history,
        mails=[
            PersonMail(
                id=m["id"],
                kind=m["kind"],
                subject=m["subject"],
                status=m["status"],
                attempts=m["attempts"],
                last_error=m["last_error"],
                created_at=m["created_at"],
                sent_at=m["sent_at"],
            )
            for m in mails
        ],
    )


async def attendance_sheet(actor: Actor, event_id: int) -> list[Attendee]:
    """Confirmed people sorted by name (case-insensitively), for the sheet they sign."""
    people = await attendees(actor, event_id, status="confirmed")
    return sorted(people, key=lambda p: (p.name.casefold(), p.id))
