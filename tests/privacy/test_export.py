"""The export: everything Trefpunt holds for one address, across organisations, and nothing of
anyone else; the /privacy form answers the same for every address, and is limited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from events.tables import Advisor, OutboxMessage, PrivacyRequest, Registration, Slot
from tests.consultations.helpers import new_org
from tests.integration.helpers import csrf_from_html, html_lang, make_event
from tests.privacy.conftest import (
    ask_for_link,
    build_world,
    link_token,
    new_person,
    old_stamp,
    register,
    traces_in,
)


async def _mails_to(email: str) -> list[dict]:
    rows = await OutboxMessage.select().order_by(OutboxMessage.id)
    return [row for row in rows if row["recipient"].lower() == email.lower()]


async def test_the_export_holds_everything_of_that_address_and_nothing_of_anyone_else(browser) -> None:
    world = await build_world(browser)
    ann, bob = world.ann, world.bob
    asked = await ask_for_link(browser, ann.email.upper())  # the address in another case is the same person
    assert asked.status_code == 200, asked.status_code
    token = await link_token(ann.email)

    page = await browser.get(f"/privacy/{token}")
    assert page.status_code == 200
    assert "no-store" in page.headers["cache-control"]
    assert f'href="/privacy/{token}/data.json"' in page.text and f'action="/privacy/{token}/erase"' in page.text

    download = await browser.get(f"/privacy/{token}/data.json")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"
    data = json.loads(download.content)

    # Nothing of Bob, who was at every event too and met Ann, is in the file.
    assert traces_in(download.content.decode(), bob) == []

    ann_rows = {
        row["event"]: row for row in await Registration.select().where(Registration.email_key == ann.email.lower())
    }
    assert set(ann_rows) == {world.info_a, world.info_b, world.day_b, world.net_a}
    assert data["email"] == ann.email.lower()
    assert sorted(data) == [
        "bookings",
        "consents",
        "email",
        "generated_at",
        "mails",
        "meetings",
        "networking_profiles",
        "privacy_requests",
        "registrations",
    ]

    registrations = {r["event"]["id"]: r for r in data["registrations"]}
    assert set(registrations) == set(ann_rows)
    for event_id, exported in registrations.items():
        assert exported["id"] == ann_rows[event_id]["id"]
        assert (exported["name"], exported["email"], exported["phone"], exported["company"]) == (
            ann.name,
            ann.email,
            ann.phone,
            ann.company,
        )
        assert exported["status"] == "confirmed"
        assert exported["language"] == "nl"
        assert exported["created_at"].startswith(ann_rows[event_id]["created_at"].strftime("%Y-%m-%dT%H:%M:%S"))
    assert registrations[world.info_a]["event"]["organisation"]["slug"] == world.org_a.slug
    assert registrations[world.info_b]["event"]["organisation"]["slug"] == world.org_b.slug
    assert registrations[world.info_a]["event"]["title"]["nl"] == "Infosessie microkrediet"
    assert registrations[world.info_a]["answers"] == [
        {
            "question": {"nl": "Wat is uw vraag?", "en": "Your question?"},
            "answer": "Een lening voor mijn bakkerij",
            "answer_text": "Een lening voor mijn bakkerij",
        }
    ]
    assert registrations[world.info_b]["answers"] == []

    assert data["consents"] == [
        {
            "registration_id": ann_rows[world.info_a]["id"],
            "organisation": {
                "slug": world.org_a.slug,
                "name": {lang: f"Organisation {world.org_a.slug}" for lang in ("nl", "fr", "en")},
                "email": f"info@{world.org_a.slug}.example",
            },
            "purpose": "loan",
            "purpose_text": {"nl": "Bel mij over een lening", "en": "Call me about a loan"},
            "wording_version": 1,
            "action": "given",
            "source": "api",
            "at": data["consents"][0]["at"],
        }
    ]

    booking = ann_rows[world.day_b]
    slot = await Slot.select().where(Slot.id == booking["slot"]).first()
    advisor = await Advisor.select().where(Advisor.id == slot["advisor"]).first()
    assert [(b["registration_id"], b["advisor"], b["status"]) for b in data["bookings"]] == [
        (booking["id"], "Advisor Dewitte", "confirmed")
    ]
    assert advisor["name"] == "Advisor Dewitte"
    assert data["bookings"][0]["starts_at"].startswith(slot["starts_at"].strftime("%Y-%m-%dT%H:%M"))

    [profile] = data["networking_profiles"]
    assert profile["display_name"] == ann.name and profile["company"] == ann.company
    assert profile["listed_in_directory"] is True
    assert profile["offers"] == ["bakery"] and profile["looking_for"] == ["financing"]
    assert [(m["id"], m["direction"], m["status"]) for m in data["meetings"]] == [
        (world.meeting_id, "sent", "accepted")
    ]
    assert data["meetings"][0]["table"]  # accepted meetings have a table
    assert set(data["meetings"][0]) == {
        "id",
        "event_id",
        "direction",
        "status",
        "starts_at",
        "ends_at",
        "table",
        "created_at",
    }

    sent = await _mails_to(ann.email)
    assert [(m["kind"], m["subject"], m["status"]) for m in data["mails"]] == [
        (row["kind"], row["subject"], row["status"]) for row in sent
    ]
    assert {m["kind"] for m in data["mails"]} >= {"invitation", "booking_confirmed", "privacy_link"}
    assert set(data["mails"][0]) == {"kind", "subject", "status", "queued_at", "sent_at"}

    [request] = data["privacy_requests"]
    assert request["language"] == "nl" and request["erased_at"] is None
    stored = await PrivacyRequest.select().where(PrivacyRequest.email_key == ann.email.lower()).first()
    assert stored["exported_at"] is not None
    assert token not in json.dumps(await PrivacyRequest.select(), default=str)  # only the token's hash is stored


async def test_the_form_answers_the_same_for_a_known_and_an_unknown_address(browser) -> None:
    org = await new_org("priv-form")
    event_id = await make_event(org.id)
    ann = new_person("Anouk", "Peeters")
    await register(event_id, ann)
    stranger = new_person("Nobody", "Known").email

    known = await ask_for_link(browser, ann.email, language="fr")
    unknown = await ask_for_link(browser, stranger, language="fr")
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert {k: v for k, v in known.headers.items() if k != "date" and not k.startswith("ratelimit")} == {
        k: v for k, v in unknown.headers.items() if k != "date" and not k.startswith("ratelimit")
    }

    [mail] = [m for m in await _mails_to(ann.email) if m["kind"] == "privacy_link"]
    assert mail["language"] == "fr"
    assert "http://testserver.local/privacy/" in mail["text_body"]
    assert await _mails_to(stranger) == []
    assert await PrivacyRequest.count().where(PrivacyRequest.email_key == stranger.lower()) == 0


async def test_the_form_is_limited_per_address_and_per_client(browser) -> None:
    org = await new_org("priv-limit")
    event_id = await make_event(org.id)
    ann = new_person("Amber", "Janssens")
    await register(event_id, ann)

    answers = [await ask_for_link(browser, ann.email) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.text for a in answers}) == 1
    links = [m for m in await _mails_to(ann.email) if m["kind"] == "privacy_link"]
    assert len(links) == 3  # a fourth request within the hour sends nothing, and says the same

    # Ten requests an hour from one client address, whatever the addresses asked for.
    more = [await ask_for_link(browser, f"probe{i}@unknown.example") for i in range(7)]
    assert [m.status_code for m in more] == [200] * 6 + [429]


async def test_a_bot_that_fills_the_hidden_field_gets_nothing(browser) -> None:
    org = await new_org("priv-bot")
    event_id = await make_event(org.id)
    ann = new_person("Astrid", "Maes")
    await register(event_id, ann)
    page = await browser.get("/privacy")
    form = {"_csrf_token": csrf_from_html(page.text), "email": ann.email, "stamp": old_stamp()}
    trapped = await browser.post("/privacy", data={**form, "website": "http://spam.example"})
    too_fast = await browser.post(
        "/privacy", data={**form, "website": "", "stamp": page.text.split('name="stamp" value="')[1].split('"')[0]}
    )
    assert trapped.status_code == too_fast.status_code == 422
    assert await _mails_to(ann.email) == [m for m in await _mails_to(ann.email) if m["kind"] != "privacy_link"]

    invalid = await ask_for_link(browser, "not an address")
    assert invalid.status_code == 422 and 'aria-invalid="true"' in invalid.text


async def test_a_link_works_for_24_hours_and_then_answers_410_in_its_language(browser) -> None:
    org = await new_org("priv-expiry")
    event_id = await make_event(org.id)
    ann = new_person("Aline", "Dubois")
    await register(event_id, ann, language="fr")
    await ask_for_link(browser, ann.email, language="fr")
    token = await link_token(ann.email)
    request = await PrivacyRequest.select().where(PrivacyRequest.email_key == ann.email.lower()).first()
    assert request["expires_at"] - request["created_at"] == timedelta(hours=24)

    assert (await browser.get(f"/privacy/{token}")).status_code == 200
    await PrivacyRequest.update({PrivacyRequest.expires_at: datetime.now(UTC) - timedelta(seconds=1)}).where(
        PrivacyRequest.id == request["id"]
    )
    expired = await browser.get(f"/privacy/{token}", headers={"accept-language": "nl"})
    assert expired.status_code == 410
    assert html_lang(expired.text) == "fr"
    assert (await browser.get(f"/privacy/{token}/data.json")).status_code == 410
    page = await browser.get("/privacy")
    erase = await browser.post(
        f"/privacy/{token}/erase", data={"_csrf_token": csrf_from_html(page.text), "confirm": "yes"}
    )
    assert erase.status_code == 410
    assert await Registration.count().where(Registration.email_key == ann.email.lower()) == 1

    unknown = "A" * 43
    assert (await browser.get(f"/privacy/{unknown}")).status_code == 404
    assert (await browser.get(f"/privacy/{unknown}/data.json")).status_code == 404
    assert (await browser.get("/privacy/short")).status_code == 404
