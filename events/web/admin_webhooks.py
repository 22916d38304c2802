"""Webhooks: subscriptions per organisation, their secret, test ping and delivery log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from events.services.access import Actor
from events.web.auth import session_organiser


class AdminWebhookController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    # Placeholder until the pages land: a controller needs at least one handler.
    @get("/_admin_webhooks", name="admin_webhooks-placeholder", sync_to_thread=False)
    def placeholder(self, organiser: NamedDependency[Actor]) -> dict[str, Any]:
        return {}
