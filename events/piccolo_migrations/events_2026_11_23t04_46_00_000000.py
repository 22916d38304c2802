"""Indexes for the outbox and registrations, and the data-version row (raw SQL: both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T04:46:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox claim index, one active registration per email, data version row"

STATEMENTS = [
    # The worker's claim query: due queued rows and expired leases.
    "CREATE INDEX IF NOT EXISTS outbox_message_due ON outbox_message (status, next_attempt_at)",
    # One active registration per (event, email); cancelled and rejected ones don't count.
    "CREATE UNIQUE INDEX IF NOT EXISTS registration_event_email_active ON registration (event, email_key) "
    "WHERE status NOT IN ('cancelled', 'rejected')",
    "INSERT INTO data_version (scope, version, changed_at) VALUES ('events', 0, CURRENT_TIMESTAMP)",
]
NAMES = ["outbox_message_due", "registration_event_email_active"]


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
        await RawTable.raw("DELETE FROM data_version WHERE scope = 'events'")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
