"""People who leave keep control of what they agreed to, and their partners are told."""

from __future__ import annotations

from events.tables import Meeting, OutboxMessage
from tests.integration.helpers import make_organisation
from tests.networking.meetings_helpers import act, ask, free_slots, member, networking_event, profile_ids


async def _accepted_meeting(client):
    slug, _ = await make_organisation("netwerk")
    event_id, _ = await networking_event(client, slug)
    ann, bob = await member(client, event_id, "Ann"), await member(client, event_id, "Bob")
    slot = (await free_slots(client, ann))[0]
    meeting = (await ask(client, ann, (await profile_ids(client, ann))["Bob"], slot["id"])).json()
    assert (await act(client, bob, meeting["id"], "accept")).status_code == 200
    return event_id, ann, bob, meeting


async def test_someone_who_opts_out_still_sees_and_can_cancel_their_meetings(browser) -> None:
    _, ann, _, meeting = await _accepted_meeting(browser)
    hidden = await browser.put(f"/api/v1/me/{ann}/profile", json={"opt_in": False, "display_name": "Ann"})
    assert hidden.status_code == 200
    mine = await browser.get(f"/api/v1/me/{ann}/meetings")
    assert mine.status_code == 200 and [m["status"] for m in mine.json()] == ["accepted"]
    cancelled = await act(browser, ann, meeting["id"], "cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_a_request_from_someone_who_left_the_directory_cannot_be_accepted(browser) -> None:
    slug, _ = await make_organisation("netwerk")
    event_id, _ = await networking_event(browser, slug)
    ann, bob = await member(browser, event_id, "Ann"), await member(browser, event_id, "Bob")
    slot = (await free_slots(browser, ann))[0]
    meeting = (await ask(browser, ann, (await profile_ids(browser, ann))["Bob"], slot["id"])).json()
    await browser.put(f"/api/v1/me/{ann}/profile", json={"opt_in": False, "display_name": "Ann"})
    refused = await act(browser, bob, meeting["id"], "accept")
    assert refused.status_code == 409 and refused.json()["detail"]


async def test_cancelling_a_registration_cancels_its_meetings_for_the_partner_too(browser) -> None:
    _, ann, bob, meeting = await _accepted_meeting(browser)
    assert (await browser.delete(f"/api/v1/registrations/{ann}")).status_code == 204
    row = await Meeting.select().where(Meeting.id == meeting["id"]).first()
    assert row["status"] == "cancelled"
    cancels = await OutboxMessage.select().where(
        (OutboxMessage.kind == "meeting_cancelled") & (OutboxMessage.ics_method == "CANCEL")
    )
    assert any(meeting_uid_in(m["ics"], row["uid"]) for m in cancels)
    assert [m["status"] for m in (await browser.get(f"/api/v1/me/{bob}/meetings")).json()] == ["cancelled"]


def meeting_uid_in(ics: str, uid: str) -> bool:
    return f"UID:{uid}" in ics.replace("\r\n ", "")
