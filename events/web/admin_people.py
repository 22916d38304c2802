"""Attendees beyond the list: add by hand, mail a selection, QR check-in, attendance sheet, no-shows."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from events.services.access import Actor
from events.web.auth import session_organiser


class AdminPeopleController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    # Placeholder until the pages land: a controller needs at least one handler.
    @get("/_admin_people", name="admin_people-placeholder", sync_to_thread=False)
    def placeholder(self, organiser: NamedDependency[Actor]) -> dict[str, Any]:
        return {}
