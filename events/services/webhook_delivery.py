"""The webhook sender, run by the worker next to the mail outbox.

It claims due WebhookDelivery rows with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
several workers never claim the same row; SQLite: inside `BEGIN IMMEDIATE`), POSTs each signed
payload, and records every attempt in the row (the delivery log). 2xx is delivered; any other
status, a timeout or a connection error is retried with exponential backoff and jitter
(30 s, 2 min, 10 min, 1 h, 6 h, 12 h, 24 h) until MAX attempts, then the row fails. After
`disable_after` consecutive failed attempts, or a 410 Gone, the webhook is disabled, what still
waits for it is skipped, and the organisation's owners get a mail through the outbox.

SSRF: the connection is opened by a network backend that resolves the host itself and refuses
loopback, private, link-local, multicast and other non-public addresses (unless the setting
TREFPUNT_WEBHOOK_ALLOW_PRIVATE is on), then connects to the address it checked — so a DNS
answer that changes between check and connect cannot slip through. TLS still verifies the
certificate against the URL's host name. Redirects are not followed; proxies from the
environment are not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpcore
import httpx

from events import i18n
from events.db import claim_due as claim_due_rows
from events.db import write_transaction
from events.mail.outbox import OutgoingMail, enqueue
from events.mail.render import render_mail
from events.services.webhooks import SIGNATURE_HEADER, SKIPPED_DISABLED, forbidden_address, signature, skip_queued
from events.settings import LANGUAGES, get_settings
from events.tables import Membership, Organisation, Webhook, WebhookDelivery

log = logging.getLogger("trefpunt.webhooks")

USER_AGENT = "Trefpunt-Webhooks/1"
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)


@dataclass(frozen=True)
class SenderConfig:
    batch_size: int = 20
    lease: timedelta = timedelta(seconds=60)
    connect_timeout: float = 5.0
    read_timeout: float = 5.0
    # A receiver that trickles its answer byte by byte stops here whatever the read timeout.
    total_timeout: float = 15.0
    max_attempts: int = 8
    disable_after: int = 10
    concurrency: int = 8
    poll_interval: float = 1.0
    allow_private: bool | None = None  # None: the TREFPUNT_WEBHOOK_ALLOW_PRIVATE setting

    @property
    def private_allowed(self) -> bool:
        return get_settings().webhook_allow_private if self.allow_private is None else self.allow_private


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt, ±20 % so many retries spread out."""
    delay = RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]
    return delay * random.uniform(0.8, 1.2)  # retry jitter, not a secret  # nosec B311


# The guarded connection ------------------------------------------------------------------------


class DestinationRefused(Exception):
    """The URL's host resolves to an address webhooks may not reach."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking the address before it connects."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self._allow_private:
            refused = [address for address in addresses if forbidden_address(address)]
            if refused:
                raise DestinationRefused(f"{host} resolves to {refused[0]}, which is not a public address")
        error: Exception = httpcore.ConnectError(f"cannot resolve {host}")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("webhooks are not sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the guarded backend and no proxies from the environment."""

    def __init__(self, allow_private: bool, max_connections: int = 20) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private),
        )


