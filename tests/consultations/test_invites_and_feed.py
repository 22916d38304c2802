"""Invites, updates and cancellations of bookings, to the participant and the advisor, through
ical.js and libical; the advisor's private feed; intake answers only with consent."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import urlsplit

from tests.calendar.parsers import parse_with_icaljs, parse_with_libical
from tests.consultations.helpers import (
    advisor,
    advisor_rows,
    create_day,
    day,
    new_org,
    outbox_for,
    person,
    slots,
    window,
)
from tests.integration.helpers import post_form
from tests.registrations.helpers import domain, token_in


def _z(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parsed(mail: dict) -> dict:
    """The mail's invite through ical.js and libical; both agree on what matters."""
    assert mail["ics"], f"{mail['kind']} to {mail['recipient']} has no invite"
    js, lib = parse_with_icaljs(mail["ics"]), parse_with_libical(mail["ics"])
    assert lib.get("restriction_ok") is not False, f"libical iTIP restriction check failed: {lib}"
    assert not lib.get("parse_errors"), lib.get("parse_errors")
    assert js["method"] == lib["method"] == mail["ics_method"]
    assert len(js["vevents"]) == len(lib["vevents"]) == 1
    a, b = js["vevents"][0], lib["vevents"][0]
    for key in ("uid", "sequence", "start_utc", "end_utc"):
        assert a[key] == b[key], (key, a[key], b[key])
    return {"method": js["method"], **a}


def _to(mails: list[dict], recipient: str, method: str | None = None) -> list[dict]:
    return [m for m in mails if m["recipient"] == recipient and (method is None or m["ics_method"] == method)]


async def _two_advisor_day(client, org, mail):
    start = day()
    advisors = [
        advisor("Ann", f"ann@{mail}", [window(start, 60)], room="Lokaal 1"),
        advisor("Bob", f"bob@{mail}", [window(start, 60)], online_url="https://meet.example/bob"),
    ]
    event_id = await create_day(client, org, advisors)
    free = await slots(client, event_id)
    return event_id, {n: [s for s in free if s["advisor"]["name"] == n] for n in ("Ann", "Bob")}


