"""A participant's data: the /privacy link, the export, and erasure (GDPR articles 15, 17).

- A request at /privacy mails a link (256 random bits, only its SHA-256 stored, valid 24 hours)
  when, and only when, Trefpunt holds something for that address; the page answers the same
  either way.
- The export is everything held for that address across organisations, and nothing of anyone
  else: a meeting partner appears as a meeting, never by name.
- Erasure cancels what is still active the usual way (the seat goes to the waitlist, the advisor
  and meeting partners are told, the erased person gets no mail), then anonymises: the rows stay
  with their status, attendance, language and times, so statistics keep their counts. The same
  anonymising core serves retention (events/services/retention.py).
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from piccolo.engine.postgres import PostgresEngine

from events.db import engine, write_transaction
from events.mail.outbox import OutgoingMail, enqueue
from events.mail.render import render_mail
from events.services import audit, registrations, tokens
from events.services.access import Actor
from events.services.attendees import answer_text
from events.services.errors import N_, Conflict, DomainError, NotFound
from events.services.hosts import require_editor
from events.services.organisers import normalise_email
from events.services.questions import list_questions
from events.services.visibility import pseudonym
from events.settings import LANGUAGES, get_settings
from events.tables import (
    Advisor,
    AuditLog,
    Consent,
    ConsentPurpose,
    Event,
    Meeting,
    MeetingSlot,
    MeetingTable,
    NetworkProfile,
    Organisation,
    OutboxMessage,
    PrivacyRequest,
    Registration,
    Slot,
    Webhook,
    WebhookDelivery,
)

LINK_VALIDITY = timedelta(hours=24)
# At most this many links an hour for one address: a mailbox cannot be flooded through /privacy.
LINKS_PER_EMAIL_PER_HOUR = 3
ERASED_DOMAIN = "invalid"  # RFC 2606: never delivered


class LinkExpired(DomainError):
    status_code = 410

    def __init__(self) -> None:
        super().__init__(N_("This link has expired. Ask for a new one at /privacy."))


def _now() -> datetime:
    return datetime.now(UTC)


def erased_address(registration_id: int) -> str:
    """The address an anonymised person's rows carry: unique per person (their first
    registration's id), so the one-active-registration-per-email index holds and statistics
    still count them as one person."""
    return f"erased-{registration_id}@{ERASED_DOMAIN}"


# The request and its link ------------------------------------------------------------------------


async def holds_data(email_key: str) -> bool:
    """Whether Trefpunt holds anything for this address: registrations, consents or mails."""
    if await Registration.exists().where(Registration.email_key == email_key):
        return True
    if await Consent.exists().where(Consent.email_key == email_key):
        return True
    rows = await OutboxMessage.raw("SELECT id FROM outbox_message WHERE lower(recipient) = {} LIMIT 1", email_key)
    return bool(rows)


async def request_link(email: str, language: str, *, now: datetime | None = None) -> None:
    """Mail a link to the address's data when Trefpunt holds some; otherwise do nothing. The
    caller answers the same in both cases. An invalid address is an InvalidInput."""
    email_key = normalise_email(email)
    language = language if language in LANGUAGES else "nl"
    now = now or _now()
    if not await holds_data(email_key):
        return
    async with write_transaction():
        recent = await PrivacyRequest.count().where(
            (PrivacyRequest.email_key == email_key) & (PrivacyRequest.created_at > now - timedelta(hours=1))
        )
        if recent >= LINKS_PER_EMAIL_PER_HOUR:
            return
        token = secrets.token_urlsafe(32)  # 256 bits, 43 characters
        rows = await PrivacyRequest.insert(
            PrivacyRequest(
                email_key=email_key,
                token_hash=tokens.token_hash(token),
                language=language,
                created_at=now,
                expires_at=now + LINK_VALIDITY,
            )
        )
        link = f"{get_settings().base_url}/privacy/{token}"
        rendered = render_mail(
            "privacy_link",
            language,
            link=link,
            expires_at=now + LINK_VALIDITY,
            timezone="Europe/Brussels",
            organisation_name="Trefpunt",
            colour="#1d5c7a",
        )
        await enqueue(
            OutgoingMail(
                dedupe_key=f"privacy:{rows[0]['id']}",
                kind="privacy_link",
                recipient=email.strip(),
                recipient_name="",
                language=language,
                subject=rendered.subject,
                text_body=rendered.text,
                html_body=rendered.html,
                sender_name="Trefpunt",
                reply_to="",
            )
        )


class PrivacyRequestView(msgspec.Struct, kw_only=True):
    id: int
    email_key: str
    language: str
    created_at: datetime
    expires_at: datetime
    erased: bool


async def by_token(token: str, *, now: datetime | None = None) -> PrivacyRequestView:
    """The request a link stands for: 404 when unknown, 410 when expired."""
    if not tokens.looks_like_token(token):
        raise NotFound()
    row = await PrivacyRequest.select().where(PrivacyRequest.token_hash == tokens.token_hash(token)).first()
    if row is None:
        raise NotFound()
    if (now or _now()) >= row["expires_at"]:
        raise LinkExpired()
    return PrivacyRequestView(
        id=row["id"],
        email_key=row["email_key"],
        language=row["language"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        erased=row["erased_at"] is not None,
    )


async def peek_language(token: str) -> str | None:
    """The language a link was asked in (also for an expired link), to answer in it."""
    if not tokens.looks_like_token(token):
        return None
    row = (
        await PrivacyRequest.select(PrivacyRequest.language)
        .where(PrivacyRequest.token_hash == tokens.token_hash(token))
        .first()
    )
    return str(row["language"]) if row else None


# The export -----------------------------------------------------------------------------------


def _texts(row: dict[str, Any], prefix: str) -> dict[str, str]:
    return {lang: row[f"{prefix}_{lang}"] for lang in LANGUAGES if row.get(f"{prefix}_{lang}")}


async def export_data(email_key: str, *, language: str = "en", now: datetime | None = None) -> dict[str, Any]:
    """Everything Trefpunt holds for one address, across organisations, as plain JSON values."""
    now = now or _now()
    regs = (
        await Registration.select()
        .where(Registration.email_key == email_key)
        .order_by(Registration.created_at)
        .order_by(Registration.id)
    )
    event_ids = sorted({r["event"] for r in regs})
    events = {e["id"]: e for e in await Event.select().where(Event.id.is_in(event_ids or [-1]))}
    consents = await Consent.select().where(Consent.email_key == email_key).order_by(Consent.id)
    org_ids = {e["organisation"] for e in events.values()} | {c["organisation"] for c in consents}
    orgs = {o["id"]: o for o in await Organisation.select().where(Organisation.id.is_in(sorted(org_ids) or [-1]))}

    def organisation(org_id: int) -> dict[str, Any]:
        org = orgs[org_id]
        return {"slug": org["slug"], "name": _texts(org, "name"), "email": org["email"]}

    def event(event_id: int) -> dict[str, Any]:
        row = events[event_id]
        return {
            "id": row["id"],
            "kind": row["kind"],
            "title": _texts(row, "title"),
            "starts_at": row["starts_at"],
            "ends_at": row["ends_at"],
            "timezone": row["timezone"],
            "organisation": organisation(row["organisation"]),
        }

    questions = {event_id: {str(q.id): q for q in await list_questions(event_id)} for event_id in event_ids}
    registrations_out = []
    for r in regs:
        answers = json.loads(r["answers"] or "{}")
        asked = questions.get(r["event"], {})
        registrations_out.append(
            {
                "id": r["id"],
                "event": event(r["event"]),
                "status": r["status"],
                "attendance": r["attendance"],
                "name": r["name"],
                "email": r["email"],
                "phone": r["phone"],
                "company": r["company"],
                "language": r["language"],
                "source": r["source"],
                "answers": [
                    {
                        "question": asked[key].label if key in asked else {},
                        "answer": value,
                        "answer_text": answer_text(asked[key], value, language) if key in asked else value,
                    }
                    for key, value in answers.items()
                ],
                "created_at": r["created_at"],
                "updated_at": r["updated_at"],
                "waitlisted_at": r["waitlisted_at"],
                "promoted_at": r["promoted_at"],
                "checked_in_at": r["checked_in_at"],
                "cancelled_at": r["cancelled_at"],
            }
        )

    purposes = {
        p["id"]: p
        for p in await ConsentPurpose.select().where(
            ConsentPurpose.id.is_in(sorted({c["purpose"] for c in consents}) or [-1])
        )
    }
    consents_out = [
        {
            "registration_id": c["registration"],
            "organisation": organisation(c["organisation"]),
            "purpose": purposes[c["purpose"]]["key"] if c["purpose"] in purposes else None,
            "purpose_text": _texts(purposes[c["purpose"]], "text") if c["purpose"] in purposes else {},
            "wording_version": c["wording_version"],
            "action": c["action"],
            "source": c["source"],
            "at": c["created_at"],
        }
        for c in consents
    ]

    booked = [r for r in regs if r["slot"] is not None]
    slots = {s["id"]: s for s in await Slot.select().where(Slot.id.is_in([r["slot"] for r in booked] or [-1]))}
    advisors = {
        a["id"]: a
        for a in await Advisor.select(Advisor.id, Advisor.name).where(
            Advisor.id.is_in(sorted({s["advisor"] for s in slots.values()}) or [-1])
        )
    }
    bookings_out = [
        {
            "registration_id": r["id"],
            "event": event(r["event"]),
            "status": r["status"],
            "starts_at": slots[r["slot"]]["starts_at"],
            "ends_at": slots[r["slot"]]["ends_at"],
            "advisor": advisors[slots[r["slot"]]["advisor"]]["name"] if slots[r["slot"]]["advisor"] in advisors else "",
        }
        for r in booked
        if r["slot"] in slots
    ]

    profiles = await NetworkProfile.select().where(NetworkProfile.registration.is_in([r["id"] for r in regs] or [-1]))
    profiles_out = [
        {
            "registration_id": p["registration"],
            "event_id": p["event"],
            "listed_in_directory": p["opt_in"],
            "display_name": p["display_name"],
            "company": p["company"],
            "sector": p["sector"],
            "about": p["about"],
            "offers": [t for t in p["offers"].split(",") if t],
            "looking_for": [t for t in p["looking_for"].split(",") if t],
            "languages": [t for t in p["languages"].split(",") if t],
            "link": p["link"],
            "updated_at": p["updated_at"],
        }
        for p in profiles
    ]
    mine = {p["id"] for p in profiles}
    meetings = (
        await Meeting.select()
        .where(Meeting.requester.is_in(sorted(mine) or [-1]) | Meeting.invitee.is_in(sorted(mine) or [-1]))
        .order_by(Meeting.id)
    )
    meeting_slots = {
        s["id"]: s
        for s in await MeetingSlot.select().where(MeetingSlot.id.is_in([m["slot"] for m in meetings] or [-1]))
    }
    tables = {
        t["id"]: t["name"]
        for t in await MeetingTable.select(MeetingTable.id, MeetingTable.name).where(
            MeetingTable.id.is_in([m["meeting_table"] for m in meetings if m["meeting_table"]] or [-1])
        )
    }
    # The partner is someone else: their name and details are theirs, not part of this export.
    meetings_out = [
        {
            "id": m["id"],
            "event_id": m["event"],
            "direction": "sent" if m["requester"] in mine else "received",
            "status": m["status"],
            "starts_at": meeting_slots[m["slot"]]["starts_at"] if m["slot"] in meeting_slots else None,
            "ends_at": meeting_slots[m["slot"]]["ends_at"] if m["slot"] in meeting_slots else None,
            "table": tables.get(m["meeting_table"]),
            "created_at": m["created_at"],
        }
        for m in meetings
    ]

    mails = await OutboxMessage.raw(
        "SELECT kind, subject, status, created_at, sent_at FROM outbox_message WHERE lower(recipient) = {} ORDER BY id",
        email_key,
    )
    mails_out = [
        {
            "kind": m["kind"],
            "subject": m["subject"],
            "status": m["status"],
            "queued_at": _aware(m["created_at"]),
            "sent_at": _aware(m["sent_at"]) if m["sent_at"] else None,
        }
        for m in mails
    ]
    requests = await PrivacyRequest.select().where(PrivacyRequest.email_key == email_key).order_by(PrivacyRequest.id)
    requests_out = [
        {
            "created_at": p["created_at"],
            "expires_at": p["expires_at"],
            "exported_at": p["exported_at"],
            "erased_at": p["erased_at"],
            "language": p["language"],
        }
        for p in requests
    ]
    return {
        "email": email_key,
        "generated_at": now,
        "registrations": registrations_out,
        "consents": consents_out,
        "bookings": bookings_out,
        "networking_profiles": profiles_out,
        "meetings": meetings_out,
        "mails": mails_out,
        "privacy_requests": requests_out,
    }


def _aware(value: Any) -> datetime:
    """A raw query's timestamp: SQLite hands back text, PostgreSQL a datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def export_by_token(token: str, *, now: datetime | None = None) -> bytes:
    """The JSON download behind a link; records when it was downloaded."""
    now = now or _now()
    request = await by_token(token, now=now)
    if request.erased:
        raise LinkExpired()
    data = await export_data(request.email_key, language=request.language, now=now)
    async with write_transaction():
        await PrivacyRequest.update({PrivacyRequest.exported_at: now}).where(PrivacyRequest.id == request.id)
    return msgspec.json.format(msgspec.json.encode(data), indent=2)


