"""SMTP faults end to end: people register over HTTP with a real `trefpunt serve`, mail goes out
through its inline worker or a real `trefpunt worker` to a real SMTP server on loopback.

The outbox worker's handling of each reply is proven in-process by tests/mail/test_smtp_delivery.py
(421/451/452 retried until delivered once, 5xx failed with the server's words and never retried,
server down then up, silent or slow servers bounded by the timeout). These tests add what only
the processes show: registrations do not wait for mail, the backoff the worker schedules, a
worker restart sending nothing twice, the organiser seeing a refused mail on the person's page,
and public pages keeping their speed while the worker waits on a silent server.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from events.tables import OutboxMessage, Registration
from tests.conftest import LiveServer, free_port, serving
from tests.integration.helpers import make_event, make_organisation, make_organiser, sign_in
from tests.mail import conftest as mail_fixtures
from tests.mail.conftest import ScriptedHandler, SmtpServer, outbox_rows, unique_domain, wait_for
from tests.reliability import faults
from tests.reliability.conftest import running_worker
from tests.reliability.faults import register_over_http

pytestmark = pytest.mark.serve

fault_database = faults.fault_database
smtp = mail_fixtures.smtp
silent_smtp = mail_fixtures.silent_smtp

# The worker's first retry comes after 30 s (±20 % jitter), doubling from there.
FIRST_BACKOFF_S = (24.0, 36.0)


def _client(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, timeout=30, headers={"Accept-Language": "en"})


async def _rows_until(domain: str, done: Any, what: str, timeout: float = 30) -> list[dict[str, Any]]:
    """This domain's outbox rows once `done(rows)` holds (polling the database)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await outbox_rows(domain)
        if rows and done(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}: {[_brief(r) for r in rows]}")
        await asyncio.sleep(0.1)


def _brief(row: dict[str, Any]) -> tuple[str, str, int, str]:
    return row["recipient"], row["status"], row["attempts"], row["last_error"][:80]


async def _bring_retries_forward(rows: list[dict[str, Any]]) -> None:
    """The backoff has been checked; let its time pass without waiting for it."""
    await OutboxMessage.update({OutboxMessage.next_attempt_at: datetime.now(UTC)}).where(
        OutboxMessage.id.is_in([row["id"] for row in rows])
    )


# SMTP down while people register ---------------------------------------------------------------


async def test_registrations_go_through_while_smtp_is_down_and_each_mail_goes_out_once_after_a_worker_restart(
    fault_database: str, smtp: Any
) -> None:
    port = free_port()  # nothing listens here yet: the mail server is down
    _, org_id = await make_organisation("smtp-down")
    event_id = await make_event(org_id, capacity=50)
    domain = unique_domain()
    emails = [f"p{i}@{domain}" for i in range(4)]

    with serving("smtp-down", SMTP_URL=f"smtp://127.0.0.1:{port}", SMTP_TIMEOUT="20") as server:
        async with _client(server) as client:
            for email in emails:
                started = time.monotonic()
                answer = await register_over_http(client, event_id, email)
                assert answer.status_code == 201, answer.text
                assert answer.json()["status"] == "confirmed"
                assert time.monotonic() - started < 10, "a registration does not wait for the mail server"
        rows = await _rows_until(
            domain, lambda rows: len(rows) == 4 and all(r["attempts"] >= 1 for r in rows), "the first attempts"
        )
    # The app (and its inline worker) stopped while the server was down: the mails wait, with a reason.
    rows = await outbox_rows(domain)
    assert {row["status"] for row in rows} == {"queued"}, [_brief(r) for r in rows]
    assert all(row["last_error"] for row in rows), "the reason is kept"
    now = datetime.now(UTC)
    assert all((row["next_attempt_at"] - now).total_seconds() > 5 for row in rows), "retried later, not at once"

    server_back = smtp(port=port)
    await _bring_retries_forward(rows)
    with running_worker("after-smtp-down", SMTP_URL=server_back.url) as worker:
        rows = await _rows_until(domain, lambda rows: all(r["status"] == "sent" for r in rows), "delivery", 30)
        await asyncio.sleep(1.5)  # anything more that would come (it must not)
        assert worker.process.poll() is None, worker.output()

    arrived = Counter(m.message_id for m in server_back.handler.seen_for(domain))
    assert set(arrived) == {row["message_id"] for row in rows}
    assert set(arrived.values()) == {1}, f"a mail came twice: {arrived}"
    assert sorted(r for m in server_back.handler.accepted_for(domain) for r in m.rcpt_tos) == sorted(emails)
    assert all(row["last_error"] == "" for row in await outbox_rows(domain))


