"""Shared helpers of the reliability tests (RELIABILITY.md): services, databases and processes.

Services a run does not use. A test that needs PostgreSQL while the run is on SQLite, or Redis
(no run uses it by default), calls `require_service(name)`: on a user's machine without that
service the test is skipped with the reason; with TREFPUNT_REQUIRE_SERVICES=1 (CI sets it) it
fails instead, so a green CI always means the test ran.

Databases. `database_of_kind(kind, prefix)` is the suite's `private_database(prefix,
for_subprocesses=True)` on the kind asked for, whatever the run's kind: PostgreSQL (on the run's
server, else on POSTGRES_ADMIN_URL) or a SQLite file. Every table of this process and every
process started meanwhile use it; it is dropped afterwards.

Redis. `redis_database()` claims an empty Redis database (1–15) on REDIS_SERVER for a block and
empties it afterwards, so runs on one machine at the same time never share a session or a rate
limit. Tests that need Redis take theirs from here, never a fixed database number.

Processes. `running(name, *args, **env)` runs a real `trefpunt` command (`worker`, or `serve`
with options `serving()` does not take, like `--workers`) until the block ends; `running_worker`
is the `trefpunt worker` case. `serving()` of tests/conftest.py stays the way to start one
ordinary `trefpunt serve`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import conftest as suite
from tests import processes

REQUIRE_SERVICES = os.environ.get("TREFPUNT_REQUIRE_SERVICES") == "1"
# The PostgreSQL server of a run on SQLite (the run's own server when it is on PostgreSQL).
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_SERVER = "redis://127.0.0.1:6379"
_REDIS_CLAIM_KEY = "trefpunt-test:claimed-by"


def _reachable(name: str) -> str | None:
    """None when the service answers, else why not."""
    if name == "postgresql":
        url = suite.ORIGINAL_DATABASE_URL if suite.USING_POSTGRES else POSTGRES_ADMIN_URL
        import asyncpg

        async def probe() -> None:
            conn = await asyncpg.connect(url, timeout=5)
            await conn.close()

        try:
            suite._in_thread(probe)
        except (OSError, asyncpg.PostgresError) as exc:
            return f"PostgreSQL is not reachable at {url}: {exc}"
        return None
    if name == "redis":
        import redis

        try:
            with redis.Redis.from_url(REDIS_SERVER, socket_timeout=5) as client:
                client.ping()
        except redis.RedisError as exc:
            return f"Redis is not reachable at {REDIS_SERVER}: {exc}"
        return None
    raise ValueError(f"unknown service {name!r}")


def require_service(name: str) -> None:
    """Skip the test when service `name` ("postgresql" or "redis") does not answer, or fail it
    when TREFPUNT_REQUIRE_SERVICES=1."""
    problem = _reachable(name)
    if problem is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{problem} (TREFPUNT_REQUIRE_SERVICES=1: failing, not skipping)")
    pytest.skip(f"{problem}; set TREFPUNT_REQUIRE_SERVICES=1 to fail instead")


@contextlib.contextmanager
def database_of_kind(kind: str, prefix: str) -> Iterator[str]:
    """`private_database(prefix, for_subprocesses=True)` on a database of `kind` ("postgresql" or
    "sqlite"), also when the run uses the other kind; yields its URL."""
    if kind not in ("postgresql", "sqlite"):
        raise ValueError(f"unknown database kind {kind!r}")
    want_postgres = kind == "postgresql"
    if want_postgres:
        require_service("postgresql")
    overrides: dict[str, object] = {}
    if want_postgres != suite.USING_POSTGRES:
        # private_database() reads these two to choose the kind and the server.
        overrides = {"USING_POSTGRES": want_postgres}
        if want_postgres:
            overrides["ORIGINAL_DATABASE_URL"] = POSTGRES_ADMIN_URL
    saved = {name: getattr(suite, name) for name in overrides}
    for name, value in overrides.items():
        setattr(suite, name, value)
    try:
        with suite.private_database(prefix, for_subprocesses=True) as url:
            yield url
    finally:
        for name, value in saved.items():
            setattr(suite, name, value)


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    """The URL of an empty Redis database claimed for this block (skip or fail without Redis);
    emptied afterwards."""
    require_service("redis")
    import redis

    claim = secrets.token_hex(8)
    for number in range(1, 16):
        client = redis.Redis.from_url(f"{REDIS_SERVER}/{number}", socket_timeout=5)
        # An empty database, claimed atomically: a concurrent run takes another one. The claim
        # expires, and so does everything the app stores, so a killed run frees it by itself.
        if client.dbsize() == 0 and client.set(_REDIS_CLAIM_KEY, claim, nx=True, ex=3600):
            try:
                yield f"{REDIS_SERVER}/{number}"
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    pytest.fail(f"no empty Redis database left on {REDIS_SERVER} (all of 1–15 hold keys)")


def wait_until_healthy(url: str, started: Running, timeout: float = 30) -> None:
    """Poll `url`/health until it answers 200; fail with the process's output if it dies first."""
    processes.wait_until_healthy(url, started.process, started.output, timeout=timeout)


@dataclasses.dataclass(frozen=True)
class Running:
    """A `trefpunt` process started by `running()` and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def running(name: str, *args: str, **env_overrides: str | None) -> Iterator[Running]:
    """`trefpunt <args>` as a real process with the test environment plus `env_overrides` (None
    removes a variable), its output in VAR_DIR/<name>-<n>.log; stopped with SIGTERM (then
    SIGKILL after 15 s) when the block ends. For `serve`, combine with `wait_until_healthy`."""
    env = {**os.environ}
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    log = suite.VAR_DIR / f"{name}-{secrets.token_hex(3)}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(suite.BIN / "trefpunt"), *args],
            cwd=suite.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # `serve --workers N` has children: stop the whole group
        )
    try:
        yield Running(process, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def running_worker(name: str = "worker", **env_overrides: str | None) -> Iterator[Running]:
    """A real `trefpunt worker` (outbox, webhooks, reminders) on the test environment's database
    (DATABASE_URL as `database_of_kind`/`private_database` set it) plus `env_overrides`."""
    with running(name, "worker", **env_overrides) as worker:
        yield worker
