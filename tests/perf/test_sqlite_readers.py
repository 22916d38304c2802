"""SQLite's open reader connections (events/db.py): fast, and never a stale or lost answer."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import USING_POSTGRES
from tests.integration.helpers import make_organisation

pytestmark = pytest.mark.skipif(USING_POSTGRES, reason="SQLite only")


async def test_reads_through_open_connections_see_every_committed_write_at_once():
    from events.db import close_pool, engine, open_pool, write_transaction
    from events.tables import Organisation

    await open_pool()
    try:
        assert engine().readers.get(asyncio.get_running_loop()) is not None  # type: ignore[attr-defined]
        slug, org_id = await make_organisation()
        for number in range(5):
            async with write_transaction():
                await Organisation.update({Organisation.name_en: f"Name {number}"}).where(Organisation.id == org_id)
            row = await Organisation.select(Organisation.name_en).where(Organisation.slug == slug).first()
            assert row == {"name_en": f"Name {number}"}
        # A statement outside a transaction (autocommit) is kept too.
        await Organisation.update({Organisation.name_en: "Outside"}).where(Organisation.id == org_id)
        rows = await asyncio.gather(*(Organisation.select(Organisation.name_en).where(Organisation.id == org_id)
                                      for _ in range(20)))  # fmt: skip
        assert all(found == [{"name_en": "Outside"}] for found in rows)
    finally:
        await close_pool()
    assert engine().readers.get(asyncio.get_running_loop()) is None  # type: ignore[attr-defined]
    # Without open readers, every statement opens its own connection again.
    assert await Organisation.exists().where(Organisation.id == org_id)


async def test_a_failing_statement_never_leaves_a_connection_behind():
    from events.db import close_pool, engine, open_pool
    from events.tables import Organisation

    await open_pool()
    try:
        for _ in range(3):  # more failures than connections, some of them at once
            failures = await asyncio.gather(
                *(Organisation.raw("SELECT * FROM no_such_table") for _ in range(6)), return_exceptions=True
            )
            assert all("no such table" in str(failure) for failure in failures)
        assert await Organisation.count() >= 0
        readers = engine().readers[asyncio.get_running_loop()]  # type: ignore[attr-defined]
        assert readers.idle.qsize() == len(readers.opened) <= readers.size  # the failed ones were closed
    finally:
        await close_pool()
