"""Capacity under concurrency (RELIABILITY.md, "Capacity and concurrency").

Runs on the database of the run: SQLite by default, PostgreSQL when DATABASE_URL points there.
The services are called concurrently with `asyncio.gather` on one event loop, each call in its
own transaction (on PostgreSQL through a connection pool, as in production). A control test first
shows that a read-then-write without the database guard overbooks, next to the guarded service
that does not. On PostgreSQL, two real `trefpunt serve` processes share one database.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.conftest import USING_POSTGRES
from tests.registrations.helpers import (
    assert_seats_consistent,
    domain,
    event_row,
    mails_to,
    new_event,
    person,
    register,
    registration,
    rows_of,
    serve,
    token_of,
)


def _outcomes(results: list[Any]) -> Counter[str]:
    """'confirmed' / 'waitlisted' / … for results, the exception's class name for failures."""
    return Counter(r.status if not isinstance(r, BaseException) else type(r).__name__ for r in results)


@pytest.mark.usefixtures("db_pool")
async def test_last_seat_goes_to_exactly_one_of_200_concurrent_registrants_and_195_are_waitlisted_in_order():
    from events.services import registrations

    event_id, _ = await new_event(capacity=5, waitlist=True)
    mail = domain()

    results = await asyncio.gather(
        *(registrations.register(event_id, person(f"p{i}@{mail}")) for i in range(200)), return_exceptions=True
    )

    await assert_seats_consistent(event_id, 5)  # never overbooked, whatever else happens
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of 200 registrations failed, e.g. {failures[0]!r}"
    assert _outcomes(results) == Counter({"confirmed": 5, "waitlisted": 195})
    positions = sorted(r.waitlist_position for r in results if r.status == "waitlisted")
    assert positions == list(range(1, 196)), "waitlist places are 1…195, each given once"
    # The places given at registration are the order of the queue the database keeps.
    waitlisted = await rows_of(event_id, "waitlisted")
    by_id = {r.id: r.waitlist_position for r in results if r.status == "waitlisted"}
    assert [by_id[row["id"]] for row in waitlisted] == list(range(1, 196))
    assert len(await rows_of(event_id)) == 200


@pytest.mark.usefixtures("db_pool")
async def test_without_waitlist_5_of_200_concurrent_registrants_get_a_seat_and_195_get_a_conflict():
    from events.services import registrations
    from events.services.errors import Conflict

    event_id, _ = await new_event(capacity=5, waitlist=False)
    mail = domain()

    results = await asyncio.gather(
        *(registrations.register(event_id, person(f"p{i}@{mail}")) for i in range(200)), return_exceptions=True
    )

    assert _outcomes(results) == Counter({"confirmed": 5, "Conflict": 195})
    assert all(str(r) == "This event is full." for r in results if isinstance(r, Conflict))
    await assert_seats_consistent(event_id, 5)
    assert len(await rows_of(event_id)) == 5, "a refused registration leaves no row behind"


@pytest.mark.parametrize(
    "spellings",
    [["bob@{d}"] * 10, ["Bob@X.{d}", "bob@x.{d}"] * 5],
    ids=["identical", "Bob@X-vs-bob@x"],
)
@pytest.mark.usefixtures("db_pool")
async def test_ten_concurrent_identical_submissions_make_one_registration_and_one_confirmation_mail(spellings):
    from events.services import registrations

    event_id, _ = await new_event(capacity=5)
    mail = domain()

    results = await asyncio.gather(
        *(registrations.register(event_id, person(s.format(d=mail), name="Bob")) for s in spellings),
        return_exceptions=True,
    )

    assert _outcomes(results) == Counter({"confirmed": 1, "already_registered": 9})
    rows = await rows_of(event_id)
    assert len(rows) == 1
    assert rows[0]["email_key"] == spellings[0].format(d=mail).lower()
    await assert_seats_consistent(event_id, 1)
    assert len(await mails_to(rows[0]["id"], "invitation")) == 1, "one confirmation mail"
    # The repeats re-send the private link at most once (not once per click).
    assert len(await mails_to(rows[0]["id"], "your_link")) <= 1
    assert [r.id for r in results if r.status == "already_registered"] == [None] * 9, "no id leaks to repeats"


@pytest.mark.usefixtures("db_pool")
async def test_cancel_racing_20_new_registrants_gives_the_last_seat_to_waitlist_number_one_promoted_once():
    from events.services import registrations

    event_id, _ = await new_event(capacity=5)
    mail = domain()
    confirmed = [await register(event_id, f"c{i}@{mail}") for i in range(5)]
    waiting = [await register(event_id, f"w{i}@{mail}") for i in range(3)]
    assert [r.status for r in confirmed] == ["confirmed"] * 5
    assert [(r.status, r.waitlist_position) for r in waiting] == [
        ("waitlisted", 1),
        ("waitlisted", 2),
        ("waitlisted", 3),
    ]

    results = await asyncio.gather(
        registrations.cancel_by_participant(token_of(confirmed[0])),
        *(registrations.register(event_id, person(f"n{i}@{mail}")) for i in range(20)),
        return_exceptions=True,
    )

    assert results[0] is None, results[0]
    assert _outcomes(results[1:]) == Counter({"waitlisted": 20}), "no newcomer overtakes the waitlist"
    assert (await registration(confirmed[0].id))["status"] == "cancelled"
    assert (await registration(waiting[0].id))["status"] == "confirmed", "waitlist #1 gets the seat"
    assert [(await registration(w.id))["status"] for w in waiting[1:]] == ["waitlisted", "waitlisted"]
    assert len(await mails_to(waiting[0].id, "promoted")) == 1, "promoted exactly once"
    assert [len(await mails_to(w.id, "promoted")) for w in waiting[1:]] == [0, 0]
    await assert_seats_consistent(event_id, 5)
    queue = [row["email_key"] for row in await rows_of(event_id, "waitlisted")]
    assert queue[:2] == [f"w1@{mail}", f"w2@{mail}"] and len(queue) == 22


