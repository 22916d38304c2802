"""The audit log of organiser actions."""

from __future__ import annotations

import json
from typing import Any

from events.services.access import Actor
from events.tables import AuditLog


async def record(actor: Actor, action: str, *, organisation_id: int | None, target: str, **detail: Any) -> None:
    """Append one entry; call inside the use case's transaction so it commits with the change."""
    await AuditLog.insert(
        AuditLog(
            organisation=organisation_id,
            actor=actor.label,
            action=action,
            target=target,
            detail=json.dumps(detail, default=str, ensure_ascii=False),
        )
    )
