"""Fixtures and builders of the privacy tests: two people at several events of two organisations,
with answers, consents, a booking, a networking profile and meeting, and mails; the /privacy link
as a participant gets it; a dump of every table to search for a person literally."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from events.services import consents, questions, registrations, tokens
from events.services.access import CLI_ACTOR
from events.services.consents import PurposeInput
from events.services.questions import QuestionInput
from events.services.registrations import RegistrationInput
from events.tables import Event, OutboxMessage, Registration, Slot
from events.web.participant import form_stamp
from tests.conftest import private_database
from tests.consultations.helpers import advisor, create_day, day, new_org, window
from tests.integration.conftest import browser  # noqa: F401 - the per-address client fixture
from tests.integration.helpers import csrf_from_html, make_event
from tests.networking.meetings_helpers import networking


@pytest.fixture(scope="package", autouse=True)
def privacy_database() -> Iterator[str]:
    """A database of this package's own: exports list each mail's delivery status, which the
    shared live server's worker would otherwise change between the export and the check."""
    with private_database("privacy") as url:
        yield url


LINK = re.compile(r"/privacy/([A-Za-z0-9_-]{43})")


@dataclass
class Person:
    name: str
    email: str
    phone: str
    company: str
    manage_tokens: dict[int, str] = field(default_factory=dict)  # event id → private-link token

    def registration(self, language: str = "nl", **extra: Any) -> RegistrationInput:
        return RegistrationInput(
            name=self.name, email=self.email, phone=self.phone, company=self.company, language=language, **extra
        )


def new_person(first: str, last: str) -> Person:
    """Names and numbers that occur nowhere else, so a literal search means something."""
    tag = secrets.token_hex(3)
    return Person(
        name=f"{first} {last}{tag}",
        email=f"{first}.{last}{tag}@Privacy-{tag}.example",
        phone=f"+32 4{secrets.randbelow(10**8):08d}",
        company=f"{last}{tag} Consulting",
    )


@dataclass
class World:
    org_a: Any
    org_b: Any
    info_a: int  # org A, with a question and a consent purpose of A
    info_b: int  # org B
    day_b: int  # org B, a consultation day
    net_a: int  # org A, a networking event
    question_id: int
    purpose_id: int
    ann: Person
    bob: Person
    ann_booking: int
    meeting_id: int


async def register(event_id: int, person: Person, **extra: Any) -> int:
    result = await registrations.register(event_id, person.registration(**extra))
    assert result.id is not None and result.manage_url, result
    person.manage_tokens[event_id] = result.manage_url.rsplit("/", 1)[1]
    return result.id