async def _book(client, slot_id, body):
    response = await client.post(f"/api/v1/slots/{slot_id}/booking", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"], token_in(response.json()["manage_url"])


async def test_booking_sends_a_request_to_participant_and_advisor_that_both_parsers_read(client):
    org, mail = await new_org(), domain()
    _event_id, free = await _two_advisor_day(client, org, mail)
    slot = free["Ann"][0]
    reg_id, _ = await _book(client, slot["id"], person(f"p@{mail}", company="Bakkerij Peeters"))

    mails = await outbox_for(reg_id)
    (mine,) = _to(mails, f"p@{mail}", "REQUEST")
    (ann,) = _to(mails, f"ann@{mail}", "REQUEST")
    assert not _to(mails, f"bob@{mail}"), "the other advisor hears nothing"
    p, a = _parsed(mine), _parsed(ann)
    assert p["uid"] == a["uid"] and p["uid"].startswith("booking-")
    assert p["start_utc"] == a["start_utc"] == _z(__import__("datetime").datetime.fromisoformat(slot["starts_at"]))
    assert "Ann" in p["summary"]
    assert "Deelnemer p" in a["summary"] and "Bakkerij Peeters" in a["summary"]
    assert "Lokaal 1" in (p["location"] or "")


async def test_cancelling_sends_cancel_to_both_with_a_higher_sequence(client):
    org, mail = await new_org(), domain()
    _event_id, free = await _two_advisor_day(client, org, mail)
    reg_id, token = await _book(client, free["Ann"][0]["id"], person(f"p@{mail}"))
    invite = _parsed(_to(await outbox_for(reg_id), f"p@{mail}", "REQUEST")[0])

    assert (await client.delete(f"/api/v1/registrations/{token}")).status_code == 204

    mails = await outbox_for(reg_id)
    for who in (f"p@{mail}", f"ann@{mail}"):
        cancels = _to(mails, who, "CANCEL")
        assert len(cancels) == 1, f"{who} gets one CANCEL"
        c = _parsed(cancels[0])
        assert c["uid"] == invite["uid"]
        assert c["sequence"] > invite["sequence"], (c["sequence"], invite["sequence"])
        assert c["status"] == "CANCELLED"


async def test_rescheduling_with_the_same_advisor_keeps_the_uid_and_raises_the_sequence(client):
    org, mail = await new_org(), domain()
    _event_id, free = await _two_advisor_day(client, org, mail)
    reg_id, token = await _book(client, free["Ann"][0]["id"], person(f"p@{mail}"))
    invite = _parsed(_to(await outbox_for(reg_id), f"p@{mail}", "REQUEST")[0])

    target = free["Ann"][1]
    response = await client.post(f"/api/v1/bookings/{token}/reschedule", json={"slot": target["id"]})
    assert response.status_code == 200, response.text

    mails = await outbox_for(reg_id)
    mine = [_parsed(m) for m in _to(mails, f"p@{mail}", "REQUEST")]
    ann = [_parsed(m) for m in _to(mails, f"ann@{mail}", "REQUEST")]
    assert len(mine) == 2 and len(ann) == 2
    new = __import__("datetime").datetime.fromisoformat(target["starts_at"])
    for update in (mine[-1], ann[-1]):
        assert update["uid"] == invite["uid"]
        assert update["sequence"] > invite["sequence"]
        assert update["start_utc"] == _z(new)
    assert not _to(mails, f"ann@{mail}", "CANCEL")


async def test_moving_to_another_advisor_cancels_with_the_old_one_and_invites_the_new_one(client):
    org, mail = await new_org(), domain()
    _event_id, free = await _two_advisor_day(client, org, mail)
    reg_id, token = await _book(client, free["Ann"][0]["id"], person(f"p@{mail}"))
    invite = _parsed(_to(await outbox_for(reg_id), f"p@{mail}", "REQUEST")[0])

    response = await client.post(f"/api/v1/bookings/{token}/reschedule", json={"slot": free["Bob"][1]["id"]})
    assert response.status_code == 200, response.text

    mails = await outbox_for(reg_id)
    (old,) = [_parsed(m) for m in _to(mails, f"ann@{mail}", "CANCEL")]
    (new,) = [_parsed(m) for m in _to(mails, f"bob@{mail}", "REQUEST")]
    participant = _parsed(_to(mails, f"p@{mail}", "REQUEST")[-1])
    assert old["uid"] == new["uid"] == participant["uid"] == invite["uid"]
    assert old["sequence"] > invite["sequence"] and participant["sequence"] > invite["sequence"]
    assert old["status"] == "CANCELLED"
    assert "meet.example/bob" in (participant["location"] or "") + (participant["description"] or "") + str(
        participant.get("url")
    )

    # Cancel afterwards: Bob (not Ann) and the participant get the CANCEL, above the move's SEQUENCE.
    assert (await client.delete(f"/api/v1/registrations/{token}")).status_code == 204
    mails = await outbox_for(reg_id)
    bob_cancel = _parsed(_to(mails, f"bob@{mail}", "CANCEL")[0])
    mine_cancel = _parsed(_to(mails, f"p@{mail}", "CANCEL")[0])
    assert bob_cancel["sequence"] > new["sequence"] and mine_cancel["sequence"] > participant["sequence"]
    assert len(_to(mails, f"ann@{mail}", "CANCEL")) == 1, "Ann is not told twice"


async def _feed(client, advisor_row) -> dict:
    from events.services.consultations import advisor_feed_url

    path = urlsplit(advisor_feed_url(advisor_row)).path
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    js, lib = parse_with_icaljs(response.content), parse_with_libical(response.content)
    assert not lib.get("parse_errors"), lib.get("parse_errors")
    assert sorted(e["uid"] for e in js["vevents"]) == sorted(e["uid"] for e in lib["vevents"])
    return js


async def test_the_advisor_feed_lists_exactly_that_advisors_bookings(client):
    from events.tables import Registration

    org, mail = await new_org(), domain()
    event_id, free = await _two_advisor_day(client, org, mail)
    ann_row, bob_row = await advisor_rows(event_id)
    r1, _ = await _book(client, free["Ann"][0]["id"], person(f"p1@{mail}"))
    r2, t2 = await _book(client, free["Ann"][1]["id"], person(f"p2@{mail}"))
    r3, _ = await _book(client, free["Bob"][0]["id"], person(f"p3@{mail}"))
    # Another day's advisor with the same person booked: not in Ann's feed either.
    other = await create_day(client, org, [advisor("Ann", f"ann@{mail}", [window(day(40), 30)])], starts=day(40))
    await _book(client, (await slots(client, other))[0]["id"], person(f"p1@{mail}"))

    uids = {
        row["id"]: row["booking_uid"] for row in await Registration.select().where(Registration.id.is_in([r1, r2, r3]))
    }
    ann_feed = await _feed(client, ann_row)
    assert sorted(e["uid"] for e in ann_feed["vevents"]) == sorted([uids[r1], uids[r2]])
    assert all("Deelnemer p3" not in (e["summary"] or "") for e in ann_feed["vevents"])
    bob_feed = await _feed(client, bob_row)
    assert [e["uid"] for e in bob_feed["vevents"]] == [uids[r3]]

    # A cancelled booking leaves the feed; a moved one moves to the other advisor's feed.
    assert (await client.delete(f"/api/v1/registrations/{t2}")).status_code == 204
    assert [e["uid"] for e in (await _feed(client, ann_row))["vevents"]] == [uids[r1]]

    assert (await client.get("/advisors/not-a-token/calendar.ics")).status_code == 404
    assert (await client.get("/advisors/" + "A" * 43 + "/calendar.ics")).status_code == 404


async def _share_intake_purpose(client, org) -> int:
    response = await client.post(
        "/api/v1/consent-purposes",
        json={"key": "share_intake", "text": {"nl": "Mijn antwoorden delen met de adviseur.", "en": "Share answers."}},
        headers=org.auth,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_intake_answers_reach_the_advisor_only_with_consent(client):
    org, mail = await new_org(), domain()
    purpose = await _share_intake_purpose(client, org)
    start = day()
    event_id = await create_day(
        client, org, [advisor("Ann", f"ann@{mail}", [window(start, 60)], topics=["microcredit"])]
    )
    first, second = await slots(client, event_id)
    (ann_row,) = await advisor_rows(event_id)

    yes, _ = await _book(client, first["id"], {**person(f"yes@{mail}"), "topic": "microcredit", "consents": [purpose]})
    no, _ = await _book(client, second["id"], {**person(f"no@{mail}"), "topic": "microcredit"})

    with_consent = _parsed(_to(await outbox_for(yes), f"ann@{mail}", "REQUEST")[0])
    without = _parsed(_to(await outbox_for(no), f"ann@{mail}", "REQUEST")[0])
    assert "microcredit" in (with_consent["description"] or ""), with_consent
    assert "microcredit" not in (without["description"] or ""), without
    for m in _to(await outbox_for(no), f"ann@{mail}"):
        assert "microcredit" not in m["text_body"] and "microcredit" not in m["html_body"]
    # The participant's own invite carries no intake block meant for the advisor.
    assert "topic: microcredit" not in (_parsed(_to(await outbox_for(yes), f"yes@{mail}")[0])["description"] or "")

    feed = {e["summary"]: e["description"] or "" for e in (await _feed(client, ann_row))["vevents"]}
    (yes_desc,) = [d for s, d in feed.items() if "Deelnemer yes" in s]
    (no_desc,) = [d for s, d in feed.items() if "Deelnemer no" in s]
    assert "microcredit" in yes_desc and "microcredit" not in no_desc


async def test_withdrawing_the_consent_hides_the_intake_from_the_advisor_feed(client):
    org, mail = await new_org(), domain()
    purpose = await _share_intake_purpose(client, org)
    event_id = await create_day(
        client, org, [advisor("Ann", f"ann@{mail}", [window(day(), 30)], topics=["microcredit"])]
    )
    (slot,) = await slots(client, event_id)
    (ann_row,) = await advisor_rows(event_id)
    _, token = await _book(client, slot["id"], {**person(f"yes@{mail}"), "topic": "microcredit", "consents": [purpose]})
    assert "microcredit" in ((await _feed(client, ann_row))["vevents"][0]["description"] or "")

    response = await post_form(client, f"/r/{token}/consents/{purpose}", f"/r/{token}", action="withdraw")
    assert response.status_code in (302, 303), response.text
    assert "microcredit" not in ((await _feed(client, ann_row))["vevents"][0]["description"] or "")
