"""Helpers of the meeting tests: networking events, participants and their profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.helpers import bearer, make_token, stored_event
from tests.networking.test_directory import _event, _join, _profile


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def networking(starts: datetime, minutes: int = 60, tables: list[str] | None = None, **extra: Any) -> dict:
    return {
        "meeting_minutes": 15,
        "meetings_start": starts.isoformat(),
        "meetings_end": (starts + timedelta(minutes=minutes)).isoformat(),
        "tables": tables or ["T1", "T2"],
        **extra,
    }


async def networking_event(client, slug: str, tables: list[str] | None = None, **extra: Any) -> tuple[int, dict]:
    """A published networking event with meeting slots (four of 15 minutes) set by PATCH."""
    event_id = await _event(client, slug)
    headers = bearer(await make_token(slug))
    starts = (await stored_event(event_id))["starts_at"]
    patched = await client.patch(
        f"/api/v1/events/{event_id}", headers=headers, json={"networking": networking(starts, tables=tables, **extra)}
    )
    assert patched.status_code == 200, patched.text
    return event_id, headers


async def member(client, event_id: int, name: str, opt_in: bool = True) -> str:
    """A confirmed participant with a profile (opted in unless told); returns the private token."""
    token = await _join(client, event_id, name)
    saved = await client.put(f"/api/v1/me/{token}/profile", json={**_profile(name, ["coaching"], []), "opt_in": opt_in})
    assert saved.status_code == 200, saved.text
    return token


async def profile_ids(client, token: str) -> dict[str, int]:
    """Directory entries' ids by display name, as `token` sees them."""
    seen = await client.get(f"/api/v1/me/{token}/directory")
    assert seen.status_code == 200, seen.text
    return {entry["display_name"]: entry["id"] for entry in seen.json()}


async def free_slots(client, token: str) -> list[dict]:
    response = await client.get(f"/api/v1/me/{token}/meeting-slots")
    assert response.status_code == 200, response.text
    return response.json()


async def ask(client, token: str, with_id: int, slot_id: int):
    return await client.post(f"/api/v1/me/{token}/meetings", json={"with": with_id, "slot": slot_id})


async def act(client, token: str, meeting_id: int, action: str):
    return await client.post(f"/api/v1/me/{token}/meetings/{meeting_id}/{action}")
