"""Who is acting, and what their roles allow. Rules only; the web layer builds the Actor."""

from __future__ import annotations

from dataclasses import dataclass, field

from events.services.errors import Forbidden, NotFound

ROLES = ("owner", "editor", "viewer")
EDIT_ROLES = frozenset({"owner", "editor"})


@dataclass(frozen=True)
class Actor:
    """An organiser (signed in) or an API token, with a role per organisation id."""

    kind: str  # "organiser" | "token" | "cli"
    id: int
    roles: dict[int, str] = field(default_factory=dict)
    name: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"

    def role_in(self, organisation_id: int) -> str | None:
        return self.roles.get(organisation_id)

    def can_edit_for(self, organisation_id: int) -> bool:
        return self.roles.get(organisation_id) in EDIT_ROLES


CLI_ACTOR = Actor(kind="cli", id=0)


def require_event_view(actor: Actor | None, owner_id: int, host_ids: list[int], status: str) -> None:
    """Published and cancelled events are public; drafts only for their hosts (404 otherwise)."""
    if status != "draft":
        return
    if actor is None or not any(actor.role_in(org) for org in (owner_id, *host_ids)):
        raise NotFound()


def require_event_edit(actor: Actor, owner_id: int, host_ids: list[int]) -> None:
    """Only owners and editors of the owning organisation edit; co-hosts see but may not edit.

    Someone with no tie to the event learns nothing about it: 404, not 403.
    """
    if actor.kind == "cli":
        return
    if actor.can_edit_for(owner_id):
        return
    if any(actor.role_in(org) for org in (owner_id, *host_ids)):
        raise Forbidden()
    raise NotFound()
