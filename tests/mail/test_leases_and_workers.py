"""Leases: a worker that dies after claiming, a real `trefpunt worker` killed mid-send, and
concurrent workers on PostgreSQL never sending a row twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import BIN, ROOT, USING_POSTGRES, VAR_DIR
from tests.mail.conftest import (
    ScriptedHandler,
    outbox_rows,
    outgoing,
    queue,
    queue_many,
    unique_domain,
    wait_for,
    worker_config,
)


async def test_a_worker_that_dies_after_claiming_leaves_the_mail_to_the_next_after_its_lease(smtp):
    from events.mail.worker import WorkerConfig, claim_batch, drain_once

    server = smtp()
    domain = unique_domain()
    await queue(outgoing(domain, 0))

    # The first worker claims and then dies before sending anything.
    [claimed] = await claim_batch(WorkerConfig(lease=timedelta(seconds=1), settings=worker_config(None).settings))
    assert claimed["recipient"] == f"p0@{domain}"
    assert (claimed["status"], claimed["attempts"]) == ("sending", 1)

    config = worker_config(server.url)
    assert await drain_once(config) == 0, "a leased mail is not taken while its lease runs"
    assert server.handler.accepted_for(domain) == []

    await asyncio.sleep(1.2)
    assert await drain_once(config) == 1, "the next worker takes it once the lease has passed"

    [row] = await outbox_rows(domain)
    assert (row["status"], row["attempts"], row["lease_until"]) == ("sent", 2, None)
    assert [m.message_id for m in server.handler.accepted_for(domain)] == [claimed["message_id"]], (
        "delivered once, with the Message-ID it was given when queued"
    )


async def test_a_worker_killed_mid_send_is_taken_over_and_sends_at_most_one_duplicate(smtp):
    from events.mail.worker import drain_once
    from events.tables import OutboxMessage

    slow = smtp(ScriptedHandler(data_delay=10.0))
    domain = unique_domain()
    await queue(outgoing(domain, 0))
    [queued] = await outbox_rows(domain)

    log = VAR_DIR / f"mail-worker-{domain}.log"
    env = {**os.environ, "SMTP_URL": slow.url, "SMTP_TIMEOUT": "30"}
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(BIN / "trefpunt"), "worker"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        await wait_for(lambda: bool(slow.handler.seen_for(domain)) or worker.poll() is not None, 20, "DATA")
        assert worker.poll() is None, f"trefpunt worker exited:\n{log.read_text()}"
        os.kill(worker.pid, signal.SIGKILL)  # mid-send: the data is in, the 250 is not out yet
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)

    [row] = await outbox_rows(domain)
    assert (row["status"], row["attempts"]) == ("sending", 1)
    assert row["lease_until"] > datetime.now(UTC), "the dead worker's lease still holds"

    fast = smtp()
    config = worker_config(fast.url)
    assert await drain_once(config) == 0, "nobody takes it while the lease holds"

    # Let the (120 s) lease run out without waiting for it.
    await OutboxMessage.update({OutboxMessage.lease_until: datetime.now(UTC) - timedelta(seconds=1)}).where(
        OutboxMessage.id == row["id"]
    )
    assert await drain_once(config) == 1

    [row] = await outbox_rows(domain)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    deliveries = slow.handler.seen_for(domain) + fast.handler.accepted_for(domain)
    assert 1 <= len(deliveries) <= 2, "at least once, at most one duplicate"
    assert {m.message_id for m in deliveries} == {queued["message_id"]}, "the duplicate has the same Message-ID"
    assert await drain_once(config) == 0


@pytest.mark.skipif(not USING_POSTGRES, reason="FOR UPDATE SKIP LOCKED claiming is PostgreSQL's")
async def test_two_concurrent_workers_on_postgres_never_send_the_same_row_twice(smtp):
    from events.mail.delivery import SmtpTransport, parse_smtp_url
    from events.mail.worker import drain_once

    server = smtp()
    domain = unique_domain()
    await queue_many(domain, 100)
    config = worker_config(server.url, batch_size=10)

    def transport() -> SmtpTransport:
        return SmtpTransport(parse_smtp_url(server.url, 5.0), sender=config.settings.mail_from)

    async def worker() -> int:
        handled = 0
        while batch := await drain_once(config, transport()):
            handled += batch
        return handled

    first, second = await asyncio.gather(worker(), worker())

    assert first + second == 100, (first, second)
    assert first > 0 and second > 0, "both workers took part"
    counts = Counter(m.message_id for m in server.handler.accepted_for(domain))
    assert len(counts) == 100
    assert set(counts.values()) == {1}, [mid for mid, n in counts.items() if n > 1]
    rows = await outbox_rows(domain)
    assert {(row["status"], row["attempts"]) for row in rows} == {("sent", 1)}
    assert {row["message_id"] for row in rows} == set(counts)
