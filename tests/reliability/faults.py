"""Fault injection for the reliability tests: a TCP proxy on loopback that cuts connections
mid-transaction and adds latency, a small tmpfs to fill up, and checks that a registration
committed whole or not at all. (Processes: `serving()` of tests/conftest.py and `running_worker`
of tests/reliability/conftest.py.)

`TcpProxy` runs its own event loop in a thread, so it keeps passing traffic while the test's
loop is blocked in a synchronous call (`serving()` waits for `/health` through it). When told
the upstream speaks PostgreSQL's protocol it reads the client's messages: it knows where a
transaction begins (a simple `BEGIN` query) and counts the round trips after it (each `Sync`
or simple `Query` ends one), so a test can cut every connection at the k-th round trip of a
transaction — before its statements reach the server, or right after the `COMMIT` was handed
over but before its answer came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import private_database

# The untyped messages a PostgreSQL client may open with (SSLRequest, GSSENCRequest, cancel).
_PG_SPECIAL_CODES = {80877103, 80877104, 80877102}
COMMIT = -1  # `cut_at_step` value: the transaction's COMMIT, however many round trips came before


@pytest.fixture(scope="module")
def fault_database() -> Iterator[str]:
    """A fresh database of the run's kind for one test module, also for the processes it
    starts: the session's shared live server has an inline worker that would send (to files)
    any mail left queued in the shared database."""
    with private_database("faults", for_subprocesses=True) as url:
        yield url


# PostgreSQL client messages ---------------------------------------------------------------------


@dataclass
class _PgClientStream:
    """Splits what a client sends into protocol messages and keeps its transaction position."""

    buffer: bytearray = field(default_factory=bytearray)
    started: bool = False  # past the untyped start-up message
    in_transaction: bool = False
    step: int = 0  # round trips since BEGIN

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self.buffer.extend(data)
        messages: list[tuple[str, bytes]] = []
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return messages
                (length,) = struct.unpack("!I", self.buffer[:4])
                if len(self.buffer) < length:
                    return messages
                (code,) = struct.unpack("!I", self.buffer[4:8])
                del self.buffer[:length]
                if code not in _PG_SPECIAL_CODES:
                    self.started = True
                continue
            if len(self.buffer) < 5:
                return messages
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return messages
            kind, body = chr(self.buffer[0]), bytes(self.buffer[5 : 1 + length])
            del self.buffer[: 1 + length]
            messages.append((kind, body))


def _query_text(body: bytes) -> str:
    return body.split(b"\0", 1)[0].decode("utf-8", "replace").strip().upper()


# The proxy --------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    pg: _PgClientStream = field(default_factory=_PgClientStream)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                writer.transport.abort()


class TcpProxy:
    """A TCP proxy on 127.0.0.1 to `upstream_port`: `latency` seconds added to every chunk
    in both directions, `cut_all()` aborts every connection, `down` refuses new ones (accepted
    and reset at once), and with `postgres=True`, `cut_at_step(k)` cuts everything when a
    transaction reaches its k-th round trip. `transaction_steps` is the number of round trips
    (COMMIT included) of the last transaction that committed through the proxy."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1", *, postgres: bool = False) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.postgres = postgres
        self.latency = 0.0
        self.down = False
        self.cuts = 0
        self.transaction_steps = 0
        self._cut_step: int | None = None
        self._cut_after_forwarding = False
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self.port = 0

    # Life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        self._abort_all()
        if self._server is not None:
            self._server.close()

    # Faults -------------------------------------------------------------------------------

    def cut_all(self) -> None:
        """Abort every open connection, both sides, as a network failure would."""

        async def cut() -> None:
            self._abort_all()

        self._call(cut())

    def cut_at_step(self, step: int | None, *, after_forwarding: bool = False) -> None:
        """Arm a cut of every connection when a transaction reaches round trip `step` (1 is
        the first statement after BEGIN): before that chunk reaches the server, or with
        `after_forwarding` just after it did (the server may act on it; its answer is lost).
        Fires once; None disarms."""
        self._arm(step, after_forwarding)

    def cut_at_commit(self, *, after_forwarding: bool = False) -> None:
        """Arm a cut at the next COMMIT: before the server gets it, or (`after_forwarding`)
        after it did but before its answer reaches the app."""
        self._arm(COMMIT, after_forwarding)

    def _arm(self, step: int | None, after_forwarding: bool) -> None:
        async def arm() -> None:
            self._cut_step = step
            self._cut_after_forwarding = after_forwarding

        self._call(arm())

    @property
    def armed(self) -> bool:
        return self._cut_step is not None

    def _abort_all(self) -> None:
        for link in list(self._links):
            link.abort()
        self._links.clear()

    # Traffic ------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        await asyncio.gather(
            self._pump(reader, up_writer, link, from_client=True),
            self._pump(up_reader, writer, link, from_client=False),
            return_exceptions=True,
        )
        self._links.discard(link)
        link.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, *, from_client: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if self.latency:
                    await asyncio.sleep(self.latency)
                cut = self._watch(link, data) if from_client and self.postgres else False
                if cut and not self._cut_after_forwarding:
                    self._fire()
                    return
                writer.write(data)
                await writer.drain()
                if cut:
                    await asyncio.sleep(0.05)  # the server reads it before the line drops
                    self._fire()
                    return
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _fire(self) -> None:
        self._cut_step = None
        self.cuts += 1
        self._abort_all()

    def _watch(self, link: _Link, data: bytes) -> bool:
        """Follow the client's transaction; True when the armed cut is due in this chunk."""
        cut = False
        for kind, body in link.pg.feed(data):
            if kind == "Q" and _query_text(body).startswith("BEGIN"):
                link.pg.in_transaction, link.pg.step = True, 0
                continue
            if kind not in ("Q", "S") or not link.pg.in_transaction:
                continue
            link.pg.step += 1
            commit = kind == "Q" and _query_text(body).startswith("COMMIT")
            if self._cut_step == COMMIT:
                cut = cut or commit
            elif self._cut_step is not None and link.pg.step >= self._cut_step:
                cut = True
            if kind == "Q" and _query_text(body).startswith(("COMMIT", "ROLLBACK")):
                if _query_text(body).startswith("COMMIT"):
                    self.transaction_steps = link.pg.step
                link.pg.in_transaction = False
        return cut


