"""The invite lifecycle per participant: REQUEST, updated REQUEST, CANCEL — with SEQUENCE rising.

Through the services: registrations are rows (as the registration service leaves them), the
invitation is queued by `notifications.send_invitation`, changes by `update_event` and
`cancel_event`; what would be mailed is read from the outbox and run through ical.js and
libical (with its iTIP `restriction_check()`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from events.db import write_transaction
from events.services import events as event_service
from events.services import notifications
from events.services.access import CLI_ACTOR
from events.services.events import EventPatch, TitleTexts, VenueInput
from events.tables import OutboxMessage
from tests.calendar.data import add_registration, future, make_event, make_organisation, stored_event
from tests.calendar.helpers import unfolded
from tests.calendar.parsers import (
    parse_everywhere,
    parse_with_icalendar,
    parse_with_icaljs,
    parse_with_libical,
    prefetch,
)
from tests.calendar.zones import CASES


async def invite_rows(registration_id: int) -> list[dict[str, Any]]:
    return (
        await OutboxMessage.select(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.ics,
            OutboxMessage.ics_method,
            OutboxMessage.recipient,
            OutboxMessage.dedupe_key,
        )
        .where(OutboxMessage.registration == registration_id)
        .order_by(OutboxMessage.id)
    )


async def send_invitation(registration_id: int) -> None:
    async with write_transaction():
        await notifications.send_invitation(registration_id)


def checked(row: dict[str, Any], recipient: str) -> dict[str, Any]:
    """The row's invite as ical.js reads it, after libical's iTIP check and the common rules."""
    ics = row["ics"].encode("utf-8")
    libical = parse_with_libical(ics)
    assert libical["parse_errors"] == [], libical["parse_errors"]
    assert libical["restriction_ok"] is True, (row["kind"], libical["restriction_errors"])
    assert libical["method"] == row["ics_method"], "METHOD in the ics differs from the row's ics_method"
    icaljs = parse_with_icaljs(ics)
    assert icaljs["method"] == row["ics_method"]
    assert parse_with_icalendar(ics)["method"] == row["ics_method"]
    (event,) = icaljs["vevents"]
    (attendee,) = event["attendees"]
    assert attendee["value"].lower() == f"mailto:{recipient.lower()}"
    assert event["organizer"]["value"].lower() != attendee["value"].lower()
    assert [a["value"] for a in libical["vevents"][0]["attendees"]] == [attendee["value"]]
    assert (libical["vevents"][0]["start_utc"], libical["vevents"][0]["end_utc"]) == (
        event["start_utc"],
        event["end_utc"],
    )
    assert libical["vevents"][0]["sequence"] == event["sequence"]
    return event


def utc(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_invitation_update_and_cancellation_raise_the_sequence():
    _, org_id = await make_organisation("seq")
    event_id = await make_event(org_id, starts_at=future(30))
    uid = (await stored_event(event_id))["uid"]
    registration_id, email = await add_registration(event_id)

    await send_invitation(registration_id)
    (invitation,) = await invite_rows(registration_id)
    assert (invitation["kind"], invitation["ics_method"]) == ("invitation", "REQUEST")
    assert invitation["recipient"] == email
    first = checked(invitation, email)
    assert first["uid"] == uid
    assert first["status"] == "CONFIRMED"

    moved = future(31, hour=9)
    material = await event_service.update_event(
        CLI_ACTOR, event_id, EventPatch(starts_at=moved, ends_at=moved + timedelta(hours=3))
    )
    assert material is True
    rows = await invite_rows(registration_id)
    assert [r["kind"] for r in rows] == ["invitation", "event_updated"]
    update = rows[1]
    assert update["ics_method"] == "REQUEST"
    second = checked(update, email)
    assert second["uid"] == uid
    assert second["sequence"] > first["sequence"]
    assert (second["start_utc"], second["end_utc"]) == (utc(moved), utc(moved + timedelta(hours=3)))
    assert second["status"] == "CONFIRMED"

    await event_service.cancel_event(CLI_ACTOR, event_id)
    rows = await invite_rows(registration_id)
    assert [r["kind"] for r in rows] == ["invitation", "event_updated", "event_cancelled"]
    cancel = rows[2]
    assert cancel["ics_method"] == "CANCEL"
    third = checked(cancel, email)
    assert third["uid"] == uid
    assert third["sequence"] > second["sequence"]
    assert third["status"] == "CANCELLED"
    assert "METHOD:CANCEL" in unfolded(cancel["ics"].encode())


async def test_a_title_change_sends_nothing_and_keeps_the_sequence():
    _, org_id = await make_organisation("seq")
    event_id = await make_event(org_id, starts_at=future(30))
    registration_id, _ = await add_registration(event_id)
    await send_invitation(registration_id)
    before = await stored_event(event_id)

    material = await event_service.update_event(
        CLI_ACTOR, event_id, EventPatch(title=TitleTexts(nl="Andere titel", fr="Autre titre"))
    )

    assert material is False
    assert [r["kind"] for r in await invite_rows(registration_id)] == ["invitation"]
    assert (await stored_event(event_id))["sequence"] == before["sequence"]


async def test_each_participant_gets_their_own_invite_naming_only_them():
    _, org_id = await make_organisation("seq")
    event_id = await make_event(org_id, starts_at=future(30))
    people = [
        await add_registration(event_id, name="Dubois, Zoë", language="fr"),
        await add_registration(event_id, name="Jan Peeters", language="nl"),
        await add_registration(event_id, name="Ana Çelik", language="en"),
    ]
    for registration_id, _ in people:
        await send_invitation(registration_id)
    moved = future(32)
    await event_service.update_event(
        CLI_ACTOR, event_id, EventPatch(starts_at=moved, ends_at=moved + timedelta(hours=1))
    )
    await event_service.cancel_event(CLI_ACTOR, event_id)

    emails = [email for _, email in people]
    for (registration_id, email), name in zip(people, ["Dubois, Zoë", "Jan Peeters", "Ana Çelik"], strict=True):
        rows = await invite_rows(registration_id)
        assert [r["ics_method"] for r in rows] == ["REQUEST", "REQUEST", "CANCEL"], registration_id
        for row in rows:
            assert row["recipient"] == email
            event = checked(row, email)
            assert event["attendees"][0]["cn"] == name
            french = registration_id == people[0][0]
            assert event["summary"] == ("Séance d'information microcrédit" if french else "Infosessie microkrediet")
            others = [other for other in emails if other != email]
            for other in others:
                assert other.lower() not in row["ics"].lower(), f"{email}'s invite names {other}"


async def test_sending_the_invitation_twice_queues_one_message():
    _, org_id = await make_organisation("seq")
    event_id = await make_event(org_id, starts_at=future(30))
    registration_id, _ = await add_registration(event_id)

    await send_invitation(registration_id)
    await send_invitation(registration_id)

    rows = await invite_rows(registration_id)
    assert [r["kind"] for r in rows] == ["invitation"], [r["dedupe_key"] for r in rows]


async def test_a_later_participant_gets_the_current_sequence_and_times():
    _, org_id = await make_organisation("seq")
    event_id = await make_event(org_id, starts_at=future(30))
    early, early_email = await add_registration(event_id)
    await send_invitation(early)
    moved = future(33, hour=10)
    await event_service.update_event(
        CLI_ACTOR, event_id, EventPatch(starts_at=moved, ends_at=moved + timedelta(hours=2))
    )
    late, late_email = await add_registration(event_id)

    await send_invitation(late)

    (late_row,) = await invite_rows(late)
    early_update = (await invite_rows(early))[-1]
    late_event, early_event = checked(late_row, late_email), checked(early_update, early_email)
    assert late_event["sequence"] == early_event["sequence"] == (await stored_event(event_id))["sequence"]
    assert late_event["start_utc"] == utc(moved)


async def test_saving_the_same_times_and_place_again_is_not_a_change():
    """Forms and integrations send every field back; unchanged values must not bump SEQUENCE
    nor mail every participant an "updated" invite."""
    _, org_id = await make_organisation("seq")
    event_id = await make_event(org_id, starts_at=future(30))
    registration_id, _ = await add_registration(event_id)
    await send_invitation(registration_id)
    row = await stored_event(event_id)
    same = EventPatch(
        starts_at=row["starts_at"].astimezone(ZoneInfo("Europe/Brussels")),
        ends_at=row["ends_at"],
        timezone="Europe/Brussels",
        venue=VenueInput(name="Ondernemershuis", address="Kerkstraat 1", city="Gent", room="Zaal A"),
        online_url="",
    )

    material = await event_service.update_event(CLI_ACTOR, event_id, same)

    assert material is False
    assert (await stored_event(event_id))["sequence"] == row["sequence"]
    assert [r["kind"] for r in await invite_rows(registration_id)] == ["invitation"]


async def test_invites_keep_the_instants_on_change_nights():
    """The time-zone matrix through the database and the outbox: every parser reads the stored instants."""
    _, org_id = await make_organisation("zones")
    sent = []
    for case in CASES:
        event_id = await make_event(
            org_id, starts_at=case.starts_at, ends_at=case.ends_at, timezone=case.tzid, title={"en": case.id}
        )
        registration_id, _ = await add_registration(event_id)
        await send_invitation(registration_id)
        (row,) = await invite_rows(registration_id)
        sent.append((case, row))
    prefetch([row["ics"].encode() for _, row in sent])

    for case, row in sent:
        for name, parsed in parse_everywhere(row["ics"]).items():
            (event,) = parsed["vevents"]
            assert (event["start_utc"], event["end_utc"]) == case.expected, f"{name} read {case.id} wrong"
        assert parse_with_libical(row["ics"])["restriction_ok"] is True
