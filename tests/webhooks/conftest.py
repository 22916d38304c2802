"""Fixtures of the webhook tests: a private database, private destinations allowed, and a real
HTTP receiver on loopback.

A private database (as in tests/mail): during a whole-suite run the session-wide `live_server`
runs the inline worker on the shared database, and it would claim our deliveries — refusing
loopback, as production settings do. So this package points every table at a database of its
own, migrated by the real `trefpunt migrate`.

The receiver is the standard library's ThreadingHTTPServer on a free loopback port, in a
thread. It records every request (headers, exact body, arrival time) and answers from a
script: a status and a delay per request, then 200.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import private_database


@pytest.fixture(scope="package", autouse=True)
def webhook_database() -> Iterator[str]:
    """Point every table at a fresh, migrated database for this package."""
    with private_database("hooks") as url:
        yield url


def _set_private(value: str | None) -> None:
    from events.settings import get_settings

    if value is None:
        os.environ.pop("TREFPUNT_WEBHOOK_ALLOW_PRIVATE", None)
    else:
        os.environ["TREFPUNT_WEBHOOK_ALLOW_PRIVATE"] = value
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def private_destinations_allowed() -> Iterator[None]:
    """The receiver is on loopback: allow private destinations, as TREFPUNT_WEBHOOK_ALLOW_PRIVATE=on
    does (tests of the SSRF guard switch it off again with `private_destinations_refused`)."""
    before = os.environ.get("TREFPUNT_WEBHOOK_ALLOW_PRIVATE")
    _set_private("on")
    try:
        yield
    finally:
        _set_private(before)


@pytest.fixture
def private_destinations_refused(private_destinations_allowed: None) -> Iterator[None]:
    """Production's default: webhooks never go to loopback or private networks."""
    _set_private("off")
    yield


# The receiver ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclasses.dataclass
class Reply:
    status: int = 200
    delay: float = 0.0  # seconds to sit on the request before answering


class Receiver:
    """A webhook receiver on loopback: records requests, answers from `script`, then `default`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.connections = 0
        self.script: list[Reply] = []
        self.default = Reply()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                    )
                    reply = receiver.script.pop(0) if receiver.script else receiver.default
                if reply.delay:
                    time.sleep(reply.delay)
                answer = b'{"ok": true}' if 200 <= reply.status < 300 else b"receiver says no"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender gave up waiting and hung up
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a hanging request must not hold up the test
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def of_type(self, event_type: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.headers.get("trefpunt-event") == event_type]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
async def nothing_waiting(webhook_database: str) -> None:
    """Each test starts with no delivery waiting and no webhook of an earlier test listening (the
    sender claims every due row, and tests move the clock forward)."""
    from events.tables import Webhook, WebhookDelivery

    await WebhookDelivery.delete(force=True)
    await Webhook.update({Webhook.active: False}, force=True)
