"""Every mail of the registration lifecycle, through a real SMTP server and real calendar parsers.

Each scenario has three participants, one per language (nl, fr, en). The outbox is drained with
`drain_once(WorkerConfig(settings=replace(get_settings(), smtp_url=…)))` into aiosmtpd on loopback
(the mail tests' `smtp` fixture). Then: every message arrives once; the mail the scenario is about
arrives once per participant, with the subject in their language (the three differ, title aside);
every invite passes ical.js (Thunderbird) and libical's iTIP `restriction_check()`; updates and
cancellations carry a higher SEQUENCE than the invite they replace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from tests.calendar.parsers import parse_with_icaljs, parse_with_libical, prefetch
from tests.integration.helpers import future
from tests.registrations.helpers import domain, event_row, new_event, register, registration, token_of

LANGUAGES = ("nl", "fr", "en")
TITLE = {"nl": "Infosessie microkrediet", "fr": "Séance d'information microcrédit", "en": "Microcredit info"}
# Not the +30-day default of other tests: reminder and follow-up scans stay on this test's events.
STARTS = future(12, hour=9)


@pytest.fixture(autouse=True)
async def empty_outbox() -> None:
    """Only this test's mails wait in the (package-private) outbox when the worker drains it."""
    from events.tables import OutboxMessage

    await OutboxMessage.delete(force=True)


@dataclasses.dataclass
class Scenario:
    """Three participants (nl, fr, en) and what they must receive."""

    event_id: int
    people: dict[str, int]  # language → registration id
    kind: str  # the mail this scenario is about
    method: str  # "REQUEST", "CANCEL" or "" (no invite)
    replaces: str | None = None  # the kind of the earlier invite it must outrank (SEQUENCE)


async def _event(**overrides: Any) -> int:
    values: dict[str, Any] = {
        "title": TITLE,
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(hours=2),
        "capacity": 10,
    }
    values.update(overrides)
    return (await new_event(**values))[0]


async def _people(event_id: int, mail: str) -> dict[str, int]:
    return {lang: (await register(event_id, f"{lang}@{mail}", language=lang)).id for lang in LANGUAGES}


async def invitation(mail: str) -> Scenario:
    event_id = await _event()
    return Scenario(event_id, await _people(event_id, mail), "invitation", "REQUEST")


async def waitlisted(mail: str) -> Scenario:
    event_id = await _event(capacity=1)
    await register(event_id, f"filler@{mail}")
    return Scenario(event_id, await _people(event_id, mail), "waitlisted", "")


async def promoted(mail: str) -> Scenario:
    from events.services import registrations

    event_id = await _event(capacity=3)
    fillers = [await register(event_id, f"filler{i}@{mail}") for i in range(3)]
    people = await _people(event_id, mail)
    for filler in fillers:
        await registrations.cancel_by_participant(token_of(filler))
    return Scenario(event_id, people, "promoted", "REQUEST")


async def pending_approval(mail: str) -> Scenario:
    event_id = await _event(requires_approval=True)
    return Scenario(event_id, await _people(event_id, mail), "pending_approval", "")


async def approved(mail: str) -> Scenario:
    from events.services import registrations
    from events.services.access import CLI_ACTOR

    event_id = await _event(requires_approval=True)
    people = await _people(event_id, mail)
    for registration_id in people.values():
        assert await registrations.approve(CLI_ACTOR, registration_id) == "confirmed"
    return Scenario(event_id, people, "approved", "REQUEST")


async def rejected(mail: str) -> Scenario:
    from events.services import registrations
    from events.services.access import CLI_ACTOR

    event_id = await _event(requires_approval=True)
    people = await _people(event_id, mail)
    for registration_id in people.values():
        await registrations.reject(CLI_ACTOR, registration_id)
    return Scenario(event_id, people, "rejected", "")


async def confirm_email(mail: str) -> Scenario:
    event_id = await _event(double_opt_in=True)
    return Scenario(event_id, await _people(event_id, mail), "confirm_email", "")


