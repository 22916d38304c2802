"""The organiser's consultation-day overview: advisors as columns, times as rows, and the
actions taken from it (block, unblock, attended / no-show); access by role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.helpers import bearer, make_organisation, make_organiser, make_token, post_form, sign_in


def _day_body() -> dict:
    day = (datetime.now(UTC) + timedelta(days=20)).replace(hour=7, minute=0, second=0, microsecond=0)
    return {
        "kind": "consultation_day",
        "title": {"nl": "Zitdag microkrediet"},
        "starts_at": day.isoformat(),
        "ends_at": (day + timedelta(hours=9)).isoformat(),
        "consultation": {
            "slot_minutes": 30,
            "min_notice_hours": 1,
            "booking_opens_days": 60,
            "advisors": [
                {
                    "name": "Piet Adviseur",
                    "email": "piet@hefboom.example",
                    "languages": ["nl"],
                    "topics": ["microcredit"],
                    "room": "Desk 1",
                    "windows": [
                        {
                            "starts_at": (day + timedelta(hours=2)).isoformat(),
                            "ends_at": (day + timedelta(hours=3)).isoformat(),
                        }
                    ],
                },
                {
                    "name": "Anne Conseillère",
                    "email": "anne@hefboom.example",
                    "languages": ["fr", "nl"],
                    "topics": ["microcredit"],
                    "windows": [
                        {
                            "starts_at": (day + timedelta(hours=2)).isoformat(),
                            "ends_at": (day + timedelta(hours=3)).isoformat(),
                        }
                    ],
                },
            ],
        },
    }


async def _published_day(client, slug: str) -> int:
    headers = bearer(await make_token(slug))
    created = await client.post("/api/v1/events", json=_day_body(), headers=headers)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert (await client.post(f"/api/v1/events/{event_id}/publish", headers=headers)).status_code == 200
    return event_id


async def test_the_day_overview_shows_advisors_bookings_and_lets_an_editor_block_and_check_in(browser) -> None:
    slug, _ = await make_organisation("zitdag")
    event_id = await _published_day(browser, slug)
    slots = (await browser.get(f"/api/v1/events/{event_id}/slots")).json()
    assert len(slots) == 4  # two advisors, one hour each, 30-minute slots
    booked = await browser.post(
        f"/api/v1/slots/{slots[0]['id']}/booking",
        json={"name": "Sofie Claeys", "email": "sofie@example.org", "language": "nl", "company": "Bakkerij Claeys"},
    )
    assert booked.status_code == 201, booked.text
    registration_id = booked.json()["id"]

    await sign_in(browser, await make_organiser(slug, role="editor"))
    page = await browser.get(f"/admin/events/{event_id}/day")
    assert page.status_code == 200
    assert "Piet Adviseur" in page.text and "Anne Conseillère" in page.text
    assert "Sofie Claeys" in page.text and "Bakkerij Claeys" in page.text

    free = next(s for s in slots[1:] if s["advisor"]["name"] == "Anne Conseillère")
    blocked = await post_form(
        browser,
        f"/admin/slots/{free['id']}/block",
        f"/admin/events/{event_id}/day",
        back=f"/admin/events/{event_id}/day",
    )
    assert blocked.status_code == 303
    listed = {s["id"] for s in (await browser.get(f"/api/v1/events/{event_id}/slots")).json()}
    assert free["id"] not in listed
    refused = await browser.post(
        f"/api/v1/slots/{free['id']}/booking", json={"name": "Karim", "email": "karim@example.org", "language": "fr"}
    )
    assert refused.status_code == 409

    unblocked = await post_form(
        browser,
        f"/admin/slots/{free['id']}/unblock",
        f"/admin/events/{event_id}/day",
        back=f"/admin/events/{event_id}/day",
    )
    assert unblocked.status_code == 303
    assert free["id"] in {s["id"] for s in (await browser.get(f"/api/v1/events/{event_id}/slots")).json()}

    checked_in = await post_form(
        browser,
        f"/admin/registrations/{registration_id}/attendance",
        f"/admin/events/{event_id}/day",
        attendance="attended",
        back=f"/admin/events/{event_id}/day",
    )
    assert checked_in.status_code == 303
    sheet = await browser.get(f"/admin/events/{event_id}/day?advisor={slots[0]['advisor']['id']}")
    assert sheet.status_code == 200 and "Sofie Claeys" in sheet.text and "Anne Conseillère" not in sheet.text


async def test_the_day_overview_is_404_for_another_organisation_and_read_only_for_a_viewer(browser) -> None:
    slug, _ = await make_organisation("zitdag")
    other, _ = await make_organisation("andere")
    event_id = await _published_day(browser, slug)
    slot = (await browser.get(f"/api/v1/events/{event_id}/slots")).json()[0]

    await sign_in(browser, await make_organiser(other, role="owner"))
    assert (await browser.get(f"/admin/events/{event_id}/day")).status_code == 404

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    page = await browser.get(f"/admin/events/{event_id}/day")
    assert page.status_code == 200 and "/block" not in page.text
    forced = await post_form(
        browser, f"/admin/slots/{slot['id']}/block", f"/admin/events/{event_id}/day", back="/admin"
    )
    assert forced.status_code == 403


async def test_an_organiser_moves_a_booking_to_another_advisor_through_the_api(browser) -> None:
    slug, _ = await make_organisation("zitdag")
    event_id = await _published_day(browser, slug)
    slots = (await browser.get(f"/api/v1/events/{event_id}/slots")).json()
    piet = next(s for s in slots if s["advisor"]["name"] == "Piet Adviseur")
    anne = next(s for s in slots if s["advisor"]["name"] == "Anne Conseillère")
    booked = (
        await browser.post(
            f"/api/v1/slots/{piet['id']}/booking",
            json={"name": "Sofie", "email": "sofie2@example.org", "language": "nl"},
        )
    ).json()

    anonymous = await browser.post(f"/api/v1/registrations/{booked['id']}/move", json={"slot": anne["id"]})
    assert anonymous.status_code == 401
    moved = await browser.post(
        f"/api/v1/registrations/{booked['id']}/move", json={"slot": anne["id"]}, headers=bearer(await make_token(slug))
    )
    assert moved.status_code == 200, moved.text
    free = {s["id"] for s in (await browser.get(f"/api/v1/events/{event_id}/slots")).json()}
    assert piet["id"] in free and anne["id"] not in free

    from events.tables import OutboxMessage

    kinds = {
        (row["kind"], row["recipient"], row["ics_method"])
        for row in await OutboxMessage.select().where(OutboxMessage.registration == booked["id"])
    }
    assert ("advisor_booking_cancelled", "piet@hefboom.example", "CANCEL") in kinds
    assert ("advisor_booking_confirmed", "anne@hefboom.example", "REQUEST") in kinds
    assert ("booking_moved", "sofie2@example.org", "REQUEST") in kinds
