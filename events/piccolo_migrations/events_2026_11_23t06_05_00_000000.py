"""One active registration per (event, email) applies to sessions, not to appointments: a
consultation day may allow several bookings per person (its own limit, checked under lock)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T06:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "registration_event_email_active excludes slot bookings"


class RawTable(Table):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)

    async def run() -> None:
        await RawTable.raw("DROP INDEX IF EXISTS registration_event_email_active")
        await RawTable.raw(
            "CREATE UNIQUE INDEX registration_event_email_active ON registration (event, email_key) "
            "WHERE slot IS NULL AND status NOT IN ('cancelled', 'rejected')"
        )

    async def run_backwards() -> None:
        await RawTable.raw("DROP INDEX IF EXISTS registration_event_email_active")
        await RawTable.raw(
            "CREATE UNIQUE INDEX registration_event_email_active ON registration (event, email_key) "
            "WHERE status NOT IN ('cancelled', 'rejected')"
        )

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
