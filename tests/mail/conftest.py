"""Fixtures of the mail tests: a private outbox database, and real SMTP servers on loopback.

A private database. The outbox worker claims *every* due row, and during a whole-suite run the
session-wide `live_server` (a real `trefpunt serve` with the inline worker) keeps draining the
shared database every second. Tests that wait for a lease to expire or for a retry to fall due
would race with it (and a 550 server here would fail other tests' mails). So this package points
every table at a database of its own (a new SQLite file, or a new PostgreSQL database on the
server DATABASE_URL names), migrated by the real `trefpunt migrate`, and empties the outbox
before each test. Subprocesses started here (`trefpunt serve`, `trefpunt worker`) get the same
DATABASE_URL. Each test still uses its own recipient domain and asserts on its rows only.

SMTP servers. `SmtpServer` is aiosmtpd's threaded `Controller` on a free loopback port; it counts
TCP connections and its `ScriptedHandler` records every message (envelope + raw bytes) and can
answer from a script: 4xx/5xx to RCPT or DATA, 421 followed by closing the connection, a silent
connection drop at MAIL FROM, or a slow DATA. `SilentServer` accepts TCP connections and never
says anything (no greeting). "Down" is a free port with nothing listening.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.conftest import (
    TEST_HOST,
    private_database,
    unique_slug,
)

PASSWORD = "mail tests password"
OK = "250 2.0.0 OK"

# A small, valid iMIP body for mails queued directly (tests through notifications get the real one).
SIMPLE_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Trefpunt tests//EN\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:mail-test@trefpunt.test\r\nSEQUENCE:0\r\nDTSTAMP:20300101T090000Z\r\n"
    "DTSTART:20300101T100000Z\r\nDTEND:20300101T110000Z\r\nSUMMARY:Mail test\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


# The private database --------------------------------------------------------------------------


@pytest.fixture(scope="package", autouse=True)
def mail_database() -> Iterator[str]:
    """Point every table (and subprocesses) at a fresh, migrated database for this package."""
    with private_database("mail", for_subprocesses=True) as url:
        yield url


@pytest.fixture(autouse=True)
async def empty_outbox(mail_database: str) -> None:
    """Each test starts with no mail waiting (the database is private to this package)."""
    from events.tables import OutboxMessage

    await OutboxMessage.delete(force=True)


# SMTP servers --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Received:
    """One DATA transaction as the server saw it."""

    peer: tuple[str, int]
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()


class ScriptedHandler:
    """Records what arrives; answers RCPT/DATA from scripts (then 250), like a real MTA would.

    `rcpt_replies` / `data_replies`: replies for the 1st, 2nd, … RCPT / DATA, then `250`.
    `refuse(address)`: a reply for RCPT of that address (e.g. a 550), or None to go on.
    A reply starting with 421 is followed by closing the connection (RFC 5321 §3.8).
    `drop_on_mail`: the numbers (1-based, over the server's life) of MAIL commands answered by
    dropping the TCP connection without a word. `data_delay`: seconds to sit on DATA.
    """

    def __init__(
        self,
        *,
        rcpt_replies: tuple[str, ...] = (),
        data_replies: tuple[str, ...] = (),
        refuse: Callable[[str], str | None] | None = None,
        drop_on_mail: tuple[int, ...] = (),
        data_delay: float = 0.0,
    ) -> None:
        self.rcpt_replies = list(rcpt_replies)
        self.data_replies = list(data_replies)
        self.refuse = refuse
        self.drop_on_mail = set(drop_on_mail)
        self.data_delay = data_delay
        self.lock = threading.Lock()
        self.mail_commands = 0
        self.rcpt_commands: list[str] = []
        self.seen: list[Received] = []  # every message whose data arrived, whatever the answer
        self.accepted: list[Received] = []  # the ones answered 250

    @staticmethod
    def _close_after_reply(server: SMTP, reply: str) -> None:
        if reply.startswith("421") and server.transport is not None:
            asyncio.get_running_loop().call_soon(server.transport.close)

    async def handle_MAIL(self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        with self.lock:
            self.mail_commands += 1
            drop = self.mail_commands in self.drop_on_mail
        if drop and server.transport is not None:
            server.transport.abort()
            return "421 4.4.2 dropped"  # never reaches the client
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        with self.lock:
            self.rcpt_commands.append(address)
            reply = self.rcpt_replies.pop(0) if self.rcpt_replies else None
        if reply is None and self.refuse is not None:
            reply = self.refuse(address)
        if reply is not None and not reply.startswith("250"):
            self._close_after_reply(server, reply)
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        received = Received(
            peer=tuple(session.peer),  # type: ignore[arg-type]
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content),
        )
        with self.lock:
            self.seen.append(received)
            reply = self.data_replies.pop(0) if self.data_replies else OK
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if reply.startswith("250"):
            with self.lock:
                self.accepted.append(received)
        self._close_after_reply(server, reply)
        return reply

    # Views -------------------------------------------------------------------------------

    def accepted_for(self, domain: str) -> list[Received]:
        return [m for m in self.accepted if all(r.endswith(domain) for r in m.rcpt_tos)]

    def seen_for(self, domain: str) -> list[Received]:
        return [m for m in self.seen if all(r.endswith(domain) for r in m.rcpt_tos)]


class _CountingSMTP(SMTP):
    on_connect: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None and self.on_connect is not None:  # not a STARTTLS upgrade
            self.on_connect()
        super().connection_made(transport)


class SmtpServer(Controller):
    """aiosmtpd in its own thread on 127.0.0.1:`port`, counting TCP connections."""

    def __init__(self, handler: ScriptedHandler, port: int, **smtp_options: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=port, ready_timeout=5.0, **smtp_options)
        self.connections = 0

    def factory(self) -> SMTP:
        smtp = _CountingSMTP(self.handler, **self.SMTP_kwargs)
        smtp.on_connect = self._connected
        return smtp

    def _connected(self) -> None:
        self.connections += 1

    def start(self) -> None:
        super().start()
        self.connections = 0  # Controller.start() connects once itself to check the server

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class SilentServer:
    """Accepts TCP connections on loopback and never sends a byte (no SMTP greeting).

    With `greeting`, it sends that line instead and hangs up (a server that is busy: `421 …`).
    """

    def __init__(self, greeting: bytes | None = None) -> None:
        self.greeting = greeting
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="silent-smtp", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            if self.greeting is None:
                self._held.append(conn)
                continue
            try:
                conn.sendall(self.greeting)
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()


@pytest.fixture
def smtp() -> Iterator[Callable[..., SmtpServer]]:
    """`smtp(handler=None, port=None, **aiosmtpd_options)` starts a recording SMTP server (e.g.
    `enable_SMTPUTF8=False` for one without SMTPUTF8); all stop after the test."""
    from tests.conftest import free_port

    servers: list[SmtpServer] = []

    def start(handler: ScriptedHandler | None = None, port: int | None = None, **options: Any) -> SmtpServer:
        server = SmtpServer(handler or ScriptedHandler(), port or free_port(), **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def silent_smtp() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def busy_smtp() -> Iterator[SilentServer]:
    """Greets every connection with `421 … busy` and closes it."""
    server = SilentServer(greeting=b"421 4.3.2 Too busy, try again later\r\n")
    yield server
    server.close()


# Settings, rows and mails --------------------------------------------------------------------


def smtp_settings(url: str | None, timeout: float = 2.0) -> Any:
    """The test settings with another SMTP_URL (None: file delivery) and SMTP_TIMEOUT."""
    from events.settings import get_settings

    return dataclasses.replace(get_settings(), smtp_url=url, smtp_timeout=timeout)


def worker_config(url: str | None, *, timeout: float = 2.0, **overrides: Any) -> Any:
    """A WorkerConfig that retries at once (retry_base 0) unless told otherwise."""
    from events.mail.worker import WorkerConfig

    values: dict[str, Any] = {"retry_base": timedelta(0), "settings": smtp_settings(url, timeout)}
    values.update(overrides)
    return WorkerConfig(**values)


def unique_domain() -> str:
    return f"{secrets.token_hex(5)}.mail.test"


def outgoing(domain: str, index: int, **overrides: Any) -> Any:
    """An OutgoingMail to p<index>@<domain>, with a REQUEST invite."""
    from events.mail.outbox import OutgoingMail

    values: dict[str, Any] = {
        "dedupe_key": f"mail-test:{domain}:{index}",
        "kind": "invitation",
        "recipient": f"p{index}@{domain}",
        "recipient_name": f"Participant {index}",
        "language": "en",
        "subject": f"Registration confirmed: mail test {index}",
        "text_body": f"Hello participant {index}.",
        "html_body": f"<p>Hello participant {index}.</p>",
        "sender_name": "Mail tests via Trefpunt",
        "reply_to": "info@organisation.test",
        "ics": SIMPLE_ICS,
        "ics_method": "REQUEST",
    }
    values.update(overrides)
    return OutgoingMail(**values)


async def queue(*mails: Any) -> None:
    """Enqueue in a write transaction, as services do."""
    from events.db import write_transaction
    from events.mail.outbox import enqueue

    async with write_transaction():
        await enqueue(*mails)


async def queue_many(domain: str, count: int, **overrides: Any) -> None:
    await queue(*(outgoing(domain, i, **overrides) for i in range(count)))


async def outbox_rows(domain: str) -> list[dict[str, Any]]:
    """This test's outbox rows (recipients at `domain` or a subdomain), oldest first."""
    from events.tables import OutboxMessage

    return await OutboxMessage.select().where(OutboxMessage.recipient.like(f"%{domain}")).order_by(OutboxMessage.id)


async def drain_until_idle(config: Any, transport_factory: Callable[[], Any] | None = None, limit: int = 50) -> int:
    """drain_once until it finds nothing due; returns how many rows were handled."""
    from events.mail.worker import drain_once

    total = 0
    for _ in range(limit):
        handled = await drain_once(config, transport_factory() if transport_factory else None)
        if handled == 0:
            return total
        total += handled
    raise AssertionError("the outbox never became idle")


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


# Organisations, events, registrations, organisers ----------------------------------------------


async def make_organisation(prefix: str = "mail") -> tuple[str, int]:
    from events.services import organisers

    slug = unique_slug(prefix)
    return slug, await organisers.create_organisation(slug, f"Organisation {slug}", f"info@{slug}.example")


async def make_organiser(slug: str, role: str = "editor") -> str:
    from events.services import organisers

    email_address = f"{unique_slug(role)}@people.example"
    await organisers.create_organiser(email_address, slug, role=role, password=PASSWORD)
    return email_address


async def make_event(organisation_id: int, title: str = "Microcredit info session") -> int:
    """A published info session next month, through the services."""
    from datetime import UTC, datetime

    import msgspec

    from events.services import events as event_service
    from events.services.access import CLI_ACTOR
    from events.services.events import EventInput

    starts = datetime.now(UTC).replace(hour=16, minute=0, second=0, microsecond=0) + timedelta(days=30)
    data = msgspec.convert(
        {
            "kind": "info_session",
            "title": {"nl": title, "en": title},
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "timezone": "Europe/Brussels",
            "venue": {"name": "Ondernemershuis", "address": "Kerkstraat 1, 9000 Gent"},
            "capacity": 100,
        },
        EventInput,
    )
    event_id = await event_service.create_event(CLI_ACTOR, organisation_id, data)
    await event_service.publish_event(CLI_ACTOR, event_id)
    return event_id


async def invite(event_id: int, name: str, email_address: str, language: str = "en") -> int:
    """A confirmed Registration row inserted directly, and its invitation queued by notifications."""
    from events.db import write_transaction
    from events.services.notifications import send_invitation
    from events.tables import Registration

    async with write_transaction():
        rows = await Registration.insert(
            Registration(
                event=event_id,
                name=name,
                email=email_address,
                email_key=email_address.lower(),
                language=language,
                status="confirmed",
            )
        )
        registration_id = int(rows[0]["id"])
        await send_invitation(registration_id)
    return registration_id


# Browser -----------------------------------------------------------------------------------


def _from_address(app: Any, host: str) -> Any:
    """The app as seen from client address `host` (sign-in is rate limited per address)."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "client": (host, 50000)}
        await app(scope, receive, send)

    return asgi


@pytest.fixture
async def browser(app: Any) -> AsyncIterator[Any]:
    """The in-process client, from an address of its own (TEST-NET-2)."""
    from litestar.testing import AsyncTestClient

    host = f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    async with AsyncTestClient(app=_from_address(app, host), base_url=f"http://{TEST_HOST}") as test_client:
        yield test_client
