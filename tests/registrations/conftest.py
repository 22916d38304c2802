"""Fixtures of the registration tests.

A private database. During a whole-suite run the session-wide `live_server` (a real `trefpunt
serve` with the inline worker) drains the shared outbox every second; the mail tests here count
what a real SMTP server receives, and the reminder tests count outbox rows, so this package
reuses the mail tests' `mail_database` fixture: every table (and every subprocess started here)
points at a fresh database of its own (a new SQLite file, or a new PostgreSQL database).

SMTP servers are the mail tests' aiosmtpd `smtp` fixture, imported rather than copied.

`db_pool`: on PostgreSQL the tests run with `TREFPUNT_DB_POOL=off`, so every query opens its own
connection; 200 concurrent registrations would need more connections than the server allows
(100). Tests that call the services concurrently start an asyncpg pool on this test loop, like
production does, and close it before any in-process HTTP client (whose lifespan runs on another
loop) is used.

`client`: the in-process client, from a client address of its own per test (TEST-NET-2), so
the per-client registration rate limit counts each test separately, as it would count people.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import TEST_HOST
from tests.integration.helpers import from_address, unique_address
from tests.mail.conftest import mail_database, smtp  # noqa: F401  (fixtures, reused)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=from_address(app, unique_address()), base_url=f"http://{TEST_HOST}") as test_client:
        yield test_client


@pytest.fixture
async def db_pool() -> AsyncIterator[None]:
    from piccolo.engine.postgres import PostgresEngine

    from events.db import engine

    db = engine()
    if not isinstance(db, PostgresEngine):
        yield
        return
    await db.start_connection_pool(min_size=1, max_size=20)
    try:
        yield
    finally:
        await db.close_connection_pool()
