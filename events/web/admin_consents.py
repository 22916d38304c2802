"""Who consented to what, per event, as the consent ledger records it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from events.services.access import Actor
from events.web.auth import session_organiser


class AdminConsentController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    # Placeholder until the pages land: a controller needs at least one handler.
    @get("/_admin_consents", name="admin_consents-placeholder", sync_to_thread=False)
    def placeholder(self, organiser: NamedDependency[Actor]) -> dict[str, Any]:
        return {}