async def participant_cancelled(mail: str) -> Scenario:
    from events.services import registrations

    event_id = await _event()
    people = await _people(event_id, mail)
    for registration_id in people.values():
        row = await registration(registration_id)
        await registrations.cancel_by_participant(registrations.manage_token(row))
    return Scenario(event_id, people, "registration_cancelled", "CANCEL", replaces="invitation")


async def event_changed(mail: str) -> Scenario:
    from events.services import events as event_service
    from events.services.access import CLI_ACTOR
    from events.services.events import EventPatch

    event_id = await _event()
    people = await _people(event_id, mail)
    moved = STARTS + timedelta(hours=1)
    await event_service.update_event(
        CLI_ACTOR, event_id, EventPatch(starts_at=moved, ends_at=moved + timedelta(hours=2))
    )
    return Scenario(event_id, people, "event_updated", "REQUEST", replaces="invitation")


async def event_cancelled(mail: str) -> Scenario:
    from events.services import events as event_service
    from events.services.access import CLI_ACTOR

    event_id = await _event()
    people = await _people(event_id, mail)
    await event_service.cancel_event(CLI_ACTOR, event_id)
    return Scenario(event_id, people, "event_cancelled", "CANCEL", replaces="invitation")


async def reminder(mail: str) -> Scenario:
    from events.services.reminders import queue_due_reminders

    event_id = await _event(reminder_hours=[48, 2])
    people = await _people(event_id, mail)
    await queue_due_reminders(now=STARTS - timedelta(hours=47))
    return Scenario(event_id, people, "reminder", "REQUEST")


async def follow_up(mail: str) -> Scenario:
    from events.services.reminders import queue_follow_ups

    event_id = await _event()
    people = await _people(event_id, mail)
    await queue_follow_ups(now=STARTS + timedelta(hours=5))
    return Scenario(event_id, people, "follow_up", "")


SCENARIOS: list[Callable[[str], Awaitable[Scenario]]] = [
    invitation,
    waitlisted,
    promoted,
    pending_approval,
    approved,
    rejected,
    confirm_email,
    participant_cancelled,
    event_changed,
    event_cancelled,
    reminder,
    follow_up,
]


