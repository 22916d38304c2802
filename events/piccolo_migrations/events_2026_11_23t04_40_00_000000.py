"""Composite indexes Piccolo cannot add on SQLite with ALTER TABLE (STYLE.md, known traps)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T04:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS membership_organiser_organisation "
    "ON membership (organiser, organisation)",
    "CREATE UNIQUE INDEX IF NOT EXISTS event_host_event_organisation ON event_host (event, organisation)",
    "CREATE INDEX IF NOT EXISTS event_status_starts_at ON event (status, starts_at)",
]


class RawTable(Table):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawTable.raw(statement)

    async def run_backwards() -> None:
        for name in ("membership_organiser_organisation", "event_host_event_organisation", "event_status_starts_at"):
            await RawTable.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
