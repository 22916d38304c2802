"""Helpers of the webhook tests: organisations with their people, webhooks, the sender."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.services import organisers, webhooks
from events.services.access import Actor
from events.services.registrations import RegistrationInput
from events.services.webhook_delivery import SenderConfig, deliver_due
from events.tables import WebhookDelivery
from tests.conftest import unique_slug
from tests.integration.helpers import make_organisation


@dataclass
class Org:
    slug: str
    id: int
    owner: Actor
    owner_email: str


async def actor_for(organiser_id: int) -> Actor:
    actor = await organisers.organiser_actor(organiser_id)
    assert actor is not None
    return actor


async def new_org(prefix: str = "hooks") -> Org:
    slug, org_id = await make_organisation(prefix)
    email = f"{unique_slug('owner')}@people.example"
    owner_id = await organisers.create_organiser(email, slug, role="owner", language="en")
    return Org(slug, org_id, await actor_for(owner_id), email)


async def subscribe(org: Org, url: str, events: tuple[str, ...] = webhooks.EVENT_TYPES) -> webhooks.IssuedSecret:
    return await webhooks.create_webhook(org.owner, org.id, url, "Test receiver", list(events))


def person(email: str, **extra: Any) -> RegistrationInput:
    return RegistrationInput(name=f"Person {email.split('@')[0]}", email=email, language="nl", **extra)


async def drain(config: SenderConfig | None = None, now: datetime | None = None, rounds: int = 10) -> int:
    """Run the sender until nothing is due (at `now`); returns how many deliveries were handled."""
    total = 0
    for _ in range(rounds):
        handled = await deliver_due(config, now=now)
        if not handled:
            break
        total += handled
    return total


async def deliveries_of(webhook_id: int) -> list[dict[str, Any]]:
    return await WebhookDelivery.select().where(WebhookDelivery.webhook == webhook_id).order_by(WebhookDelivery.id)


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does (the README's recipe): recompute the HMAC, compare in constant time,
    and refuse a stale timestamp."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance
