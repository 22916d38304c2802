"""Webhooks: an organisation's subscriptions, the payloads it may receive, and `emit`.

A webhook subscribes one URL of an organisation to some of EVENT_TYPES. A use case that changes
something calls `emit(...)` inside its own write transaction: that writes one WebhookDelivery
row per active, subscribed webhook of the event's owner and co-hosts — an outbox, like mail —
and nothing else, so a slow or dead receiver never slows the change. The worker sends the rows
(events/services/webhook_delivery.py).

Each organisation's payload is built for that organisation with visibility.seen_by: a co-host
without the person's consent gets a pseudonym, no contact details and no answers.

Owners manage webhooks; editors read them and their delivery log (payloads hold what the
organisation already sees); viewers get 403, other organisations 404. The secret is shown once,
when the webhook is created or its secret rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from piccolo.query import WhereRaw

from events.db import write_transaction
from events.services import audit
from events.services.access import Actor
from events.services.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from events.services.hosts import hosts_of
from events.services.team import require_member, require_owner
from events.services.visibility import answers_of, consented_organisations, seen_by
from events.settings import LANGUAGES, get_settings
from events.tables import Advisor, Event, Organisation, Registration, Slot, Webhook, WebhookDelivery

EVENT_TYPES = (
    "registration.created",
    "registration.cancelled",
    "registration.promoted",
    "booking.created",
    "event.updated",
    "event.cancelled",
)
PING = "ping"
SIGNATURE_HEADER = "Trefpunt-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret  # nosec B105
LOG_PAGE_SIZE = 50


# Rules on URLs and addresses -------------------------------------------------------------------


def forbidden_address(address: str) -> bool:
    """Loopback, private, link-local, multicast, reserved or otherwise non-public addresses: a
    webhook must not make Trefpunt reach into its own network (SSRF)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _local_name(host: str) -> bool:
    host = host.rstrip(".").lower()
    return host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".home.arpa"))


def check_url(url: str, *, allow_private: bool | None = None) -> str:
    """A webhook URL as stored: http(s), a host, no credentials; with private destinations not
    allowed, no IP literal or local name that points inside. (Names are resolved and checked
    again at every send: DNS can change.)"""
    if allow_private is None:
        allow_private = get_settings().webhook_allow_private
    url = url.strip()
    invalid = InvalidInput(N_("Enter a full http:// or https:// address."), field="url")
    if not url or len(url) > 500 or any(ord(c) <= 32 or c == "\x7f" for c in url):
        raise invalid
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(N_("Leave user names and passwords out of the address."), field="url")
    if port == 0:
        raise invalid
    if not allow_private:
        host = parts.hostname
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            literal = True
        except ValueError:
            literal = False
        if (literal and forbidden_address(host)) or _local_name(host):
            raise InvalidInput(
                N_("Webhooks can only be sent to public addresses, not to local or private networks."), field="url"
            )
    return url


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Trefpunt-Signature header value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


# Access ----------------------------------------------------------------------------------------


def require_reader(actor: Actor, organisation_id: int) -> str:
    """Owners and editors read webhooks and their log; viewers 403; outsiders 404."""
    role = require_member(actor, organisation_id)
    if role not in ("owner", "editor"):
        raise Forbidden()
    return role


# Views -----------------------------------------------------------------------------------------


class WebhookView(msgspec.Struct, kw_only=True):
    id: int
    organisation_id: int
    url: str
    description: str
    events: list[str]
    active: bool
    consecutive_failures: int
    created_at: datetime
    disabled_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None


class DeliveryView(msgspec.Struct, kw_only=True):
    id: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    payload: str  # pretty-printed for the log's payload viewer


class DeliveryLog(msgspec.Struct):
    webhook: WebhookView
    deliveries: list[DeliveryView]
    page: int
    has_next: bool


class IssuedSecret(msgspec.Struct):
    """A webhook and its secret: `secret` is shown in this response only."""

    webhook: WebhookView
    secret: str


def _events_of(value: str) -> list[str]:
    return [e for e in value.split(",") if e]