def _calendar_part(message: EmailMessage) -> tuple[str | None, str | None]:
    """(METHOD of the text/calendar part, its text) or (None, None) for a mail without invite."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            content = part.get_content()
            text = content.decode("utf-8") if isinstance(content, bytes) else content
            return part.get_param("method"), text  # type: ignore[return-value]
    return None, None


@pytest.mark.parametrize("build", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
async def test_each_mail_arrives_once_in_the_participants_language_with_a_valid_invite(smtp, build):
    from events.i18n import translate
    from events.mail.render import SUBJECTS
    from events.mail.worker import WorkerConfig, drain_once
    from events.settings import get_settings
    from events.tables import OutboxMessage

    server = smtp()
    mail = domain()
    scenario = await build(mail)
    config = WorkerConfig(settings=dataclasses.replace(get_settings(), smtp_url=server.url), batch_size=200)

    for _ in range(10):
        if await drain_once(config) == 0:
            break
    assert await drain_once(config) == 0, "a second drain finds nothing left to send"

    rows = await OutboxMessage.select().where(OutboxMessage.recipient.like(f"%@{mail}")).order_by(OutboxMessage.id)
    received = server.handler.accepted_for(mail)
    by_id = {m.message_id: m for m in received}
    assert len(by_id) == len(received) == len(rows), "every queued mail arrives, each exactly once"
    assert all(row["status"] == "sent" for row in rows)
    row_by_message = {row["message_id"]: row for row in rows}
    assert set(by_id) == set(row_by_message)

    event = await event_row(scenario.event_id)
    frames: dict[str, str] = {}
    invites: list[bytes] = []
    for language, registration_id in scenario.people.items():
        participant = await registration(registration_id)
        mine = [m for m in received if row_by_message[m.message_id]["registration"] == registration_id]
        about = [m for m in mine if row_by_message[m.message_id]["kind"] == scenario.kind]
        assert len(about) == 1, f"{language}: {len(about)} '{scenario.kind}' mails"
        message = about[0].message
        assert about[0].rcpt_tos == (participant["email"],)

        subject = str(message["Subject"])
        # Subjects are one line with plain spaces (French's no-break space before ":" included).
        expected = " ".join(translate(SUBJECTS[scenario.kind], language, title=TITLE[language]).split())
        assert subject == expected, f"{language}: {subject!r}"
        assert TITLE[language] in subject
        frames[language] = subject.replace(TITLE[language], "…")
        assert message["Content-Language"] == language

        method, ics = _calendar_part(message)
        assert (method or "") == scenario.method, f"{language}: METHOD {method} in the MIME type"
        if ics:
            invites.append(ics.encode())
            for earlier in [m for m in mine if row_by_message[m.message_id]["ics"]]:
                invites.append(_calendar_part(earlier.message)[1].encode())  # type: ignore[union-attr]
    assert len(set(frames.values())) == 3, f"nl, fr and en subjects differ: {frames}"

    if not scenario.method:
        return
    prefetch(invites)
    for language, registration_id in scenario.people.items():
        participant = await registration(registration_id)
        mine = [m for m in received if row_by_message[m.message_id]["registration"] == registration_id]
        sequences: dict[str, int] = {}
        for message in mine:
            kind = row_by_message[message.message_id]["kind"]
            method, ics = _calendar_part(message.message)
            if not ics:
                continue
            thunderbird = parse_with_icaljs(ics)
            libical = parse_with_libical(ics)
            assert thunderbird["method"] == method == libical["method"]
            assert libical["parse_errors"] == [], libical["parse_errors"]
            assert libical["restriction_ok"] is True, f"{kind}/{language}: {libical['restriction_errors']}"
            (vevent,) = thunderbird["vevents"]
            assert vevent["uid"] == event["uid"]
            assert [a["value"].lower() for a in vevent["attendees"]] == [f"mailto:{participant['email']}"]
            assert participant["email"] not in vevent["organizer"]["value"]
            assert vevent["summary"] == TITLE[language], "the invite speaks the participant's language"
            if method == "CANCEL":
                assert vevent["status"] == "CANCELLED"
            sequences[kind] = vevent["sequence"]
        assert scenario.kind in sequences
        if scenario.replaces:
            assert sequences[scenario.kind] > sequences[scenario.replaces], (
                f"{language}: {scenario.kind} SEQUENCE {sequences[scenario.kind]} must be above the "
                f"{scenario.replaces}'s {sequences[scenario.replaces]}"
            )


async def test_a_promoted_participant_who_cancels_gets_a_cancel_above_their_promotion_invite(smtp):
    """Waitlisted → promoted (REQUEST) → cancels (CANCEL): the CANCEL outranks the promotion."""
    from events.mail.worker import WorkerConfig, drain_once
    from events.services import registrations
    from events.settings import get_settings

    server = smtp()
    mail = domain()
    event_id = await _event(capacity=1)
    seated = await register(event_id, f"seated@{mail}")
    waiting = await register(event_id, f"waiting@{mail}", language="fr")
    await registrations.cancel_by_participant(token_of(seated))
    await registrations.cancel_by_participant(token_of(waiting))
    await drain_once(WorkerConfig(settings=dataclasses.replace(get_settings(), smtp_url=server.url)))

    mine = [m.message for m in server.handler.accepted_for(mail) if m.rcpt_tos == (f"waiting@{mail}",)]
    calendars = [_calendar_part(m) for m in mine]
    methods = [method for method, _ in calendars if method]
    assert methods == ["REQUEST", "CANCEL"]
    sequences = [parse_with_icaljs(ics)["vevents"][0]["sequence"] for _, ics in calendars if ics]
    assert sequences[1] > sequences[0]
    assert parse_with_libical(calendars[-1][1])["restriction_ok"] is True  # type: ignore[arg-type]
