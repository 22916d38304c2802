"""Test set-up: the environment is fixed before the app is imported (litestar-fullstack style).

SQLite by default (a fresh file per run); when DATABASE_URL points at PostgreSQL, a fresh
database is created on that server for this run and dropped afterwards. Migrations run through
the real `trefpunt migrate` command.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.processes import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(tempfile.mkdtemp(prefix="trefpunt-test-"))
TEST_HOST = "testserver.local"
BIN = Path(sys.executable).parent


def _postgres_test_url(base_url: str) -> tuple[str, str]:
    """Create a fresh database next to the one DATABASE_URL names; return (url, name)."""
    import asyncpg

    name = f"trefpunt_test_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(base_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}")), name


ORIGINAL_DATABASE_URL = os.environ.get("DATABASE_URL", "")
USING_POSTGRES = ORIGINAL_DATABASE_URL.startswith(("postgres://", "postgresql://"))
if USING_POSTGRES:
    DATABASE_URL, PG_DATABASE = _postgres_test_url(ORIGINAL_DATABASE_URL)
else:
    DATABASE_URL, PG_DATABASE = f"sqlite:///{VAR_DIR / 'test.sqlite3'}", ""

os.environ.update(
    {
        "DATABASE_URL": DATABASE_URL,
        "TREFPUNT_VAR_DIR": str(VAR_DIR),
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "BASE_URL": f"http://{TEST_HOST}",
        "TREFPUNT_ALLOWED_HOSTS": f"{TEST_HOST},testserver",
        "TREFPUNT_WORKER": "off",
        # AsyncTestClient runs the lifespan on another event loop: no pool in-process.
        "TREFPUNT_DB_POOL": "off",
        "PICCOLO_CONF": "piccolo_conf",
    }
)
os.environ.pop("SMTP_URL", None)
os.environ.pop("REDIS_URL", None)

subprocess.run([str(BIN / "trefpunt"), "migrate"], check=True, cwd=ROOT, capture_output=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("TREFPUNT_KEEP_TEST_DIR"):
        shutil.rmtree(VAR_DIR, ignore_errors=True)
    if not PG_DATABASE:
        return
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(ORIGINAL_DATABASE_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def pytest_report_header(config: pytest.Config) -> str:
    return f"trefpunt database: {'PostgreSQL ' + PG_DATABASE if USING_POSTGRES else 'SQLite'}"


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    from events.app import create_app

    return create_app()


@pytest.fixture
async def client(app) -> AsyncIterator[object]:  # type: ignore[no-untyped-def]
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app, base_url=f"http://{TEST_HOST}") as test_client:
        yield test_client


def unique_slug(prefix: str = "org") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def serving(name: str = "serve", **env_overrides: str | None) -> Iterator[LiveServer]:
    """A real `trefpunt serve` on loopback with production settings (pool, inline worker),
    stopped when the block ends. An override of None removes that variable."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = VAR_DIR / f"{name}-{port}.log"
    env = {**os.environ, "BASE_URL": url, "TREFPUNT_DB_POOL": "on", "TREFPUNT_WORKER": "inline"}
    env.pop("TREFPUNT_ALLOWED_HOSTS", None)
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value.replace("{url}", url)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "trefpunt"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(url, process, log.read_text)
        yield LiveServer(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """A real `trefpunt serve` shared by the tests that use the contract over HTTP."""
    with serving("live") as server:
        yield server


def run_cli(
    *args: str, input_text: str | None = None, database_url: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real `trefpunt` console script with the test environment (on `database_url`
    instead of the suite's database when given)."""
    env = {**os.environ, "DATABASE_URL": database_url} if database_url else None
    return subprocess.run(
        [str(BIN / "trefpunt"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        input=input_text,
        timeout=timeout,
    )


# A package's own database ------------------------------------------------------------------------


def _in_thread(factory: Any) -> Any:
    """Run a coroutine on a fresh event loop in another thread (the test loop may be running)."""
    import concurrent.futures

    async def main() -> Any:
        return await factory()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ORIGINAL_DATABASE_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def private_database(prefix: str, *, for_subprocesses: bool = False) -> Iterator[str]:
    """Point every table at a fresh database migrated with the real `trefpunt migrate` (SQLite or
    PostgreSQL, like the run), dropped afterwards; with `for_subprocesses`, DATABASE_URL too, so
    servers and workers a test starts use it. For packages whose workers must not meet the
    shared database's other rows (or the shared live server's worker)."""
    import dataclasses

    from events.db import make_engine
    from events.piccolo_app import APP_CONFIG
    from events.settings import get_settings

    if USING_POSTGRES:
        name = f"trefpunt_{prefix}_{secrets.token_hex(4)}"
        _in_thread(lambda: _pg_admin(f'CREATE DATABASE "{name}"'))
        url = urlunsplit(urlsplit(ORIGINAL_DATABASE_URL)._replace(path=f"/{name}"))
    else:
        name = ""
        url = f"sqlite:///{VAR_DIR / f'{prefix}-{secrets.token_hex(4)}.sqlite3'}"
    done = subprocess.run(
        [str(BIN / "trefpunt"), "migrate"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"trefpunt migrate failed:\n{done.stdout}\n{done.stderr}"

    engine = make_engine(dataclasses.replace(get_settings(), database_url=url))
    tables = list(APP_CONFIG.table_classes)
    previous = {table: table._meta._db for table in tables}
    previous_url = os.environ["DATABASE_URL"]
    for table in tables:
        table._meta.db = engine
    if for_subprocesses:
        os.environ["DATABASE_URL"] = url
    try:
        yield url
    finally:
        os.environ["DATABASE_URL"] = previous_url
        for table, db in previous.items():
            table._meta._db = db
        if name:
            _in_thread(lambda: _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
