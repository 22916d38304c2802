"""1:1 meetings over the API: invites to both through ical.js and libical, personal feeds,
cancellation by either party, and the limits (pending requests, declines, opt-in, busy slots)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from tests.calendar.parsers import parse_with_icaljs, parse_with_libical
from tests.integration.helpers import bearer, event_payload, make_organisation, make_token, stored_event
from tests.networking.meetings_helpers import (
    act,
    ask,
    free_slots,
    member,
    networking,
    networking_event,
    profile_ids,
    z,
)
from tests.networking.test_directory import _event
from tests.registrations.helpers import mails_to


async def _registration(token: str) -> dict:
    from events.services.registrations import by_token

    return await by_token(token)


async def _meeting_row(meeting_id: int) -> dict:
    from events.tables import Meeting

    row = await Meeting.select().where(Meeting.id == meeting_id).first()
    assert row is not None
    return row


def _parsed(mail: dict) -> dict:
    """The mail's invite through ical.js and libical (with the iTIP restriction check)."""
    assert mail["ics"], f"{mail['kind']} to {mail['recipient']} has no invite"
    js, lib = parse_with_icaljs(mail["ics"]), parse_with_libical(mail["ics"])
    assert lib.get("restriction_ok") is True, f"libical iTIP restriction check failed: {lib}"
    assert not lib.get("parse_errors"), lib.get("parse_errors")
    assert js["method"] == lib["method"] == mail["ics_method"]
    assert len(js["vevents"]) == len(lib["vevents"]) == 1
    a, b = js["vevents"][0], lib["vevents"][0]
    for key in ("uid", "sequence", "start_utc", "end_utc", "location"):
        assert a[key] == b[key], (key, a[key], b[key])
    return a


async def _feed_uids(client, registration: dict) -> dict[str, dict]:
    from events.services.tokens import feed_url

    response = await client.get(urlsplit(feed_url(registration)).path)
    assert response.status_code == 200, response.text
    js, lib = parse_with_icaljs(response.content), parse_with_libical(response.content)
    assert sorted(e["uid"] for e in js["vevents"]) == sorted(e["uid"] for e in lib["vevents"])
    return {e["uid"]: e for e in js["vevents"]}


