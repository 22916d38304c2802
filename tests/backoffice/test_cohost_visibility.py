"""A co-host organisation sees of the owner's participants only what their consent allows
(events/services/visibility.py), on every page, export and API answer that shows people.

Ann consents only to the owner; Bert consents to the co-host. Both register for a co-hosted
info session (with a question), book a slot on a co-hosted consultation day and meet at a
co-hosted networking event. Every organiser view is then searched literally, in the bytes of
the response, for Ann's name, email, phone, company and answer.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook

from events.services import consents
from events.services.access import CLI_ACTOR
from events.services.consents import PurposeInput
from events.tables import Registration
from tests.conftest import TEST_HOST, unique_slug
from tests.consultations.helpers import Org, advisor, consultation, day, day_payload, new_org, window
from tests.integration.helpers import (
    bearer,
    csrf_from_html,
    event_payload,
    from_address,
    make_organiser,
    make_token,
    sign_in,
    stored_event,
    unique_address,
)
from tests.networking.meetings_helpers import networking


@dataclass
class Person:
    name: str
    email: str
    phone: str
    company: str
    answer: str
    registrations: dict[str, int] = field(default_factory=dict)  # event key → registration id
    tokens: dict[str, str] = field(default_factory=dict)  # event key → private token

    @property
    def contact(self) -> list[str]:
        return [self.name, self.email, self.phone, self.company]

    @property
    def secrets(self) -> list[str]:
        return [*self.contact, self.answer]


@dataclass
class World:
    owner: Org
    cohost: Org
    events: dict[str, int]
    owner_purpose: int
    cohost_purpose: int
    ann: Person
    bert: Person


def _person(first: str, last: str, answer: str) -> Person:
    tag = unique_slug(first.lower())
    return Person(
        name=f"{first} {last}",
        email=f"{tag}@people.example",
        phone=f"+32 470 {tag[-6:-4]} {tag[-4:-2]} {tag[-2:]}",
        company=f"Bakkerij {last}",
        answer=f"{answer} {tag}",
    )


async def _register(client: Any, url: str, who: Person, key: str, purpose: int, **extra: Any) -> None:
    """Register (or book) through the public API, consenting to one purpose."""
    body = {
        "name": who.name,
        "email": who.email,
        "language": "nl",
        "phone": who.phone,
        "company": who.company,
        "consents": [purpose],
        **extra,
    }
    response = await client.post(url, json=body)
    assert response.status_code == 201, response.text
    who.registrations[key] = response.json()["id"]
    who.tokens[key] = response.json()["manage_url"].rsplit("/", 1)[1]


async def _world(client: Any) -> World:
    owner, cohost = await new_org("owner"), await new_org("cohost")
    owner_purpose = await consents.define_purpose(
        CLI_ACTOR, owner.id, PurposeInput(key="follow-up", text={"nl": "Volg mijn vraag op"})
    )
    cohost_purpose = await consents.define_purpose(
        CLI_ACTOR, cohost.id, PurposeInput(key="loan", text={"nl": "Contacteer mij over een lening"})
    )
    ann = _person("Annelies", "Zwaenepoel", "Ann-geheim-antwoord")
    bert = _person("Bertrand", "Verhaeghe", "Bert-geheim-antwoord")
    events: dict[str, int] = {}

    # A co-hosted info session with a question.
    created = await client.post("/api/v1/events", json=event_payload(hosts=[cohost.slug]), headers=owner.auth)
    assert created.status_code == 201, created.text
    events["info"] = info = created.json()["id"]
    question = [{"kind": "long_text", "label": {"nl": "Uw vraag"}, "required": False}]
    qid = (await client.put(f"/api/v1/events/{info}/questions", json=question, headers=owner.auth)).json()[0]["id"]
    assert (await client.post(f"/api/v1/events/{info}/publish", headers=owner.auth)).status_code == 200
    for who, purpose in ((ann, owner_purpose.id), (bert, cohost_purpose.id)):
        await _register(
            client, f"/api/v1/events/{info}/registrations", who, "info", purpose, answers={str(qid): who.answer}
        )

    # A co-hosted consultation day: both book a slot.
    start = day(25)
    advisors = [advisor("Adv", "adv@x.example", [window(start, 120)])]
    payload = {**day_payload(start, start.replace(hour=17), consultation(advisors)), "hosts": [cohost.slug]}
    created = await client.post("/api/v1/events", json=payload, headers=owner.auth)
    assert created.status_code == 201, created.text
    events["day"] = day_id = created.json()["id"]
    assert (await client.post(f"/api/v1/events/{day_id}/publish", headers=owner.auth)).status_code == 200
    free = (await client.get(f"/api/v1/events/{day_id}/slots")).json()
    for index, (who, purpose) in enumerate(((ann, owner_purpose.id), (bert, cohost_purpose.id))):
        await _register(client, f"/api/v1/slots/{free[index]['id']}/booking", who, "day", purpose)

    # A co-hosted networking event: both in the directory, with an accepted meeting.
    created = await client.post(
        "/api/v1/events", json=event_payload(kind="networking", hosts=[cohost.slug]), headers=owner.auth
    )
    events["net"] = net = created.json()["id"]
    assert (await client.post(f"/api/v1/events/{net}/publish", headers=owner.auth)).status_code == 200
    starts = (await stored_event(net))["starts_at"]
    patched = await client.patch(f"/api/v1/events/{net}", headers=owner.auth, json={"networking": networking(starts)})
    assert patched.status_code == 200, patched.text
    for who, purpose in ((ann, owner_purpose.id), (bert, cohost_purpose.id)):
        await _register(client, f"/api/v1/events/{net}/registrations", who, "net", purpose)
        profile = {
            "opt_in": True,
            "display_name": who.name,
            "company": who.company,
            "about": f"Ik ben {who.name}, bel {who.phone}",
            "sector": "food",
            "offers": ["coaching"],
            "languages": ["nl"],
        }
        saved = await client.put(f"/api/v1/me/{who.tokens['net']}/profile", json=profile)
        assert saved.status_code == 200, saved.text
    directory = (await client.get(f"/api/v1/me/{ann.tokens['net']}/directory")).json()
    slot = (await client.get(f"/api/v1/me/{ann.tokens['net']}/meeting-slots")).json()[0]
    asked = await client.post(
        f"/api/v1/me/{ann.tokens['net']}/meetings", json={"with": directory[0]["id"], "slot": slot["id"]}
    )
    assert asked.status_code == 201, asked.text
    accepted = await client.post(f"/api/v1/me/{bert.tokens['net']}/meetings/{asked.json()['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    return World(owner, cohost, events, owner_purpose.id, cohost_purpose.id, ann, bert)


@pytest.fixture
async def other_browser(app: Any) -> AsyncIterator[Any]:
    async with AsyncTestClient(app=from_address(app, unique_address()), base_url=f"http://{TEST_HOST}") as client:
        yield client


def _page_urls(world: World) -> list[str]:
    """Every organiser view of people, for every co-hosted event."""
    info, day_id, net = world.events["info"], world.events["day"], world.events["net"]
    urls = ["/admin", "/admin/mail", "/dev/mail"]
    for event_id in (info, day_id, net):
        urls += [
            f"/admin/events/{event_id}/attendees",
            f"/admin/events/{event_id}/attendees?q=Zwaenepoel",
            f"/admin/events/{event_id}/attendees.csv",
            f"/admin/events/{event_id}/check-in",
            f"/admin/events/{event_id}/check-in?q=Annelies",
            f"/admin/events/{event_id}/attendance-sheet",
            f"/admin/events/{event_id}/consents",
            f"/admin/events/{event_id}/consents.csv",
        ]
    urls += [f"/admin/registrations/{registration}" for registration in world.ann.registrations.values()]
    urls += [f"/admin/registrations/{registration}" for registration in world.bert.registrations.values()]
    urls += [f"/admin/events/{day_id}/day"]
    urls += [
        f"/admin/events/{net}/meetings",
        f"/admin/events/{net}/meetings?cards=true",
        f"/admin/events/{net}/meetings.csv",
    ]
    return urls


def _api_urls(world: World) -> list[str]:
    urls = [f"/api/v1/events/{event_id}/registrations" for event_id in world.events.values()]
    net = world.events["net"]
    return [*urls, f"/api/v1/events/{net}/meetings", f"/api/v1/events/{net}/directory"]


async def _everything(client: Any, world: World, token: str) -> dict[str, bytes]:
    """Every page, export and API answer that shows people, by URL (xlsx as its cells' text)."""
    seen: dict[str, bytes] = {}
    for url in _page_urls(world):
        response = await client.get(url)
        if url == "/dev/mail" and response.status_code == 404:
            continue  # only while mail goes to files
        assert response.status_code == 200, f"{url}: {response.status_code}"
        seen[url] = response.content
    for event_id in world.events.values():
        url = f"/admin/events/{event_id}/attendees.xlsx"
        response = await client.get(url)
        assert response.status_code == 200, url
        sheet = load_workbook(io.BytesIO(response.content)).active
        seen[url] = "\n".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c).encode()
    for url in _api_urls(world):
        response = await client.get(url, headers=bearer(token))
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
        seen[url] = response.content
    return seen


