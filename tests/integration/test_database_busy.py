"""RELIABILITY.md: a long write transaction held elsewhere → 503 with Retry-After after a
bounded wait, never a hang or a 500, and nothing left behind that keeps the process alive."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from tests.conftest import USING_POSTGRES
from tests.integration.helpers import bearer, event_payload, make_organisation, make_token


@pytest.fixture
def short_sqlite_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    from events import db

    monkeypatch.setitem(db.engine().connection_kwargs, "timeout", 0.3)


async def test_a_write_blocked_by_another_writer_answers_503_with_retry_after(client, request) -> None:
    slug, _ = await make_organisation("busy")
    headers = bearer(await make_token(slug))
    if USING_POSTGRES:
        import asyncpg

        from tests.conftest import DATABASE_URL

        created = await client.post("/api/v1/events", json=event_payload(), headers=headers)
        event_id = created.json()["id"]
        holder = await asyncpg.connect(DATABASE_URL)
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT id FROM event WHERE id = $1 FOR UPDATE", event_id)
        try:
            started = time.monotonic()
            response = await client.patch(f"/api/v1/events/{event_id}", json={"capacity": 7}, headers=headers)
            elapsed = time.monotonic() - started
        finally:
            await transaction.rollback()
            await holder.close()
    else:
        request.getfixturevalue("short_sqlite_waits")
        from events.settings import get_settings

        holder = sqlite3.connect(str(get_settings().sqlite_path), timeout=0)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            response = await client.post("/api/v1/events", json=event_payload(), headers=headers)
            elapsed = time.monotonic() - started
        finally:
            holder.rollback()
            holder.close()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert response.json()["status_code"] == 503
    assert elapsed < 10


def _connection_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "aiosqlite" in getattr(getattr(t, "_target", None), "__module__", "")]


@pytest.mark.skipif(USING_POSTGRES, reason="SQLite's BEGIN IMMEDIATE")
async def test_a_failed_begin_leaves_no_connection_thread_that_keeps_the_process_alive(short_sqlite_waits) -> None:
    """Piccolo opens a connection, then BEGINs; if BEGIN fails, nothing closed that connection
    and its non-daemon thread kept `pytest` (or a worker) from ever exiting."""
    from events.db import write_transaction
    from events.settings import get_settings

    before = set(_connection_threads())
    holder = sqlite3.connect(str(get_settings().sqlite_path), timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:  # the traceback stays referenced
            async with write_transaction():
                pass
    finally:
        holder.rollback()
        holder.close()
    await asyncio.sleep(0.2)
    assert "locked" in str(caught.value)
    assert not [t for t in set(_connection_threads()) - before if t.is_alive()]