async def test_accepted_meeting_invites_both_shows_in_both_feeds_and_a_cancel_withdraws_it(browser) -> None:
    slug, _ = await make_organisation("meet")
    event_id, _ = await networking_event(browser, slug, tables=["Tafel 7"])
    ann, bob = await member(browser, event_id, "Ann"), await member(browser, event_id, "Bob")
    slot = (await free_slots(browser, ann))[1]

    asked = await ask(browser, bob, (await profile_ids(browser, bob))["Ann"], slot["id"])
    assert asked.status_code == 201, asked.text
    assert (asked.json()["status"], asked.json()["direction"]) == ("pending", "sent")
    meeting_id = asked.json()["id"]
    regs = {name: await _registration(token) for name, token in (("Ann", ann), ("Bob", bob))}
    assert [m["kind"] for m in await mails_to(regs["Ann"]["id"])][-1] == "meeting_request"

    accepted = await act(browser, ann, meeting_id, "accept")
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["table"]) == ("accepted", "Tafel 7")
    assert accepted.json()["direction"] == "received"
    row = await _meeting_row(meeting_id)
    event_uid = (await stored_event(event_id))["uid"]
    assert row["uid"] != event_uid, "a meeting has its own UID"

    invites = {}
    for name, reg in regs.items():
        mails = await mails_to(reg["id"], "meeting_accepted")
        assert len(mails) == 1, (name, mails)
        assert mails[0]["ics_method"] == "REQUEST" and mails[0]["recipient"] == reg["email"]
        invites[name] = _parsed(mails[0])
        assert invites[name]["uid"] == row["uid"]
        assert "Tafel 7" in (invites[name]["location"] or ""), invites[name]["location"]
        assert (invites[name]["start_utc"], invites[name]["end_utc"]) == (
            z_iso(slot["starts_at"]),
            z_iso(slot["ends_at"]),
        )
        feed = await _feed_uids(browser, reg)
        assert row["uid"] in feed and event_uid in feed, (name, list(feed))
        assert feed[row["uid"]]["start_utc"] == invites[name]["start_utc"]
        assert slot["id"] not in [s["id"] for s in await free_slots(browser, ann if name == "Ann" else bob)]

    cancelled = await act(browser, bob, meeting_id, "cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    for name, reg in regs.items():
        mails = await mails_to(reg["id"], "meeting_cancelled")
        assert len(mails) == 1 and mails[0]["ics_method"] == "CANCEL", (name, mails)
        cancel = _parsed(mails[0])
        assert cancel["uid"] == row["uid"]
        assert cancel["sequence"] > invites[name]["sequence"], (cancel["sequence"], invites[name]["sequence"])
        feed = await _feed_uids(browser, reg)
        assert row["uid"] not in feed and event_uid in feed, (name, list(feed))
    assert slot["id"] in [s["id"] for s in await free_slots(browser, ann)]
    assert (await act(browser, ann, meeting_id, "cancel")).status_code == 409, "already cancelled"


def z_iso(value: str) -> str:
    return z(datetime.fromisoformat(value.replace("Z", "+00:00")))


async def test_cancel_by_the_invitee_cancels_for_both_too(browser) -> None:
    slug, _ = await make_organisation("meet")
    event_id, _ = await networking_event(browser, slug)
    ann, bob = await member(browser, event_id, "Ann"), await member(browser, event_id, "Bob")
    slot = (await free_slots(browser, ann))[0]
    meeting_id = (await ask(browser, ann, (await profile_ids(browser, ann))["Bob"], slot["id"])).json()["id"]
    assert (await act(browser, bob, meeting_id, "accept")).status_code == 200
    assert (await act(browser, bob, meeting_id, "cancel")).status_code == 200
    for token in (ann, bob):
        reg = await _registration(token)
        assert [m["ics_method"] for m in await mails_to(reg["id"], "meeting_cancelled")] == ["CANCEL"]
        assert (await _meeting_row(meeting_id))["uid"] not in await _feed_uids(browser, reg)


async def test_limits_on_requests_and_accepts(browser) -> None:
    slug, _ = await make_organisation("meet")
    event_id, _ = await networking_event(browser, slug, tables=["T1"], max_pending=2)
    ann, bob, cas, dirk, eva = [await member(browser, event_id, n) for n in ("Ann", "Bob", "Cas", "Dirk", "Eva")]
    nina = await member(browser, event_id, "Nina", opt_in=False)
    nina_id = (await browser.get(f"/api/v1/me/{nina}/profile")).json()["id"]
    ids = await profile_ids(browser, ann)
    assert "Nina" not in ids
    slots = [s["id"] for s in await free_slots(browser, ann)]
    assert len(slots) == 4

    to_bob = await ask(browser, ann, ids["Bob"], slots[0])
    to_cas = await ask(browser, ann, ids["Cas"], slots[0])
    assert (to_bob.status_code, to_cas.status_code) == (201, 201), (to_bob.text, to_cas.text)
    too_many = await ask(browser, ann, ids["Dirk"], slots[1])
    assert too_many.status_code == 409 and too_many.json()["detail"], "more than max_pending open requests"

    assert (await act(browser, ann, to_bob.json()["id"], "accept")).status_code == 409, "the requester can't accept"
    assert (await act(browser, eva, to_bob.json()["id"], "accept")).status_code == 404, "a stranger can't either"
    assert (await act(browser, bob, to_bob.json()["id"], "decline")).status_code == 200
    again = await ask(browser, ann, ids["Bob"], slots[2])
    assert again.status_code == 409, "a declined request can't be repeated by the same requester"
    assert (await ask(browser, bob, (await profile_ids(browser, bob))["Ann"], slots[2])).status_code == 201, (
        "the one who declined may still ask"
    )

    assert (await ask(browser, nina, ids["Bob"], slots[3])).status_code == 409, "not opted in: can't request"
    assert (await ask(browser, ann, nina_id, slots[3])).status_code == 404, "not opted in: can't be requested"

    assert (await act(browser, cas, to_cas.json()["id"], "accept")).status_code == 200  # Ann & Cas at slot 0
    dirk_ids = await profile_ids(browser, dirk)
    assert (await ask(browser, dirk, dirk_ids["Ann"], slots[0])).status_code == 409, "Ann is busy then"
    assert (await ask(browser, ann, ids["Dirk"], slots[0])).status_code == 409, "and so is the requester"
    assert (await ask(browser, eva, (await profile_ids(browser, eva))["Cas"], slots[0])).status_code == 409
    free = {name: [s["id"] for s in await free_slots(browser, t)] for name, t in (("Ann", ann), ("Dirk", dirk))}
    assert free == {"Ann": slots[1:], "Dirk": slots}, "meeting-slots lists only the slots where one is free"

    # The only table is taken at slot 0: Dirk and Eva may ask, but not meet there.
    late = await ask(browser, dirk, dirk_ids["Eva"], slots[0])
    assert late.status_code == 201, late.text
    assert (await act(browser, eva, late.json()["id"], "accept")).status_code == 409, "no table left"
    assert (await _meeting_row(late.json()["id"]))["status"] == "pending"


async def test_networking_settings_only_on_networking_events_and_within_the_event(browser) -> None:
    slug, _ = await make_organisation("meet")
    headers = bearer(await make_token(slug))
    session = await _event(browser, slug, kind="info_session")
    starts = (await stored_event(session))["starts_at"]
    refused = await browser.patch(f"/api/v1/events/{session}", headers=headers, json={"networking": networking(starts)})
    assert refused.status_code == 422 and refused.json()["detail"], refused.text
    created = await browser.post(
        "/api/v1/events", headers=headers, json=event_payload(kind="info_session", networking=networking(starts))
    )
    assert created.status_code == 422, created.text

    event_id = await _event(browser, slug)
    row = await stored_event(event_id)
    for bad in (
        networking(row["starts_at"] - timedelta(minutes=15)),  # starts before the event
        networking(row["ends_at"] - timedelta(minutes=30)),  # ends after the event
        networking(row["starts_at"], minutes=0),  # ends when it starts
    ):
        response = await browser.patch(f"/api/v1/events/{event_id}", headers=headers, json={"networking": bad})
        assert response.status_code == 422, (bad, response.text)
    token = await member(browser, event_id, "Ann")
    assert await free_slots(browser, token) == [], "refused settings made no slots"