# A silent mail server ------------------------------------------------------------------------
# (Before the tests of `mail_app`: its serve's inline worker, alive until the module ends, would
# take this test's mail.)


async def _page_latencies(client: httpx.AsyncClient, url: str, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.monotonic()
        page = await client.get(url)
        timings.append(time.monotonic() - started)
        assert page.status_code == 200
    return timings


async def test_a_silent_mail_server_costs_one_timeout_per_attempt_and_public_pages_keep_their_speed(
    fault_database: str, silent_smtp: Any
) -> None:
    timeout = 4.0
    _, org_id = await make_organisation("smtp-silent")
    event_id = await make_event(org_id)
    domain = unique_domain()
    page = f"/events/{event_id}"
    with serving("smtp-silent", SMTP_URL=silent_smtp.url, SMTP_TIMEOUT=str(timeout)) as server:
        async with _client(server) as client:
            await _page_latencies(client, page, 3)  # warm up
            baseline = statistics.median(await _page_latencies(client, page, 15))

            started = time.monotonic()
            answer = await register_over_http(client, event_id, f"waiting@{domain}")
            assert answer.status_code == 201, answer.text
            assert time.monotonic() - started < timeout, "the registration does not wait for the mail server"

            await wait_for(lambda: silent_smtp.connections >= 1, 15, "the worker to reach the silent server")
            held_since = time.monotonic()
            during: list[float] = []
            while (await outbox_rows(domain))[0]["status"] == "sending":
                during += await _page_latencies(client, page, 3)
                assert time.monotonic() - held_since < timeout + 10, "the worker waits past its timeout"
            held = time.monotonic() - held_since

    [row] = await outbox_rows(domain)
    assert row["status"] == "queued", "deferred, not failed: the server may come back"
    assert "timeout" in row["last_error"].lower() or "timed out" in row["last_error"].lower(), row["last_error"]
    assert held < timeout + 5, f"the worker held on {held:.1f}s with SMTP_TIMEOUT={timeout}"
    assert len(during) >= 6, f"only {len(during)} page loads while the worker waited"
    slowest_typical = statistics.median(during)
    assert slowest_typical < 3 * baseline + 0.25, (
        f"public page median {slowest_typical * 1000:.0f} ms while the worker waited on SMTP, "
        f"{baseline * 1000:.0f} ms before"
    )


# Transient and permanent replies through the running app ---------------------------------------


class _PerRecipient:
    """RCPT replies scripted per recipient (local part before the @): each listed reply once,
    in order, then 250; `always` replies every time."""

    def __init__(self) -> None:
        self.once: dict[str, list[str]] = {}
        self.always: dict[str, str] = {}

    def __call__(self, address: str) -> str | None:
        local = address.split("@", 1)[0]
        if local in self.always:
            return self.always[local]
        replies = self.once.get(local)
        return replies.pop(0) if replies else None


@pytest.fixture(scope="module")
def mail_app(fault_database: str) -> Iterator[tuple[LiveServer, SmtpServer, _PerRecipient]]:
    """One serve with its inline worker and a recording SMTP server scripted per recipient."""
    script = _PerRecipient()
    server = SmtpServer(ScriptedHandler(refuse=script), free_port())
    server.start()
    try:
        with serving("smtp-replies", SMTP_URL=server.url, SMTP_TIMEOUT="10", TREFPUNT_RATE_LIMIT="off") as app:
            yield app, server, script
    finally:
        server.stop()


@pytest.mark.parametrize(
    "reply",
    [
        "421 4.3.2 Service shutting down, closing channel",
        "451 4.7.1 Greylisted, please try again later",
        "452 4.2.2 Mailbox full, try again later",
    ],
    ids=["421", "451", "452"],
)
async def test_a_transient_reply_is_retried_after_a_backoff_and_delivered_exactly_once(
    mail_app: tuple[LiveServer, SmtpServer, _PerRecipient], reply: str
) -> None:
    app, server, script = mail_app
    _, org_id = await make_organisation("smtp-4xx")
    event_id = await make_event(org_id)
    domain = unique_domain()
    script.once["transient"] = [reply]

    async with _client(app) as client:
        answer = await register_over_http(client, event_id, f"transient@{domain}")
    assert answer.status_code == 201, answer.text

    [row] = await _rows_until(domain, lambda rows: rows[0]["attempts"] == 1 and rows[0]["status"] == "queued", reply)
    assert reply[:3] in row["last_error"], row["last_error"]
    wait = (row["next_attempt_at"] - datetime.now(UTC)).total_seconds()
    assert FIRST_BACKOFF_S[0] - 2 < wait <= FIRST_BACKOFF_S[1], f"retry in {wait:.1f}s, not after the backoff"
    assert server.handler.accepted_for(domain) == []

    await _bring_retries_forward([row])
    [row] = await _rows_until(domain, lambda rows: rows[0]["status"] == "sent", "the retry")
    await asyncio.sleep(1.5)  # anything more that would come (it must not)
    assert (row["attempts"], row["last_error"]) == (2, "")
    assert [m.message_id for m in server.handler.accepted_for(domain)] == [row["message_id"]], "delivered once"


async def test_a_550_fails_the_mail_with_the_reason_for_the_organiser_and_the_registration_stands(
    mail_app: tuple[LiveServer, SmtpServer, _PerRecipient],
) -> None:
    app, server, script = mail_app
    slug, org_id = await make_organisation("smtp-550")
    organiser = await make_organiser(slug, role="editor")
    event_id = await make_event(org_id)
    domain = unique_domain()
    script.always["nobody"] = "550 5.1.1 <nobody>: Recipient address rejected: User unknown"

    async with _client(app) as client:
        answer = await register_over_http(client, event_id, f"nobody@{domain}")
        assert answer.status_code == 201, answer.text
        [row] = await _rows_until(domain, lambda rows: rows[0]["status"] == "failed", "the 550")
        assert "550" in row["last_error"] and "User unknown" in row["last_error"], row["last_error"]
        await asyncio.sleep(1.5)  # one and a half polls of the worker: no retry
        assert server.handler.rcpt_commands.count(f"nobody@{domain}") == 1, "a 550 is not retried"
        [row] = await outbox_rows(domain)
        assert (row["status"], row["attempts"]) == ("failed", 1)

        registration = await Registration.select().where(Registration.email_key == f"nobody@{domain}").first()
        assert registration is not None and registration["status"] == "confirmed", "the registration stands"

        assert (await sign_in(client, organiser)).status_code == 303
        attendees = await client.get(f"/admin/events/{event_id}/attendees")
        assert attendees.status_code == 200
        assert f"nobody@{domain}" in attendees.text
        assert f'href="/admin/registrations/{registration["id"]}"' in attendees.text
        person = await client.get(f"/admin/registrations/{registration['id']}")
        assert person.status_code == 200
        assert "Failed" in person.text
        assert "Recipient address rejected: User unknown" in person.text, "the organiser reads the server's reason"
