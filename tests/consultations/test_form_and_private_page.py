"""The booking form (HTML) with a slot id and with `any:<time>`, and the private page /r/{token}."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.consultations.helpers import (
    BRUSSELS,
    advisor,
    create_day,
    day,
    new_org,
    slot_row,
    slots,
    utc,
    window,
)
from tests.integration.helpers import csrf_from_html, post_form
from tests.registrations.helpers import domain, rows_of, token_in


async def _fields(client, event_id: int, **fields) -> dict:
    from events.web.participant import form_stamp

    page = await client.get(f"/events/{event_id}")
    assert page.status_code == 200
    base = {
        "_csrf_token": csrf_from_html(page.text),
        "stamp": form_stamp(event_id, now=time.time() - 10),
        "website": "",
        "name": "Sofie Peeters",
        "email": f"sofie@{domain()}",
        "language": "nl",
    }
    return {**base, **fields}


async def _day(client, org, mail):
    start = day()
    advisors = [
        advisor("Nele", f"nele@{mail}", [window(start, 60)], languages=["nl"], topics=["export"]),
        advisor("Camille", f"camille@{mail}", [window(start, 60)], languages=["fr"], topics=["microcredit"]),
    ]
    return await create_day(client, org, advisors), start


async def test_the_event_page_offers_the_free_slots_in_its_form(client):
    org, mail = await new_org(), domain()
    event_id, _ = await _day(client, org, mail)
    page = await client.get(f"/events/{event_id}")
    assert page.status_code == 200
    listed = await slots(client, event_id)
    for s in listed:
        assert f'name="slot" value="{s["id"]}"' in page.text
    for starts in {utc(s["starts_at"]) for s in listed}:
        assert f'value="any:{starts.isoformat()}"' in page.text


async def test_the_form_books_a_chosen_slot(client):
    org, mail = await new_org(), domain()
    event_id, _ = await _day(client, org, mail)
    slot = (await slots(client, event_id, language="nl"))[0]
    response = await client.post(f"/events/{event_id}/book", data=await _fields(client, event_id, slot=str(slot["id"])))
    assert response.status_code == 200, response.text
    (row,) = await rows_of(event_id)
    assert row["slot"] == slot["id"] and row["status"] == "confirmed"
    assert (await slot_row(slot["id"]))["status"] == "booked"


async def test_the_form_with_any_books_the_first_suitable_advisor_at_that_time(client):
    org, mail = await new_org(), domain()
    event_id, start = await _day(client, org, mail)
    at = start + timedelta(minutes=30)
    page = await client.get(f"/events/{event_id}")
    choice = f"any:{utc(at.isoformat()).isoformat()}"
    assert f'value="{choice}"' in page.text, "the page offers this time as 'first suitable advisor'"
    fields = await _fields(client, event_id, slot=choice, language="fr", topic="microcredit")
    response = await client.post(f"/events/{event_id}/book", data=fields)
    assert response.status_code == 200, response.text
    (row,) = await rows_of(event_id)
    slot = await slot_row(row["slot"])
    assert slot["starts_at"] == at.astimezone(slot["starts_at"].tzinfo)
    from tests.consultations.helpers import advisor_rows

    camille = next(a for a in await advisor_rows(event_id) if a["name"] == "Camille")
    assert slot["advisor"] == camille["id"]


async def test_the_form_with_any_and_nobody_suitable_says_so_and_books_nothing(client):
    org, mail = await new_org(), domain()
    event_id, start = await _day(client, org, mail)
    fields = await _fields(client, event_id, slot=f"any:{start.isoformat()}", language="fr", topic="export")
    response = await client.post(f"/events/{event_id}/book", data=fields, headers={"Accept-Language": "en"})
    assert response.status_code == 422, response.text
    assert "No suitable advisor is free at that time" in response.text
    assert await rows_of(event_id) == []


async def test_the_form_refuses_a_bot_and_a_missing_choice(client):
    org, mail = await new_org(), domain()
    event_id, _ = await _day(client, org, mail)
    slot = (await slots(client, event_id))[0]
    trap = await _fields(client, event_id, slot=str(slot["id"]), website="http://spam.example")
    assert (await client.post(f"/events/{event_id}/book", data=trap)).status_code == 422
    empty = await _fields(client, event_id)
    assert (await client.post(f"/events/{event_id}/book", data=empty)).status_code == 422
    assert await rows_of(event_id) == []


async def test_the_private_page_shows_the_appointment_and_moves_it(client):
    org, mail = await new_org(), domain()
    event_id, _start = await _day(client, org, mail)
    first, second = [s for s in await slots(client, event_id) if s["advisor"]["name"] == "Nele"]
    booked = await client.post(
        f"/api/v1/slots/{first['id']}/booking", json={"name": "Sofie", "email": f"s@{mail}", "language": "nl"}
    )
    assert booked.status_code == 201, booked.text
    token = token_in(booked.json()["manage_url"])

    page = await client.get(f"/r/{token}")
    assert page.status_code == 200
    assert "Nele" in page.text
    assert utc(first["starts_at"]).astimezone(BRUSSELS).strftime("%H:%M") in page.text
    assert f'action="/r/{token}/reschedule"' in page.text
    assert f'value="{second["id"]}"' in page.text

    response = await post_form(client, f"/r/{token}/reschedule", f"/r/{token}", slot=str(second["id"]))
    assert response.status_code == 303, response.text
    (row,) = await rows_of(event_id)
    assert row["slot"] == second["id"]
    assert (await slot_row(first["id"]))["status"] == "free"
    assert (await slot_row(second["id"]))["status"] == "booked"
    moved = await client.get(f"/r/{token}")
    assert utc(second["starts_at"]).astimezone(BRUSSELS).strftime("%H:%M") in moved.text
    assert f'datetime="{utc(second["starts_at"]).isoformat()}"' in moved.text or "09:30" in moved.text
