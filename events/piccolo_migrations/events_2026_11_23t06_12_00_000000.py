"""Networking meetings: nobody in two meetings at once, no table used twice in a slot."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T06:12:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique meeting seats and tables per slot"

STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS meeting_seat_slot_profile ON meeting_seat (slot, profile)",
    "CREATE UNIQUE INDEX IF NOT EXISTS meeting_slot_table_accepted ON meeting (slot, meeting_table) "
    "WHERE status = 'accepted'",
    "CREATE UNIQUE INDEX IF NOT EXISTS meeting_slot_start ON meeting_slot (event, starts_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS meeting_table_name ON meeting_table (event, name)",
    "CREATE INDEX IF NOT EXISTS meeting_by_slot_status ON meeting (slot, status)",
]
NAMES = [
    "meeting_seat_slot_profile",
    "meeting_slot_table_accepted",
    "meeting_slot_start",
    "meeting_table_name",
    "meeting_by_slot_status",
]


class RawTable(Table):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await RawTable.raw(statement)

    async def run_backwards() -> None:
        for name in NAMES:
            await RawTable.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
