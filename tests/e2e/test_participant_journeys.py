"""Participants' journeys in a real headless chromium against a real `trefpunt serve` that sends
its mails to a real SMTP server, on a phone (375 px) and a desktop (1280 px), in Dutch and French.

Every page a journey visits is checked with axe-core (no serious or critical violation) and
saved as a screenshot (var/e2e-screenshots/, or $TREFPUNT_E2E_SHOTS). The words the tests look
for come from the app's own catalogs, so a page that forgets to translate fails.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from events.mail.render import SUBJECTS
from tests.conftest import LiveServer
from tests.consultations.helpers import advisor, create_day, day, window
from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    Mailbox,
    PageFactory,
    api_client,
    assert_accessible,
    console_problems,
    email_for,
    in_every_combination,
    mail_text,
    make_api_organisation,
    no_sideways_scrolling,
    screenshot,
    send_after_fill_time,
    visit,
    words,
)
from tests.integration.helpers import event_payload, future
from tests.networking.meetings_helpers import networking

pytestmark = pytest.mark.serve

TITLES = {
    "nl": "Infosessie starten als zelfstandige",
    "fr": "Séance d'information : devenir indépendant",
    "en": "Info session: going self-employed",
}


# Small steps a participant takes -------------------------------------------------------------


async def publish(api: httpx.AsyncClient, org_auth: dict[str, str], body: dict[str, Any]) -> int:
    created = await api.post("/api/v1/events", json=body, headers=org_auth)
    assert created.status_code == 201, created.text
    event_id = int(created.json()["id"])
    published = await api.post(f"/api/v1/events/{event_id}/publish", headers=org_auth)
    assert published.status_code == 200, published.text
    return event_id


async def register_by_api(
    api: httpx.AsyncClient, event_id: int, name: str, email: str, language: str
) -> dict[str, Any]:
    response = await api.post(
        f"/api/v1/events/{event_id}/registrations", json={"name": name, "email": email, "language": language}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def private_link(mail: Any) -> str:
    links = Mailbox.links(mail, r"/r/[A-Za-z0-9_-]+$")
    assert links, f"the mail {mail['Subject']!r} has no link to the private page"
    return links[0]


# 1. Info session: find, register, mail link, private page, calendar, cancel, waitlist -----------


async def test_participant_finds_registers_adds_to_calendar_and_cancels_and_the_next_on_the_waitlist_gets_the_seat(
    e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    async def journey(language: str, width: int) -> None:
        t = words(language)
        tag = f"{language}-{width}"
        org = await make_api_organisation(f"info-{tag}")
        titles = {lang: f"{text} ({tag})" for lang, text in TITLES.items()}
        title = titles[language]
        starts = future(3)
        body = event_payload(
            title=titles, capacity=1, starts_at=starts.isoformat(), ends_at=(starts + timedelta(hours=2)).isoformat()
        )
        async with api_client(e2e_server, org.token) as api:
            event_id = await publish(api, org.auth, body)
        page = await new_page(language, width)

        # The public list, filtered on the organisation, leads to the event.
        await page.goto(f"{e2e_server.url}/events")
        assert await page.locator("html").get_attribute("lang") == language
        await visit(page, f"journey1-{tag}-1-events")
        await page.select_option("#f-organisation", org.slug)
        async with page.expect_navigation():
            await page.get_by_role("button", name=t("Filter"), exact=True).click()
        assert page.url.split("?")[0].endswith("/events") and await page.title(), page.url
        async with page.expect_navigation():
            await page.get_by_role("link", name=title).click()
        opened = time.monotonic()
        assert page.url.endswith(f"/events/{event_id}"), page.url
        await visit(page, f"journey1-{tag}-2-event")
        await no_sideways_scrolling(page, width)

        # Register through the form.
        ann = email_for("ann", language, width)
        await page.locator("#r-name").fill("Ann Declercq")
        await page.get_by_label(t("Email address")).fill(ann)
        await page.get_by_label(t("Company or project")).fill("Atelier Ann")
        assert await page.get_by_label(t("Language for mails")).input_value() == language
        await send_after_fill_time(page, opened, page.get_by_role("button", name=t("Register"), exact=True).click)
        await page.get_by_role("heading", level=1, name=t("You are registered")).wait_for()
        await visit(page, f"journey1-{tag}-3-registered")

        # Someone else registers (through the API) and waits.
        bert = email_for("bert", language, width)
        async with httpx.AsyncClient(base_url=e2e_server.url, timeout=15) as api:
            waiting = await register_by_api(api, event_id, "Bert Wachtlijst", bert, language)
        assert waiting["status"] == "waitlisted", waiting

        # The confirmation mail, in the participant's language, links to the private page.
        invitation = await mailbox.wait_for(ann, subject=t(SUBJECTS["invitation"], title=title))
        await page.goto(private_link(invitation))
        await page.get_by_role("heading", level=1, name=t("My registration")).wait_for()
        assert t("Confirmed") in await page.locator("dl.facts").inner_text()
        await visit(page, f"journey1-{tag}-4-private")
        await no_sideways_scrolling(page, width)

        # "Add to calendar": the .ics file is text/calendar with this one event.
        ics_link = page.get_by_role("link", name=t("Calendar file (.ics) for Outlook, Apple and Thunderbird"))
        href = await ics_link.get_attribute("href")
        assert href is not None
        answer = await page.request.get(f"{e2e_server.url}{href}")
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("text/calendar"), answer.headers["content-type"]
        ics = (await answer.body()).decode()
        assert ics.count("BEGIN:VEVENT") == 1 and f"({tag})" in ics.replace("\r\n ", ""), ics
        async with page.expect_download() as download_info:
            await ics_link.click()
        saved = await (await download_info.value).path()
        assert "BEGIN:VCALENDAR" in saved.read_text()

        # Cancel with the button (a POST) on the private page; the private link dies.
        private_url = page.url
        async with page.expect_navigation():
            await page.get_by_role("button", name=t("Cancel my registration")).click()
        await page.get_by_role("heading", level=1, name=t("Your registration is cancelled")).wait_for()
        await visit(page, f"journey1-{tag}-5-cancelled")
        gone = await page.request.get(private_url)
        assert gone.status == 404, f"the private link still answers {gone.status} after cancelling"

        # The next person on the waiting list gets the seat and hears about it.
        promoted = await mailbox.wait_for(bert, subject=t(SUBJECTS["promoted"], title=title))
        bert_page = await new_page(language, width)
        await bert_page.goto(private_link(promoted))
        assert t("Confirmed") in await bert_page.locator("dl.facts").inner_text()
        await visit(bert_page, f"journey1-{tag}-6-promoted")
        assert not console_problems(page) + console_problems(bert_page), console_problems(page)

    await in_every_combination(journey)


# 2. Consultation day: first suitable advisor, then another time ---------------------------------


async def test_participant_books_the_first_suitable_advisor_then_moves_the_appointment(
    e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    async def journey(language: str, width: int) -> None:
        t = words(language)
        tag = f"{language}-{width}"
        org = await make_api_organisation(f"advice-{tag}")
        start = day(20)
        advisors = [
            advisor("Nele Advies", f"nele-{tag}@advisors.example", [window(start, 60)], languages=["nl", "fr"]),
            advisor("Camille Conseil", f"camille-{tag}@advisors.example", [window(start, 60)], languages=["fr"]),
        ]
        async with api_client(e2e_server, org.token) as api:
            event_id = await create_day(api, org, advisors, starts=start)
        page = await new_page(language, width)

        await page.goto(f"{e2e_server.url}/events/{event_id}")
        opened = time.monotonic()
        await page.get_by_role("heading", level=2, name=t("Book a time slot")).wait_for()
        await visit(page, f"journey2-{tag}-1-day")
        await no_sideways_scrolling(page, width)

        first_time = page.locator(".slot-group").first
        when = (await first_time.locator(".slot-time").inner_text()).strip()
        await first_time.get_by_label(t("First suitable advisor")).check()
        sofie = email_for("sofie", language, width)
        await page.locator("#b-name").fill("Sofie Peeters")
        await page.get_by_label(t("Email address")).fill(sofie)
        await send_after_fill_time(page, opened, page.get_by_role("button", name=t("Book this time")).click)
        await page.get_by_role("heading", level=1, name=t("You are registered")).wait_for()
        await visit(page, f"journey2-{tag}-2-booked")

        booked = await mailbox.wait_for(sofie, subject=t(SUBJECTS["booking_confirmed"], title=""))
        async with page.expect_navigation():
            await page.get_by_role("link", name=t("See or change my registration")).click()
        appointment = page.get_by_role("region", name=t("My appointment"))
        assert when in await appointment.locator("p").first.inner_text()
        await visit(page, f"journey2-{tag}-3-appointment")

        # Another time: the first option in the list that starts at a different time.
        labels = await page.locator("#new-slot option").all_inner_texts()
        other = next(label for label in labels if not label.startswith(when))
        await page.get_by_label(t("Move to another time")).select_option(label=other)
        async with page.expect_navigation():
            await page.get_by_role("button", name=t("Move my appointment")).click()
        new_time = other.split(" — ")[0].strip()
        assert new_time in await appointment.locator("p").first.inner_text(), "the page does not show the new time"
        await visit(page, f"journey2-{tag}-4-moved")
        moved = await mailbox.wait_for(sofie, subject=t(SUBJECTS["booking_moved"], title=""))
        assert private_link(moved) == private_link(booked), "the moved mail links to another private page"
        assert not console_problems(page), console_problems(page)

    await in_every_combination(journey)


# 3. Networking: join, opt in, a suggestion, a meeting asked and accepted ------------------------


async def _join_through_the_form(page: Any, server: LiveServer, event_id: int, name: str, email: str, t: Any) -> None:
    await page.goto(f"{server.url}/events/{event_id}")
    opened = time.monotonic()
    await page.locator("#r-name").fill(name)
    await page.get_by_label(t("Email address")).fill(email)
    await send_after_fill_time(page, opened, page.get_by_role("button", name=t("Register"), exact=True).click)
    await page.get_by_role("heading", level=1, name=t("You are registered")).wait_for()


async def _fill_profile(page: Any, t: Any, name: str, offers: str, looking_for: str) -> None:
    await page.get_by_label(t("List me in the directory of this event")).check()
    await page.get_by_label(t("Name others will see")).fill(name)
    await page.get_by_label(t("I offer (comma-separated)")).fill(offers)
    await page.get_by_label(t("I am looking for (comma-separated)")).fill(looking_for)
    async with page.expect_navigation():
        await page.get_by_role("button", name=t("Save my profile")).click()


async def test_two_participants_opt_in_find_each_other_through_a_suggestion_and_agree_on_a_meeting(
    e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    async def journey(language: str, width: int) -> None:
        t = words(language)
        tag = f"{language}-{width}"
        org = await make_api_organisation(f"net-{tag}")
        titles = {"nl": f"Netwerkavond ({tag})", "fr": f"Soirée réseautage ({tag})", "en": f"Networking ({tag})"}
        body = event_payload(kind="networking", title=titles)
        body["networking"] = networking(future(30), tables=["T1"])
        async with api_client(e2e_server, org.token) as api:
            event_id = await publish(api, org.auth, body)
        lies, marc = await new_page(language, width), await new_page(language, width)
        lies_mail, marc_mail = email_for("lies", language, width), email_for("marc", language, width)

        # Both join through the form at the same time and open their private page from the mail.
        for who, page, address in (("Lies Bakker", lies, lies_mail), ("Marc Koffie", marc, marc_mail)):
            await _join_through_the_form(page, e2e_server, event_id, who, address, t)
        for page, address in ((lies, lies_mail), (marc, marc_mail)):
            invitation = await mailbox.wait_for(address, subject=t(SUBJECTS["invitation"], title=titles[language]))
            await page.goto(private_link(invitation))
        await visit(lies, f"journey3-{tag}-1-private")

        # Both opt in: Lies looks for what Marc offers.
        await _fill_profile(lies, t, "Lies", "customers", "financing")
        await _fill_profile(marc, t, "Marc", "financing", "suppliers")
        await lies.reload()
        suggestions = lies.get_by_role("region", name=t("People you could meet"))
        marc_card = suggestions.locator("li", has_text="Marc")
        await marc_card.wait_for()
        assert "financing" in await marc_card.inner_text(), "the suggestion does not say why"
        await visit(lies, f"journey3-{tag}-2-suggestions")

        async with lies.expect_navigation():
            await marc_card.get_by_role("button", name=t("Ask for a meeting")).click()
        request = await mailbox.wait_for(marc_mail, subject=t(SUBJECTS["meeting_request"], title=""))
        await marc.goto(private_link(request))
        meetings = marc.get_by_role("region", name=t("My meetings"))
        assert t("Asks to meet you") in await meetings.inner_text(), "the request's state is not in the page's language"
        await visit(marc, f"journey3-{tag}-3-request")
        async with marc.expect_navigation():
            await meetings.get_by_role("button", name=t("Accept")).click()
        accepted = await meetings.inner_text()
        assert "Lies" in accepted and t("Table") in accepted and t("Meeting accepted") in accepted, accepted
        await visit(marc, f"journey3-{tag}-4-accepted")

        await mailbox.wait_for(lies_mail, subject=t(SUBJECTS["meeting_accepted"], title=""))
        await lies.reload()
        assert "Marc" in await lies.get_by_role("region", name=t("My meetings")).inner_text()
        assert not console_problems(lies) + console_problems(marc)

    await in_every_combination(journey)


# Without JavaScript; errors tied to their fields -----------------------------------------------


async def error_of(page: Any, field: Any) -> str:
    """The error message a field points at (aria-describedby), after checking it is marked invalid."""
    assert await field.get_attribute("aria-invalid") == "true", "the field at fault is not marked aria-invalid"
    described_by = await field.get_attribute("aria-describedby")
    assert described_by, "the field at fault does not point at its error message (aria-describedby)"
    message = (await page.locator(f"#{described_by}").inner_text()).strip()
    assert message, "the field points at an empty error message"
    return message


async def test_registration_works_without_javascript_and_a_wrong_email_is_named_next_to_its_field(
    e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    org = await make_api_organisation("nojs-register")
    async with api_client(e2e_server, org.token) as api:
        event_id = await publish(api, org.auth, event_payload())

    async def register(language: str, width: int) -> None:
        t = words(language)
        page = await new_page(language, width, javascript=False)
        await page.goto(f"{e2e_server.url}/events/{event_id}")
        opened = time.monotonic()
        await page.locator("#r-name").fill("Nina Zonder Script")
        await page.get_by_label(t("Email address")).fill("nina-at-example")
        await send_after_fill_time(page, opened, page.get_by_role("button", name=t("Register"), exact=True).click)
        opened = time.monotonic()  # the page that comes back carries a new form

        email_field = page.get_by_label(t("Email address"))
        assert await error_of(page, email_field) == t("Enter a valid email address.")
        assert await page.locator("#r-name").input_value() == "Nina Zonder Script", "the form lost what was typed"
        await screenshot(page, f"nojs-register-{language}-{width}-error")  # axe needs JavaScript

        address = email_for("nina", language, width)
        await email_field.fill(address)
        await send_after_fill_time(page, opened, page.get_by_role("button", name=t("Register"), exact=True).click)
        await page.get_by_role("heading", level=1, name=t("You are registered")).wait_for()
        await mailbox.wait_for(address, subject=t(SUBJECTS["invitation"], title=""))

    await asyncio.gather(register("nl", PHONE), register("fr", DESKTOP))


async def test_booking_works_without_javascript_and_a_missing_time_is_named_next_to_the_slot_list(
    e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    org = await make_api_organisation("nojs-book")
    start = day(22)
    advisors = [
        advisor("Nele Advies", "nele@nojs-advisors.example", [window(start, 60)], languages=["nl", "fr"]),
        advisor("Camille Conseil", "camille@nojs-advisors.example", [window(start, 60)], languages=["nl", "fr"]),
    ]
    async with api_client(e2e_server, org.token) as api:
        event_id = await create_day(api, org, advisors, starts=start)

    async def book(language: str, width: int, advisor_name: str) -> None:
        t = words(language)
        page = await new_page(language, width, javascript=False)
        await page.goto(f"{e2e_server.url}/events/{event_id}")
        opened = time.monotonic()
        await page.locator("#b-name").fill("Noor Zonder Script")
        address = email_for("noor", language, width)
        await page.get_by_label(t("Email address")).fill(address)
        await send_after_fill_time(page, opened, page.get_by_role("button", name=t("Book this time")).click)
        opened = time.monotonic()

        slot_list = page.get_by_role("group", name=t("Time"))
        described_by = await slot_list.get_attribute("aria-describedby")
        assert described_by == "form-error", "the slot list does not point at the error message"
        assert (await page.locator("#form-error").inner_text()).strip() == t("Choose a time.")
        await screenshot(page, f"nojs-book-{language}-{width}-error")  # axe needs JavaScript

        # A named advisor this time (the first suitable one is journey 2's).
        await page.locator(".slot-group").first.get_by_label(advisor_name).check()
        await send_after_fill_time(page, opened, page.get_by_role("button", name=t("Book this time")).click)
        await page.get_by_role("heading", level=1, name=t("You are registered")).wait_for()
        booked = await mailbox.wait_for(address, subject=t(SUBJECTS["booking_confirmed"], title=""))
        assert advisor_name in mail_text(booked)

    await asyncio.gather(book("fr", PHONE, "Nele Advies"), book("nl", DESKTOP, "Camille Conseil"))


# The accessibility check itself ---------------------------------------------------------------


async def test_the_accessibility_check_fails_on_an_unlabelled_field(
    e2e_server: LiveServer, new_page: PageFactory
) -> None:
    page = await new_page("nl", DESKTOP)
    await page.goto(f"{e2e_server.url}/privacy")
    await assert_accessible(page)  # the control: the real page passes
    await page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('beforeend',
            '<input type="text" id="x-unlabelled">')"""
    )
    with pytest.raises(AssertionError) as failure:
        await assert_accessible(page)
    report = str(failure.value)
    assert "[critical] label" in report and "#x-unlabelled" in report, report
