"""kill -9 of real processes: a `trefpunt worker` in the middle of sending, and a `trefpunt serve`
with registrations in flight.

tests/mail/test_leases_and_workers.py already kills a worker mid-send with one mail and has the
next delivery done in-process. Here a batch of real confirmation mails is claimed by a worker
that is killed while the server holds its first DATA; a second real worker leaves them alone
while the lease holds and then sends each, only the one in flight possibly twice (with the same
Message-ID).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import serving
from tests.integration.helpers import make_event, make_organisation
from tests.mail import conftest as mail_fixtures
from tests.mail.conftest import ScriptedHandler, outbox_rows, unique_domain, wait_for
from tests.registrations.helpers import register
from tests.reliability import faults
from tests.reliability.conftest import running_worker
from tests.reliability.faults import assert_whole_or_nothing, register_over_http

pytestmark = pytest.mark.serve

fault_database = faults.fault_database
smtp = mail_fixtures.smtp


async def test_a_worker_killed_mid_send_leaves_its_batch_to_the_next_worker_after_the_lease_at_most_one_twice(
    fault_database: str, smtp: Any
) -> None:
    from events.tables import OutboxMessage

    handler = ScriptedHandler(data_delay=10.0)  # sits on the first DATA: the kill lands mid-send
    server = smtp(handler)
    _, org_id = await make_organisation("kill-worker")
    event_id = await make_event(org_id)
    domain = unique_domain()
    for i in range(3):
        assert (await register(event_id, f"p{i}@{domain}", language="en")).status == "confirmed"
    queued = await outbox_rows(domain)
    assert [row["kind"] for row in queued] == ["invitation"] * 3

    with running_worker("killed-worker", SMTP_URL=server.url, SMTP_TIMEOUT="60") as first:
        await wait_for(lambda: bool(handler.seen_for(domain)) or first.process.poll() is not None, 30, "DATA")
        assert first.process.poll() is None, first.output()
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    [in_flight] = [m.message_id for m in handler.seen_for(domain)]

    rows = await outbox_rows(domain)
    assert {(row["status"], row["attempts"]) for row in rows} == {("sending", 1)}, "the whole batch was claimed"
    assert all(row["lease_until"] > datetime.now(UTC) for row in rows), "the dead worker's lease still holds"

    handler.data_delay = 0.0
    with running_worker("next-worker", SMTP_URL=server.url, SMTP_TIMEOUT="10") as second:
        await asyncio.sleep(1.5)  # one and a half of its polls
        assert len(handler.seen_for(domain)) == 1, "a leased mail is not taken while the lease holds"
        # The lease (two minutes) runs out, without waiting for it.
        await OutboxMessage.update({OutboxMessage.lease_until: datetime.now(UTC) - timedelta(seconds=1)}).where(
            OutboxMessage.id.is_in([row["id"] for row in rows])
        )
        await wait_for(lambda: len(handler.seen_for(domain)) >= 4 or second.process.poll() is not None, 20, "resend")
        await asyncio.sleep(1.5)  # anything more that would come (it must not)
        assert second.process.poll() is None, second.output()

    rows = await outbox_rows(domain)
    assert {(row["status"], row["attempts"]) for row in rows} == {("sent", 2)}
    arrived = Counter(m.message_id for m in handler.seen_for(domain))
    assert set(arrived) == {row["message_id"] for row in rows}, "every mail keeps the Message-ID it was queued with"
    assert arrived[in_flight] == 2, "the mail in flight is sent again, with its Message-ID"
    assert sorted(arrived.values()) == [1, 1, 2], f"only the mail in flight may come twice: {arrived}"


async def test_a_serve_killed_with_registrations_in_flight_loses_none_it_confirmed_and_serves_again_on_restart() -> (
    None
):
    _, org_id = await make_organisation("kill-serve")
    event_id = await make_event(org_id, capacity=500)
    emails = [f"p{i}@kill-serve.test" for i in range(30)]
    outcomes: list[Any]
    with serving("killed-serve", TREFPUNT_WORKER="off", TREFPUNT_RATE_LIMIT="off") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            tasks = [asyncio.create_task(register_over_http(client, event_id, email)) for email in emails]
            await wait_for(lambda: sum(task.done() for task in tasks) >= 5, 30, "the first answers")
            os.kill(server.process.pid, signal.SIGKILL)
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    confirmed = [e for e, o in zip(emails, outcomes, strict=True) if isinstance(o, httpx.Response)]
    unanswered = [e for e, o in zip(emails, outcomes, strict=True) if isinstance(o, httpx.TransportError)]
    assert sorted(confirmed + unanswered) == sorted(emails), [o for o in outcomes if not isinstance(o, httpx.Response)]
    assert all(o.status_code == 201 for o in outcomes if isinstance(o, httpx.Response)), outcomes
    assert confirmed and unanswered, f"{len(confirmed)} answered, {len(unanswered)} cut: the kill missed the flight"

    for email in confirmed:
        assert await assert_whole_or_nothing(email), f"{email} got a 201 and is not in the database"
    committed_unanswered = {email for email in unanswered if await assert_whole_or_nothing(email)}

    with serving("restarted-serve", TREFPUNT_WORKER="off", TREFPUNT_RATE_LIMIT="off") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            assert (await client.get(f"/events/{event_id}")).status_code == 200
            for email in unanswered:
                retried = await register_over_http(client, event_id, email)
                # Committed before the kill: the retry says so; else it registers now.
                assert retried.status_code == (200 if email in committed_unanswered else 201), retried.text
                assert await assert_whole_or_nothing(email)
