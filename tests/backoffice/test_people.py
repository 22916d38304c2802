"""Attendees in the back office: add a person by hand, mail a selection, a person's page with
their mails, check-in codes, no-shows and the attendance sheet, and who may do what."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from events.services import tokens
from events.tables import AuditLog, Event, OutboxMessage, Registration
from tests.integration.helpers import (
    csrf_from_html,
    make_event,
    make_organisation,
    make_organiser,
    post_form,
    sign_in,
)


@pytest.fixture(autouse=True)
def english(browser) -> None:
    """Pages in English, so the tests read what an English-speaking organiser sees."""
    browser.cookies.set("lang", "en")


async def _register(client, event_id: int, name: str, email: str, language: str = "nl", company: str = "") -> int:
    response = await client.post(
        f"/api/v1/events/{event_id}/registrations",
        json={"name": name, "email": email, "language": language, "company": company},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _row(registration_id: int) -> dict:
    row = await Registration.select().where(Registration.id == registration_id).first()
    assert row is not None
    return row


async def _mails(registration_id: int, kind: str | None = None) -> list[dict]:
    query = OutboxMessage.select().where(OutboxMessage.registration == registration_id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return await query.order_by(OutboxMessage.id)


async def _signed_in_editor(browser, prefix: str = "people", role: str = "editor", **event) -> tuple[str, int, int]:
    slug, org_id = await make_organisation(prefix)
    event_id = await make_event(org_id, **event)
    await sign_in(browser, await make_organiser(slug, role=role))
    return slug, org_id, event_id


def _attendees(event_id: int) -> str:
    return f"/admin/events/{event_id}/attendees"


# Add a person by hand ---------------------------------------------------------------------------


async def test_an_editor_adds_a_person_who_gets_the_confirmation_with_a_check_in_code(browser) -> None:
    _, org_id, event_id = await _signed_in_editor(browser)
    page = await browser.get(_attendees(event_id))
    assert f'action="/admin/events/{event_id}/attendees"' in page.text
    assert re.search(r'id="p-notify"[^>]*checked', page.text), "the confirmation mail is ticked by default"

    added = await post_form(
        browser,
        _attendees(event_id),
        _attendees(event_id),
        name="  Ann   Peeters ",
        email="Ann@Example.org",
        language="fr",
        phone="+32 9 123 45 67",
        company="Bakkerij Ann",
        notify="on",
    )
    assert added.status_code == 303
    shown = await browser.get(added.headers["location"])
    assert "Ann Peeters was added: Confirmed." in shown.text

    row = (
        await Registration.select()
        .where((Registration.event == event_id) & (Registration.name == "Ann Peeters"))
        .first()
    )
    assert row is not None
    assert (row["source"], row["status"], row["language"], row["email_key"]) == (
        "organiser",
        "confirmed",
        "fr",
        "ann@example.org",
    )
    assert f'href="/admin/registrations/{row["id"]}"' in shown.text, "names link to the person page"
    [mail] = await _mails(row["id"])
    assert mail["kind"] == "invitation" and mail["ics_method"] == "REQUEST" and mail["language"] == "fr"
    code = tokens.check_in_code(row["id"], row["token_nonce"])
    assert code in mail["text_body"] and f"cid:check-in.{code}@trefpunt" in mail["html_body"]
    entry = await AuditLog.select().where(AuditLog.target == f"registration:{row['id']}").first()
    assert entry is not None and entry["action"] == "registration.added" and entry["organisation"] == org_id


async def test_without_the_mail_ticked_nobody_is_mailed(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser)
    added = await post_form(
        browser,
        _attendees(event_id),
        _attendees(event_id),
        name="Quiet Person",
        email="quiet@example.org",
        language="nl",
    )
    assert added.status_code == 303
    row = await Registration.select().where(Registration.email_key == "quiet@example.org").first()
    assert row is not None and row["status"] == "confirmed" and row["event"] == event_id
    assert await _mails(row["id"]) == []


async def test_a_full_event_puts_the_added_person_on_the_waitlist_with_its_mail(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser, capacity=1)
    await _register(browser, event_id, "First", "first@example.org")
    added = await post_form(
        browser,
        _attendees(event_id),
        _attendees(event_id),
        name="Second",
        email="second@example.org",
        language="en",
        notify="on",
    )
    assert added.status_code == 303
    assert "Second was added: On the waiting list." in (await browser.get(added.headers["location"])).text
    row = await Registration.select().where(Registration.email_key == "second@example.org").first()
    assert row is not None and row["status"] == "waitlisted" and row["waitlisted_at"] is not None
    assert [m["kind"] for m in await _mails(row["id"])] == ["waitlisted"]
    assert (await Event.select(Event.confirmed_count).where(Event.id == event_id).first())["confirmed_count"] == 1


async def test_a_full_event_without_waitlist_refuses_on_the_page(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser, capacity=1, waitlist=False)
    await _register(browser, event_id, "First", "first@example.org")
    refused = await post_form(
        browser, _attendees(event_id), _attendees(event_id), name="Late", email="late@example.org", language="nl"
    )
    assert refused.status_code == 409 and "This event is full." in refused.text
    assert not await Registration.exists().where(Registration.email_key == "late@example.org")


async def test_adding_someone_already_registered_is_a_409_with_the_input_kept(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser)
    await _register(browser, event_id, "Bram", "bram@example.org")
    again = await post_form(
        browser, _attendees(event_id), _attendees(event_id), name="Bram Again", email="BRAM@example.org", language="nl"
    )
    assert again.status_code == 409
    assert "BRAM@example.org is already registered for this event." in again.text
    assert re.search(r'id="p-email"[^>]*aria-invalid="true"[^>]*aria-describedby="add-error"', again.text)
    assert 'value="Bram Again"' in again.text, "what was typed stays in the form"
    assert "<details open>" in again.text
    assert await Registration.count().where(Registration.event == event_id) == 1


async def test_a_bad_email_comes_back_next_to_its_field(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser)
    bad = await post_form(
        browser, _attendees(event_id), _attendees(event_id), name="Nora", email="not an address", language="nl"
    )
    assert bad.status_code == 422 and "Enter a valid email address." in bad.text
    assert re.search(r'id="p-email"[^>]*aria-invalid="true"', bad.text) and 'value="Nora"' in bad.text
    empty = await post_form(browser, _attendees(event_id), _attendees(event_id), name=" ", email="x@example.org")
    assert empty.status_code == 422 and re.search(r'id="p-name"[^>]*aria-invalid="true"', empty.text)


# Mail a selection -----------------------------------------------------------------------------


async def test_mail_the_selected_people_one_message_each_in_their_own_language(browser) -> None:
    _, org_id, event_id = await _signed_in_editor(browser, capacity=2)
    nl = await _register(browser, event_id, "Nele", "nele@example.org", "nl")
    fr = await _register(browser, event_id, "François", "francois@example.org", "fr")
    left_out = await _register(browser, event_id, "Wachter", "wachter@example.org", "en")  # waitlisted
    page = await browser.get(_attendees(event_id))
    assert f'name="registration" value="{nl}" form="mail-form"' in page.text

    response = await browser.post(
        f"/admin/events/{event_id}/attendees/mail",
        data={
            "_csrf_token": csrf_from_html(page.text),
            "subject": "Parking",
            "message": "Park behind the building.\n\nSee you!",
            "registration": [str(nl), str(fr)],
            "target": "selected",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Queued 2 messages." in (await browser.get(response.headers["location"])).text
    [to_nl] = await _mails(nl, "broadcast")
    [to_fr] = await _mails(fr, "broadcast")
    assert await _mails(left_out, "broadcast") == []
    assert to_nl["subject"] == to_fr["subject"] == "Parking"
    assert to_nl["text_body"].startswith("Beste Nele") and to_fr["text_body"].startswith("Bonjour François")
    assert "Park behind the building." in to_fr["html_body"]
    entry = (
        await AuditLog.select()
        .where((AuditLog.action == "event.broadcast") & (AuditLog.organisation == org_id))
        .first()
    )
    assert entry is not None and json.loads(entry["detail"])["recipients"] == 2


async def test_mail_everyone_with_one_status(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser, capacity=1)
    seated = await _register(browser, event_id, "Seated", "seated@example.org")
    waiting = await _register(browser, event_id, "Waiting", "waiting@example.org")
    response = await post_form(
        browser,
        f"/admin/events/{event_id}/attendees/mail",
        _attendees(event_id),
        subject="A place may come free",
        message="Keep an eye on your mail.",
        to_status="waitlisted",
        target="status",
    )
    assert response.status_code == 303 and response.headers["location"].endswith("queued=1")
    assert len(await _mails(waiting, "broadcast")) == 1 and await _mails(seated, "broadcast") == []


async def test_mail_without_a_selection_or_message_says_what_is_missing_and_a_stranger_is_404(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser)
    mine = await _register(browser, event_id, "Mine", "mine@example.org")
    nobody = await post_form(
        browser,
        f"/admin/events/{event_id}/attendees/mail",
        _attendees(event_id),
        subject="Hi",
        message="Hello",
        target="selected",
    )
    assert nobody.status_code == 422 and "Tick at least one person to mail." in nobody.text
    assert 'value="Hello"' not in nobody.text and ">Hello</textarea>" in nobody.text, "the message is kept"
    silent = await post_form(
        browser,
        f"/admin/events/{event_id}/attendees/mail",
        _attendees(event_id),
        subject="Hi",
        message="  ",
        registration=str(mine),
        target="selected",
    )
    assert silent.status_code == 422 and re.search(r'id="m-message"[^>]*aria-invalid="true"', silent.text)

    _, other_org = await make_organisation("ander")
    other_event = await make_event(other_org)
    stranger = await _register(browser, other_event, "Stranger", "stranger@example.org")
    response = await post_form(
        browser,
        f"/admin/events/{event_id}/attendees/mail",
        _attendees(event_id),
        subject="Hi",
        message="Hello",
        registration=str(stranger),
        target="selected",
    )
    assert response.status_code == 404
    assert await _mails(stranger, "broadcast") == [] and await _mails(mine, "broadcast") == []


# The person page --------------------------------------------------------------------------------


async def test_the_person_page_shows_details_history_and_mails_and_resends_one(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser, capacity=1)
    await _register(browser, event_id, "Holder", "holder@example.org")
    person = await _register(browser, event_id, "Greta", "greta@example.org", "en", company="Greta BV")
    holder = await Registration.select().where(Registration.email_key == "holder@example.org").first()
    back = _attendees(event_id)
    assert (await post_form(browser, f"/admin/registrations/{holder['id']}/cancel", back, back=back)).status_code == 303

    [waitlisted, promoted] = await _mails(person)
    assert (waitlisted["kind"], promoted["kind"]) == ("waitlisted", "promoted")
    await OutboxMessage.update(
        {OutboxMessage.status: "failed", OutboxMessage.attempts: 10, OutboxMessage.last_error: "550 mailbox full"}
    ).where(OutboxMessage.id == promoted["id"])

    page = await browser.get(f"/admin/registrations/{person}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Greta</h1>" in text and "greta@example.org" in text and "Greta BV" in text
    assert "Put on the waiting list" in text and "Got a place from the waiting list" in text
    assert "550 mailbox full" in text and promoted["subject"] in text and waitlisted["subject"] in text
    assert f'action="/admin/registrations/{person}/mails/{promoted["id"]}/resend"' in text

    resent = await post_form(
        browser, f"/admin/registrations/{person}/mails/{promoted['id']}/resend", f"/admin/registrations/{person}"
    )
    assert resent.status_code == 303
    assert "The message is queued again." in (await browser.get(resent.headers["location"])).text
    again = await OutboxMessage.select().where(OutboxMessage.id == promoted["id"]).first()
    # Queued again from scratch. The shared test database may have a live server whose inline
    # worker picks it up at once: then it is on its first new attempt, never still "failed".
    assert (again["status"], again["attempts"], again["last_error"]) in (
        ("queued", 0, ""),
        ("sending", 1, ""),
        ("sent", 1, ""),
    )
    assert again["message_id"] == promoted["message_id"], "the same message, sent again"
    wrong = await post_form(
        browser, f"/admin/registrations/{holder['id']}/mails/{promoted['id']}/resend", f"/admin/registrations/{person}"
    )
    assert wrong.status_code == 404, "a mail is resent only from its own person's page"


async def _fail_mail(mail_id: int) -> None:
    """Mark a mail failed for good, as the worker does after its last retry. A live server's
    worker on the shared test database may be sending it this instant: wait until it is not."""
    for _ in range(100):
        done = (
            await OutboxMessage.update(
                {
                    OutboxMessage.status: "failed",
                    OutboxMessage.attempts: 10,
                    OutboxMessage.last_error: "550 no such user",
                }
            )
            .where((OutboxMessage.id == mail_id) & (OutboxMessage.status != "sending"))
            .returning(OutboxMessage.id)
        )
        if done:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the mail stayed in sending")


async def test_the_attendee_list_marks_whom_a_mail_did_not_reach_until_it_is_sent_again(browser) -> None:
    slug, owner_id = await make_organisation("bounce")
    partner, _ = await make_organisation("partner")
    event_id = await make_event(owner_id, hosts=[partner])
    reached = await _register(browser, event_id, "Reached", "reached@example.org")
    bounced = await _register(browser, event_id, "Bounced", "bounced@example.org")
    mail = (await _mails(bounced))[-1]
    await _fail_mail(mail["id"])
    marker = f'href="/admin/registrations/{bounced}#mails"'

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    listed = (await browser.get(_attendees(event_id))).text
    assert marker in listed and "Mail not delivered" in listed
    assert f'href="/admin/registrations/{reached}#mails"' not in listed, "only the person the mail did not reach"
    person_page = (await browser.get(f"/admin/registrations/{bounced}")).text
    assert 'id="mails"' in person_page and "550 no such user" in person_page, "the link leads to the reason"
    browser.cookies.set("lang", "fr")
    assert "Courriel non distribué" in (await browser.get(_attendees(event_id))).text
    browser.cookies.set("lang", "nl")
    assert "Mail niet afgeleverd" in (await browser.get(_attendees(event_id))).text
    browser.cookies.set("lang", "en")

    # The participants' mails belong to the owner: a co-host does not learn about them.
    await sign_in(browser, await make_organiser(partner, role="editor"))
    assert "Mail not delivered" not in (await browser.get(_attendees(event_id))).text

    await sign_in(browser, await make_organiser(slug, role="editor"))
    resent = await post_form(
        browser, f"/admin/registrations/{bounced}/mails/{mail['id']}/resend", f"/admin/registrations/{bounced}"
    )
    assert resent.status_code == 303
    assert marker not in (await browser.get(_attendees(event_id))).text, "sent again: no longer marked"


# Check-in: codes, tap, undo, no-shows -----------------------------------------------------------


async def test_a_typed_code_checks_the_person_in_once_and_says_so_the_second_time(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser)
    person = await _register(browser, event_id, "Karel", "karel@example.org", company="Karel & Co")
    code = tokens.check_in_code(person, (await _row(person))["token_nonce"])
    page = f"/admin/events/{event_id}/check-in"
    typed = code.lower().replace("-", " - ", 1)  # typed on a phone: lower case, stray spaces
    done = await post_form(browser, f"{page}/code", page, code=typed)
    assert done.status_code == 303
    shown = await browser.get(done.headers["location"])
    assert "Karel is checked in." in shown.text and 'id="checked-count">1<' in shown.text
    row = await _row(person)
    assert row["attendance"] == "attended" and row["checked_in_at"] is not None

    twice = await post_form(browser, f"{page}/code", page, code=code)
    assert twice.status_code == 303
    assert "Karel was already checked in." in (await browser.get(twice.headers["location"])).text
    assert (await _row(person))["checked_in_at"] == row["checked_in_at"]


async def test_a_wrong_code_or_one_of_another_event_is_refused_with_a_message(browser) -> None:
    _, org_id, event_id = await _signed_in_editor(browser)
    person = await _register(browser, event_id, "Lies", "lies@example.org")
    other_event = await make_event(org_id)
    elsewhere = await _register(browser, other_event, "Elders", "elders@example.org")
    page = f"/admin/events/{event_id}/check-in"
    good = tokens.check_in_code(person, (await _row(person))["token_nonce"])
    forged = good[:-1] + ("A" if good[-1] != "A" else "B")

    for code in (forged, "hello", f"{person}-", "99999999-ABCDEFGH"):
        refused = await post_form(browser, f"{page}/code", page, code=code)
        assert refused.status_code == 422, code
        assert "This is not a valid check-in code." in refused.text
        assert re.search(r'id="ci-code"[^>]*aria-invalid="true"[^>]*aria-describedby="code-error"', refused.text)

    other_code = tokens.check_in_code(elsewhere, (await _row(elsewhere))["token_nonce"])
    wrong_event = await post_form(browser, f"{page}/code", page, code=other_code)
    assert wrong_event.status_code == 409 and "This check-in code is for another event." in wrong_event.text
    assert (await _row(person))["attendance"] == "" and (await _row(elsewhere))["attendance"] == ""


async def test_the_tap_sets_and_undo_clears_the_check_in_time(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser)
    person = await _register(browser, event_id, "Tom", "tom@example.org")
    page = f"/admin/events/{event_id}/check-in"
    url = f"/admin/registrations/{person}/attendance"
    assert (await post_form(browser, url, page, attendance="attended", back=page)).status_code == 303
    assert (await _row(person))["checked_in_at"] is not None
    assert (await post_form(browser, url, page, attendance="", back=page)).status_code == 303
    row = await _row(person)
    assert row["attendance"] == "" and row["checked_in_at"] is None


async def test_no_shows_are_marked_only_after_the_event_has_ended(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser)
    came = await _register(browser, event_id, "Came", "came@example.org")
    absent = await _register(browser, event_id, "Absent", "absent@example.org")
    page = f"/admin/events/{event_id}/check-in"
    assert "Mark them as no-shows" not in (await browser.get(page)).text
    early = await post_form(browser, f"/admin/events/{event_id}/no-shows", page)
    assert early.status_code == 409 and "No-shows can only be marked after the event has ended." in early.text
    assert (await _row(absent))["attendance"] == ""

    await post_form(browser, f"/admin/registrations/{came}/attendance", page, attendance="attended", back=page)
    past = datetime.now(UTC) - timedelta(hours=3)
    await Event.update({Event.starts_at: past - timedelta(hours=2), Event.ends_at: past}).where(Event.id == event_id)
    after = await browser.get(page)
    assert "1 confirmed person was not checked in." in after.text and "Mark them as no-shows" in after.text
    marked = await post_form(browser, f"/admin/events/{event_id}/no-shows", page)
    assert marked.status_code == 303
    assert "1 person marked as no-show." in (await browser.get(marked.headers["location"])).text
    assert (await _row(absent))["attendance"] == "no_show" and (await _row(came))["attendance"] == "attended"


# The attendance sheet ---------------------------------------------------------------------------


async def test_the_attendance_sheet_lists_confirmed_people_by_name_with_a_signature_column(browser) -> None:
    _, _, event_id = await _signed_in_editor(browser, capacity=3)
    for name, email, company in (
        ("zoë Wouters", "zoe@example.org", "Zoë Design"),
        ("Arne Claes", "arne@example.org", ""),
        ("Mira Janssens", "mira@example.org", "Mira Bakt"),
        ("Wim Waiting", "wim@example.org", "Wim Waits"),  # waitlisted: not on the sheet
    ):
        await _register(browser, event_id, name, email, company=company)
    sheet = await browser.get(f"/admin/events/{event_id}/attendance-sheet")
    assert sheet.status_code == 200
    names = re.findall(r'<th scope="row">([^<]+)</th>', sheet.text)
    assert names == ["Arne Claes", "Mira Janssens", "zoë Wouters"]
    assert "Zoë Design" in sheet.text and "Wim" not in sheet.text
    assert "Signature" in sheet.text and '<td class="sheet-sign"></td>' in sheet.text
    assert "<h1>Microcredit info</h1>" in sheet.text and "Ondernemershuis" in sheet.text
    css = (await browser.get("/static/style.css")).text
    assert "thead { display: table-header-group; }" in css, "the header repeats on every printed page"


# Who may do what ------------------------------------------------------------------------------


async def test_viewers_read_everything_but_change_nothing(browser) -> None:
    slug, org_id = await make_organisation("kijker")
    event_id = await make_event(org_id)
    person = await _register(browser, event_id, "Vera", "vera@example.org")
    [mail] = await _mails(person)
    await sign_in(browser, await make_organiser(slug, role="viewer"))
    attendees_page = await browser.get(_attendees(event_id))
    assert attendees_page.status_code == 200 and "Vera" in attendees_page.text
    assert 'id="mail-form"' not in attendees_page.text and 'id="p-name"' not in attendees_page.text
    person_page = await browser.get(f"/admin/registrations/{person}")
    assert person_page.status_code == 200 and "/resend" not in person_page.text
    check_in = await browser.get(f"/admin/events/{event_id}/check-in")
    assert check_in.status_code == 200 and 'id="code-form"' not in check_in.text
    assert (await browser.get(f"/admin/events/{event_id}/attendance-sheet")).status_code == 200

    code = tokens.check_in_code(person, (await _row(person))["token_nonce"])
    page = _attendees(event_id)
    for url, fields in (
        (page, {"name": "X", "email": "x@example.org", "language": "nl"}),
        (f"{page}/mail", {"subject": "S", "message": "M", "target": "status", "to_status": "confirmed"}),
        (f"/admin/events/{event_id}/check-in/code", {"code": code}),
        (f"/admin/events/{event_id}/no-shows", {}),
        (f"/admin/registrations/{person}/mails/{mail['id']}/resend", {}),
    ):
        response = await post_form(browser, url, page, **fields)
        assert response.status_code == 403, url
    assert (await _row(person))["attendance"] == ""
    assert await Registration.count().where(Registration.event == event_id) == 1
    assert await _mails(person, "broadcast") == []


async def test_another_organisation_gets_404_and_strangers_go_to_the_login(browser) -> None:
    _, org_id = await make_organisation("eigen")
    event_id = await make_event(org_id)
    person = await _register(browser, event_id, "Pia", "pia@example.org")
    [mail] = await _mails(person)
    code = tokens.check_in_code(person, (await _row(person))["token_nonce"])
    gets = (f"/admin/registrations/{person}", f"/admin/events/{event_id}/attendance-sheet")
    for url in gets:
        anonymous = await browser.get(url, follow_redirects=False)
        assert anonymous.status_code in (302, 303, 307) and anonymous.headers["location"].startswith("/login"), url

    other, _ = await make_organisation("ander")
    await sign_in(browser, await make_organiser(other, role="owner"))
    for url in gets:
        assert (await browser.get(url)).status_code == 404, url
    token = csrf_from_html((await browser.get("/admin")).text)
    for url, fields in (
        (_attendees(event_id), {"name": "X", "email": "x@example.org", "language": "nl"}),
        (
            f"{_attendees(event_id)}/mail",
            {"subject": "S", "message": "M", "target": "status", "to_status": "confirmed"},
        ),
        (f"/admin/events/{event_id}/check-in/code", {"code": code}),
        (f"/admin/events/{event_id}/no-shows", {}),
        (f"/admin/registrations/{person}/mails/{mail['id']}/resend", {}),
    ):
        response = await browser.post(url, data={"_csrf_token": token, **fields}, follow_redirects=False)
        assert response.status_code == 404, url
    assert (await _row(person))["attendance"] == ""
