"""Booking over the JSON API: routing by language and topic, bad input, the day's rules,
blocking, editing windows and cancelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.consultations.helpers import (
    advisor,
    consultation,
    create_day,
    day,
    day_payload,
    new_org,
    person,
    slot_row,
    slot_rows,
    slots,
    utc,
    window,
)
from tests.integration.helpers import bearer, make_token
from tests.registrations.helpers import domain, token_in

EN = {"Accept-Language": "en"}


async def _book(client, slot_id: int, body: dict) -> object:
    return await client.post(f"/api/v1/slots/{slot_id}/booking", json=body, headers=EN)


async def _routing_day(client, org):
    start, mail = day(), domain()
    full = [window(start, 120)]
    advisors = [
        advisor("Nele", f"nele@{mail}", full, languages=["nl"], topics=["microcredit"]),
        advisor("Fabrice", f"fabrice@{mail}", full, languages=["fr"], topics=["export"]),
        advisor("Camille", f"camille@{mail}", full, languages=["fr", "nl"], topics=["export", "microcredit"]),
    ]
    return await create_day(client, org, advisors), start, mail


# Routing ------------------------------------------------------------------------------------------


async def test_listing_filters_by_language_and_topic(client):
    org = await new_org()
    event_id, _, _ = await _routing_day(client, org)
    names = {s["advisor"]["name"] for s in await slots(client, event_id, language="fr", topic="microcredit")}
    assert names == {"Camille"}
    assert {s["advisor"]["name"] for s in await slots(client, event_id, language="fr")} == {"Fabrice", "Camille"}
    assert {s["advisor"]["name"] for s in await slots(client, event_id, topic="microcredit")} == {"Nele", "Camille"}
    assert len(await slots(client, event_id)) == 12


async def test_a_french_speaker_asking_for_microcredit_is_routed_to_the_advisor_with_both(client):
    org = await new_org()
    event_id, start, mail = await _routing_day(client, org)
    response = await client.post(
        f"/api/v1/events/{event_id}/booking",
        json={**person(f"fr@{mail}", "fr"), "topic": "microcredit", "starts_at": start.isoformat()},
    )
    assert response.status_code == 201, response.text
    from events.tables import Registration

    row = await Registration.select().where(Registration.id == response.json()["id"]).first()
    slot = await slot_row(row["slot"])
    names = {a["id"]: a["name"] for a in await _advisors(event_id)}
    assert names[slot["advisor"]] == "Camille"
    assert slot["status"] == "booked" and slot["starts_at"].astimezone(UTC) == start.astimezone(UTC)


async def _advisors(event_id):
    from tests.consultations.helpers import advisor_rows

    return await advisor_rows(event_id)


async def test_when_no_suitable_advisor_is_free_the_answer_is_409_with_the_nearest_alternatives(client):
    org = await new_org()
    event_id, start, mail = await _routing_day(client, org)
    first = await client.post(
        f"/api/v1/events/{event_id}/booking",
        json={**person(f"one@{mail}", "fr"), "topic": "microcredit", "starts_at": start.isoformat()},
    )
    assert first.status_code == 201, first.text

    response = await client.post(
        f"/api/v1/events/{event_id}/booking",
        json={**person(f"two@{mail}", "fr"), "topic": "microcredit", "starts_at": start.isoformat()},
    )
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["detail"], "the refusal says why"
    alternatives = (body.get("extra") or {}).get("alternatives")
    assert alternatives, f"409 must list the nearest free alternatives in extra.alternatives, got {body!r}"
    assert {a["advisor"]["name"] for a in alternatives} == {"Camille"}, "alternatives still fit language and topic"
    assert utc(alternatives[0]["starts_at"]) == start.astimezone(UTC) + timedelta(minutes=30), "nearest first"
    assert all(utc(a["starts_at"]) != start.astimezone(UTC) for a in alternatives)


# Bad input ----------------------------------------------------------------------------------------


def _bad_day(mutate) -> dict:
    start, mail = day(), domain()
    adv = advisor("Ann", f"ann@{mail}", [window(start, 60)])
    consult = consultation([adv])
    mutate(consult, start)
    return day_payload(start, start + timedelta(hours=9), consult)


def _end_before_start(c, start):
    c["advisors"][0]["windows"] = [
        {"starts_at": (start + timedelta(hours=2)).isoformat(), "ends_at": start.isoformat()}
    ]


def _overlap(c, start):
    c["advisors"][0]["windows"] = [window(start, 90), window(start + timedelta(hours=1), 60)]


def _slot_zero(c, start):
    c["slot_minutes"] = 0


def _outside_day(c, start):
    c["advisors"][0]["windows"] = [window(start - timedelta(hours=1), 60)]


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (_end_before_start, "end after"),
        (_overlap, "overlap"),
        (_slot_zero, ""),
        (_outside_day, "within"),
    ],
    ids=["window-end-before-start", "overlapping-windows", "slot-length-0", "window-outside-the-day"],
)
async def test_bad_consultation_definitions_are_refused_with_a_clear_4xx_and_store_nothing(client, mutate, words):
    org = await new_org()
    response = await client.post("/api/v1/events", json=_bad_day(mutate), headers={**org.auth, **EN})
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert words.lower() in str(body).lower(), body
    from tests.integration.helpers import count_events

    assert await count_events(org.id) == 0, "a refused definition leaves no event behind"


async def test_overlapping_windows_of_two_different_advisors_are_fine(client):
    org = await new_org()
    start, mail = day(), domain()
    event_id = await create_day(
        client,
        org,
        [advisor("Ann", f"ann@{mail}", [window(start, 60)]), advisor("Bob", f"bob@{mail}", [window(start, 60)])],
    )
    assert len(await slots(client, event_id)) == 4


async def test_booking_a_slot_that_is_too_soon_is_409_and_a_past_slot_is_refused(client):
    org = await new_org()
    soon = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    mail = domain()
    event_id = await create_day(
        client,
        org,
        [advisor("Ann", f"ann@{mail}", [window(soon, 60)])],
        starts=soon,
        ends=soon + timedelta(hours=1),
        min_notice_hours=12,
    )
    rows = await slot_rows(event_id)
    assert len(rows) == 2 and await slots(client, event_id) == []
    response = await _book(client, rows[0]["id"], person(f"late@{mail}"))
    assert response.status_code == 409, response.text
    assert "too soon" in response.json()["detail"]
    assert (await slot_row(rows[0]["id"]))["status"] == "free"

    # A slot in the past (the service's clock moved past it), even without notice.
    from events.services import consultations
    from events.services.errors import Conflict

    later = await create_day(client, org, [advisor("Bob", f"bob@{mail}", [window(day(), 60)])])
    slot = (await slot_rows(later))[0]
    data = consultations.BookingInput(name="Late", email=f"past@{mail}", language="nl")
    with pytest.raises(Conflict):
        await consultations.book_slot(slot["id"], data, now=slot["starts_at"] + timedelta(minutes=1))
    assert (await slot_row(slot["id"]))["status"] == "free"


async def test_booking_a_slot_that_does_not_exist_is_404(client):
    response = await _book(client, 987654321, person(f"x@{domain()}"))
    assert response.status_code == 404


# The day's rules ----------------------------------------------------------------------------------


async def test_one_active_booking_per_person_per_day(client):
    org = await new_org()
    mail = domain()
    event_id = await create_day(client, org, [advisor("Ann", f"ann@{mail}", [window(day(), 120)])])
    free = await slots(client, event_id)
    assert (await _book(client, free[0]["id"], person(f"same@{mail}"))).status_code == 201
    again = await _book(client, free[1]["id"], person(f"SAME@{mail}"))
    assert again.status_code == 409, again.text
    assert "already have an appointment" in again.json()["detail"]
    assert (await slot_row(free[1]["id"]))["status"] == "free"


async def test_max_bookings_per_person_allows_more(client):
    org = await new_org()
    mail = domain()
    event_id = await create_day(
        client, org, [advisor("Ann", f"ann@{mail}", [window(day(), 120)])], max_bookings_per_person=2
    )
    free = await slots(client, event_id)
    responses = [await _book(client, s["id"], person(f"same@{mail}")) for s in free[:3]]
    assert [r.status_code for r in responses] == [201, 201, 409], [r.text for r in responses]


async def test_booking_opens_only_booking_opens_days_before_the_day(client):
    org = await new_org()
    mail = domain()
    event_id = await create_day(
        client, org, [advisor("Ann", f"ann@{mail}", [window(day(30), 60)])], starts=day(30), booking_opens_days=7
    )
    assert await slots(client, event_id) == []
    rows = await slot_rows(event_id)
    response = await _book(client, rows[0]["id"], person(f"early@{mail}"))
    assert response.status_code == 409, response.text
    assert "not opened" in response.json()["detail"]
    soon = await create_day(
        client, org, [advisor("Bob", f"bob@{mail}", [window(day(5), 60)])], starts=day(5), booking_opens_days=7
    )
    assert len(await slots(client, soon)) == 2


async def test_editing_windows_regenerates_free_slots_and_never_touches_the_booked_one(client):
    org = await new_org()
    start, mail = day(), domain()
    ann = advisor("Ann", f"ann@{mail}", [window(start, 120)])
    event_id = await create_day(client, org, [ann])
    free = await slots(client, event_id)
    booked_id = free[1]["id"]  # 09:30–10:00
    booked = await _book(client, booked_id, person(f"kept@{mail}"))
    assert booked.status_code == 201
    before = await slot_row(booked_id)

    # New windows and a new length: 20-minute slots from 09:00 to 10:20 and 14:00 to 15:00.
    ann["windows"] = [window(start, 80), window(start + timedelta(hours=5), 60)]
    response = await client.patch(
        f"/api/v1/events/{event_id}",
        json={"consultation": consultation([ann], slot_minutes=20)},
        headers=org.auth,
    )
    assert response.status_code == 200, response.text

    after = await slot_row(booked_id)
    assert after == before, "the booked slot keeps its id, times and status"
    from events.tables import Registration

    reg = await Registration.select().where(Registration.id == booked.json()["id"]).first()
    assert reg["slot"] == booked_id and reg["status"] == "confirmed"
    rows = await slot_rows(event_id)
    free_rows = [r for r in rows if r["status"] == "free"]
    assert all(r["ends_at"] - r["starts_at"] == timedelta(minutes=20) for r in free_rows)
    for r in free_rows:
        assert not (r["starts_at"] < after["ends_at"] and after["starts_at"] < r["ends_at"]), "no overlap"
    local = sorted(r["starts_at"].astimezone(start.tzinfo).strftime("%H:%M") for r in free_rows)
    assert local == ["09:00", "10:00", "14:00", "14:20", "14:40"], local
    listed = {s["id"] for s in await slots(client, event_id)}
    assert booked_id not in listed and listed == {r["id"] for r in free_rows}


# Blocking -----------------------------------------------------------------------------------------


async def test_an_organiser_blocks_a_slot_viewer_gets_403_and_another_org_404(client):
    org = await new_org()
    mail = domain()
    event_id = await create_day(client, org, [advisor("Ann", f"ann@{mail}", [window(day(), 60)])])
    slot_id = (await slots(client, event_id))[0]["id"]

    viewer = await make_token(org.slug, role="viewer")
    assert (await client.post(f"/api/v1/slots/{slot_id}/block", headers=bearer(viewer))).status_code == 403
    other = await new_org("other")
    assert (await client.post(f"/api/v1/slots/{slot_id}/block", headers=other.auth)).status_code == 404
    assert (await client.post(f"/api/v1/slots/{slot_id}/block")).status_code in (401, 403)
    assert (await slot_row(slot_id))["status"] == "free"

    response = await client.post(f"/api/v1/slots/{slot_id}/block", headers=org.auth)
    assert response.status_code == 200, response.text
    assert slot_id not in {s["id"] for s in await slots(client, event_id)}
    refused = await _book(client, slot_id, person(f"p@{mail}"))
    assert refused.status_code == 409, refused.text
    assert (await slot_row(slot_id))["status"] == "blocked"

    assert (await client.post(f"/api/v1/slots/{slot_id}/unblock", headers=org.auth)).status_code == 200
    assert slot_id in {s["id"] for s in await slots(client, event_id)}
    assert (await _book(client, slot_id, person(f"p@{mail}"))).status_code == 201
    blocked_booked = await client.post(f"/api/v1/slots/{slot_id}/block", headers=org.auth)
    assert blocked_booked.status_code == 409, "a booked slot cannot be blocked"
    assert (await slot_row(slot_id))["status"] == "booked"


async def test_rescheduling_into_a_blocked_slot_is_409_and_keeps_the_old_one(client):
    org = await new_org()
    mail = domain()
    event_id = await create_day(client, org, [advisor("Ann", f"ann@{mail}", [window(day(), 60)])])
    first, second = await slots(client, event_id)
    booked = await _book(client, first["id"], person(f"p@{mail}"))
    token = token_in(booked.json()["manage_url"])
    assert (await client.post(f"/api/v1/slots/{second['id']}/block", headers=org.auth)).status_code == 200
    response = await client.post(f"/api/v1/bookings/{token}/reschedule", json={"slot": second["id"]})
    assert response.status_code == 409, response.text
    assert (await slot_row(first["id"]))["status"] == "booked"
    assert (await slot_row(second["id"]))["status"] == "blocked"


# Cancelling ---------------------------------------------------------------------------------------


async def test_cancelling_a_booking_frees_the_slot(client):
    org = await new_org()
    mail = domain()
    event_id = await create_day(client, org, [advisor("Ann", f"ann@{mail}", [window(day(), 60)])])
    slot_id = (await slots(client, event_id))[0]["id"]
    booked = await _book(client, slot_id, person(f"p@{mail}"))
    assert slot_id not in {s["id"] for s in await slots(client, event_id)}
    response = await client.delete(f"/api/v1/registrations/{token_in(booked.json()['manage_url'])}")
    assert response.status_code == 204, response.text
    assert (await slot_row(slot_id))["status"] == "free"
    assert slot_id in {s["id"] for s in await slots(client, event_id)}
    again = await _book(client, slot_id, person(f"p@{mail}"))
    assert again.status_code == 201, "the same person may book again after cancelling"


async def test_the_service_regenerates_free_slots_and_keeps_the_booked_one_when_windows_change(client):
    """The same rule as above below the API: apply_consultation on a day with a booking."""
    import msgspec

    from events.db import write_transaction
    from events.services import consultations

    org = await new_org()
    start, mail = day(), domain()
    ann = advisor("Ann", f"ann@{mail}", [window(start, 120)])
    event_id = await create_day(client, org, [ann])
    booked_id = (await slots(client, event_id))[1]["id"]
    assert (await _book(client, booked_id, person(f"kept@{mail}"))).status_code == 201
    before = await slot_row(booked_id)

    ann["windows"] = [window(start, 80), window(start + timedelta(hours=5), 60)]
    data = msgspec.convert(consultation([ann], slot_minutes=20), consultations.ConsultationInput)
    async with write_transaction():
        await consultations.apply_consultation(event_id, data)

    assert await slot_row(booked_id) == before
    free_rows = [r for r in await slot_rows(event_id) if r["status"] == "free"]
    local = sorted(r["starts_at"].astimezone(start.tzinfo).strftime("%H:%M") for r in free_rows)
    assert local == ["09:00", "10:00", "14:00", "14:20", "14:40"], local