def make_client(config: SenderConfig) -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=config.connect_timeout, read=config.read_timeout, write=config.read_timeout, pool=config.read_timeout
    )
    return httpx.AsyncClient(
        transport=GuardedTransport(config.private_allowed, max_connections=config.concurrency * 2),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


# Sending ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str = ""
    refused: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def request_headers(
    secret: str, event_type: str, delivery_uuid: str, body: bytes, now: int | None = None
) -> dict[str, str]:
    """The headers of one delivery; the signature covers the timestamp and the exact body."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret, int(time.time()) if now is None else now, body),
        "Trefpunt-Event": event_type,
        "Trefpunt-Delivery": delivery_uuid,
    }


def _delivery_uuid(row: dict[str, Any]) -> str:
    try:
        return str(json.loads(row["payload"])["id"])
    except (ValueError, KeyError, TypeError):
        return str(row["id"])


async def send_one(
    client: httpx.AsyncClient, webhook: dict[str, Any], row: dict[str, Any], config: SenderConfig
) -> Outcome:
    """POST one delivery; never raises for what the receiver or the network does."""
    body = row["payload"].encode()
    headers = request_headers(webhook["secret"], row["event_type"], _delivery_uuid(row), body)
    try:
        async with asyncio.timeout(config.total_timeout):
            async with client.stream("POST", webhook["url"], content=body, headers=headers) as response:
                status = response.status_code
                if 200 <= status < 300:
                    return Outcome(status_code=status)
                snippet = b""
                async for chunk in response.aiter_bytes():
                    snippet += chunk
                    if len(snippet) >= 300:
                        break
                text = snippet[:300].decode("utf-8", "replace").strip()
                return Outcome(status_code=status, error=f"HTTP {status}" + (f": {text}" if text else ""))
    except DestinationRefused as exc:
        return Outcome(error=f"refused: {exc}", refused=True)
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(error=f"timeout: no answer within {config.read_timeout:g} s")
    except httpx.HTTPError as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:2000])
    except Exception as exc:  # one broken delivery must not stop the others
        log.exception("unexpected error sending webhook delivery %s", row["id"])
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:2000])


# Claiming and recording ---------------------------------------------------------------------------


async def claim_due(config: SenderConfig, now: datetime) -> list[dict[str, Any]]:
    """Lease up to `batch_size` due deliveries to this worker; returns their rows."""
    return await claim_due_rows(WebhookDelivery, now=now, lease_until=now + config.lease, limit=config.batch_size)


async def _record(row: dict[str, Any], outcome: Outcome, config: SenderConfig, now: datetime) -> None:
    """One attempt into the delivery log and the webhook's counters, in one transaction."""
    async with write_transaction():
        mine = (WebhookDelivery.id == row["id"]) & (WebhookDelivery.status == "sending")
        if outcome.delivered:
            await WebhookDelivery.update(
                {
                    WebhookDelivery.status: "delivered",
                    WebhookDelivery.delivered_at: now,
                    WebhookDelivery.last_status_code: outcome.status_code,
                    WebhookDelivery.last_error: "",
                    WebhookDelivery.lease_until: None,
                }
            ).where(mine)
            await Webhook.update({Webhook.consecutive_failures: 0, Webhook.last_success_at: now}).where(
                Webhook.id == row["webhook"]
            )
            return
        give_up = outcome.gone or outcome.refused or row["attempts"] >= config.max_attempts
        values: dict[Any, Any] = {
            WebhookDelivery.last_status_code: outcome.status_code,
            WebhookDelivery.last_error: outcome.error[:2000],
            WebhookDelivery.lease_until: None,
        }
        if give_up:
            values[WebhookDelivery.status] = "failed"
        else:
            values[WebhookDelivery.status] = "queued"
            values[WebhookDelivery.next_attempt_at] = now + retry_delay(row["attempts"])
        await WebhookDelivery.update(values).where(mine)
        counted = await Webhook.raw(
            "UPDATE webhook SET consecutive_failures = consecutive_failures + 1, last_failure_at = {} "
            "WHERE id = {} RETURNING consecutive_failures, active",
            now,
            row["webhook"],
        )
        if not counted or not counted[0]["active"]:
            return
        if outcome.gone or counted[0]["consecutive_failures"] >= config.disable_after:
            await disable_after_failures(row["webhook"], outcome, counted[0]["consecutive_failures"], now)


async def disable_after_failures(webhook_id: int, outcome: Outcome, failures: int, now: datetime) -> None:
    """Switch a failing webhook off and tell the organisation's owners (inside the transaction)."""
    await Webhook.update({Webhook.active: False, Webhook.disabled_at: now}).where(Webhook.id == webhook_id)
    await skip_queued(webhook_id, SKIPPED_DISABLED)
    webhook = await Webhook.select().where(Webhook.id == webhook_id).first()
    assert webhook is not None
    log.warning("webhook %s disabled after %s failed attempts: %s", webhook_id, failures, outcome.error)
    await _mail_owners(webhook, outcome, failures, now)


async def _mail_owners(webhook: dict[str, Any], outcome: Outcome, failures: int, now: datetime) -> None:
    organisation = await Organisation.select().where(Organisation.id == webhook["organisation"]).first()
    assert organisation is not None
    owners = await Membership.select(
        Membership.organiser.id.as_alias("organiser_id"),
        Membership.organiser.email.as_alias("email"),
        Membership.organiser.name.as_alias("name"),
        Membership.organiser.language.as_alias("language"),
        Membership.organiser.active.as_alias("active"),
    ).where((Membership.organisation == webhook["organisation"]) & (Membership.role == "owner"))
    base_url = get_settings().base_url
    names = {lang: organisation[f"name_{lang}"] for lang in LANGUAGES}
    mails = []
    for owner in owners:
        if not owner["active"]:
            continue
        language = owner["language"] if owner["language"] in LANGUAGES else "nl"
        organisation_name = i18n.pick_translation(names, language)[0] or organisation["slug"]
        rendered = render_mail(
            "webhook_disabled",
            language,
            title=webhook["description"] or webhook["url"],
            organisation_name=organisation_name,
            organisation_email=organisation["email"],
            organisation_address=organisation["address"],
            colour=organisation["colour"],
            url=webhook["url"],
            description=webhook["description"],
            reason=outcome.error or f"HTTP {outcome.status_code}",
            gone=outcome.gone,
            failures=failures,
            link=f"{base_url}/admin/webhooks/{webhook['id']}?organisation={webhook['organisation']}",
            disabled_at=now,
            timezone=organisation["timezone"],
        )
        mails.append(
            OutgoingMail(
                dedupe_key=f"webhook_disabled:{webhook['id']}:{now.timestamp():.0f}:{owner['organiser_id']}",
                kind="webhook_disabled",
                recipient=owner["email"],
                recipient_name=owner["name"],
                language=language,
                subject=rendered.subject,
                text_body=rendered.text,
                html_body=rendered.html,
                sender_name="Trefpunt",
                reply_to=organisation["email"],
                organisation_id=organisation["id"],
            )
        )
    await enqueue(*mails)


async def deliver_due(
    config: SenderConfig | None = None, *, now: datetime | None = None, client: httpx.AsyncClient | None = None
) -> int:
    """Claim one batch of due deliveries and send them (several at once); returns how many were
    handled. `now` is the clock for what is due and when retries fall due (tests pass their own)."""
    config = config or SenderConfig()
    clock = now or datetime.now(UTC)
    rows = await claim_due(config, clock)
    if not rows:
        return 0
    hooks = {
        hook["id"]: hook
        for hook in await Webhook.select(Webhook.id, Webhook.url, Webhook.secret, Webhook.active).where(
            Webhook.id.is_in(sorted({row["webhook"] for row in rows}))
        )
    }
    own_client = client is None
    http = client or make_client(config)
    limit = asyncio.Semaphore(config.concurrency)

    async def handle(row: dict[str, Any]) -> None:
        hook = hooks.get(row["webhook"])
        if hook is None or not hook["active"]:
            async with write_transaction():
                await WebhookDelivery.update(
                    {
                        WebhookDelivery.status: "failed",
                        WebhookDelivery.last_error: SKIPPED_DISABLED,
                        WebhookDelivery.lease_until: None,
                    }
                ).where((WebhookDelivery.id == row["id"]) & (WebhookDelivery.status == "sending"))
            return
        async with limit:
            outcome = await send_one(http, hook, row, config)
        await _record(row, outcome, config, max(clock, datetime.now(UTC)))

    try:
        results = await asyncio.gather(*(handle(row) for row in rows), return_exceptions=True)
    finally:
        if own_client:
            await http.aclose()
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, BaseException):
            log.error("webhook delivery %s: %s", row["id"], result, exc_info=result)
    return len(rows)


async def run_webhook_sender(stop: asyncio.Event, config: SenderConfig | None = None) -> None:
    """Send due webhook deliveries until `stop` is set; survives database and network errors."""
    config = config or SenderConfig()
    client = make_client(config)
    try:
        while not stop.is_set():
            try:
                handled = await deliver_due(config, client=client)
            except Exception:  # the sender must outlive a database hiccup
                log.exception("webhook sender error")
                handled = 0
            if handled == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=config.poll_interval)
    finally:
        await client.aclose()
