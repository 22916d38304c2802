"""An event's parts: questions, consent purposes, consultation advisors and windows, meeting slots and tables."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from events.services.access import Actor
from events.web.auth import session_organiser


class AdminEventPartsController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    # Placeholder until the pages land: a controller needs at least one handler.
    @get("/_admin_event_parts", name="admin_event_parts-placeholder", sync_to_thread=False)
    def placeholder(self, organiser: NamedDependency[Actor]) -> dict[str, Any]:
        return {}
