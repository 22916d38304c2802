"""Concurrency: 50 people book one slot; two people move into the same slot at once.

Runs on the database of the run (SQLite, or PostgreSQL when DATABASE_URL says so). Service calls
race with `asyncio.gather` (on PostgreSQL through an asyncpg pool, `db_pool`); over HTTP a real
`trefpunt serve` answers (the in-process client would run requests one after the other).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import pytest

from tests.conftest import serving
from tests.consultations.helpers import advisor, consultation, day, day_payload, slot_row, slot_rows, window
from tests.integration.helpers import make_event, make_organisation
from tests.registrations.helpers import domain, rows_of, token_of


async def _day(advisors: int = 1, minutes: int = 60) -> tuple[int, str]:
    """A published day made through the services (no in-process client next to the pool)."""
    _, org_id = await make_organisation("conc")
    start, mail = day(), domain()
    people = [advisor(f"Adviseur {i}", f"a{i}@{mail}", [window(start, minutes)]) for i in range(advisors)]
    event_id = await make_event(org_id, **day_payload(start, start + timedelta(hours=9), consultation(people)))
    return event_id, mail


def _outcomes(results) -> Counter:
    return Counter(r.status if not isinstance(r, BaseException) else type(r).__name__ for r in results)


@pytest.mark.usefixtures("db_pool")
async def test_50_concurrent_bookings_of_one_slot_give_exactly_one_booking_and_49_conflicts():
    from events.services import consultations

    event_id, mail = await _day()
    slot_id = (await slot_rows(event_id))[0]["id"]

    results = await asyncio.gather(
        *(
            consultations.book_slot(
                slot_id, consultations.BookingInput(name=f"P {i}", email=f"p{i}@{mail}", language="nl")
            )
            for i in range(50)
        ),
        return_exceptions=True,
    )

    assert _outcomes(results) == Counter({"confirmed": 1, "Conflict": 49}), _outcomes(results)
    rows = await rows_of(event_id)
    assert len(rows) == 1 and rows[0]["slot"] == slot_id and rows[0]["status"] == "confirmed"
    assert (await slot_row(slot_id))["status"] == "booked"


@pytest.mark.serve
async def test_over_http_50_concurrent_bookings_of_one_slot_give_one_201_and_409_for_the_rest():
    event_id, mail = await _day()
    slot_id = (await slot_rows(event_id))[0]["id"]

    with serving("consultations", TREFPUNT_RATE_LIMIT="off", TREFPUNT_WORKER="off") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        f"/api/v1/slots/{slot_id}/booking",
                        json={"name": f"P {i}", "email": f"p{i}@{mail}", "language": "nl"},
                    )
                    for i in range(50)
                )
            )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({201: 1, 409: 49}), (statuses, [r.text for r in responses if r.status_code >= 500][:2])
    assert all(r.json()["detail"] for r in responses if r.status_code == 409)
    rows = await rows_of(event_id)
    assert [(r["slot"], r["status"]) for r in rows] == [(slot_id, "confirmed")]
    assert (await slot_row(slot_id))["status"] == "booked"


@pytest.mark.usefixtures("db_pool")
async def test_two_people_moving_into_the_same_slot_at_once_one_wins_and_the_loser_keeps_their_slot():
    from events.services import consultations
    from events.services.errors import Conflict

    for _round in range(5):
        event_id, mail = await _day(minutes=90)
        first, second, target = (r["id"] for r in await slot_rows(event_id))
        a = await consultations.book_slot(first, consultations.BookingInput(name="A", email=f"a@{mail}", language="nl"))
        b = await consultations.book_slot(
            second, consultations.BookingInput(name="B", email=f"b@{mail}", language="nl")
        )

        results = await asyncio.gather(
            consultations.reschedule(token_of(a), target),
            consultations.reschedule(token_of(b), target),
            return_exceptions=True,
        )

        assert sorted(type(r).__name__ for r in results) == ["Conflict", "int"], results
        assert all(isinstance(r, (int, Conflict)) for r in results)
        winner_is_a = results[0] == target
        rows = {r["id"]: r for r in await rows_of(event_id)}
        winner, loser = (a, b) if winner_is_a else (b, a)
        loser_slot = second if winner_is_a else first
        freed = first if winner_is_a else second
        assert rows[winner.id]["slot"] == target
        assert rows[loser.id]["slot"] == loser_slot and rows[loser.id]["status"] == "confirmed", "loser keeps it"
        assert (await slot_row(target))["status"] == "booked"
        assert (await slot_row(loser_slot))["status"] == "booked"
        assert (await slot_row(freed))["status"] == "free"
        assert len([r for r in rows.values() if r["status"] == "confirmed"]) == 2


@pytest.mark.usefixtures("db_pool")
async def test_50_concurrent_first_suitable_bookings_fill_each_advisor_once():
    """Routing under load: 50 people ask for the same time; 3 advisors are free then."""
    from events.services import consultations

    event_id, mail = await _day(advisors=3)
    at = (await slot_rows(event_id))[0]["starts_at"]
    results = await asyncio.gather(
        *(
            consultations.book_first_suitable(
                event_id,
                consultations.SuitableBookingInput(name=f"P {i}", email=f"p{i}@{mail}", language="nl", starts_at=at),
            )
            for i in range(50)
        ),
        return_exceptions=True,
    )
    assert _outcomes(results) == Counter({"confirmed": 3, "Conflict": 47})
    booked = [r for r in await slot_rows(event_id) if r["status"] == "booked"]
    assert len(booked) == 3 and {r["starts_at"] for r in booked} == {at}
