"""The data version that feeds and caches key on (see `DataVersion`)."""

from __future__ import annotations

from datetime import UTC, datetime

from events.tables import DataVersion

SCOPE = "events"


async def bump_data_version() -> None:
    """Call inside the write transaction of any change to public event data.

    `changed_at` only moves forward, even if this machine's clock steps back.
    """
    now = datetime.now(UTC)
    await DataVersion.raw(
        "UPDATE data_version SET version = version + 1, "
        "changed_at = CASE WHEN changed_at > {} THEN changed_at ELSE {} END WHERE scope = {}",
        now,
        now,
        SCOPE,
    )


async def current_data_version() -> tuple[int, datetime]:
    row = (
        await DataVersion.select(DataVersion.version, DataVersion.changed_at).where(DataVersion.scope == SCOPE).first()
    )
    if row is None:
        return 0, datetime(2026, 1, 1, tzinfo=UTC)
    changed_at = row["changed_at"]
    if isinstance(changed_at, str):  # a row written by SQL's CURRENT_TIMESTAMP on SQLite
        changed_at = datetime.fromisoformat(changed_at).replace(tzinfo=UTC)
    return int(row["version"]), changed_at
