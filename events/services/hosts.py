"""Which organisations host an event, and whether an actor may see or change it as a host."""

from __future__ import annotations

from events.services.access import EDIT_ROLES, Actor, require_event_edit
from events.services.errors import Forbidden, NotFound
from events.tables import Event, EventHost


async def hosts_of(event_id: int) -> tuple[int, list[int]]:
    """The owning organisation and the co-hosts of an event; 404 when there is no such event."""
    event = await Event.select(Event.organisation).where(Event.id == event_id).first()
    if event is None:
        raise NotFound()
    rows = await EventHost.select(EventHost.organisation).where(EventHost.event == event_id)
    return event["organisation"], [row["organisation"] for row in rows]


async def require_host(actor: Actor, event_id: int) -> int:
    """Any role in the owner or a co-host may see an event's organiser views; others get 404.
    Returns the owning organisation."""
    owner, co_hosts = await hosts_of(event_id)
    if not any(actor.role_in(org) for org in (owner, *co_hosts)):
        raise NotFound()
    return owner


async def require_door(actor: Actor, event_id: int) -> int:
    """Checking people in is the door's work, shared by the hosts: owners and editors of the
    owning organisation or of a co-host (viewers: 403, others: 404). Returns the owner."""
    owner, co_hosts = await hosts_of(event_id)
    roles = [actor.role_in(org) for org in (owner, *co_hosts)]
    if actor.kind == "cli" or any(role in EDIT_ROLES for role in roles):
        return owner
    if any(roles):
        raise Forbidden()
    raise NotFound()


def can_work_the_door(actor: Actor, owner: int, co_hosts: list[int]) -> bool:
    return any(actor.can_edit_for(org) for org in (owner, *co_hosts))


async def require_editor(actor: Actor, event_id: int) -> int:
    """Owners and editors of the owning organisation change an event (co-hosts: 403, others:
    404). Returns the owning organisation."""
    owner, co_hosts = await hosts_of(event_id)
    require_event_edit(actor, owner, co_hosts)
    return owner