def _leaks(seen: dict[str, bytes], values: list[str]) -> list[str]:
    return [f"{url}: {value!r}" for url, body in seen.items() for value in values if value.encode() in body]


async def test_a_co_host_without_consent_sees_no_contact_detail_or_answer_anywhere(browser) -> None:
    browser.headers["Accept-Language"] = "en"  # the person page's explanation is read in English
    world = await _world(browser)
    await sign_in(browser, await make_organiser(world.cohost.slug, role="editor"))

    seen = await _everything(browser, world, await make_token(world.cohost.slug, role="viewer"))

    assert not _leaks(seen, world.ann.secrets), "Ann consented only to the owner"
    assert not _leaks(seen, [world.bert.answer]), "answers stay with the owner, whatever the consent"
    # The same views do show people: Ann under her pseudonym, Bert (who consented) by name.
    info = world.events["info"]
    ann_info = world.ann.registrations["info"]
    attendees = seen[f"/admin/events/{info}/attendees"].decode()
    assert f"#{ann_info}" in attendees and world.bert.name in attendees and world.bert.email in attendees
    check_in = seen[f"/admin/events/{info}/check-in"].decode()
    assert f"#{ann_info}" in check_in and world.bert.name in check_in
    assert f"#{world.ann.registrations['day']}" in seen[f"/admin/events/{world.events['day']}/day"].decode()
    schedule = seen[f"/admin/events/{world.events['net']}/meetings"].decode()
    assert f"#{world.ann.registrations['net']}" in schedule and world.bert.name in schedule
    listed = {row["id"]: row for row in _json(seen[f"/api/v1/events/{info}/registrations"])["items"]}
    assert listed[ann_info]["name"] == f"#{ann_info}" and listed[ann_info]["redacted"] is True
    assert listed[ann_info]["status"] == "confirmed" and listed[ann_info]["language"] == "nl"
    bert = listed[world.bert.registrations["info"]]
    assert (bert["name"], bert["email"], bert["phone"], bert["company"]) == tuple(world.bert.contact)
    assert bert["answers"] == {} and "redacted" not in bert
    # A CSV of a co-host: contact columns without Ann's values, no answer column at all.
    header, *rows = [line.split(",") for line in seen[f"/admin/events/{info}/attendees.csv"].decode().splitlines()]
    assert "Uw vraag" not in header and len(header) == 9
    ann_row = next(row for row in rows if row[0] == str(ann_info))
    assert ann_row[1] == f"#{ann_info}" and ann_row[2:5] == ["", "", ""] and ann_row[6] == "confirmed"
    # The person page says why there is nothing to see.
    person = seen[f"/admin/registrations/{ann_info}"].decode()
    assert "did not consent to share their details" in person and "Only the organisation that owns" in person


