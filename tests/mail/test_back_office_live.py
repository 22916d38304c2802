"""An organiser's event, start to end, on the real `trefpunt serve` with its inline worker
delivering to a real SMTP server on loopback: what people find in their mailbox is the test.

Create (a draft tells nobody), publish, people register over the API, move the event (a warning
first, then one updated invite each), cancel (CANCEL to the confirmed, a plain mail to the
waiting list), while sessions, CSRF and the rendered forms are the browser's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.backoffice.test_event_forms import _form_for_new, form_fields
from tests.conftest import serving
from tests.integration.helpers import csrf_from_html
from tests.mail.conftest import PASSWORD, ScriptedHandler, make_organisation, make_organiser


def _subjects_and_methods(handler: ScriptedHandler, recipient: str) -> list[tuple[str, str]]:
    found = []
    for received in list(handler.seen):
        if recipient not in received.rcpt_tos:
            continue
        message = received.message
        calendar = next((p for p in message.walk() if p.get_content_type() == "text/calendar"), None)
        found.append((str(message["Subject"]), calendar.get_param("method") if calendar else ""))
    return found


async def _mailbox(handler: ScriptedHandler, recipient: str, count: int) -> list[tuple[str, str]]:
    deadline = time.monotonic() + 20
    while len(_subjects_and_methods(handler, recipient)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{recipient} got {_subjects_and_methods(handler, recipient)}, wanted {count} mails")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # anything more that would arrive (it must not)
    return _subjects_and_methods(handler, recipient)


async def test_an_organiser_creates_moves_and_cancels_an_event_and_each_person_gets_the_right_mail(smtp: Any) -> None:
    server = smtp()
    handler = server.handler
    slug, org_id = await make_organisation("live-office")
    organiser = await make_organiser(slug, role="editor")

    with serving("back-office", SMTP_URL=f"smtp://127.0.0.1:{server.port}", TREFPUNT_RATE_LIMIT="off") as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=15, headers={"Accept-Language": "en"}) as browser:
            login = await browser.get("/login")
            signed_in = await browser.post(
                "/login",
                data={"email": organiser, "password": PASSWORD, "_csrf_token": csrf_from_html(login.text)},
            )
            assert signed_in.status_code == 303

            new_page = await browser.get(f"/admin/events/new?organisation={org_id}")
            form = _form_for_new(
                org_id, capacity="2", requires_approval="", waitlist="yes", title_en="Start with microcredit"
            )
            created = await browser.post(
                "/admin/events/new", data={**form, "_csrf_token": csrf_from_html(new_page.text)}
            )
            assert created.status_code == 303, created.text
            event_id = int(created.headers["location"].rsplit("/", 1)[1])
            detail = await browser.get(f"/admin/events/{event_id}")
            published = await browser.post(
                f"/admin/events/{event_id}/publish", data={"_csrf_token": csrf_from_html(detail.text)}
            )
            assert published.status_code == 303

            people = ["ann@live.example", "bo@live.example", "cas@live.example"]
            for address in people:
                registered = await browser.post(
                    f"/api/v1/events/{event_id}/registrations",
                    json={"name": address.split("@")[0].title(), "email": address, "language": "en"},
                )
                assert registered.status_code == 201, registered.text
            assert [len(await _mailbox(handler, a, 1)) for a in people] == [1, 1, 1]
            assert (await _mailbox(handler, people[2], 1))[0][1] == "", "the third waits, without an invite"

            action = f"/admin/events/{event_id}/edit"
            edit_page = await browser.get(action)
            moved = form_fields(edit_page.text, action)
            moved.update(starts_at=moved["starts_at"][:11] + "19:00", ends_at=moved["ends_at"][:11] + "21:00")
            warning = await browser.post(action, data=moved)
            assert warning.status_code == 200
            assert "sends an updated invitation to 2 people" in warning.text
            saved = await browser.post(action, data={**form_fields(warning.text, action), "confirm": "yes"})
            assert saved.status_code == 303

            preview = await browser.get(f"/admin/events/{event_id}/cancel")
            assert "3 people get a cancellation by mail" in preview.text
            cancelled = await browser.post(
                f"/admin/events/{event_id}/cancel", data={"_csrf_token": csrf_from_html(preview.text)}
            )
            assert cancelled.status_code == 303

            for address in people[:2]:
                mails = await _mailbox(handler, address, 3)
                assert [method for _, method in mails] == ["REQUEST", "REQUEST", "CANCEL"], mails
                assert [subject.split(":")[0] for subject, _ in mails] == [
                    "Registration confirmed",
                    "Changed",
                    "Cancelled",
                ]
                assert all(subject.endswith("Start with microcredit") for subject, _ in mails)
            waiting = await _mailbox(handler, people[2], 2)
            assert [method for _, method in waiting] == ["", ""], "the waiting list is told, with nothing to remove"
            assert [subject.split(":")[0] for subject, _ in waiting] == ["On the waiting list", "Cancelled"]
