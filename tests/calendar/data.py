"""Test data through the real services (and, where no service exists, the tables).

Every test makes its own organisations (`unique_slug()`), so tests never depend on each other's
data nor on the order they run in.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from tests.conftest import unique_slug


def future(days: int = 30, hour: int = 16) -> datetime:
    """An aware UTC datetime `days` from today at `hour`:00 UTC (inside the feeds' window)."""
    today = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days)


def event_input(**overrides: Any) -> Any:
    from events.services.events import EventInput

    starts = overrides.pop("starts_at", None) or future(30)
    body: dict[str, Any] = {
        "kind": "info_session",
        "title": {"nl": "Infosessie microkrediet", "fr": "Séance d'information microcrédit"},
        "description": {"nl": "Alles over microkrediet.", "fr": "Tout sur le microcrédit."},
        "starts_at": starts.isoformat(),
        "ends_at": (overrides.pop("ends_at", None) or starts + timedelta(hours=2)).isoformat(),
        "timezone": "Europe/Brussels",
        "venue": {"name": "Ondernemershuis", "address": "Kerkstraat 1", "city": "Gent", "room": "Zaal A"},
        "capacity": 20,
    }
    body.update(overrides)
    return msgspec.convert(body, EventInput)


async def make_organisation(prefix: str = "org", name: str | None = None) -> tuple[str, int]:
    from events.services import organisers

    slug = unique_slug(prefix)
    org_id = await organisers.create_organisation(slug, name or f"Organisatie {slug}", f"info@{slug}.example")
    return slug, org_id


async def make_token(slug: str) -> dict[str, str]:
    from events.services import organisers

    return {"Authorization": f"Bearer {await organisers.create_api_token(slug, role='editor')}"}


async def make_event(organisation_id: int, *, publish: bool = True, **overrides: Any) -> int:
    from events.services import events as event_service
    from events.services.access import CLI_ACTOR

    event_id = await event_service.create_event(CLI_ACTOR, organisation_id, event_input(**overrides))
    if publish:
        await event_service.publish_event(CLI_ACTOR, event_id)
    return event_id


async def make_series(organisation_id: int, nl: str, fr: str = "") -> int:
    """No service creates a series yet: a row in the table."""
    from events.tables import Series

    rows = await Series.insert(Series(organisation=organisation_id, title_nl=nl, title_fr=fr))
    return int(rows[0]["id"])


async def add_registration(event_id: int, *, name: str | None = None, language: str = "nl") -> tuple[int, str]:
    """A confirmed registration row, as the registration service leaves it: (id, email)."""
    from events.tables import Registration

    email = f"Deelnemer.{secrets.token_hex(4)}@Example.org"
    rows = await Registration.insert(
        Registration(
            event=event_id,
            name=name or f"Deelnemer {email.split('@')[0]}",
            email=email,
            email_key=email.lower(),
            language=language,
            status="confirmed",
        )
    )
    return int(rows[0]["id"]), email


async def stored_event(event_id: int) -> dict[str, Any]:
    from events.tables import Event

    row = await Event.select().where(Event.id == event_id).first()
    assert row is not None
    return row
