"""Consultation days: one booking per slot, one slot per advisor and time (raw SQL: both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T05:51:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique booking per slot, slot per advisor and start, advisor feed token"

STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS registration_active_slot ON registration (slot) "
    "WHERE slot IS NOT NULL AND status NOT IN ('cancelled', 'rejected')",
    "CREATE UNIQUE INDEX IF NOT EXISTS slot_advisor_start ON slot (advisor, starts_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS advisor_feed_token ON advisor (feed_token_hash)",
    "CREATE INDEX IF NOT EXISTS slot_event_status_start ON slot (event, status, starts_at)",
]
NAMES = ["registration_active_slot", "slot_advisor_start", "advisor_feed_token", "slot_event_status_start"]


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