async def test_a_co_host_can_still_find_and_count_people_by_their_number_at_the_door(browser) -> None:
    world = await _world(browser)
    await sign_in(browser, await make_organiser(world.cohost.slug, role="viewer"))
    info, ann_info = world.events["info"], world.ann.registrations["info"]
    await Registration.update({Registration.attendance: "attended"}).where(Registration.id == ann_info)

    found = await browser.get(f"/admin/events/{info}/check-in?q=%23{ann_info}")

    assert found.status_code == 200
    assert f"<strong>#{ann_info}</strong>" in found.text and world.bert.name not in found.text
    assert 'class="is-in"' in found.text
    assert re.search(r'id="checked-count">1<', found.text), "the count includes people it cannot name"


async def test_with_consent_a_co_host_sees_contact_details_and_withdrawing_hides_them_again(browser) -> None:
    world = await _world(browser)
    await sign_in(browser, await make_organiser(world.cohost.slug, role="viewer"))
    token = await make_token(world.cohost.slug, role="viewer")
    info = world.events["info"]
    bert_info = world.bert.registrations["info"]

    person = (await browser.get(f"/admin/registrations/{bert_info}")).text
    assert all(value in person for value in world.bert.contact) and world.bert.answer not in person

    # Bert withdraws his consent to the co-host on his private page (a POST with the page's CSRF token).
    page = await browser.get(f"/r/{world.bert.tokens['info']}")
    withdrawn = await browser.post(
        f"/r/{world.bert.tokens['info']}/consents/{world.cohost_purpose}",
        data={"_csrf_token": csrf_from_html(page.text), "action": "withdraw"},
        follow_redirects=False,
    )
    assert withdrawn.status_code == 303, withdrawn.text

    seen = {
        url: (await browser.get(url)).content
        for url in (
            f"/admin/registrations/{bert_info}",
            f"/admin/events/{info}/attendees",
            f"/admin/events/{info}/attendees.csv",
            f"/admin/events/{info}/check-in",
            f"/admin/events/{info}/consents",
        )
    }
    seen["api"] = (await browser.get(f"/api/v1/events/{info}/registrations", headers=bearer(token))).content
    assert not _leaks(seen, world.bert.secrets)
    assert f"#{bert_info}".encode() in seen[f"/admin/events/{info}/attendees"]
    # His bookings and meetings of the other events still carry his consent there.
    day_page = (await browser.get(f"/admin/events/{world.events['day']}/day")).text
    assert world.bert.name in day_page


