"""An organiser's day in a real browser (issue 11), in Dutch and in French.

On a laptop (1280 px) the organiser signs in, creates an event co-hosted with a partner
organisation, adds a registration question, publishes it, moves it (and sees how many people get
an updated invitation before saving), exports the attendee list as CSV and cancels the event
after a preview of who is told. At the door, on a phone (375 px), they check people in by name and
by the code from the confirmation mail. Every page passes axe-core (no serious or critical
violation) and is kept as a screenshot; the mails that follow arrive at a real SMTP server.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    Mailbox,
    PageFactory,
    console_problems,
    mail_text,
    no_sideways_scrolling,
    visit,
)
from tests.integration.helpers import PASSWORD, make_organisation, make_organiser

pytestmark = pytest.mark.serve

BRUSSELS = ZoneInfo("Europe/Brussels")

# What the organiser reads, per language (the wording the catalogs give).
WORDING = {
    "nl": {
        "impact": "krijgen 3 personen een bijgewerkte uitnodiging",
        "checked_in": "is ingecheckt",
        "question": "Hoe ver staat je zaak?",
        "options": "Idee\nGestart",
        "answer": "Gestart",
        "no_events": "Er zijn nog geen komende evenementen.",
        "no_questions": "Dit evenement stelt nog geen vragen.",
    },
    "fr": {
        "impact": "invitation mise à jour à 3 personnes",
        "checked_in": "est enregistrée",
        "question": "Où en est votre entreprise ?",
        "options": "Idée\nLancée",
        "answer": "Lancée",
        "no_events": "Aucun événement à venir pour le moment.",
        "no_questions": "Cet événement ne pose encore aucune question.",
    },
}

PEOPLE = (
    ("Sofie Claeys", "Bakkerij Claeys"),
    ("Karim Benali", "Benali Transport"),
    ("Ana Costa", "Costa Design"),
)


def local_input(moment: datetime) -> str:
    """A datetime as a datetime-local field takes it (Brussels time)."""
    return moment.astimezone(BRUSSELS).strftime("%Y-%m-%dT%H:%M")


async def checked(page: Any, name: str, language: str, width: int) -> None:
    await visit(page, f"organiser-{name}-{language}-{width}")


def calendar_of(message: EmailMessage) -> str:
    """The iCalendar part of a mail, as text."""
    part = next(part for part in message.walk() if part.get_content_type() == "text/calendar")
    return str(part.get_content())


async def sign_in(page: Any, server: LiveServer, email: str) -> None:
    await page.goto(f"{server.url}/login")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click('form[action="/login"] button[type="submit"]')
    await page.wait_for_url(re.compile(r"/admin$"))


@pytest.mark.parametrize("language", ["nl", "fr"])
async def test_organiser_creates_publishes_moves_checks_in_exports_and_cancels_a_co_hosted_event(
    language: str, e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    words = WORDING[language]
    suffix = secrets.token_hex(3)
    slug, _ = await make_organisation("journey", f"Ondernemershuis {suffix}")
    partner_slug, _ = await make_organisation("partner", f"Microkrediet Partner {suffix}")
    organiser = await make_organiser(slug, role="editor")
    domain = f"{suffix}.journey.test"
    server = e2e_server.url

    # Sign in; the dashboard of a new organisation says there is nothing yet.
    page = await new_page(language, DESKTOP)
    await sign_in(page, e2e_server, organiser)
    assert await page.get_attribute("html", "lang") == language
    assert words["no_events"] in await page.inner_text("main")
    await checked(page, "dashboard-empty", language, DESKTOP)

    # Create the event, co-hosted with the partner.
    await page.click('a[href="/admin/events/new"]')
    starts = (datetime.now(BRUSSELS) + timedelta(days=40)).replace(hour=18, minute=30, second=0, microsecond=0)
    await page.fill("#ev-title-nl", f"Infosessie microkrediet {suffix}")
    await page.fill("#ev-title-fr", f"Séance microcrédit {suffix}")
    await page.fill("#ev-description-nl", "Alles over **microkrediet** voor starters.")
    await page.fill("#ev-description-fr", "Tout sur le **microcrédit** pour les starters.")
    await page.fill("#ev-starts", local_input(starts))
    await page.fill("#ev-ends", local_input(starts + timedelta(hours=2)))
    await page.fill("#ev-venue-name", "Bedrijvencentrum De Punt")
    await page.fill("#ev-venue-room", "Zaal Schelde")
    await page.fill("#ev-venue-address", "Puntstraat 10, 9000 Gent")
    await page.fill("#ev-capacity", "20")
    await page.check(f'input[name="hosts"][value="{partner_slug}"]')
    await checked(page, "event-form", language, DESKTOP)
    await page.click('.event-form .button-row button[type="submit"]')
    await page.wait_for_url(re.compile(r"/admin/events/\d+$"))
    event_id = int(page.url.rsplit("/", 1)[1])
    facts = await page.inner_text(".facts")
    assert f"Ondernemershuis {suffix}" in facts and f"Microkrediet Partner {suffix}" in facts, facts
    await checked(page, "event-draft", language, DESKTOP)

    # A registration question, in every language.
    await page.click(f'a[href="/admin/events/{event_id}/questions"]')
    assert words["no_questions"] in await page.inner_text("main")
    await checked(page, "questions-empty", language, DESKTOP)
    await page.click('button[name="action"][value="add"]')
    await page.select_option("#q-0-kind", "single")
    await page.check('input[name="q-0-required"]')
    await page.fill(f"#q-0-label-{language}", words["question"])
    await page.fill(f"#q-0-options-{language}", words["options"])
    other = "fr" if language == "nl" else "nl"
    await page.fill(f"#q-0-label-{other}", WORDING[other]["question"])
    await page.fill(f"#q-0-options-{other}", WORDING[other]["options"])
    await page.fill("#q-0-label-en", "How far is your business?")
    await page.fill("#q-0-options-en", "Idea\nStarted")
    await page.click('button[name="action"][value="save"] >> nth=0')
    await page.wait_for_selector('.notice[role="status"]')
    await checked(page, "questions", language, DESKTOP)

    # Publish.
    await page.goto(f"{server}/admin/events/{event_id}")
    await page.click(f'form[action="/admin/events/{event_id}/publish"] button')
    await page.wait_for_selector(".badge-published")

    # Three people register through the public API, answering the question.
    from events.services.questions import list_questions

    (question,) = await list_questions(event_id)
    started = question.options[1]["key"]
    emails = []
    async with httpx.AsyncClient(base_url=server, timeout=15) as client:
        for number, (name, company) in enumerate(PEOPLE):
            email = f"p{number}@{domain}"
            emails.append(email)
            answer = await client.post(
                f"/api/v1/events/{event_id}/registrations",
                json={
                    "name": name,
                    "email": email,
                    "language": language,
                    "company": company,
                    "answers": {str(question.id): started},
                },
            )
            assert answer.status_code == 201, answer.text
            assert answer.json()["status"] == "confirmed"
    confirmations = [await mailbox.wait_for(email) for email in emails]

    # Move it by a day: the organiser is told who gets an updated invitation before saving.
    await page.click(f'a[href="/admin/events/{event_id}/edit"]')
    moved = starts + timedelta(days=1)
    await page.fill("#ev-starts", local_input(moved))
    await page.fill("#ev-ends", local_input(moved + timedelta(hours=2)))
    await page.click('.event-form .button-row button[type="submit"]')
    impact = await page.inner_text("#impact")
    assert words["impact"] in impact, impact
    await checked(page, "confirm-change", language, DESKTOP)
    await page.click('button[name="confirm"][value="yes"]')
    await page.wait_for_url(re.compile(rf"/admin/events/{event_id}$"))
    for email in emails:
        update = await mailbox.wait_for(email, count=2)
        ics = calendar_of(update)
        assert moved.strftime("%Y%m%d") in ics and "METHOD:REQUEST" in ics, ics
    await checked(page, "event-published", language, DESKTOP)

    # At the door, on a phone: one person by name, one by the code from their mail.
    phone = await new_page(language, PHONE)
    await sign_in(phone, e2e_server, organiser)
    await phone.goto(f"{server}/admin/events/{event_id}/check-in")
    await checked(phone, "check-in", language, PHONE)
    await no_sideways_scrolling(phone, PHONE)
    await phone.fill("#ci-q", "sofie")
    assert await phone.locator("#check-in-list li[data-name]:visible").count() == 1
    await phone.locator("#check-in-list li[data-name]:visible button.tap").click()
    sofie = phone.locator("#check-in-list li.is-in", has_text="Sofie Claeys")
    await sofie.locator(".state-in").wait_for()
    assert await sofie.locator('button[name="attendance"][value=""]').count() == 1  # Undo
    assert await phone.inner_text("#checked-count") == "1"
    code = re.search(r"\b(\d+-[A-Z0-9]{6,})\b", mail_text(confirmations[1]))
    assert code, mail_text(confirmations[1])
    await phone.fill("#ci-code", code.group(1).lower())
    await phone.click('#code-form button[type="submit"]')
    done = await phone.inner_text(".check-in-done")
    assert "Karim Benali" in done and words["checked_in"] in done, done
    assert await phone.inner_text("#checked-count") == "2"
    await no_sideways_scrolling(phone, PHONE)
    await checked(phone, "check-in-done", language, PHONE)

    # The attendee list as CSV: everyone, their answer in words, who came.
    await page.goto(f"{server}/admin/events/{event_id}")
    async with page.expect_download() as download_info:
        await page.click(f'a[href="/admin/events/{event_id}/attendees.csv"]')
    download = await download_info.value
    assert download.suggested_filename == f"attendees-{event_id}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8"))))
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {name for name, _ in PEOPLE}
    assert {row["email"] for row in rows} == set(emails)
    assert all(row[words["question"]] == words["answer"] for row in rows), rows
    assert [by_name[name]["attendance"] for name, _ in PEOPLE] == ["attended", "attended", ""]

    # Cancel, after a preview that names everyone who is told.
    await page.click(f'a[href="/admin/events/{event_id}/cancel"]')
    preview = await page.inner_text("main")
    assert "3" in await page.inner_text("#told-count")
    for (name, _), email in zip(PEOPLE, emails, strict=True):
        assert name in preview and email in preview
    await checked(page, "cancel-preview", language, DESKTOP)
    await page.click(f'form[action="/admin/events/{event_id}/cancel"] button.danger')
    await page.wait_for_selector(".badge-cancelled")
    for email in emails:
        cancellation = await mailbox.wait_for(email, count=3)
        assert "METHOD:CANCEL" in calendar_of(cancellation), cancellation["Subject"]
    await checked(page, "event-cancelled", language, DESKTOP)

    assert console_problems(page) == [] and console_problems(phone) == []
