"""Erasure: from the participant's link (everything, everywhere) or by an organiser (their
organisation's events only). Active registrations are cancelled the usual way first, then no
row of any table holds the person's name, email or phone; statistics keep their counts; the
seat goes to the waitlist; the person's tokens are dead; they can register again."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from events.mail.worker import WorkerConfig, drain_once
from events.services import registrations, statistics
from events.services.access import CLI_ACTOR, Actor
from events.services.statistics import Period
from events.tables import (
    AuditLog,
    Meeting,
    OutboxMessage,
    PrivacyRequest,
    Registration,
    Slot,
    Webhook,
    WebhookDelivery,
)
from tests.integration.helpers import csrf_from_html, make_event, make_organiser, sign_in
from tests.privacy.conftest import (
    Person,
    World,
    ask_for_link,
    build_world,
    dump_database,
    feed_token,
    link_token,
    new_person,
    register,
    traces_in,
)


def _owner(*organisation_ids: int) -> Actor:
    return Actor(kind="organiser", id=0, roles=dict.fromkeys(organisation_ids, "owner"))


async def _stats(organisation_id: int) -> statistics.Statistics:
    report = await statistics.organisation_statistics(_owner(organisation_id), organisation_id, Period())
    return report.statistics


def _counts(stats: statistics.Statistics) -> dict[str, Any]:
    """What erasure must not change (cancelling an upcoming registration changes statuses)."""
    return {
        "events": stats.events,
        "registrations": stats.registrations,
        "people": stats.people,
        "new_people": stats.new_people,
        "returning_people": stats.returning_people,
        "attended": stats.attended,
        "no_show": stats.no_show,
        "languages": stats.languages,
        "waitlisted": stats.waitlisted,
    }


async def _rows_of(person: Person) -> list[dict[str, Any]]:
    return await Registration.select().where(Registration.email_key == person.email.lower()).order_by(Registration.id)


async def _past_event_attended_by(world: World, person: Person) -> int:
    """An info session of organisation A that ended ten days ago, which the person attended."""
    now = datetime.now(UTC)
    starts = now - timedelta(days=10)
    event_id = await make_event(
        world.org_a.id, starts_at=starts.isoformat(), ends_at=(starts + timedelta(hours=2)).isoformat()
    )
    result = await registrations.register(event_id, person.registration(), now=starts - timedelta(days=5))
    assert result.id is not None
    await registrations.mark_attendance(CLI_ACTOR, result.id, "attended")
    return event_id


async def _erase_through_link(client: Any, person: Person) -> Any:
    await ask_for_link(client, person.email)
    token = await link_token(person.email)
    page = await client.get(f"/privacy/{token}")
    csrf = csrf_from_html(page.text)
    unconfirmed = await client.post(f"/privacy/{token}/erase", data={"_csrf_token": csrf})
    assert unconfirmed.status_code == 422
    assert all(row["anonymised_at"] is None for row in await _rows_of(person))
    erased = await client.post(f"/privacy/{token}/erase", data={"_csrf_token": csrf, "confirm": "yes"})
    assert erased.status_code == 200, erased.text
    return token


async def test_after_erasure_through_the_link_nothing_holds_the_person_and_counts_stay(browser) -> None:
    world = await build_world(browser)
    ann, bob = world.ann, world.bob
    # Webhook payloads hold participants too (what the organisation may see of them).
    for org in (world.org_a, world.org_b):
        await Webhook.insert(
            Webhook(
                organisation=org.id,
                url="http://127.0.0.1:9/hook",
                secret="s" * 32,
                events="registration.created,registration.cancelled,registration.promoted,booking.created",
            )
        )
    full = await make_event(world.org_a.id, capacity=1)
    await register(full, ann)
    carla = new_person("Carla", "Wouters")
    carla_id = await register(full, carla)
    past = await _past_event_attended_by(world, ann)
    await drain_once(WorkerConfig(batch_size=1000))  # earlier mails have gone out
    ann_ids = [row["id"] for row in await _rows_of(ann)]
    feeds = [await feed_token(registration_id) for registration_id in ann_ids]
    before = {org: _counts(await _stats(org)) for org in (world.org_a.id, world.org_b.id)}
    past_line = next(line for line in (await _stats(world.org_a.id)).per_event if line.id == past)
    slot_id = next(row["slot"] for row in await _rows_of(ann) if row["event"] == world.day_b)
    assert traces_in(await dump_database(), ann)  # the search finds her before
    hooks = Webhook.select(Webhook.id).where(Webhook.organisation.is_in([world.org_a.id, world.org_b.id]))
    payloads = await WebhookDelivery.select().where(WebhookDelivery.webhook.is_in(hooks))
    assert traces_in(str(payloads), ann)  # a webhook told organisation A about her registration

    token = await _erase_through_link(browser, ann)

    # No table, outbox row or audit log line holds her name, email, phone or company.
    dump = await dump_database()
    assert traces_in(dump, ann) == []
    assert traces_in(dump, bob)  # the others are untouched
    assert await _rows_of(ann) == []

    rows = {
        row["event"]: row
        for row in await Registration.select().where(Registration.id.is_in(ann_ids)).order_by(Registration.id)
    }
    assert all(row["anonymised_at"] is not None for row in rows.values())
    assert all(row["name"] == "" and row["phone"] == "" and row["answers"] == "{}" for row in rows.values())
    assert len({row["email_key"] for row in rows.values()}) == 1  # still one person for the statistics
    assert all(row["email_key"].endswith("@invalid") for row in rows.values())
    assert all(row["manage_token_hash"] is None and row["feed_token_hash"] is None for row in rows.values())
    # Upcoming registrations were cancelled the usual way; the past one keeps its attendance.
    assert {event: row["status"] for event, row in rows.items()} == {
        world.info_a: "cancelled",
        world.info_b: "cancelled",
        world.day_b: "cancelled",
        world.net_a: "cancelled",
        full: "cancelled",
        past: "confirmed",
    }
    assert rows[past]["attendance"] == "attended"

    # The seat went to the next on the waitlist, who got the promotion mail.
    carla_row = await Registration.select().where(Registration.id == carla_id).first()
    assert carla_row["status"] == "confirmed" and carla_row["promoted_at"] is not None
    promoted = await OutboxMessage.select().where(
        (OutboxMessage.registration == carla_id) & (OutboxMessage.kind == "promoted")
    )
    assert [m["recipient"] for m in promoted] == [carla.email]
    # The slot is free again and the advisor was told; the meeting is cancelled and Bob was told.
    assert (await Slot.select().where(Slot.id == slot_id).first())["status"] == "free"
    advisor_mail = await OutboxMessage.select().where(
        (OutboxMessage.kind == "advisor_booking_cancelled") & (OutboxMessage.event == world.day_b)
    )
    # Queued, or already sent by a live server's worker on this shared database: either way, once.
    assert len(advisor_mail) == 1 and advisor_mail[0]["status"] != "failed"
    assert f"#{rows[world.day_b]['id']}" in advisor_mail[0]["text_body"]  # the pseudonym, not her name
    assert (await Meeting.select().where(Meeting.id == world.meeting_id).first())["status"] == "cancelled"
    partner_mail = await OutboxMessage.select().where(
        (OutboxMessage.kind == "meeting_cancelled") & (OutboxMessage.event == world.net_a)
    )
    assert [m["recipient"] for m in partner_mail] == [bob.email]
    # Ann herself gets nothing: her mails are emptied, and none is waiting to be sent.
    hers = await OutboxMessage.select().where(OutboxMessage.recipient.like("erased-%@invalid"))
    hers = [m for m in hers if m["registration"] in ann_ids or m["kind"] == "privacy_link"]
    assert hers and all(m["status"] in ("sent", "failed") for m in hers)
    assert all(m["subject"] == m["text_body"] == m["html_body"] == m["ics"] == "" for m in hers)
    assert not [m for m in hers if m["kind"] in ("registration_cancelled", "booking_cancelled", "meeting_cancelled")]

    # Her tokens are dead: private pages and personal feeds answer 404.
    for manage in ann.manage_tokens.values():
        assert (await browser.get(f"/r/{manage}")).status_code == 404
    for feed in feeds:
        assert (await browser.get(f"/me/{feed}/calendar.ics")).status_code == 404

    # Statistics count what they counted.
    for org, counts in before.items():
        assert _counts(await _stats(org)) == counts
    assert next(line for line in (await _stats(world.org_a.id)).per_event if line.id == past) == past_line

    # The audit log says it happened, not to whom.
    entries = await AuditLog.select().where(AuditLog.action == "person.erased").order_by(AuditLog.id)
    assert {e["organisation"] for e in entries[-2:]} == {world.org_a.id, world.org_b.id}
    used = await PrivacyRequest.select().where(PrivacyRequest.erased_at.is_not_null())
    assert any(row["email_key"] == rows[past]["email_key"] for row in used)

    # The link now says so, and has nothing to download.
    after = await browser.get(f"/privacy/{token}")
    assert after.status_code == 200 and f'action="/privacy/{token}/erase"' not in after.text
    assert (await browser.get(f"/privacy/{token}/data.json")).status_code == 410

    # She can register again with the same address.
    again = await registrations.register(world.info_b, ann.registration())
    assert again.status == "confirmed"
    assert [row["id"] for row in await _rows_of(ann)] == [again.id]


async def test_an_organiser_erases_a_person_at_their_own_organisations_events_only(app, browser) -> None:
    from litestar.testing import AsyncTestClient

    from tests.conftest import TEST_HOST
    from tests.integration.helpers import from_address, unique_address

    world = await build_world(browser)
    ann, bob = world.ann, world.bob
    co_hosted = await make_event(world.org_a.id, hosts=[world.org_b.slug])
    await register(co_hosted, ann)
    ann_rows = {row["event"]: row for row in await _rows_of(ann)}
    target = ann_rows[world.info_a]["id"]

    stack = contextlib.AsyncExitStack()

    async def signed_in(slug: str, role: str) -> Any:
        client = AsyncTestClient(app=from_address(app, unique_address()), base_url=f"http://{TEST_HOST}")
        await stack.enter_async_context(client)
        await sign_in(client, await make_organiser(slug, role=role))
        return client

    from tests.integration.helpers import make_organisation

    stranger_slug, _ = await make_organisation("stranger")
    clients = {
        "viewer": await signed_in(world.org_a.slug, "viewer"),
        "co-host": await signed_in(world.org_b.slug, "owner"),
        "stranger": await signed_in(stranger_slug, "owner"),
        "editor": await signed_in(world.org_a.slug, "editor"),
    }
    try:
        url = f"/admin/registrations/{target}/erase"
        for who, wanted in (("viewer", 403), ("stranger", 404)):
            client = clients[who]
            assert (await client.get(url)).status_code == wanted, who
            csrf = csrf_from_html((await client.get("/admin")).text)
            assert (await client.post(url, data={"_csrf_token": csrf, "confirm": "yes"})).status_code == wanted, who
        # A co-host of the event is no owner of it: 403 for its registration there.
        co_host_url = f"/admin/registrations/{ann_rows[co_hosted]['id']}/erase"
        assert (await clients["co-host"].get(co_host_url)).status_code == 403
        assert all(row["anonymised_at"] is None for row in await _rows_of(ann))

        editor = clients["editor"]
        person = await editor.get(f"/admin/registrations/{target}")
        assert f'href="{url}"' in person.text
        confirm = await editor.get(url)
        assert confirm.status_code == 200 and ann.email in confirm.text
        csrf = csrf_from_html(confirm.text)
        assert (await editor.post(url, data={"_csrf_token": csrf})).status_code == 422
        done = await editor.post(url, data={"_csrf_token": csrf, "confirm": "yes"}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/admin/registrations/{target}"
        again = await editor.post(url, data={"_csrf_token": csrf, "confirm": "yes"})
        assert again.status_code == 409
        assert f'href="{url}"' not in (await editor.get(f"/admin/registrations/{target}")).text
    finally:
        await stack.aclose()

    after = {
        row["event"]: row
        for row in await Registration.select().where(Registration.id.is_in([r["id"] for r in ann_rows.values()]))
    }
    erased = {event for event, row in after.items() if row["anonymised_at"] is not None}
    assert erased == {world.info_a, world.net_a, co_hosted}  # organisation A's events
    assert after[world.info_b]["name"] == ann.name and after[world.day_b]["email"] == ann.email
    assert after[world.info_b]["status"] == after[world.day_b]["status"] == "confirmed"
    assert (await Meeting.select().where(Meeting.id == world.meeting_id).first())["status"] == "cancelled"

    # Organisation A's rows, mails and log hold nothing of her; B's still do.
    a_events = [world.info_a, world.net_a, co_hosted]
    a_mails = await OutboxMessage.select().where(OutboxMessage.event.is_in(a_events))
    assert traces_in(str(a_mails), ann) == []
    assert traces_in(str([after[e] for e in a_events]), ann) == []
    assert traces_in(str(await AuditLog.select().where(AuditLog.organisation == world.org_a.id)), ann) == []
    assert traces_in(str(after[world.info_b]), ann)
    [entry] = await AuditLog.select().where(
        (AuditLog.action == "person.erased") & (AuditLog.organisation == world.org_a.id)
    )
    assert entry["actor"].startswith("organiser:")
    assert json.loads(entry["detail"]) == {"registrations": 3, "cancelled": 3, "requested_through": "organiser"}
    bob_rows = await Registration.select().where(Registration.email_key == bob.email.lower())
    assert [(row["name"], row["anonymised_at"]) for row in bob_rows] == [(bob.name, None)] * 3  # untouched
