"""Concurrency of meetings: nobody in two meetings at once, no table used twice in a slot.

Service calls race with `asyncio.gather` on the database of the run (on PostgreSQL through an
asyncpg pool, `db_pool`, so no in-process HTTP client is used next to it); over HTTP a real
`trefpunt serve` answers (the in-process client would run requests one after the other).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import msgspec
import pytest

from tests.conftest import serving
from tests.integration.helpers import make_event, make_organisation, stored_event
from tests.networking.meetings_helpers import networking
from tests.registrations.helpers import domain, register, token_of


async def _setup(names: list[str], tables: list[str]) -> tuple[int, dict[str, str], dict[str, int], int]:
    """A networking event made through the services: (event, tokens, profile ids, first slot)."""
    from events.services import networking as service

    _, org_id = await make_organisation("race")
    event_id = await make_event(org_id, kind="networking")
    starts = (await stored_event(event_id))["starts_at"]
    settings = msgspec.convert(networking(starts, tables=tables, max_pending=50), service.NetworkingInput)
    await service.apply_networking(event_id, settings)
    mail = domain()
    tokens, ids = {}, {}
    for name in names:
        tokens[name] = token_of(await register(event_id, f"{name.lower()}@{mail}"))
        saved = await service.put_profile(tokens[name], service.ProfileInput(opt_in=True, display_name=name))
        ids[name] = saved.id
    slot = (await service.free_meeting_slots(tokens[names[0]]))[0].id
    return event_id, tokens, ids, slot


async def _ask(tokens: dict[str, str], ids: dict[str, int], who: str, whom: str, slot: int) -> int:
    from events.services import networking as service

    return await service.request_meeting(tokens[who], service.MeetingRequest(with_profile=ids[whom], slot=slot))


def _outcomes(results) -> Counter:
    return Counter(r.status if not isinstance(r, BaseException) else type(r).__name__ for r in results)


async def _meetings(event_id: int) -> list[dict]:
    from events.tables import Meeting

    return await Meeting.select().where(Meeting.event == event_id).order_by(Meeting.id)


async def _seats(slot: int) -> list[dict]:
    from events.tables import MeetingSeat

    return await MeetingSeat.select().where(MeetingSeat.slot == slot)


@pytest.mark.usefixtures("db_pool")
async def test_one_person_invited_by_many_in_one_slot_accepts_all_at_once_and_gets_one_meeting() -> None:
    from events.services import networking as service

    guests = [f"G{i}" for i in range(8)]
    event_id, tokens, ids, slot = await _setup(["Ann", *guests], tables=[f"T{i}" for i in range(10)])
    invites = [await _ask(tokens, ids, guest, "Ann", slot) for guest in guests]

    results = await asyncio.gather(
        *(service.accept_meeting(tokens["Ann"], meeting_id) for meeting_id in invites), return_exceptions=True
    )

    assert _outcomes(results) == Counter({"accepted": 1, "Conflict": 7}), results
    rows = await _meetings(event_id)
    assert Counter(r["status"] for r in rows) == Counter({"accepted": 1, "pending": 7})
    seats = await _seats(slot)
    assert Counter(s["profile"] for s in seats)[ids["Ann"]] == 1 and len(seats) == 2
    assert [s.id for s in await service.free_meeting_slots(tokens["Ann"])].count(slot) == 0


@pytest.mark.usefixtures("db_pool")
async def test_the_last_free_table_in_a_slot_goes_to_one_meeting() -> None:
    from events.services import networking as service

    names = [f"P{i}" for i in range(12)]
    event_id, tokens, ids, slot = await _setup(names, tables=["T1", "T2"])
    pairs = [(names[i], names[i + 1]) for i in range(0, 12, 2)]  # six pairs, two tables
    requests = {invitee: await _ask(tokens, ids, requester, invitee, slot) for requester, invitee in pairs}

    results = await asyncio.gather(
        *(service.accept_meeting(tokens[invitee], meeting_id) for invitee, meeting_id in requests.items()),
        return_exceptions=True,
    )

    assert _outcomes(results) == Counter({"accepted": 2, "Conflict": 4}), results
    accepted = [r for r in await _meetings(event_id) if r["status"] == "accepted"]
    assert len({r["meeting_table"] for r in accepted}) == 2, "each table once in the slot"
    assert len(await _seats(slot)) == 4


@pytest.mark.usefixtures("db_pool")
async def test_one_table_two_pairs_accept_at_once_one_meeting_one_conflict() -> None:
    from events.services import networking as service

    event_id, tokens, ids, slot = await _setup(["A", "B", "C", "D"], tables=["T1"])
    first, second = await _ask(tokens, ids, "A", "B", slot), await _ask(tokens, ids, "C", "D", slot)

    results = await asyncio.gather(
        service.accept_meeting(tokens["B"], first), service.accept_meeting(tokens["D"], second), return_exceptions=True
    )

    assert _outcomes(results) == Counter({"accepted": 1, "Conflict": 1}), results
    assert Counter(r["status"] for r in await _meetings(event_id)) == Counter({"accepted": 1, "pending": 1})


@pytest.mark.serve
async def test_over_http_two_concurrent_accepts_in_one_slot_give_one_200_and_one_409() -> None:
    event_id, tokens, ids, slot = await _setup(["Ann", "Bob", "Cas"], tables=["T1", "T2"])
    from_bob, from_cas = await _ask(tokens, ids, "Bob", "Ann", slot), await _ask(tokens, ids, "Cas", "Ann", slot)

    with serving("networking", TREFPUNT_RATE_LIMIT="off", TREFPUNT_WORKER="off") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            responses = await asyncio.gather(
                *(http.post(f"/api/v1/me/{tokens['Ann']}/meetings/{m}/accept") for m in (from_bob, from_cas))
            )

    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    assert all(r.json()["detail"] for r in responses if r.status_code == 409)
    assert Counter(r["status"] for r in await _meetings(event_id)) == Counter({"accepted": 1, "pending": 1})
