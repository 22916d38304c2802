"""Helpers of the registration tests: events, participants and rows, through the real services.

Organisations, tokens, organisers and events come from `tests/integration/helpers.py`; SMTP
servers and worker settings from `tests/mail/conftest.py`; calendar parsers from
`tests/calendar/parsers.py`. Every test makes its own organisation and its own recipient
domain, so tests never depend on each other's data.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import LiveServer, serving
from tests.integration.helpers import make_event, make_organisation


def domain() -> str:
    """A recipient domain of this test's own (mails and rows are told apart by it)."""
    return f"{secrets.token_hex(5)}.reg.test"


async def new_event(organisation_id: int | None = None, **overrides: Any) -> tuple[int, int]:
    """A published info session (or as `overrides` say) of a new organisation: (event id, org id)."""
    if organisation_id is None:
        _, organisation_id = await make_organisation("reg")
    datetimes = ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at")
    for name in datetimes:
        if isinstance(overrides.get(name), datetime):
            overrides[name] = overrides[name].isoformat()
    return await make_event(organisation_id, **overrides), organisation_id


def person(email: str, name: str | None = None, language: str = "nl", **extra: Any) -> Any:
    from events.services.registrations import RegistrationInput

    return RegistrationInput(name=name or f"Deelnemer {email.split('@')[0]}", email=email, language=language, **extra)


async def register(event_id: int, email: str, language: str = "nl", **extra: Any) -> Any:
    """`registrations.register` for one person; returns its RegistrationResult."""
    from events.services import registrations

    return await registrations.register(event_id, person(email, language=language, **extra))


def token_of(result: Any) -> str:
    """The private token in a registration's manage_url (`…/r/{token}`)."""
    match = re.search(r"/r/([A-Za-z0-9_-]{43})$", result.manage_url or "")
    assert match, f"no private link in {result!r}"
    return match.group(1)


def token_in(url: str) -> str:
    match = re.search(r"/(?:r|me)/([A-Za-z0-9_-]{43})(?:/|$)", url)
    assert match, f"no token in {url!r}"
    return match.group(1)


async def rows_of(event_id: int, status: str | None = None) -> list[dict[str, Any]]:
    from events.tables import Registration

    query = Registration.select().where(Registration.event == event_id)
    if status is not None:
        query = query.where(Registration.status == status)
    return await query.order_by(Registration.id)


async def registration(registration_id: int) -> dict[str, Any]:
    from events.tables import Registration

    row = await Registration.select().where(Registration.id == registration_id).first()
    assert row is not None
    return row


async def event_row(event_id: int) -> dict[str, Any]:
    from events.tables import Event

    row = await Event.select().where(Event.id == event_id).first()
    assert row is not None
    return row


async def mails_to(registration_id: int, kind: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows for one registration (optionally of one kind), oldest first."""
    from events.tables import OutboxMessage

    query = OutboxMessage.select().where(OutboxMessage.registration == registration_id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return await query.order_by(OutboxMessage.id)


async def event_mails(event_id: int, kind: str) -> list[dict[str, Any]]:
    from events.tables import OutboxMessage

    return (
        await OutboxMessage.select()
        .where((OutboxMessage.event == event_id) & (OutboxMessage.kind == kind))
        .order_by(OutboxMessage.id)
    )


async def assert_seats_consistent(event_id: int, expected_confirmed: int) -> None:
    """The event's seat counter, its confirmed rows and the expected number all agree."""
    event = await event_row(event_id)
    confirmed = await rows_of(event_id, "confirmed")
    assert event["confirmed_count"] == len(confirmed) == expected_confirmed, (
        f"confirmed_count={event['confirmed_count']}, confirmed rows={len(confirmed)}, expected {expected_confirmed}"
    )


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def now() -> datetime:
    return datetime.now(UTC)


def serve(**env_overrides: str) -> contextlib.AbstractContextManager[LiveServer]:
    """A real `trefpunt serve` on loopback (as the `live_server` fixture starts it) on this
    package's database; stopped (and its log flushed) when the block ends."""
    return serving("registrations-serve", **env_overrides)