async def test_the_owner_always_sees_everything_the_person_entered(browser, other_browser) -> None:
    world = await _world(browser)
    await sign_in(other_browser, await make_organiser(world.owner.slug, role="viewer"))
    info, ann_info = world.events["info"], world.ann.registrations["info"]

    seen = await _everything(other_browser, world, await make_token(world.owner.slug, role="viewer"))

    for url in (f"/admin/events/{info}/attendees.csv", f"/admin/events/{info}/attendees.xlsx"):
        assert all(value.encode() in seen[url] for value in world.ann.secrets + world.bert.secrets), url
    person = seen[f"/admin/registrations/{ann_info}"]
    assert all(value.encode() in person for value in world.ann.secrets)
    listed = {row["id"]: row for row in _json(seen[f"/api/v1/events/{info}/registrations"])["items"]}
    assert listed[ann_info]["email"] == world.ann.email and world.ann.answer in listed[ann_info]["answers"].values()
    assert world.ann.name.encode() in seen[f"/admin/events/{world.events['day']}/day"]
    assert world.ann.name.encode() in seen[f"/admin/events/{world.events['net']}/meetings.csv"]
    assert world.ann.email.encode() in seen["/admin/mail"], "the owner's mail log lists its participants' mails"


async def test_an_organiser_of_both_organisations_sees_what_the_owner_sees(browser) -> None:
    from events.services import organisers

    world = await _world(browser)
    email = await make_organiser(world.cohost.slug, role="viewer")
    await organisers.create_organiser(email, world.owner.slug, role="viewer")
    await sign_in(browser, email)

    csv_text = (await browser.get(f"/admin/events/{world.events['info']}/attendees.csv")).text

    assert world.ann.email in csv_text and world.ann.answer in csv_text


def _json(body: bytes) -> Any:
    import json

    return json.loads(body)