def _view(row: dict[str, Any]) -> WebhookView:
    return WebhookView(
        id=row["id"],
        organisation_id=row["organisation"],
        url=row["url"],
        description=row["description"],
        events=_events_of(row["events"]),
        active=row["active"],
        consecutive_failures=row["consecutive_failures"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        last_success_at=row["last_success_at"],
        last_failure_at=row["last_failure_at"],
    )


def _delivery_view(row: dict[str, Any]) -> DeliveryView:
    try:
        pretty = json.dumps(json.loads(row["payload"]), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = row["payload"]
    return DeliveryView(
        id=row["id"],
        event_type=row["event_type"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        payload=pretty,
    )


_PUBLIC_COLUMNS = [c for c in Webhook.all_columns() if c._meta.name != "secret"]


async def _row(organisation_id: int, webhook_id: int) -> dict[str, Any]:
    row = (
        await Webhook.select(*_PUBLIC_COLUMNS)
        .where((Webhook.id == webhook_id) & (Webhook.organisation == organisation_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


# Managing subscriptions --------------------------------------------------------------------------


def check_events(chosen: list[str]) -> str:
    wanted = [e for e in EVENT_TYPES if e in set(chosen)]
    if not wanted or len(set(chosen)) != len(wanted):
        raise InvalidInput(N_("Choose at least one event to send."), field="events")
    return ",".join(wanted)


async def list_webhooks(actor: Actor, organisation_id: int) -> list[WebhookView]:
    require_reader(actor, organisation_id)
    rows = (
        await Webhook.select(*_PUBLIC_COLUMNS)
        .where(Webhook.organisation == organisation_id)
        .order_by(Webhook.id, ascending=False)
    )
    return [_view(row) for row in rows]


async def get_webhook(actor: Actor, organisation_id: int, webhook_id: int) -> WebhookView:
    require_reader(actor, organisation_id)
    return _view(await _row(organisation_id, webhook_id))


async def create_webhook(
    actor: Actor, organisation_id: int, url: str, description: str, events: list[str]
) -> IssuedSecret:
    """An owner subscribes a URL; the secret is in the result only (show it once)."""
    require_owner(actor, organisation_id)
    url = check_url(url)
    description = " ".join(description.split())
    if len(description) > 200:
        raise InvalidInput(N_("Keep the description under 200 characters."), field="description")
    chosen = check_events(events)
    secret = new_secret()
    async with write_transaction():
        rows = await Webhook.insert(
            Webhook(organisation=organisation_id, url=url, description=description, events=chosen, secret=secret)
        )
        webhook_id = int(rows[0]["id"])
        await audit.record(
            actor,
            "webhook.created",
            organisation_id=organisation_id,
            target=f"webhook:{webhook_id}",
            url=url,
            events=chosen,
        )
    return IssuedSecret(webhook=_view(await _row(organisation_id, webhook_id)), secret=secret)


async def skip_queued(webhook_id: int, reason: str) -> None:
    """Deliveries still waiting for a disabled webhook are never sent: they fail with the reason."""
    await WebhookDelivery.update(
        {WebhookDelivery.status: "failed", WebhookDelivery.last_error: reason, WebhookDelivery.lease_until: None}
    ).where((WebhookDelivery.webhook == webhook_id) & (WebhookDelivery.status == "queued"))


SKIPPED_DISABLED = "skipped: the webhook is disabled"


async def set_active(actor: Actor, organisation_id: int, webhook_id: int, active: bool) -> None:
    """Enable (the failure count starts again) or disable a webhook; disabling drops what waits."""
    require_owner(actor, organisation_id)
    async with write_transaction():
        row = await _row(organisation_id, webhook_id)
        if row["active"] == active:
            return
        now = datetime.now(UTC)
        if active:
            values: dict[Any, Any] = {Webhook.active: True, Webhook.disabled_at: None, Webhook.consecutive_failures: 0}
        else:
            values = {Webhook.active: False, Webhook.disabled_at: now}
            await skip_queued(webhook_id, SKIPPED_DISABLED)
        await Webhook.update(values).where(Webhook.id == webhook_id)
        await audit.record(
            actor,
            "webhook.enabled" if active else "webhook.disabled",
            organisation_id=organisation_id,
            target=f"webhook:{webhook_id}",
            url=row["url"],
        )


async def delete_webhook(actor: Actor, organisation_id: int, webhook_id: int) -> None:
    """Remove a webhook with its delivery log."""
    require_owner(actor, organisation_id)
    async with write_transaction():
        row = await _row(organisation_id, webhook_id)
        await WebhookDelivery.delete().where(WebhookDelivery.webhook == webhook_id)
        await Webhook.delete().where(Webhook.id == webhook_id)
        await audit.record(
            actor, "webhook.deleted", organisation_id=organisation_id, target=f"webhook:{webhook_id}", url=row["url"]
        )


async def rotate_secret(actor: Actor, organisation_id: int, webhook_id: int) -> IssuedSecret:
    """A new secret at once (deliveries still queued are signed with it when sent)."""
    require_owner(actor, organisation_id)
    secret = new_secret()
    async with write_transaction():
        await _row(organisation_id, webhook_id)
        await Webhook.update({Webhook.secret: secret}).where(Webhook.id == webhook_id)
        await audit.record(
            actor, "webhook.secret_rotated", organisation_id=organisation_id, target=f"webhook:{webhook_id}"
        )
    return IssuedSecret(webhook=_view(await _row(organisation_id, webhook_id)), secret=secret)


async def send_ping(actor: Actor, organisation_id: int, webhook_id: int) -> int:
    """Queue a `ping` delivery to test the receiver; returns the delivery id."""
    require_owner(actor, organisation_id)
    async with write_transaction():
        row = await _row(organisation_id, webhook_id)
        if not row["active"]:
            raise Conflict(N_("Enable the webhook first."))
        slug = await _slug(organisation_id)
        delivery_uuid = str(uuid.uuid4())
        payload = _envelope(delivery_uuid, PING, slug, {"webhook": {"id": webhook_id, "url": row["url"]}})
        rows = await WebhookDelivery.insert(
            WebhookDelivery(
                webhook=webhook_id, event_type=PING, dedupe_key=f"ping:{webhook_id}:{delivery_uuid}", payload=payload
            )
        )
        await audit.record(actor, "webhook.pinged", organisation_id=organisation_id, target=f"webhook:{webhook_id}")
    return int(rows[0]["id"])


async def delivery_log(actor: Actor, organisation_id: int, webhook_id: int, page: int = 1) -> DeliveryLog:
    """The webhook and its deliveries, newest first."""
    require_reader(actor, organisation_id)
    webhook = _view(await _row(organisation_id, webhook_id))
    rows = (
        await WebhookDelivery.select()
        .where(WebhookDelivery.webhook == webhook_id)
        .order_by(WebhookDelivery.id, ascending=False)
        .offset((page - 1) * LOG_PAGE_SIZE)
        .limit(LOG_PAGE_SIZE + 1)
    )
    return DeliveryLog(
        webhook=webhook,
        deliveries=[_delivery_view(r) for r in rows[:LOG_PAGE_SIZE]],
        page=page,
        has_next=len(rows) > LOG_PAGE_SIZE,
    )


async def resend(actor: Actor, organisation_id: int, webhook_id: int, delivery_id: int) -> None:
    """Send a failed delivery again (same payload and id, so receivers can tell it is the same)."""
    require_owner(actor, organisation_id)
    async with write_transaction():
        row = await _row(organisation_id, webhook_id)
        delivery = (
            await WebhookDelivery.select(WebhookDelivery.status)
            .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.webhook == webhook_id))
            .first()
        )
        if delivery is None:
            raise NotFound()
        if delivery["status"] != "failed":
            raise Conflict(N_("Only a failed delivery can be sent again."))
        if not row["active"]:
            raise Conflict(N_("Enable the webhook first."))
        await WebhookDelivery.update(
            {
                WebhookDelivery.status: "queued",
                WebhookDelivery.attempts: 0,
                WebhookDelivery.next_attempt_at: datetime.now(UTC),
                WebhookDelivery.lease_until: None,
            }
        ).where(WebhookDelivery.id == delivery_id)
        await audit.record(
            actor,
            "webhook.delivery_resent",
            organisation_id=organisation_id,
            target=f"webhook:{webhook_id}",
            delivery=delivery_id,
        )


# Payloads and emit ------------------------------------------------------------------------------


async def _slug(organisation_id: int) -> str:
    row = await Organisation.select(Organisation.slug).where(Organisation.id == organisation_id).first()
    return str(row["slug"]) if row else ""


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _envelope(delivery_uuid: str, event_type: str, organisation_slug: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {
            "id": delivery_uuid,
            "type": event_type,
            "created_at": _iso(datetime.now(UTC)),
            "organisation": organisation_slug,
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def event_data(row: dict[str, Any]) -> dict[str, Any]:
    """The event part of a payload (the same for every organisation: events are public)."""
    return {
        "id": row["id"],
        "uid": row["uid"],
        "title": {lang: row[f"title_{lang}"] for lang in LANGUAGES if row[f"title_{lang}"]},
        "starts_at": _iso(row["starts_at"]),
        "ends_at": _iso(row["ends_at"]),
        "status": row["status"],
        "sequence": row["sequence"],
        "url": f"{get_settings().base_url}/events/{row['id']}",
    }


def registration_data(
    row: dict[str, Any], organisation_id: int, owner_id: int, consented_to: set[int]
) -> dict[str, Any]:
    """A registration as `organisation_id` may see it (visibility.seen_by decides)."""
    shown = seen_by(row, {organisation_id}, owner_id, consented_to)
    return {
        "id": row["id"],
        "status": shown["status"],
        "name": shown["name"],
        "email": shown["email"],
        "phone": shown["phone"],
        "company": shown["company"],
        "language": shown["language"],
        "answers": answers_of(shown),
        "redacted": shown["redacted"],
        "created_at": _iso(row["created_at"]),
    }


async def _booking_data(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["slot"] is None:
        return None
    slot = await Slot.select().where(Slot.id == row["slot"]).first()
    if slot is None:
        return None
    adviser = await Advisor.select(Advisor.id, Advisor.name).where(Advisor.id == slot["advisor"]).first()
    return {
        "id": row["id"],
        "uid": row["booking_uid"],
        "slot_id": slot["id"],
        "starts_at": _iso(slot["starts_at"]),
        "ends_at": _iso(slot["ends_at"]),
        "advisor": {"id": adviser["id"], "name": adviser["name"]} if adviser else None,
    }


def _version(event_type: str, event: dict[str, Any], registration: dict[str, Any] | None) -> str:
    """What makes this change unique: the same change emitted twice gives the same dedupe key."""
    if event_type == "event.updated":
        return f"event:{event['id']}:{event['sequence']}:{event['updated_at'].timestamp():.6f}"
    if event_type == "event.cancelled":
        return f"event:{event['id']}:{event['sequence']}"
    assert registration is not None
    moment = {"registration.cancelled": "cancelled_at", "registration.promoted": "promoted_at"}.get(event_type)
    stamp = registration[moment] if moment else None
    ref = f"registration:{registration['id']}"
    return f"{ref}:{stamp.timestamp():.6f}" if stamp else ref


async def emit(event_type: str, event_id: int, registration: int | dict[str, Any] | None = None) -> int:
    """Queue `event_type` for every active webhook of the event's owner and co-hosts that
    subscribes to it, each with the payload that organisation may see. Call inside the use
    case's write transaction (it reads the state as that transaction left it). Returns how
    many deliveries were written; emitting the same change twice writes nothing new."""
    if event_type not in EVENT_TYPES:
        raise ValueError(event_type)
    # One query when nobody subscribes (the usual case): registrations must stay fast.
    hosting = WhereRaw(
        "organisation IN (SELECT organisation FROM event WHERE id = {} "
        "UNION SELECT organisation FROM event_host WHERE event = {})",
        event_id,
        event_id,
    )
    hooks = [
        hook
        for hook in await Webhook.select(Webhook.id, Webhook.organisation, Webhook.events).where(
            hosting & (Webhook.active == True)  # noqa: E712
        )
        if event_type in _events_of(hook["events"])
    ]
    if not hooks:
        return 0
    owner_id, _ = await hosts_of(event_id)
    event = await Event.select().where(Event.id == event_id).first()
    assert event is not None
    reg_row: dict[str, Any] | None = None
    if registration is not None:
        registration_id = registration if isinstance(registration, int) else registration["id"]
        reg_row = await Registration.select().where(Registration.id == registration_id).first()
        assert reg_row is not None
    consented = (await consented_organisations([reg_row["id"]]))[reg_row["id"]] if reg_row else set()
    booking = await _booking_data(reg_row) if reg_row is not None and event_type == "booking.created" else None
    version = _version(event_type, event, reg_row)
    slugs = {
        row["id"]: row["slug"]
        for row in await Organisation.select(Organisation.id, Organisation.slug).where(
            Organisation.id.is_in(sorted({h["organisation"] for h in hooks}))
        )
    }
    rows = []
    for hook in hooks:
        organisation_id = hook["organisation"]
        data = {
            "event": event_data(event),
            "registration": registration_data(reg_row, organisation_id, owner_id, consented) if reg_row else None,
            "booking": booking,
        }
        rows.append(
            WebhookDelivery(
                webhook=hook["id"],
                event_type=event_type,
                dedupe_key=f"{event_type}:{version}:w{hook['id']}"[:200],
                payload=_envelope(str(uuid.uuid4()), event_type, slugs.get(organisation_id, ""), data),
            )
        )
    inserted = await (
        WebhookDelivery.insert(*rows)
        .on_conflict(target=WebhookDelivery.dedupe_key, action="DO NOTHING")
        .returning(WebhookDelivery.id)
    )
    return len(inserted)
