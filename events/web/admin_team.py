"""The team: invitations, roles, removal; API tokens; the audit log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from events.services.access import Actor
from events.web.auth import session_organiser


class AdminTeamController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    # Placeholder until the pages land: a controller needs at least one handler.
    @get("/_admin_team", name="admin_team-placeholder", sync_to_thread=False)
    def placeholder(self, organiser: NamedDependency[Actor]) -> dict[str, Any]:
        return {}


class InvitationController(Controller):
    """Accepting a team invitation from the link in its mail (signed in or not)."""

    path = "/invitations"
    include_in_schema = False

    @get("/_placeholder", name="invitation-placeholder", sync_to_thread=False)
    def placeholder(self) -> dict[str, Any]:
        return {}
