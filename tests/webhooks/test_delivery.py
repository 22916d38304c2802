"""Webhooks delivered by the worker's sender to a real HTTP receiver on loopback: signatures,
the six event types, retries with backoff, disabling, and what emitting costs a registration."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from events.services import events as event_service
from events.services import registrations, webhooks
from events.services.access import CLI_ACTOR
from events.services.webhook_delivery import SenderConfig, deliver_due, run_webhook_sender
from events.tables import Event, OutboxMessage, Registration, Webhook, WebhookDelivery
from tests.consultations.helpers import advisor, day, day_payload, window
from tests.consultations.helpers import consultation as consultation_settings
from tests.integration.helpers import make_event, unique_slug
from tests.webhooks.conftest import Receiver, Reply
from tests.webhooks.helpers import deliveries_of, drain, new_org, person, subscribe, verify


async def test_a_delivery_is_signed_with_the_secret_and_a_fresh_timestamp(receiver: Receiver) -> None:
    org = await new_org()
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    await registrations.register(event_id, person(f"{unique_slug('sig')}@example.org"))

    assert await drain() == 1
    [got] = receiver.received
    assert got.path == "/hooks"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "Trefpunt-Webhooks/1"
    assert got.headers["trefpunt-event"] == "registration.created"
    assert got.headers["trefpunt-delivery"] == got.json["id"]
    assert verify(issued.secret, got.headers["trefpunt-signature"], got.body, tolerance=60)
    assert not verify("whsec_another", got.headers["trefpunt-signature"], got.body)
    assert not verify(issued.secret, got.headers["trefpunt-signature"], got.body + b" "), "the body is signed"
    [row] = await deliveries_of(issued.webhook.id)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 200)


async def test_each_event_type_arrives_once_with_the_owners_payload(receiver: Receiver, client: Any) -> None:
    org = await new_org()
    await subscribe(org, receiver.url)
    event_id = await make_event(org.id, capacity=1)  # publishing: event.updated
    first = f"{unique_slug('first')}@example.org"
    second = f"{unique_slug('second')}@example.org"
    ann = await registrations.register(event_id, person(first, phone="+32 470 11 22 33", company="Ann BV"))
    bob = await registrations.register(event_id, person(second))
    assert (ann.status, bob.status) == ("confirmed", "waitlisted")
    assert ann.manage_url
    await registrations.cancel_by_participant(ann.manage_url.rsplit("/", 1)[1])  # cancelled + promoted
    patch = msgspec.convert({"capacity": 3}, event_service.EventPatch)
    await event_service.update_event(CLI_ACTOR, event_id, patch)
    await event_service.cancel_event(CLI_ACTOR, event_id)

    # A consultation day of the same organisation: booking.created.
    token = await _token(org.slug)
    start = day(25)
    body = day_payload(
        start,
        start + timedelta(hours=4),
        consultation_settings([advisor("Ada", "ada@adv.example", [window(start, 60)])]),
    )
    created = await client.post("/api/v1/events", json=body, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    day_id = created.json()["id"]
    assert (
        await client.post(f"/api/v1/events/{day_id}/publish", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    slots = (await client.get(f"/api/v1/events/{day_id}/slots")).json()
    third = f"{unique_slug('third')}@example.org"
    booked = await client.post(
        f"/api/v1/slots/{slots[0]['id']}/booking", json={"name": "Cas", "email": third, "language": "fr"}
    )
    assert booked.status_code == 201, booked.text

    await drain()
    await drain()  # nothing is sent twice
    counts = {t: len(receiver.of_type(t)) for t in webhooks.EVENT_TYPES}
    # event.updated: publish, the capacity change, and the day's publication.
    assert counts == {
        "registration.created": 2,
        "registration.cancelled": 1,
        "registration.promoted": 1,
        "booking.created": 1,
        "event.updated": 3,
        "event.cancelled": 1,
    }, counts
    assert len({r.json["id"] for r in receiver.received}) == len(receiver.received)

    created_ann = next(
        r.json for r in receiver.of_type("registration.created") if r.json["data"]["registration"]["email"] == first
    )
    assert created_ann["organisation"] == org.slug and created_ann["type"] == "registration.created"
    datetime.fromisoformat(created_ann["created_at"])
    registration = created_ann["data"]["registration"]
    assert registration["name"] == f"Person {first.split('@')[0]}"
    assert (registration["phone"], registration["company"], registration["status"]) == (
        "+32 470 11 22 33",
        "Ann BV",
        "confirmed",
    )
    assert registration["redacted"] is False and registration["language"] == "nl"
    event = created_ann["data"]["event"]
    assert event["id"] == event_id and event["title"]["nl"] == "Infosessie microkrediet"
    assert event["url"].endswith(f"/events/{event_id}") and event["status"] == "published"
    assert set(event) == {"id", "uid", "title", "starts_at", "ends_at", "status", "sequence", "url"}
    assert created_ann["data"]["booking"] is None

    [cancelled] = receiver.of_type("registration.cancelled")
    assert cancelled.json["data"]["registration"]["email"] == first
    assert cancelled.json["data"]["registration"]["status"] == "cancelled"
    [promoted] = receiver.of_type("registration.promoted")
    assert promoted.json["data"]["registration"]["email"] == second
    assert promoted.json["data"]["registration"]["status"] == "confirmed"
    [gone] = receiver.of_type("event.cancelled")
    stored = await Event.select(Event.sequence).where(Event.id == event_id).first()
    assert stored is not None
    assert gone.json["data"]["event"]["status"] == "cancelled"
    assert gone.json["data"]["event"]["sequence"] == stored["sequence"]
    assert gone.json["data"]["registration"] is None
    [booking] = receiver.of_type("booking.created")
    assert booking.json["data"]["registration"]["email"] == third
    assert booking.json["data"]["booking"]["slot_id"] == slots[0]["id"]
    assert booking.json["data"]["booking"]["advisor"]["name"] == "Ada"
    assert booking.json["data"]["event"]["id"] == day_id


async def _token(slug: str) -> str:
    from tests.integration.helpers import make_token

    return await make_token(slug)


async def test_emitting_the_same_change_twice_writes_one_delivery(receiver: Receiver) -> None:
    org = await new_org()
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    result = await registrations.register(event_id, person(f"{unique_slug('twice')}@example.org"))
    assert result.id is not None
    from events.db import write_transaction

    async with write_transaction():
        assert await webhooks.emit("registration.created", event_id, result.id) == 0
    assert len(await deliveries_of(issued.webhook.id)) == 1


async def test_a_500_is_retried_with_backoff_and_then_delivered_once(receiver: Receiver) -> None:
    org = await new_org()
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    receiver.script = [Reply(500)]
    await registrations.register(event_id, person(f"{unique_slug('retry')}@example.org"))

    before = datetime.now(UTC)
    assert await drain() == 1
    [row] = await deliveries_of(issued.webhook.id)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("queued", 1, 500)
    assert "receiver says no" in row["last_error"]
    wait = row["next_attempt_at"] - before
    assert timedelta(seconds=23) <= wait <= timedelta(seconds=40), wait
    assert await drain() == 0, "not due yet"

    assert await drain(now=datetime.now(UTC) + timedelta(minutes=1)) == 1
    [row] = await deliveries_of(issued.webhook.id)
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == ("delivered", 2, 200, "")
    first, second = receiver.received
    assert first.body == second.body and first.headers["trefpunt-delivery"] == second.headers["trefpunt-delivery"]
    assert verify(issued.secret, second.headers["trefpunt-signature"], second.body)
    hook = await Webhook.select().where(Webhook.id == issued.webhook.id).first()
    assert hook is not None and hook["consecutive_failures"] == 0 and hook["last_success_at"] is not None


async def test_a_timeout_is_retried_and_the_next_attempt_succeeds(receiver: Receiver) -> None:
    org = await new_org()
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    receiver.script = [Reply(200, delay=3.0)]
    await registrations.register(event_id, person(f"{unique_slug('slow')}@example.org"))
    quick = SenderConfig(read_timeout=0.5, total_timeout=1.0)

    started = time.monotonic()
    assert await drain(quick) == 1
    assert time.monotonic() - started < 2.5, "the sender gives up after its timeout"
    [row] = await deliveries_of(issued.webhook.id)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("queued", 1, None)
    assert row["last_error"].startswith("timeout")

    assert await drain(quick, now=datetime.now(UTC) + timedelta(minutes=1)) == 1
    [row] = await deliveries_of(issued.webhook.id)
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    assert len(receiver.received) == 2


async def test_backoff_grows_and_a_delivery_fails_after_eight_attempts(receiver: Receiver) -> None:
    org = await new_org()
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    receiver.default = Reply(503)
    await registrations.register(event_id, person(f"{unique_slug('down')}@example.org"))
    waits = []
    now = datetime.now(UTC)
    for _ in range(8):
        assert await drain(now=now) == 1
        [row] = await deliveries_of(issued.webhook.id)
        waits.append(row["next_attempt_at"] - now)
        now = row["next_attempt_at"] + timedelta(seconds=1)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("failed", 8, 503)
    assert waits[0] < waits[1] < waits[2] < waits[3] < waits[4], waits
    assert await drain(now=now + timedelta(days=30)) == 0
    assert len(receiver.received) == 8


async def test_ten_failures_in_a_row_disable_the_webhook_and_mail_the_owners(receiver: Receiver) -> None:
    from events.services import organisers

    org = await new_org()
    second_owner = f"{unique_slug('owner2')}@people.example"
    editor = f"{unique_slug('editor')}@people.example"
    await organisers.create_organiser(second_owner, org.slug, role="owner")
    await organisers.create_organiser(editor, org.slug, role="editor")
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    receiver.default = Reply(500)
    for n in range(2):
        await registrations.register(event_id, person(f"{unique_slug(f'p{n}')}@example.org"))

    now = datetime.now(UTC)
    for _ in range(5):  # two deliveries, five rounds: ten failed attempts in a row
        hook = await Webhook.select().where(Webhook.id == issued.webhook.id).first()
        assert hook is not None and hook["active"], "still on before the tenth failure"
        await drain(now=now)
        now += timedelta(days=1)
    hook = await Webhook.select().where(Webhook.id == issued.webhook.id).first()
    assert hook is not None
    assert (hook["active"], hook["consecutive_failures"]) == (False, 10) and hook["disabled_at"] is not None
    assert [r["status"] for r in await deliveries_of(issued.webhook.id)] == ["failed", "failed"]
    mails = await OutboxMessage.select().where(OutboxMessage.kind == "webhook_disabled")
    mine = sorted(m["recipient"] for m in mails if m["organisation"] == org.id)
    assert mine == sorted([org.owner_email, second_owner]), "each owner, not the editor"
    text = next(m for m in mails if m["recipient"] == org.owner_email)
    assert receiver.url in text["text_body"] and f"/admin/webhooks/{issued.webhook.id}" in text["text_body"]
    assert text["subject"].startswith("Webhook disabled")

    # Nothing more goes out, not even for new registrations.
    sent = len(receiver.received)
    assert sent == 10
    await registrations.register(event_id, person(f"{unique_slug('later')}@example.org"))
    assert await drain(now=now + timedelta(days=1)) == 0
    assert len(receiver.received) == sent


async def test_a_410_gone_disables_the_webhook_at_once(receiver: Receiver) -> None:
    org = await new_org()
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    receiver.script = [Reply(410)]
    await registrations.register(event_id, person(f"{unique_slug('gone')}@example.org"))
    await drain()
    hook = await Webhook.select().where(Webhook.id == issued.webhook.id).first()
    assert hook is not None and hook["active"] is False
    [row] = await deliveries_of(issued.webhook.id)
    assert (row["status"], row["last_status_code"]) == ("failed", 410)
    assert (
        await OutboxMessage.count().where(
            (OutboxMessage.kind == "webhook_disabled") & (OutboxMessage.recipient == org.owner_email)
        )
        == 1
    )


async def test_no_delivery_to_a_disabled_webhook(receiver: Receiver) -> None:
    org = await new_org()
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    await registrations.register(event_id, person(f"{unique_slug('queued')}@example.org"))
    await webhooks.set_active(org.owner, org.id, issued.webhook.id, False)
    [row] = await deliveries_of(issued.webhook.id)
    assert (row["status"], row["last_error"]) == ("failed", webhooks.SKIPPED_DISABLED)
    await registrations.register(event_id, person(f"{unique_slug('after')}@example.org"))
    assert len(await deliveries_of(issued.webhook.id)) == 1, "a disabled webhook gets no new deliveries"
    assert await drain(now=datetime.now(UTC) + timedelta(days=1)) == 0

    # Switched off between emit and send (e.g. by another worker): claimed, but skipped.
    await webhooks.set_active(org.owner, org.id, issued.webhook.id, True)
    await registrations.register(event_id, person(f"{unique_slug('race')}@example.org"))
    await Webhook.update({Webhook.active: False}).where(Webhook.id == issued.webhook.id)
    assert await drain() == 1
    assert [r["status"] for r in await deliveries_of(issued.webhook.id)] == ["failed", "failed"]
    assert receiver.received == []


async def test_a_receiver_that_hangs_does_not_slow_registrations(receiver: Receiver) -> None:
    """Baseline first: registrations of an organisation without webhooks. Then the same with a
    webhook whose receiver sits on every request, while the sender runs (default 5 s timeouts)."""
    quiet = await new_org("quiet")
    busy = await new_org("busy")
    quiet_event = await make_event(quiet.id, capacity=100)
    busy_event = await make_event(busy.id, capacity=100)
    await subscribe(busy, receiver.url)
    receiver.default = Reply(200, delay=30.0)

    async def timings(event_id: int, label: str) -> list[float]:
        spent = []
        for n in range(8):
            started = time.perf_counter()
            result = await registrations.register(event_id, person(f"{unique_slug(f'{label}{n}')}@example.org"))
            spent.append(time.perf_counter() - started)
            assert result.status == "confirmed"
        return spent

    baseline = await timings(quiet_event, "q")
    stop = asyncio.Event()
    sender = asyncio.create_task(run_webhook_sender(stop, SenderConfig(poll_interval=0.05)))
    try:
        await asyncio.sleep(0.2)
        with_hook = await timings(busy_event, "b")
        await asyncio.sleep(0.3)
        assert receiver.connections >= 1, "the sender was busy with the hanging receiver meanwhile"
    finally:
        stop.set()
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    assert statistics.median(with_hook) < 3 * statistics.median(baseline) + 0.05, (baseline, with_hook)
    assert max(with_hook) < 1.0, "nobody waited for the receiver's 5-second timeout"
    rows = await WebhookDelivery.count().where(WebhookDelivery.event_type == "registration.created")
    assert rows >= 8


async def test_the_ssrf_guard_refuses_private_destinations_at_send_time(
    receiver: Receiver, private_destinations_refused: None
) -> None:
    org = await new_org()
    event_id = await make_event(org.id)
    # Stored as if saved before the rule (or through a name that resolves inside): the sender
    # checks what the name resolves to when it connects.
    rows = await Webhook.insert(
        Webhook(
            organisation=org.id,
            url=receiver.url.replace("127.0.0.1", "localhost"),
            secret=webhooks.new_secret(),
            events="registration.created",
        )
    )
    await registrations.register(event_id, person(f"{unique_slug('ssrf')}@example.org"))
    assert await drain() == 1
    [row] = await deliveries_of(rows[0]["id"])
    assert row["status"] == "failed" and row["last_error"].startswith("refused:"), row["last_error"]
    assert receiver.connections == 0 and receiver.received == []

    # The same receiver with private destinations allowed (TREFPUNT_WEBHOOK_ALLOW_PRIVATE=on).
    await WebhookDelivery.update({WebhookDelivery.status: "queued", WebhookDelivery.attempts: 0}).where(
        WebhookDelivery.id == row["id"]
    )
    assert await deliver_due(SenderConfig(allow_private=True)) == 1
    assert len(receiver.received) == 1


def test_saving_a_webhook_refuses_non_http_and_private_addresses() -> None:
    refused = [
        "ftp://example.org/hook",
        "javascript:alert(1)",
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://224.0.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "https://user:pass@example.org/hook",
        "https://example.org/\r\nhook",
    ]
    for url in refused:
        try:
            webhooks.check_url(url, allow_private=False)
        except webhooks.InvalidInput:
            continue
        raise AssertionError(f"{url} was accepted")
    assert webhooks.check_url(" https://crm.example.org/hooks/trefpunt ", allow_private=False) == (
        "https://crm.example.org/hooks/trefpunt"
    )
    assert webhooks.check_url("http://127.0.0.1:8000/hook", allow_private=True) == "http://127.0.0.1:8000/hook"
    assert not webhooks.forbidden_address("93.184.215.14")
    assert all(webhooks.forbidden_address(a) for a in ("127.0.0.1", "::1", "10.0.0.1", "fe80::1", "100.64.0.1"))


async def test_a_stored_payload_is_json_with_the_documented_shape(receiver: Receiver) -> None:
    org = await new_org()
    issued = await subscribe(org, receiver.url, ("registration.created",))
    event_id = await make_event(org.id)
    result = await registrations.register(event_id, person(f"{unique_slug('shape')}@example.org"))
    [row] = await deliveries_of(issued.webhook.id)
    payload = json.loads(row["payload"])
    assert set(payload) == {"id", "type", "created_at", "organisation", "data"}
    assert set(payload["data"]) == {"event", "registration", "booking"}
    assert set(payload["data"]["registration"]) >= {
        "id",
        "status",
        "name",
        "email",
        "phone",
        "company",
        "language",
        "answers",
        "created_at",
    }
    registration = await Registration.select().where(Registration.id == result.id).first()
    assert registration is not None and payload["data"]["registration"]["email"] == registration["email"]
