"""The outbox worker: claims due messages with a lease, sends them, records what happened.

Several `trefpunt worker` processes may run on PostgreSQL: the claim uses
`FOR UPDATE SKIP LOCKED`, so no two claim the same row. On SQLite the claim runs in a
`BEGIN IMMEDIATE` transaction, which serialises claimers. A worker that dies after claiming
leaves rows whose lease expires; they are claimed again and sent with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from events.db import claim_due
from events.mail.delivery import DeliveryError, FileTransport, SmtpTransport, Transport, parse_smtp_url
from events.mail.message import MailParts, build_message
from events.settings import Settings, get_settings
from events.tables import OutboxMessage

log = logging.getLogger("trefpunt.worker")


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 50
    lease: timedelta = timedelta(seconds=120)
    retry_base: timedelta = timedelta(seconds=30)
    retry_cap: timedelta = timedelta(hours=1)
    max_attempts: int = 10
    poll_interval: float = 1.0
    schedule_interval: float = 60.0
    settings: Settings = field(default_factory=get_settings)


def backoff(attempts: int, config: WorkerConfig) -> timedelta:
    """Exponential backoff with ±20 % jitter, so retries of many messages spread out."""
    delay = config.retry_base * (2 ** min(max(0, attempts - 1), 32))
    return min(delay * random.uniform(0.8, 1.2), config.retry_cap)  # retry jitter, not a secret  # nosec B311


def make_transport(settings: Settings) -> Transport:
    if settings.smtp_url:
        return SmtpTransport(parse_smtp_url(settings.smtp_url, settings.smtp_timeout), sender=settings.mail_from)
    return FileTransport(settings.mail_dir)


async def claim_batch(config: WorkerConfig) -> list[dict[str, Any]]:
    """Lease up to `batch_size` due messages to this worker; returns their rows."""
    now = datetime.now(UTC)
    return await claim_due(OutboxMessage, now=now, lease_until=now + config.lease, limit=config.batch_size)


def _parts(row: dict[str, Any], settings: Settings) -> MailParts:
    return MailParts(
        recipient=row["recipient"],
        recipient_name=row["recipient_name"],
        sender_address=settings.mail_from,
        sender_name=row["sender_name"],
        reply_to=row["reply_to"],
        subject=row["subject"],
        text_body=row["text_body"],
        html_body=row["html_body"],
        ics=row["ics"],
        ics_method=row["ics_method"],
        message_id=row["message_id"],
        language=row["language"],
        created_at=row["created_at"],
    )


async def _record_sent(message_ids: list[int]) -> None:
    """Mark delivered messages sent. Called right after each delivery, not once per batch: a
    crash between a send and this UPDATE re-sends that one message (same Message-ID) when its
    lease runs out, never a whole batch."""
    await OutboxMessage.update(
        {
            OutboxMessage.status: "sent",
            OutboxMessage.sent_at: datetime.now(UTC),
            OutboxMessage.lease_until: None,
            OutboxMessage.last_error: "",
        }
    ).where(OutboxMessage.id.is_in(message_ids) & (OutboxMessage.status == "sending"))


async def _record_failure(row: dict[str, Any], error: DeliveryError, config: WorkerConfig) -> None:
    give_up = error.permanent or row["attempts"] >= config.max_attempts
    values: dict[Any, Any] = {OutboxMessage.last_error: error.reason[:2000], OutboxMessage.lease_until: None}
    if give_up:
        values[OutboxMessage.status] = "failed"
    else:
        values[OutboxMessage.status] = "queued"
        values[OutboxMessage.next_attempt_at] = datetime.now(UTC) + backoff(row["attempts"], config)
    await OutboxMessage.update(values).where((OutboxMessage.id == row["id"]) & (OutboxMessage.status == "sending"))
    log.warning(
        "mail %s to outbox row %s: %s%s",
        "failed" if give_up else "deferred",
        row["id"],
        error.reason,
        "" if give_up else f" (attempt {row['attempts']})",
    )


async def drain_once(config: WorkerConfig | None = None, transport: Transport | None = None) -> int:
    """Claim one batch and deliver it over one connection; returns how many rows were handled."""
    config = config or WorkerConfig()
    rows = await claim_batch(config)
    if not rows:
        return 0
    transport = transport or make_transport(config.settings)
    try:
        for index, row in enumerate(rows):
            if row["attempts"] > config.max_attempts:
                await _record_failure(row, DeliveryError("gave up: too many attempts", permanent=True), config)
                continue
            try:
                message = build_message(_parts(row, config.settings))
            except Exception as exc:  # noqa: BLE001 - one broken row must not block the others
                await _record_failure(row, DeliveryError(f"cannot build the message: {exc}", permanent=True), config)
                continue
            try:
                await transport.send(message, row["recipient"])
            except DeliveryError as error:
                await _record_failure(row, error, config)
                if error.connection:
                    # The server is unreachable or silent: the rest of the batch would only wait
                    # out the same timeout, one by one. Defer them all now.
                    for rest in rows[index + 1 :]:
                        await _record_failure(rest, error, config)
                    break
            except Exception as exc:
                log.exception("unexpected error sending outbox row %s", row["id"])
                await _record_failure(row, DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False), config)
            else:
                await _record_sent([row["id"]])
    finally:
        await transport.close()
    return len(rows)


async def queue_scheduled_mail() -> int:
    """Reminders and follow-ups that are due now (idempotent)."""
    from events.services.reminders import queue_due_reminders, queue_follow_ups

    return await queue_due_reminders() + await queue_follow_ups()


async def run_worker(stop: asyncio.Event, config: WorkerConfig | None = None) -> None:
    """Drain the outbox until `stop` is set; survives database and delivery errors."""
    config = config or WorkerConfig()
    log.info("outbox worker started")
    # Webhook deliveries have their own loop: a slow receiver must not hold up the mail.
    from events.services.webhook_delivery import run_webhook_sender

    webhooks = asyncio.create_task(run_webhook_sender(stop), name="webhook-sender")
    next_schedule = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        if loop.time() >= next_schedule:
            next_schedule = loop.time() + config.schedule_interval
            try:
                await queue_scheduled_mail()
            except Exception:  # a failed round is retried at the next interval
                log.exception("reminder scheduling error")
            try:
                # Imported here: retention builds on the services, which build on the outbox.
                from events.services.retention import daily_retention

                await daily_retention()  # at most once a day across all worker processes
            except Exception:  # tried again at the next interval
                log.exception("retention error")
        try:
            handled = await drain_once(config)
        except Exception:  # the worker must outlive a database hiccup
            log.exception("outbox worker error")
            handled = 0
        if handled == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=config.poll_interval)
    # A send in flight gets a moment to finish; cut off, its lease brings it back later.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(webhooks, timeout=8)
    log.info("outbox worker stopped")
