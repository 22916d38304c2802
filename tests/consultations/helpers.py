"""Helpers of the consultation-day tests: days made through the real JSON API.

Organisations and tokens come from tests/integration/helpers.py; recipient domains, tokens in
links and outbox readers from tests/registrations/helpers.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.integration.helpers import bearer, make_organisation, make_token

BRUSSELS = ZoneInfo("Europe/Brussels")


def day(days: int = 30) -> datetime:
    """09:00 Brussels time `days` from today, as an aware datetime."""
    today = datetime.now(BRUSSELS).date() + timedelta(days=days)
    return datetime(today.year, today.month, today.day, 9, 0, tzinfo=BRUSSELS)


def window(start: datetime, minutes: int) -> dict[str, str]:
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=minutes)).isoformat()}


def advisor(name: str, email: str, windows: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "email": email, "languages": ["nl"], "topics": [], "windows": windows, **extra}


def consultation(advisors: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {
        "slot_minutes": 30,
        "buffer_minutes": 0,
        "min_notice_hours": 0,
        "booking_opens_days": 365,
        "max_bookings_per_person": 1,
        "advisors": advisors,
        **settings,
    }


def day_payload(starts: datetime, ends: datetime, consult: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "consultation_day",
        "title": {"nl": "Adviesdag ondernemen", "fr": "Journée conseil", "en": "Advice day"},
        "description": {"nl": "Een gesprek van een half uur."},
        "starts_at": starts.isoformat(),
        "ends_at": ends.isoformat(),
        "timezone": "Europe/Brussels",
        "venue": {"name": "Ondernemershuis", "address": "Kerkstraat 1, 9000 Gent", "room": "Zaal A"},
    }
    if consult is not None:
        body["consultation"] = consult
    return body


class Org:
    def __init__(self, slug: str, org_id: int, token: str) -> None:
        self.slug, self.id, self.token = slug, org_id, token

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def new_org(prefix: str = "cons") -> Org:
    slug, org_id = await make_organisation(prefix)
    return Org(slug, org_id, await make_token(slug))


async def create_day(
    client: Any,
    org: Org,
    advisors: list[dict[str, Any]],
    *,
    starts: datetime | None = None,
    ends: datetime | None = None,
    publish: bool = True,
    **settings: Any,
) -> int:
    """A consultation day through POST /api/v1/events (+ publish); its id."""
    starts = starts or day()
    ends = ends or starts + timedelta(hours=9)
    response = await client.post(
        "/api/v1/events", json=day_payload(starts, ends, consultation(advisors, **settings)), headers=org.auth
    )
    assert response.status_code == 201, response.text
    event_id = int(response.json()["id"])
    if publish:
        published = await client.post(f"/api/v1/events/{event_id}/publish", headers=org.auth)
        assert published.status_code == 200, published.text
    return event_id


async def slots(client: Any, event_id: int, **query: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/events/{event_id}/slots", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def person(email: str, language: str = "nl", **extra: Any) -> dict[str, Any]:
    return {"name": f"Deelnemer {email.split('@')[0]}", "email": email, "language": language, **extra}


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


async def slot_rows(event_id: int) -> list[dict[str, Any]]:
    from events.tables import Slot

    return await Slot.select().where(Slot.event == event_id).order_by(Slot.starts_at).order_by(Slot.id)


async def slot_row(slot_id: int) -> dict[str, Any] | None:
    from events.tables import Slot

    return await Slot.select().where(Slot.id == slot_id).first()


async def advisor_rows(event_id: int) -> list[dict[str, Any]]:
    from events.tables import Advisor

    return await Advisor.select().where(Advisor.event == event_id).order_by(Advisor.position)


async def outbox_for(registration_id: int) -> list[dict[str, Any]]:
    from events.tables import OutboxMessage

    return await OutboxMessage.select().where(OutboxMessage.registration == registration_id).order_by(OutboxMessage.id)
