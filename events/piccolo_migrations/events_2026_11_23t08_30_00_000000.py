"""The "pages" data version, moved by the database itself (raw SQL: both engines).

The response cache of public pages (events/web/cache.py) keys on this version. Triggers bump it
on every write to a table those pages show — including seats taken and booked slots, which
change with each registration — so no code path can forget to, and a cached page is never
stale after a write.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pages data version bumped by triggers"

# Everything the anonymous pages, the JSON list and the public feeds read.
TABLES = [
    "organisation",
    "venue",
    "room",
    "series",
    "event",
    "event_host",
    "question",
    "consent_purpose",
    "consultation",
    "advisor",
    "availability_window",
    "slot",
    "networking_settings",
    "meeting_slot",
    "meeting_table",
]
BUMP = "UPDATE data_version SET version = version + 1 WHERE scope = 'pages'"
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION trefpunt_bump_pages_version() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
)


class RawTable(Table):
    pass


def _postgres() -> bool:
    return RawTable._meta.db.engine_type == "postgres"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)

    async def run() -> None:
        await RawTable.raw(
            "INSERT INTO data_version (scope, version, changed_at) "
            "SELECT 'pages', 0, CURRENT_TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM data_version WHERE scope = 'pages')"
        )
        if _postgres():
            await RawTable.raw(PG_FUNCTION)
            for table in TABLES:
                # Per statement: a bulk insert of slots bumps once.
                await RawTable.raw(
                    f"CREATE OR REPLACE TRIGGER pages_version_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION trefpunt_bump_pages_version()"
                )
            return
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                await RawTable.raw(
                    f"CREATE TRIGGER IF NOT EXISTS pages_version_{table}_{action} AFTER {action.upper()} ON {table} "
                    f"BEGIN {BUMP}; END"
                )

    async def run_backwards() -> None:
        if _postgres():
            for table in TABLES:
                await RawTable.raw(f"DROP TRIGGER IF EXISTS pages_version_{table} ON {table}")
            await RawTable.raw("DROP FUNCTION IF EXISTS trefpunt_bump_pages_version()")
        else:
            for table in TABLES:
                for action in ("insert", "update", "delete"):
                    await RawTable.raw(f"DROP TRIGGER IF EXISTS pages_version_{table}_{action}")
        await RawTable.raw("DELETE FROM data_version WHERE scope = 'pages'")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
