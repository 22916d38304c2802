"""Unique and partial indexes for registrations, reminders and consents (raw SQL: both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T04:59:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "registration feed token, one reminder per offset, waitlist order"

STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS registration_feed_token ON registration (feed_token_hash)",
    "CREATE UNIQUE INDEX IF NOT EXISTS reminder_sent_once ON reminder_sent (registration, hours)",
    "CREATE INDEX IF NOT EXISTS registration_event_status ON registration (event, status, id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS consent_purpose_key ON consent_purpose (organisation, key)",
]
NAMES = ["registration_feed_token", "reminder_sent_once", "registration_event_status", "consent_purpose_key"]


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