async def build_world(client: Any) -> World:
    """Ann and Bob at an info session of each organisation, Ann with an answer and a consent;
    Ann books an appointment on B's consultation day; both at A's networking event, where Ann
    asks Bob for a meeting and Bob accepts."""
    org_a, org_b = await new_org("priv-a"), await new_org("priv-b")
    info_a = await make_event(org_a.id, capacity=10)
    info_b = await make_event(org_b.id, capacity=10)
    [question] = await questions.replace_questions(
        CLI_ACTOR, info_a, [QuestionInput(kind="short_text", label={"nl": "Wat is uw vraag?", "en": "Your question?"})]
    )
    purpose = await consents.define_purpose(
        CLI_ACTOR,
        org_a.id,
        PurposeInput(key="loan", text={"nl": "Bel mij over een lening", "en": "Call me about a loan"}),
    )
    ann, bob = new_person("Annelies", "Vandersteen"), new_person("Bartholomeus", "Claeys")
    await register(info_a, ann, answers={str(question.id): "Een lening voor mijn bakkerij"}, consents=[purpose.id])
    await register(info_a, bob, answers={str(question.id): "Bob wil een microkrediet"}, consents=[purpose.id])
    await register(info_b, ann)
    await register(info_b, bob)

    start = day(25)
    day_b = await create_day(
        client,
        org_b,
        [advisor("Advisor Dewitte", f"advisor-{org_b.slug}@advice.example", [window(start, 120)])],
        starts=start,
        ends=start + timedelta(hours=8),
    )
    slots = await Slot.select().where(Slot.event == day_b).order_by(Slot.starts_at)
    booked = await client.post(
        f"/api/v1/slots/{slots[0]['id']}/booking",
        json={"name": ann.name, "email": ann.email, "language": "nl", "phone": ann.phone, "company": ann.company},
    )
    assert booked.status_code == 201, booked.text
    ann_booking = int(booked.json()["id"])
    ann.manage_tokens[day_b] = booked.json()["manage_url"].rsplit("/", 1)[1]

    net_a = await make_event(org_a.id, kind="networking")
    event_row = await Event.select(Event.starts_at).where(Event.id == net_a).first()
    assert event_row is not None
    patched = await client.patch(
        f"/api/v1/events/{net_a}", headers=org_a.auth, json={"networking": networking(event_row["starts_at"])}
    )
    assert patched.status_code == 200, patched.text
    for person, display in ((ann, ann.name), (bob, bob.name)):
        await register(net_a, person)
        saved = await client.put(
            f"/api/v1/me/{person.manage_tokens[net_a]}/profile",
            json={
                "opt_in": True,
                "display_name": display,
                "company": person.company,
                "sector": "food",
                "offers": ["bakery"],
                "looking_for": ["financing"],
                "languages": ["nl"],
            },
        )
        assert saved.status_code == 200, saved.text
    ann_token, bob_token = ann.manage_tokens[net_a], bob.manage_tokens[net_a]
    directory = (await client.get(f"/api/v1/me/{ann_token}/directory")).json()
    bob_profile = next(entry["id"] for entry in directory if entry["display_name"] == bob.name)
    free = (await client.get(f"/api/v1/me/{ann_token}/meeting-slots")).json()
    asked = await client.post(f"/api/v1/me/{ann_token}/meetings", json={"with": bob_profile, "slot": free[0]["id"]})
    assert asked.status_code in (200, 201), asked.text
    meeting_id = int(asked.json()["id"])
    accepted = await client.post(f"/api/v1/me/{bob_token}/meetings/{meeting_id}/accept")
    assert accepted.status_code == 200, accepted.text
    return World(
        org_a=org_a,
        org_b=org_b,
        info_a=info_a,
        info_b=info_b,
        day_b=day_b,
        net_a=net_a,
        question_id=question.id,
        purpose_id=purpose.id,
        ann=ann,
        bob=bob,
        ann_booking=ann_booking,
        meeting_id=meeting_id,
    )


def old_stamp() -> str:
    """The /privacy form's time stamp, as if the page had been open for a while."""
    return form_stamp(0, time.time() - 30)


async def ask_for_link(client: Any, email: str, language: str = "nl") -> Any:
    """GET /privacy, then POST the form like a person does; the POST's response."""
    page = await client.get("/privacy")
    assert page.status_code == 200, page.status_code
    return await client.post(
        "/privacy",
        data={
            "_csrf_token": csrf_from_html(page.text),
            "email": email,
            "language": language,
            "stamp": old_stamp(),
            "website": "",
        },
    )


async def link_token(email: str) -> str:
    """The token of the newest /privacy link mailed to this address."""
    rows = (
        await OutboxMessage.select(OutboxMessage.text_body, OutboxMessage.recipient)
        .where(OutboxMessage.kind == "privacy_link")
        .order_by(OutboxMessage.id, ascending=False)
    )
    for row in rows:
        if row["recipient"].lower() == email.lower():
            match = LINK.search(row["text_body"])
            assert match, row["text_body"]
            return match.group(1)
    raise AssertionError(f"no privacy link mailed to {email}")


async def feed_token(registration_id: int) -> str:
    row = await Registration.select().where(Registration.id == registration_id).first()
    assert row is not None
    return tokens.derive("feed", row["feed_token_nonce"])


async def dump_database() -> str:
    """Every row of every table as text (and once more with iCalendar lines unfolded), to
    search for a person literally."""
    from events.piccolo_app import APP_CONFIG

    parts = []
    for table in APP_CONFIG.table_classes:
        rows = await table.select()
        parts.append(json.dumps({table._meta.tablename: rows}, default=str, ensure_ascii=False))
    text = "\n".join(parts)
    return text + "\n" + re.sub(r"\\r\\n( |\\t)", "", text)


def traces_in(text: str, person: Person) -> list[str]:
    """What of a person is found in `text`: name, surname, email (in any case), phone, company."""
    surname = person.name.split()[-1]
    found = [value for value in (person.name, surname, person.phone, person.company) if value in text]
    if person.email.lower() in text.lower():
        found.append(person.email)
    return found
