"""Appointments keep their own calendar entry: reminders at the slot's time with the booking's
UID, an event change sends them nothing, cancelling the day cancels each appointment."""

from __future__ import annotations

from datetime import timedelta

from events.services.reminders import queue_due_reminders
from events.tables import Event, OutboxMessage, Registration, Slot
from tests.consultations_admin.test_day_overview import _published_day
from tests.integration.helpers import bearer, make_organisation, make_token


async def _book(client, event_id: int, email: str) -> tuple[dict, dict]:
    slots = (await client.get(f"/api/v1/events/{event_id}/slots")).json()
    slot = slots[-1]
    booked = await client.post(
        f"/api/v1/slots/{slot['id']}/booking", json={"name": "Sofie", "email": email, "language": "nl"}
    )
    assert booked.status_code == 201, booked.text
    registration = await Registration.select().where(Registration.id == booked.json()["id"]).first()
    return registration, slot


async def _mails(registration_id: int) -> list[dict]:
    return await OutboxMessage.select().where(OutboxMessage.registration == registration_id).order_by(OutboxMessage.id)


async def test_an_appointment_reminder_comes_before_the_slot_with_the_bookings_own_invite(browser) -> None:
    slug, _ = await make_organisation("zitdag")
    event_id = await _published_day(browser, slug)
    registration, _ = await _book(browser, event_id, "reminded@example.org")
    slot = await Slot.select().where(Slot.id == registration["slot"]).first()
    event = await Event.select().where(Event.id == event_id).first()
    assert slot["starts_at"] - event["starts_at"] >= timedelta(hours=2)

    # After the day began but 1 h 30 before the appointment: the 2-hour reminder is due.
    queued = await queue_due_reminders(now=slot["starts_at"] - timedelta(minutes=90))
    assert queued >= 1
    reminders = [m for m in await _mails(registration["id"]) if m["kind"] == "reminder"]
    assert len(reminders) == 1
    assert f"UID:{registration['booking_uid']}" in reminders[0]["ics"].replace("\r\n ", "")
    assert event["uid"] not in reminders[0]["ics"]
    assert await queue_due_reminders(now=slot["starts_at"] - timedelta(minutes=80)) == 0


async def test_changing_or_cancelling_the_day_reaches_appointments_with_their_own_uid(browser) -> None:
    slug, _ = await make_organisation("zitdag")
    headers = bearer(await make_token(slug))
    event_id = await _published_day(browser, slug)
    registration, _ = await _book(browser, event_id, "booked@example.org")
    event = await Event.select().where(Event.id == event_id).first()

    moved = await browser.patch(
        f"/api/v1/events/{event_id}", headers=headers, json={"online_url": "https://meet.example/zitdag"}
    )
    assert moved.status_code == 200
    assert not [m for m in await _mails(registration["id"]) if m["kind"] == "event_updated"]

    assert (await browser.post(f"/api/v1/events/{event_id}/cancel", headers=headers)).status_code == 200
    cancels = [m for m in await _mails(registration["id"]) if m["ics_method"] == "CANCEL"]
    assert {m["kind"] for m in cancels} == {"booking_cancelled", "advisor_booking_cancelled"}
    for mail in cancels:
        assert f"UID:{registration['booking_uid']}" in mail["ics"].replace("\r\n ", "")
        assert event["uid"] not in mail["ics"]


async def test_rejecting_an_appointment_frees_its_slot_and_cancels_both_invites(browser) -> None:
    slug, _ = await make_organisation("zitdag")
    event_id = await _published_day(browser, slug)
    registration, slot = await _book(browser, event_id, "rejected@example.org")
    rejected = await browser.post(
        f"/api/v1/registrations/{registration['id']}/reject", headers=bearer(await make_token(slug))
    )
    assert rejected.status_code == 200
    assert slot["id"] in {s["id"] for s in (await browser.get(f"/api/v1/events/{event_id}/slots")).json()}
    cancels = {m["kind"] for m in await _mails(registration["id"]) if m["ics_method"] == "CANCEL"}
    assert cancels == {"booking_cancelled", "advisor_booking_cancelled"}
