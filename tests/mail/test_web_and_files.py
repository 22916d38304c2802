"""Mail as the web side sees it: pages stay fast while the worker is stuck, and file delivery
(no SMTP_URL) with the /dev/mail pages for the organisers of the right organisation only."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import time

import httpx
from markupsafe import escape

from tests.conftest import BIN, ROOT, VAR_DIR, free_port
from tests.mail.conftest import (
    PASSWORD,
    invite,
    make_event,
    make_organisation,
    make_organiser,
    outbox_rows,
    queue_many,
    unique_domain,
    wait_for,
    worker_config,
)
from tests.processes import wait_until_healthy

FAST = 0.5  # seconds


# Web latency while the inline worker waits on a silent SMTP server --------------------------------


async def test_pages_stay_fast_while_the_inline_worker_is_stuck_on_a_silent_server(silent_smtp):
    domain = unique_domain()
    await queue_many(domain, 3)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = VAR_DIR / f"mail-serve-{port}.log"
    env = {
        **os.environ,
        "BASE_URL": url,
        "TREFPUNT_DB_POOL": "on",
        "TREFPUNT_WORKER": "inline",
        "SMTP_URL": silent_smtp.url,
        "SMTP_TIMEOUT": "5",
    }
    env.pop("TREFPUNT_ALLOWED_HOSTS", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "trefpunt"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(url, process, log.read_text)
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            # The worker is now waiting for a greeting that never comes.
            await wait_for(lambda: silent_smtp.connections >= 1, 10, "the inline worker to connect")

            for path in ("/health", "/events"):  # warm up: first renders compile templates
                assert (await http.get(path)).status_code == 200

            timings: list[tuple[str, float]] = []
            for _ in range(5):
                for path in ("/health", "/events"):
                    started = time.monotonic()
                    response = await http.get(path)
                    timings.append((path, time.monotonic() - started))
                    assert response.status_code == 200, (path, response.status_code)

        slow = [(path, round(seconds, 3)) for path, seconds in timings if seconds >= FAST]
        assert not slow, f"requests slower than {FAST}s while the worker is stuck: {slow}"
        rows = await outbox_rows(domain)
        assert {row["status"] for row in rows} <= {"queued", "sending"}, "the mails are still pending"
        assert "sending" in {row["status"] for row in rows}, "the worker holds them"
    finally:
        process.terminate()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()  # the lifespan may wait up to 10 s for the stuck worker; not this test's subject
            process.wait(timeout=10)


# File delivery and /dev/mail -----------------------------------------------------------------


def _redirects_to_login(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code in (302, 303, 307) and response.headers["location"].startswith("/login")


async def _sign_in(browser, email_address: str) -> None:  # type: ignore[no-untyped-def]
    browser.cookies.clear()
    page = await browser.get("/login")
    assert page.status_code == 200
    assert browser.cookies.get("trefpunt_csrf"), "GET /login sets the CSRF cookie"
    tag = re.search(r'<input[^>]*name="_csrf_token"[^>]*>', page.text)
    assert tag, "the login form has a hidden _csrf_token input"
    token = re.search(r'value="([^"]+)"', tag.group(0))
    assert token
    response = await browser.post(
        "/login",
        data={"email": email_address, "password": PASSWORD, "_csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])


def _eml_with_message_id(message_id: str, since: float) -> list[email.message.EmailMessage]:
    directory = worker_config(None).settings.mail_dir
    found = []
    for path in directory.glob("*.eml"):
        if path.stat().st_mtime < since - 1:
            continue
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if str(message["Message-ID"]).strip() == message_id:
            found.append(message)
    return found


async def test_without_smtp_url_mail_goes_to_eml_files_and_dev_mail_shows_it_to_its_organisers(browser):
    from events.mail.worker import drain_once

    started = time.time()
    slug_a, organisation_a = await make_organisation("mail-a")
    slug_b, _ = await make_organisation("mail-b")
    organiser_a = await make_organiser(slug_a)
    organiser_b = await make_organiser(slug_b)
    event_id = await make_event(organisation_a, title="Zitdag microkrediet")
    domain = unique_domain()
    await invite(event_id, "Jan Peeters", f"jan@{domain}", language="nl")
    [row] = await outbox_rows(domain)
    assert row["organisation"] == organisation_a

    config = worker_config(None)
    assert config.settings.smtp_url is None
    assert await drain_once(config) == 1

    [row] = await outbox_rows(domain)
    assert (row["status"], row["attempts"]) == ("sent", 1)
    files = _eml_with_message_id(row["message_id"], started)
    assert len(files) == 1, f"one .eml file under {config.settings.mail_dir} for the message"
    [message] = files
    assert [a.addr_spec for a in message["To"].addresses] == [f"jan@{domain}"]
    assert message["Subject"] == row["subject"]
    assert message.get_content_type() == "multipart/mixed"
    calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    assert not list(config.settings.mail_dir.glob("*.tmp")), "no half-written files are left"

    message_url = f"/dev/mail/{row['id']}"

    # Anonymous: to the sign-in page.
    assert _redirects_to_login(await browser.get("/dev/mail", follow_redirects=False))
    assert _redirects_to_login(await browser.get(message_url, follow_redirects=False))

    # An organiser of the organisation: the list, the message with its invite.
    await _sign_in(browser, organiser_a)
    mailbox = await browser.get("/dev/mail")
    assert mailbox.status_code == 200
    assert f'href="{message_url}"' in mailbox.text
    assert str(escape(row["subject"])) in mailbox.text
    assert f"jan@{domain}" in mailbox.text
    page = await browser.get(message_url)
    assert page.status_code == 200
    assert str(escape(row["subject"])) in page.text
    assert row["message_id"].strip("<>") in page.text
    assert "METHOD:REQUEST" in page.text and "BEGIN:VEVENT" in page.text
    assert f"{message_url}/invite.ics" in page.text
    ics = await browser.get(f"{message_url}/invite.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert ics.text == row["ics"]

    # An organiser of another organisation: nothing.
    await _sign_in(browser, organiser_b)
    mailbox = await browser.get("/dev/mail")
    assert mailbox.status_code == 200
    assert message_url not in mailbox.text
    assert f"jan@{domain}" not in mailbox.text
    assert (await browser.get(message_url)).status_code == 404
    assert (await browser.get(f"{message_url}/invite.ics")).status_code == 404


async def test_dev_mail_shows_the_check_in_qr_code_that_the_delivered_mail_carries_inline(browser):
    from events.services import registrations
    from events.services.registrations import RegistrationInput
    from events.tables import OutboxMessage

    slug, organisation = await make_organisation("mail-qr")
    event_id = await make_event(organisation)
    await registrations.register(event_id, RegistrationInput(name="An", email="an@qr.example", language="nl"))
    row = await OutboxMessage.select().where(OutboxMessage.event == event_id).first()
    assert row is not None and "cid:check-in." in row["html_body"]
    await _sign_in(browser, await make_organiser(slug))
    page = await browser.get(f"/dev/mail/{row['id']}")
    assert page.status_code == 200 and "cid:check-in." not in page.text
    assert "data:image/png;base64,iVBORw0KGgo" in page.text, "the QR code is drawn in the preview"