# Anonymising -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    """One person's values to find in free text, and what replaces them."""

    address: str
    label: str
    emails: tuple[str, ...]
    words: tuple[str, ...]  # names, phones, companies: replaced only as whole words


def _variants(value: str) -> set[str]:
    """A value as mail bodies, invites and JSON store it."""
    ics = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return {
        value,
        html.escape(value, quote=True),
        html.escape(value, quote=False).replace("'", "&#39;").replace('"', "&#34;"),
        ics,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


def _patterns(person: _Person) -> list[tuple[re.Pattern[str], str]]:
    found: list[tuple[re.Pattern[str], str]] = []
    for email in person.emails:
        for variant in sorted(_variants(email), key=len, reverse=True):
            found.append((re.compile(re.escape(variant), re.IGNORECASE), person.address))
    for word in person.words:
        for variant in sorted(_variants(word), key=len, reverse=True):
            found.append((re.compile(r"(?<!\w)" + re.escape(variant) + r"(?!\w)"), person.label))
    return found


def scrub_text(text: str, patterns: Sequence[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in patterns:
        text = pattern.sub(lambda _match, value=replacement: value, text)  # type: ignore[misc]
    return text


def _fold(line: str) -> str:
    """RFC 5545 folding: lines of at most 75 octets, never inside a UTF-8 character."""
    if len(line.encode()) <= 75:
        return line
    parts: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode())
        if size + width > (75 if not parts else 74):
            parts.append(current)
            current, size = "", 0
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def scrub_ics(ics: str, patterns: Sequence[tuple[re.Pattern[str], str]]) -> str:
    if not ics:
        return ics
    unfolded = re.sub(r"\r?\n[ \t]", "", ics)
    scrubbed = scrub_text(unfolded, patterns)
    if scrubbed == unfolded:
        return ics
    return "\r\n".join(_fold(line) for line in scrubbed.split("\r\n"))


def _like_any(column: Any, needles: Iterable[str]) -> Any:
    """column contains any of the needles, ignoring case (SQLite's LIKE already does, for ASCII)."""
    postgres = isinstance(engine(), PostgresEngine)
    condition = None
    for needle in needles:
        clause = column.ilike(f"%{needle}%") if postgres else column.like(f"%{needle}%")
        condition = clause if condition is None else condition | clause
    return condition


def _needles(people: Sequence[_Person]) -> list[str]:
    return sorted({n for p in people for n in (*p.emails, *p.words) if n})


async def _scrub_others(
    people: Sequence[_Person], event_ids: Sequence[int], organisation_ids: Sequence[int], own_ids: set[int]
) -> None:
    """Mentions of these people in rows that belong to someone else: mails to advisors and
    meeting partners of the same events, the audit log and webhook payloads of the
    organisations. The rows stay; the values become the pseudonym and the erased address."""
    needles = _needles(people)
    if not needles:
        return
    patterns = [pattern for person in people for pattern in _patterns(person)]
    for chunk in _chunks(needles, 40):
        text_match = (
            _like_any(OutboxMessage.text_body, chunk)
            | _like_any(OutboxMessage.html_body, chunk)
            | _like_any(OutboxMessage.subject, chunk)
            | _like_any(OutboxMessage.recipient_name, chunk)
            | _like_any(OutboxMessage.ics, chunk)
        )
        rows = await OutboxMessage.select(
            OutboxMessage.id,
            OutboxMessage.subject,
            OutboxMessage.recipient_name,
            OutboxMessage.text_body,
            OutboxMessage.html_body,
            OutboxMessage.ics,
        ).where(OutboxMessage.event.is_in(list(event_ids) or [-1]) & text_match)
        for row in rows:
            if row["id"] in own_ids:
                continue
            changes = {
                OutboxMessage.subject: scrub_text(row["subject"], patterns),
                OutboxMessage.recipient_name: scrub_text(row["recipient_name"], patterns),
                OutboxMessage.text_body: scrub_text(row["text_body"], patterns),
                OutboxMessage.html_body: scrub_text(row["html_body"], patterns),
                OutboxMessage.ics: scrub_ics(row["ics"], patterns),
            }
            await OutboxMessage.update(changes).where(OutboxMessage.id == row["id"])  # type: ignore[arg-type]
        audits = await AuditLog.select(AuditLog.id, AuditLog.detail).where(
            (AuditLog.organisation.is_in(list(organisation_ids) or [-1]) | AuditLog.organisation.is_null())
            & _like_any(AuditLog.detail, chunk)
        )
        for row in audits:
            await AuditLog.update({AuditLog.detail: scrub_text(row["detail"], patterns)}).where(
                AuditLog.id == row["id"]
            )
        hooks = Webhook.select(Webhook.id).where(Webhook.organisation.is_in(list(organisation_ids) or [-1]))
        deliveries = await WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.payload).where(
            WebhookDelivery.webhook.is_in(hooks) & _like_any(WebhookDelivery.payload, chunk)
        )
        for row in deliveries:
            await WebhookDelivery.update({WebhookDelivery.payload: scrub_text(row["payload"], patterns)}).where(
                WebhookDelivery.id == row["id"]
            )


def _chunks(values: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def anonymise(
    rows: Sequence[dict[str, Any]], *, now: datetime, known_words: dict[int, set[str]] | None = None
) -> int:
    """Anonymise these registrations inside the caller's transaction: the person's details,
    answers, tokens, consents' address, networking profile, the mails to them (emptied; one not
    yet sent is not sent any more) and their mentions in others' mails, the audit log and
    webhook payloads. Rows keep status, attendance, language and times. Returns how many.

    `known_words`: more values per registration id to look for in others' rows (a networking
    display name the caller has already replaced)."""
    rows = [r for r in rows if r["anonymised_at"] is None]
    if not rows:
        return 0
    by_person: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_person.setdefault(row["email_key"], []).append(row)
    event_rows = await Event.select(Event.id, Event.organisation).where(
        Event.id.is_in(sorted({r["event"] for r in rows}))
    )
    events = {e["id"]: e["organisation"] for e in event_rows}
    people: list[_Person] = []
    own_mail: set[int] = set()
    for email_key, group in by_person.items():
        first = min(r["id"] for r in group)
        address = erased_address(first)
        ids = [r["id"] for r in group]
        profiles = await NetworkProfile.select(NetworkProfile.display_name, NetworkProfile.company).where(
            NetworkProfile.registration.is_in(ids)
        )
        words = {r["name"] for r in group} | {r["phone"] for r in group} | {r["company"] for r in group}
        words |= {p["display_name"] for p in profiles} | {p["company"] for p in profiles}
        for registration_id in ids:
            words |= (known_words or {}).get(registration_id, set())
        people.append(
            _Person(
                address=address,
                label=pseudonym(first),
                emails=tuple(sorted({email_key, *(r["email"] for r in group)} - {""})),
                words=tuple(sorted({w.strip() for w in words if len(w.strip()) >= 2})),
            )
        )
        for registration in group:
            nonce, feed_nonce = tokens.new_nonce(), tokens.new_nonce()
            await Registration.update(
                {
                    Registration.name: "",
                    Registration.email: address,
                    Registration.email_key: address,
                    Registration.phone: "",
                    Registration.company: "",
                    Registration.answers: "{}",
                    Registration.token_nonce: nonce,
                    Registration.feed_token_nonce: feed_nonce,
                    Registration.manage_token_hash: None,
                    Registration.feed_token_hash: None,
                    Registration.anonymised_at: now,
                    Registration.updated_at: now,
                }
            ).where(Registration.id == registration["id"])
        await Consent.update({Consent.email_key: address}).where(Consent.registration.is_in(ids))
        await NetworkProfile.update(
            {
                NetworkProfile.email_key: address,
                NetworkProfile.opt_in: False,
                NetworkProfile.display_name: "",
                NetworkProfile.company: "",
                NetworkProfile.sector: "",
                NetworkProfile.about: "",
                NetworkProfile.offers: "",
                NetworkProfile.looking_for: "",
                NetworkProfile.languages: "",
                NetworkProfile.link: "",
                NetworkProfile.updated_at: now,
            }
        ).where(NetworkProfile.registration.is_in(ids))
        # Mails to the person (mails about them to an advisor or a partner are scrubbed below).
        emails = {e.lower() for e in (email_key, *(r["email"] for r in group))}
        candidates = await OutboxMessage.select(OutboxMessage.id, OutboxMessage.recipient).where(
            OutboxMessage.registration.is_in(ids)
        )
        mine = sorted({m["id"] for m in candidates if m["recipient"].lower() in emails})
        own_mail.update(mine)
        await empty_mails(mine, address)
    await _scrub_others(people, sorted(events), sorted(set(events.values())), own_mail)
    return len(rows)


async def empty_mails(message_ids: Sequence[int], address: str) -> None:
    """Mails to an erased person keep their kind, dates and status, nothing else; one not yet
    sent is not sent any more."""
    if not message_ids:
        return
    ids = list(message_ids)
    await OutboxMessage.update(
        {
            OutboxMessage.recipient: address,
            OutboxMessage.recipient_name: "",
            OutboxMessage.subject: "",
            OutboxMessage.text_body: "",
            OutboxMessage.html_body: "",
            OutboxMessage.ics: "",
        }
    ).where(OutboxMessage.id.is_in(ids))
    await OutboxMessage.update(
        {
            OutboxMessage.status: "failed",
            OutboxMessage.last_error: "erased before it was sent",
            OutboxMessage.lease_until: None,
        }
    ).where(OutboxMessage.id.is_in(ids) & OutboxMessage.status.is_in(["queued", "sending"]))


# Erasure ---------------------------------------------------------------------------------------


class ErasureResult(msgspec.Struct, kw_only=True):
    registrations: int
    cancelled: int
    promoted: int


async def _last_outbox_id() -> int:
    row = await OutboxMessage.select(OutboxMessage.id).order_by(OutboxMessage.id, ascending=False).first()
    return int(row["id"]) if row else 0


async def _erase(
    registration_ids: list[int], *, now: datetime, actor: Actor, everything_of: str | None = None
) -> ErasureResult:
    """One transaction: cancel what is still active the usual way, without a mail to the person,
    then anonymise. `everything_of`: the address whose every trace goes (the participant's own
    request), also consents and mails that belong to no registration, and privacy requests."""
    async with write_transaction():
        rows = (
            await Registration.select()
            .where(Registration.id.is_in(registration_ids or [-1]) & Registration.anonymised_at.is_null())
            .order_by(Registration.id)
        )
        ids = [r["id"] for r in rows]
        event_ids = sorted({r["event"] for r in rows})
        for event_id in event_ids:  # in id order: two erasures never wait on each other in a circle
            await registrations.lock_event(event_id)
        events = {e["id"]: e for e in await Event.select().where(Event.id.is_in(event_ids or [-1]))}
        mark = await _last_outbox_id()
        waiting = {
            r["id"]
            for r in await Registration.select(Registration.id).where(
                Registration.event.is_in(event_ids or [-1]) & (Registration.status == "waitlisted")
            )
        } - set(ids)
        # Partners are told about cancelled meetings under the pseudonym, not the person's name.
        known: dict[int, set[str]] = {}
        for profile in await NetworkProfile.select().where(NetworkProfile.registration.is_in(ids or [-1])):
            known[profile["registration"]] = {profile["display_name"], profile["company"]}
            await NetworkProfile.update(
                {NetworkProfile.display_name: pseudonym(profile["registration"]), NetworkProfile.company: ""}
            ).where(NetworkProfile.id == profile["id"])
        cancelled = 0
        for r in rows:
            event = events[r["event"]]
            if r["status"] in registrations.ACTIVE and event["status"] == "published" and event["ends_at"] > now:
                fresh = await Registration.select().where(Registration.id == r["id"]).first()
                assert fresh is not None
                # The advisor's cancellation shows the pseudonym, and no intake answers.
                await registrations.cancel_within_transaction(
                    {**fresh, "name": pseudonym(r["id"]), "company": "", "answers": "{}"}
                )
                cancelled += 1
        # The cancellation mails meant for the erased person are not sent.
        emails = {e.lower() for r in rows for e in (r["email"], r["email_key"])}
        queued = await OutboxMessage.select(OutboxMessage.id, OutboxMessage.recipient).where(
            (OutboxMessage.id > mark) & OutboxMessage.registration.is_in(ids or [-1])
        )
        dropped = [m["id"] for m in queued if m["recipient"].lower() in emails]
        if dropped:
            await OutboxMessage.delete().where(OutboxMessage.id.is_in(dropped))
        promoted = await Registration.count().where(
            Registration.id.is_in(sorted(waiting) or [-1]) & (Registration.status == "confirmed")
        )
        rows = await Registration.select().where(Registration.id.is_in(ids or [-1])).order_by(Registration.id)
        count = await anonymise(rows, now=now, known_words=known)
        if everything_of is not None:
            address = erased_address(min(ids)) if ids else f"erased@{ERASED_DOMAIN}"
            await Consent.update({Consent.email_key: address}).where(Consent.email_key == everything_of)
            await PrivacyRequest.update({PrivacyRequest.email_key: address, PrivacyRequest.erased_at: now}).where(
                PrivacyRequest.email_key == everything_of
            )
            # Mails to the address that belong to no registration, such as the /privacy links.
            leftovers = await OutboxMessage.raw(
                "SELECT id FROM outbox_message WHERE lower(recipient) = {}", everything_of
            )
            await empty_mails([m["id"] for m in leftovers], address)
        # The audit log says that, when and by whom; never whose data it was.
        for organisation_id in sorted({e["organisation"] for e in events.values()}):
            erased_here = [r["id"] for r in rows if events[r["event"]]["organisation"] == organisation_id]
            await audit.record(
                actor,
                "person.erased",
                organisation_id=organisation_id,
                target=f"registration:{min(erased_here)}",
                registrations=len(erased_here),
                cancelled=cancelled,
                requested_through="privacy_link" if everything_of is not None else "organiser",
            )
    return ErasureResult(registrations=count, cancelled=cancelled, promoted=int(promoted))


# A participant acting through their /privacy link, as the audit log names them.
PARTICIPANT = Actor(kind="participant", id=0)


async def erase_by_token(token: str, *, now: datetime | None = None) -> ErasureResult:
    """The participant's own request: everything for their address, in every organisation."""
    now = now or _now()
    request = await by_token(token, now=now)
    if request.erased:
        return ErasureResult(registrations=0, cancelled=0, promoted=0)
    ids = [
        r["id"] for r in await Registration.select(Registration.id).where(Registration.email_key == request.email_key)
    ]
    return await _erase(ids, now=now, actor=PARTICIPANT, everything_of=request.email_key)


class ErasurePreview(msgspec.Struct, kw_only=True):
    registration_id: int
    event_id: int
    organisation_id: int
    name: str
    email: str
    registrations: list[dict[str, Any]]
    anonymised: bool


async def organiser_erasure_preview(actor: Actor, registration_id: int) -> ErasurePreview:
    """What an organiser's erasure of this person would cover: their registrations at the
    events of the organisation that owns this one (owners and editors; co-hosts 403, others
    404)."""
    row = await Registration.select().where(Registration.id == registration_id).first()
    if row is None:
        raise NotFound()
    owner = await require_editor(actor, row["event"])
    scope = []
    if row["anonymised_at"] is None:
        owned = Event.select(Event.id).where(Event.organisation == owner)
        scope = (
            await Registration.select(
                Registration.id,
                Registration.status,
                Registration.event,
                Registration.event.title_nl,
                Registration.event.title_fr,
                Registration.event.title_en,
                Registration.event.starts_at,
                Registration.event.timezone,
            )
            .where(
                (Registration.email_key == row["email_key"])
                & Registration.event.is_in(owned)
                & Registration.anonymised_at.is_null()
            )
            .order_by(Registration.id)
        )
    return ErasurePreview(
        registration_id=registration_id,
        event_id=row["event"],
        organisation_id=owner,
        name=row["name"],
        email=row["email"],
        registrations=[
            {
                "id": r["id"],
                "status": r["status"],
                "event_id": r["event"],
                "title": {lang: r[f"event.title_{lang}"] for lang in LANGUAGES if r.get(f"event.title_{lang}")},
                "starts_at": r["event.starts_at"],
                "timezone": r["event.timezone"],
            }
            for r in scope
        ],
        anonymised=row["anonymised_at"] is not None,
    )


async def erase_by_organiser(actor: Actor, registration_id: int, *, now: datetime | None = None) -> ErasureResult:
    """An organiser erases a person on their request: that address's data at the events of the
    organisation that owns this registration's event, nowhere else."""
    preview = await organiser_erasure_preview(actor, registration_id)
    if preview.anonymised:
        raise Conflict(N_("This person's data has already been erased."))
    return await _erase([r["id"] for r in preview.registrations], now=now or _now(), actor=actor)