# The control: the same stampede without the database guard --------------------------------------


async def _naive_register(event_id: int, email: str) -> bool:
    """What the guard prevents: read the count, then insert and increment in separate short
    transactions, with no lock and no conditional UPDATE."""
    from events.services import tokens
    from events.tables import Event, Registration

    event = await Event.select(Event.capacity, Event.confirmed_count).where(Event.id == event_id).first()
    assert event is not None
    await asyncio.sleep(0)
    if event["confirmed_count"] >= event["capacity"]:
        return False
    await Registration.insert(
        Registration(
            event=event_id,
            name="Naive",
            email=email,
            email_key=email,
            status="confirmed",
            token_nonce=tokens.new_nonce(),
            feed_token_nonce=tokens.new_nonce(),
        )
    )
    await Event.update({Event.confirmed_count: Event.confirmed_count + 1}).where(Event.id == event_id)
    return True


@pytest.mark.usefixtures("db_pool")
async def test_control_a_read_then_write_without_the_guard_overbooks_50_concurrent_registrants():
    event_id, _ = await new_event(capacity=5, waitlist=False)
    mail = domain()

    taken = await asyncio.gather(*(_naive_register(event_id, f"p{i}@{mail}") for i in range(50)))

    confirmed = len(await rows_of(event_id, "confirmed"))
    assert confirmed > 5, "the control must show the race: without the guard, capacity 5 is overbooked"
    assert sum(taken) == confirmed


@pytest.mark.usefixtures("db_pool")
async def test_the_guarded_service_never_overbooks_the_same_50_concurrent_registrants():
    from events.services import registrations

    event_id, _ = await new_event(capacity=5, waitlist=False)
    mail = domain()

    results = await asyncio.gather(
        *(registrations.register(event_id, person(f"p{i}@{mail}")) for i in range(50)), return_exceptions=True
    )

    assert _outcomes(results) == Counter({"confirmed": 5, "Conflict": 45})
    await assert_seats_consistent(event_id, 5)


# Over HTTP ----------------------------------------------------------------------------------------


def _body(i: int, mail: str) -> dict[str, Any]:
    return {"name": f"Deelnemer {i}", "email": f"p{i}@{mail}", "language": "nl"}


def _check_http_outcomes(statuses: Counter[int], bodies: list[Any]) -> None:
    assert 500 not in statuses, [b for b in bodies if b.get("status_code") == 500][:2]
    allowed = {201, 409} | (set() if USING_POSTGRES else {503})  # SQLite may say "busy, retry"
    assert set(statuses) <= allowed, statuses
    assert statuses[201] == 5, statuses


@pytest.mark.serve
async def test_over_http_50_concurrent_registrations_without_waitlist_give_5_created_and_409_for_the_rest():
    """A real server (AsyncTestClient would run the requests one after the other)."""
    event_id, _ = await new_event(capacity=5, waitlist=False)
    mail = domain()

    with serve(TREFPUNT_RATE_LIMIT="off", TREFPUNT_WORKER="off") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            responses = await asyncio.gather(
                *(http.post(f"/api/v1/events/{event_id}/registrations", json=_body(i, mail)) for i in range(50))
            )

    statuses = Counter(r.status_code for r in responses)
    _check_http_outcomes(statuses, [json.loads(r.content) for r in responses])
    full = [json.loads(r.content) for r in responses if r.status_code == 409]
    assert full and all(b["detail"] for b in full), "a refusal says why"
    busy = [r for r in responses if r.status_code == 503]
    assert all(r.headers.get("retry-after") for r in busy), "busy answers say when to retry"
    await assert_seats_consistent(event_id, 5)


@pytest.mark.serve
@pytest.mark.skipif(not USING_POSTGRES, reason="several app processes share one database only on PostgreSQL")
async def test_two_app_processes_on_postgresql_give_exactly_5_of_100_concurrent_registrants_a_seat():
    event_id, _ = await new_event(capacity=5, waitlist=False)
    mail = domain()
    env = {"TREFPUNT_RATE_LIMIT": "off", "TREFPUNT_WORKER": "off"}

    with serve(**env) as first, serve(**env) as second:
        async with (
            httpx.AsyncClient(base_url=first.url, timeout=30) as a,
            httpx.AsyncClient(base_url=second.url, timeout=30) as b,
        ):
            responses = await asyncio.gather(
                *(
                    (a if i % 2 else b).post(f"/api/v1/events/{event_id}/registrations", json=_body(i, mail))
                    for i in range(100)
                )
            )

    statuses = Counter(r.status_code for r in responses)
    _check_http_outcomes(statuses, [json.loads(r.content) for r in responses])
    assert statuses == Counter({201: 5, 409: 95})
    await assert_seats_consistent(event_id, 5)
    assert (await event_row(event_id))["capacity"] == 5
