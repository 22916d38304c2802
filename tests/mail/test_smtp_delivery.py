"""The outbox worker against real SMTP servers: one connection per batch, layout, retries, failures.

Every test queues its own mails (a recipient domain of its own), drives delivery with
`drain_once`, and checks both what the server saw and what the outbox rows say.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.utils import getaddresses

import icalendar
import pytest

from tests.conftest import free_port
from tests.mail.conftest import (
    OK,
    ScriptedHandler,
    drain_until_idle,
    invite,
    make_event,
    make_organisation,
    outbox_rows,
    outgoing,
    queue,
    queue_many,
    unique_domain,
    worker_config,
)

INJECTED_NAME = "Eve\r\nBcc: x@evil.test"


def _one_address(header: object) -> Address:
    addresses = header.addresses  # type: ignore[attr-defined]
    assert len(addresses) == 1, f"{header!s} parses to {len(addresses)} addresses"
    return addresses[0]


# One connection, the MIME layout, one recipient per message --------------------------------------


async def test_a_batch_of_twenty_goes_over_one_connection_each_once_laid_out_for_calendars(smtp):
    from events.mail.worker import drain_once

    server = smtp()
    domain = unique_domain()
    _, organisation_id = await make_organisation()
    event_id = await make_event(organisation_id, title="Microcredit info session")
    names = [f"Participant {i}" for i in range(17)] + ["Doe, Jane", INJECTED_NAME, 'Mallory "x@evil.test", Jr']
    for i, name in enumerate(names):
        await invite(event_id, name, f"p{i}@{domain}")
    rows = await outbox_rows(domain)
    assert len(rows) == 20

    handled = await drain_once(worker_config(server.url, batch_size=50))

    assert handled == 20
    assert server.connections == 1, "a batch is sent over one SMTP connection"
    received = server.handler.accepted_for(domain)
    assert len({m.peer for m in received}) == 1
    by_id = {m.message_id: m for m in received}
    assert len(received) == len(by_id) == 20, "each message arrives exactly once"
    assert not [m for m in server.handler.seen if m not in received], "nothing else was sent"

    for row in await outbox_rows(domain):
        assert row["status"] == "sent" and row["attempts"] == 1 and row["sent_at"] is not None
        assert row["last_error"] == ""
        mail = by_id[row["message_id"]]
        message = mail.message

        # The envelope: exactly the row's recipient, from the configured sender.
        assert mail.rcpt_tos == (row["recipient"],)
        assert mail.mail_from == worker_config(server.url).settings.mail_from
        # The headers parse to one address, the right one, whatever the name holds.
        to = _one_address(message["To"])
        assert to.addr_spec == row["recipient"]
        assert len(getaddresses(message.get_all("To", []))) == 1
        if row["recipient_name"] == "Doe, Jane":
            assert to.display_name == "Doe, Jane", "a comma stays inside one quoted display name"
        for header in ("Bcc", "Cc", "Resent-To", "Resent-Bcc"):
            assert message.get_all(header) is None, f"{header} in the mail to {row['recipient_name']!r}"
        head = mail.data.split(b"\r\n\r\n", 1)[0]
        assert not [line for line in head.split(b"\r\n") if line.lower().startswith((b"bcc:", b"cc:"))]
        assert mail.message_id == row["message_id"], "the stored Message-ID is the one sent"

        # multipart/mixed → [multipart/alternative (plain, html, calendar), application/ics]
        assert message.get_content_type() == "multipart/mixed"
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["multipart/alternative", "application/ics"]
        alternatives = list(parts[0].iter_parts())
        assert [p.get_content_type() for p in alternatives] == ["text/plain", "text/html", "text/calendar"]
        calendar_part = alternatives[2]
        assert calendar_part.get_param("method") == "REQUEST"
        assert str(calendar_part.get_param("charset")).upper() == "UTF-8"
        ics = calendar_part.get_content()
        if isinstance(ics, bytes):
            ics = ics.decode("utf-8")
        calendar = icalendar.Calendar.from_ical(ics)
        assert str(calendar["METHOD"]) == calendar_part.get_param("method"), "METHOD in MIME = METHOD in ics"
        attachment = parts[1]
        assert attachment.get_content_disposition() == "attachment"
        assert attachment.get_filename() == "invite.ics"
        assert attachment.get_content().decode("utf-8").replace("\r\n", "\n") == ics.replace("\r\n", "\n")
        events = [c for c in calendar.walk("VEVENT")]
        assert len(events) == 1
        attendees = events[0].get("ATTENDEE")
        attendees = attendees if isinstance(attendees, list) else [attendees]
        assert [str(a).lower() for a in attendees] == [f"mailto:{row['recipient']}"]
        assert row["recipient"] not in str(events[0]["ORGANIZER"]).lower()


@pytest.mark.parametrize(
    "name",
    [INJECTED_NAME, "Doe, Jane", "x@evil.test, y@evil.test", "Eve\nTo: x@evil.test", 'Q "<x@evil.test>"'],
    ids=["crlf-bcc", "comma", "addresses-in-name", "lf-to", "quoted-angle"],
)
async def test_a_hostile_name_or_subject_gives_one_recipient_and_clean_headers(smtp, name):
    from events.mail.worker import drain_once

    server = smtp()
    domain = unique_domain()
    await queue(outgoing(domain, 0, recipient_name=name, subject=f"Hi {name}", sender_name=f"Org {name}"))

    assert await drain_once(worker_config(server.url)) == 1

    [mail] = server.handler.accepted_for(domain)
    assert mail.rcpt_tos == (f"p0@{domain}",), "the server sees exactly one recipient"
    assert server.handler.rcpt_commands == [f"p0@{domain}"]
    message = mail.message
    assert _one_address(message["To"]).addr_spec == f"p0@{domain}"
    assert _one_address(message["From"]).addr_spec == worker_config(server.url).settings.mail_from
    for header in ("Bcc", "Cc", "Resent-To", "Resent-Bcc"):
        assert message.get_all(header) is None
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert not [line for line in head.split(b"\r\n") if line.lower().startswith((b"bcc:", b"cc:", b"to: x@"))]
    assert [row["status"] for row in await outbox_rows(domain)] == ["sent"]


# Server down, then up ----------------------------------------------------------------------------


async def test_server_down_keeps_mails_queued_with_a_reason_then_delivers_each_once_when_up(smtp):
    from events.mail.worker import drain_once

    port = free_port()  # nothing listens here
    domain = unique_domain()
    await queue_many(domain, 3)
    config = worker_config(f"smtp://127.0.0.1:{port}", retry_base=timedelta(milliseconds=300))

    before = datetime.now(UTC)
    assert await drain_once(config) == 3
    rows = await outbox_rows(domain)
    for row in rows:
        assert row["status"] == "queued"
        assert row["attempts"] == 1
        assert row["last_error"], "the reason is recorded"
        assert str(port) in row["last_error"] or "connect" in row["last_error"].lower()
        assert row["next_attempt_at"] > before, "the retry is in the future"
        assert row["lease_until"] is None
    assert await drain_once(config) == 0, "not retried before its backoff"

    await asyncio.sleep(0.45)
    assert await drain_once(config) == 3, "retried after the backoff, still down"
    assert [row["attempts"] for row in await outbox_rows(domain)] == [2, 2, 2]
    assert all(row["status"] == "queued" for row in await outbox_rows(domain))

    server = smtp(port=port)  # the mail server comes back
    await asyncio.sleep(0.8)
    assert await drain_until_idle(config) == 3
    assert await drain_once(config) == 0

    ids = sorted(m.message_id for m in server.handler.accepted_for(domain))
    rows = await outbox_rows(domain)
    assert ids == sorted(row["message_id"] for row in rows), "each delivered exactly once"
    assert [(row["status"], row["attempts"], row["last_error"]) for row in rows] == [("sent", 3, "")] * 3


async def test_a_server_that_greets_with_421_and_hangs_up_defers_mails_then_delivers_once(busy_smtp, smtp):
    from events.mail.worker import drain_once

    domain = unique_domain()
    await queue_many(domain, 2)

    assert await drain_once(worker_config(busy_smtp.url)) == 2
    rows = await outbox_rows(domain)
    assert [(row["status"], row["attempts"]) for row in rows] == [("queued", 1)] * 2, "deferred, not failed"
    assert all("421" in row["last_error"] for row in rows), [row["last_error"] for row in rows]

    server = smtp()
    assert await drain_until_idle(worker_config(server.url)) == 2
    rows = await outbox_rows(domain)
    assert [(row["status"], row["attempts"]) for row in rows] == [("sent", 2)] * 2
    assert sorted(m.message_id for m in server.handler.accepted_for(domain)) == sorted(
        row["message_id"] for row in rows
    )


# Transient replies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("DATA", "451 4.3.0 Temporary local problem, try again"),
        ("RCPT", "451 4.7.1 Greylisted, come back later"),
        ("RCPT", "452 4.2.2 Mailbox full"),
    ],
    ids=["451-at-data", "451-at-rcpt", "452-at-rcpt"],
)
async def test_a_transient_reply_twice_then_250_is_delivered_once_after_three_attempts(smtp, stage, reply):
    from events.mail.worker import drain_once

    script = (reply, reply)
    handler = ScriptedHandler(data_replies=script) if stage == "DATA" else ScriptedHandler(rcpt_replies=script)
    server = smtp(handler)
    domain = unique_domain()
    await queue(outgoing(domain, 0))
    config = worker_config(server.url)

    assert await drain_once(config) == 1
    [row] = await outbox_rows(domain)
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert reply[:3] in row["last_error"] and reply[4:] in row["last_error"], row["last_error"]

    assert await drain_once(config) == 1
    assert await drain_once(config) == 1
    assert await drain_once(config) == 0

    [row] = await outbox_rows(domain)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, "")
    assert [m.message_id for m in server.handler.accepted_for(domain)] == [row["message_id"]]


# Permanent replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("RCPT", "550 5.1.1 <nobody>: Recipient address rejected: User unknown"),
        ("DATA", "554 5.7.1 Message rejected as spam"),
    ],
    ids=["550-at-rcpt", "554-at-data"],
)
async def test_a_5xx_marks_the_mail_failed_with_the_reason_and_it_is_never_retried(smtp, stage, reply):
    from events.mail.worker import drain_once

    handler = ScriptedHandler(data_replies=(reply,)) if stage == "DATA" else ScriptedHandler(rcpt_replies=(reply,))
    server = smtp(handler)
    domain = unique_domain()
    await queue(outgoing(domain, 0))
    config = worker_config(server.url)

    assert await drain_once(config) == 1
    [row] = await outbox_rows(domain)
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert reply[:3] in row["last_error"], row["last_error"]
    assert reply[4:].split(": ")[-1] in row["last_error"], "the server's own words are kept"

    for _ in range(3):
        assert await drain_once(config) == 0, "a permanent failure is not retried"
    assert len(server.handler.seen_for(domain)) == (1 if stage == "DATA" else 0)
    assert len(server.handler.rcpt_commands) == 1
    [row] = await outbox_rows(domain)
    assert (row["status"], row["attempts"]) == ("failed", 1)


async def test_a_550_for_one_recipient_does_not_stop_the_rest_of_the_batch(smtp):
    from events.mail.worker import drain_once

    def refuse(address: str) -> str | None:
        return "550 5.1.1 User unknown" if address.startswith("p1@") else None

    server = smtp(ScriptedHandler(refuse=refuse))
    domain = unique_domain()
    await queue_many(domain, 3)

    assert await drain_once(worker_config(server.url)) == 3

    rows = await outbox_rows(domain)
    assert [row["status"] for row in rows] == ["sent", "failed", "sent"]
    assert "550" in rows[1]["last_error"] and "User unknown" in rows[1]["last_error"]
    assert sorted(m.message_id for m in server.handler.accepted_for(domain)) == sorted(
        [rows[0]["message_id"], rows[2]["message_id"]]
    )


async def test_a_refused_recipient_does_not_cost_a_new_connection(smtp):
    """CALENDAR.md: reuse one connection for a batch; reconnect on disconnect or timeout only."""
    from events.mail.worker import drain_once

    def refuse(address: str) -> str | None:
        return "550 5.1.1 User unknown" if address.startswith(("p1@", "p3@")) else None

    server = smtp(ScriptedHandler(refuse=refuse))
    domain = unique_domain()
    await queue_many(domain, 5)

    assert await drain_once(worker_config(server.url)) == 5

    assert [row["status"] for row in await outbox_rows(domain)] == ["sent", "failed", "sent", "failed", "sent"]
    assert server.connections == 1, (
        f"{server.connections} connections for one batch: the client sent RSET after the refusal and "
        "the connection is still good, yet the transport closed it"
    )


# Disconnects mid-batch ---------------------------------------------------------------------------


async def test_a_421_and_disconnect_mid_batch_reconnects_delivers_the_rest_and_doubles_nothing(smtp):
    from events.mail.worker import drain_once

    server = smtp(ScriptedHandler(data_replies=(OK, OK, OK, "421 4.3.2 Service shutting down")))
    domain = unique_domain()
    await queue_many(domain, 8)
    config = worker_config(server.url)

    assert await drain_once(config) == 8
    rows = await outbox_rows(domain)
    assert [row["status"] for row in rows] == ["sent"] * 3 + ["queued"] + ["sent"] * 4
    assert "421" in rows[3]["last_error"]
    assert server.connections == 2, "one reconnect after the 421"

    assert await drain_until_idle(config) == 1
    rows = await outbox_rows(domain)
    assert all(row["status"] == "sent" for row in rows)
    ids = [m.message_id for m in server.handler.accepted_for(domain)]
    assert sorted(ids) == sorted(row["message_id"] for row in rows), "every mail exactly once"


async def test_a_connection_dropped_without_a_word_mid_batch_is_reconnected_and_nothing_doubled(smtp):
    from events.mail.worker import drain_once

    server = smtp(ScriptedHandler(drop_on_mail=(4,)))
    domain = unique_domain()
    await queue_many(domain, 8)

    assert await drain_once(worker_config(server.url)) == 8

    rows = await outbox_rows(domain)
    assert [row["status"] for row in rows] == ["sent"] * 8
    assert server.connections == 2
    ids = [m.message_id for m in server.handler.accepted_for(domain)]
    assert sorted(ids) == sorted(row["message_id"] for row in rows), "every mail exactly once"


# Silent server and timeouts ----------------------------------------------------------------------


async def test_a_silent_server_is_bounded_by_the_timeout_and_mails_are_deferred(silent_smtp):
    from events.mail.worker import drain_once

    domain = unique_domain()
    await queue_many(domain, 5)
    config = worker_config(silent_smtp.url, timeout=1.0, retry_base=timedelta(seconds=60))

    started = time.monotonic()
    handled = await drain_once(config)
    elapsed = time.monotonic() - started

    assert handled == 5
    rows = await outbox_rows(domain)
    assert [row["status"] for row in rows] == ["queued"] * 5, "deferred, not failed"
    assert all("timeout" in row["last_error"].lower() for row in rows), [row["last_error"] for row in rows]
    assert all(row["next_attempt_at"] > datetime.now(UTC) for row in rows)
    assert elapsed < 3.0, (
        f"drain_once took {elapsed:.1f}s with SMTP_TIMEOUT=1s and {silent_smtp.connections} connection "
        "attempts: a silent server must cost one timeout per batch, not one per message"
    )


async def test_a_server_slow_at_data_is_bounded_by_the_timeout(smtp):
    from events.mail.worker import drain_once

    server = smtp(ScriptedHandler(data_delay=5.0))
    domain = unique_domain()
    await queue(outgoing(domain, 0))

    started = time.monotonic()
    assert await drain_once(worker_config(server.url, timeout=1.0)) == 1
    elapsed = time.monotonic() - started

    [row] = await outbox_rows(domain)
    assert row["status"] == "queued"
    assert "timeout" in row["last_error"].lower()
    assert elapsed < 2.5, f"drain_once took {elapsed:.1f}s with SMTP_TIMEOUT=1s"


# A message that cannot be sent must not hold up the others ---------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Line\u2028separator in a subject"},
        {"recipient": "has space@{domain}"},
    ],
    ids=["unbuildable-subject", "unaddressable-recipient"],
)
async def test_a_mail_that_cannot_be_built_or_addressed_fails_alone(smtp, overrides):
    from events.mail.worker import drain_once

    server = smtp()
    domain = unique_domain()
    values = {key: value.format(domain=domain) for key, value in overrides.items()}
    await queue(outgoing(domain, 0), outgoing(domain, 1, **values), outgoing(domain, 2))

    try:
        handled = await drain_once(worker_config(server.url))
    except Exception as exc:
        statuses = [row["status"] for row in await outbox_rows(domain)]
        pytest.fail(
            f"drain_once raised {exc!r}; the batch was abandoned with rows {statuses}: the rows after the "
            "bad one wait for their lease to expire, and the bad one blocks them again on every claim"
        )

    assert handled == 3
    rows = await outbox_rows(domain)
    statuses = [row["status"] for row in rows]
    # The odd one is either made safe and sent (control characters become spaces) or failed
    # with a reason; it is never left to block the batch, and the good ones always go out.
    assert statuses[0] == statuses[2] == "sent", statuses
    assert statuses[1] in ("sent", "failed"), statuses
    if statuses[1] == "failed":
        assert rows[1]["last_error"]
    assert len(server.handler.accepted_for(domain)) == statuses.count("sent")


@pytest.mark.parametrize("smtputf8", [True, False], ids=["server-with-smtputf8", "server-without-smtputf8"])
async def test_an_internationalised_address_never_holds_up_the_rest_of_the_batch(smtp, smtputf8):
    """normalise_email accepts IDN domains (jan@bücher.example). Their domain goes out in its
    IDNA form (xn--…), which every relay can route, with or without SMTPUTF8; nothing is
    held up and the connection is kept."""
    from events.mail.worker import drain_once

    server = smtp(enable_SMTPUTF8=smtputf8)
    domain = unique_domain()
    await queue(
        outgoing(domain, 0),
        outgoing(domain, 1, recipient=f"jan@bücher.{domain}"),
        outgoing(domain, 2),
        outgoing(domain, 3),
    )

    assert await drain_once(worker_config(server.url)) == 4

    rows = await outbox_rows(domain)
    summary = [(row["recipient"], row["status"], row["last_error"][:80]) for row in rows]
    assert [row["status"] for row in rows] == ["sent"] * 4, summary
    idna = "bücher".encode("idna").decode()
    assert [m.rcpt_tos for m in server.handler.accepted_for(domain)][1] == (f"jan@{idna}.{domain}",)
    assert server.connections == 1, "the connection was fine: no reason to drop it"


@pytest.mark.parametrize(
    ("bad", "smtputf8"),
    [
        ({"subject": "Line\u2028separator in a subject"}, True),
        ({"recipient": "jan@bücher.{domain}"}, False),
    ],
    ids=["odd-subject", "idn-recipient-without-smtputf8"],
)
async def test_a_bad_mail_never_makes_the_good_ones_behind_it_fail_unsent(smtp, bad, smtputf8):
    """The real worker loop, with a short lease and few attempts to fast-forward the retries."""
    from events.mail.worker import run_worker

    server = smtp(enable_SMTPUTF8=smtputf8)
    domain = unique_domain()
    await queue(
        outgoing(domain, 0),
        outgoing(domain, 1, **{key: value.format(domain=domain) for key, value in bad.items()}),
        outgoing(domain, 2),
    )
    config = worker_config(server.url, lease=timedelta(milliseconds=200), max_attempts=3, poll_interval=0.05)

    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(stop, config))
    try:
        await asyncio.sleep(2.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    rows = await outbox_rows(domain)
    summary = [(row["status"], row["attempts"], row["last_error"][:60]) for row in rows]
    assert rows[2]["status"] == "sent", f"a good mail behind a bad one was never sent: {summary}"
    assert rows[0]["status"] == "sent" and rows[1]["status"] in ("sent", "failed"), summary
    assert len(server.handler.accepted_for(domain)) == [row["status"] for row in rows].count("sent")