def through_proxy(database_url: str, proxy_port: int) -> str:
    """`database_url` with its host and port replaced by the proxy's (TLS off: the proxy reads
    the protocol)."""
    parts = urlsplit(database_url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    query = "&".join(q for q in (parts.query, "sslmode=disable") if q)
    return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{proxy_port}", query=query))


# Requests ---------------------------------------------------------------------------------------


async def register_over_http(
    client: httpx.AsyncClient, event_id: int, email: str, *, language: str = "en"
) -> httpx.Response:
    """POST /api/v1/events/{id}/registrations as a participant would."""
    return await client.post(
        f"/api/v1/events/{event_id}/registrations",
        json={"name": f"Person {email.split('@')[0]}", "email": email, "language": language},
    )


async def registration_and_mails(email: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The registration with this email (None if there is none) and the outbox rows for it."""
    from events.tables import OutboxMessage, Registration

    row = await Registration.select().where(Registration.email_key == email.lower()).first()
    if row is None:
        return None, []
    mails = await OutboxMessage.select().where(OutboxMessage.registration == row["id"])
    return row, mails


async def assert_whole_or_nothing(email: str) -> bool:
    """True when the registration committed with its confirmation in the outbox, False when
    nothing of it did; anything in between fails the test."""
    row, mails = await registration_and_mails(email)
    if row is None:
        assert mails == [], f"mails for {email} without a registration"
        return False
    assert row["status"] == "confirmed", row
    kinds = [mail["kind"] for mail in mails]
    assert kinds.count("invitation") == 1, f"{email} committed with mails {kinds}, not one invitation"
    return True


def assert_no_traceback(response: httpx.Response) -> None:
    """An error answer says what to do, never how the code failed."""
    for marker in ("Traceback", 'File "', "asyncpg", "sqlite3", "OperationalError"):
        assert marker not in response.text, f"{response.status_code} answer leaks {marker!r}: {response.text[:500]}"


# A small disk -----------------------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(size: str = "8m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on a fresh directory; skips when mounting is not permitted."""
    mount = shutil.which("mount")
    umount = shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("no mount(8) here: a full disk cannot be simulated")
    path = Path(tempfile.mkdtemp(prefix="trefpunt-full-disk-"))
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        path.rmdir()
        pytest.skip(f"mounting a {size} tmpfs is not permitted here ({done.stderr.strip()}): full disk not simulated")
    try:
        yield path
    finally:
        subprocess.run([umount, "-l", str(path)], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)


def fill_disk(directory: Path) -> Path:
    """Write a file in `directory` until the file system has no byte left; returns it."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0")
    return filler
