"""Who is looking at an event's people, and what of them they may see.

Every organiser view of participants (lists, exports, check-in, person page, day overview,
networking schedule, the organiser API) starts with `host_view()` and passes its rows through
`shown()`: the rule itself is `visibility.seen_by`, applied to a whole batch with one query of
the consent ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from events.services.access import Actor
from events.services.errors import NotFound
from events.services.hosts import hosts_of
from events.services.visibility import consented_organisations, pseudonym, seen_by, sees_contact


@dataclass(frozen=True)
class HostView:
    """The actor's organisations that host one event (the owner and/or co-hosts)."""

    event_id: int
    owner: int
    co_hosts: tuple[int, ...]
    viewers: frozenset[int]

    @property
    def is_owner(self) -> bool:
        """Acting (also) for the owner: sees everything registration needs."""
        return self.owner in self.viewers


async def host_view(actor: Actor, event_id: int) -> HostView:
    """As `require_host`: any role in a hosting organisation may look, everyone else gets 404."""
    owner, co_hosts = await hosts_of(event_id)
    viewers = frozenset(org for org in (owner, *co_hosts) if actor.role_in(org))
    if not viewers:
        raise NotFound()
    return HostView(event_id=event_id, owner=owner, co_hosts=tuple(co_hosts), viewers=viewers)


def viewers_of(actor: Actor, owner: int, co_hosts: Iterable[int]) -> frozenset[int]:
    """The actor's organisations among an event's hosts (for views across several events)."""
    return frozenset(org for org in (owner, *co_hosts) if actor.role_in(org))


async def consent_map(view: HostView, registration_ids: Iterable[int]) -> dict[int, set[int]]:
    """What `seen_by` needs to know of the ledger; the owner needs no query at all."""
    if view.is_owner:
        return {}
    return await consented_organisations(registration_ids)


async def shown(view: HostView, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registration rows as this viewer may see them (a copy; `redacted` says whether the
    contact details were hidden)."""
    consented = await consent_map(view, [row["id"] for row in rows])
    return [seen_by(row, view.viewers, view.owner, consented.get(row["id"], set())) for row in rows]


# What a networking profile shows of its person besides its tags and sector.
PROFILE_PERSONAL_FIELDS = ("company", "about", "link")


async def shown_profiles(view: HostView, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Networking profile rows as this viewer may see them: for a co-host without the person's
    consent, the pseudonym of their registration instead of the name they chose, and nothing
    that could name them (company, about, link)."""
    consented = await consent_map(view, [row["registration"] for row in rows])
    result = []
    for row in rows:
        if sees_contact(view.viewers, view.owner, consented.get(row["registration"], set())):
            result.append(dict(row))
        else:
            hidden = {field: "" for field in PROFILE_PERSONAL_FIELDS}
            result.append({**row, **hidden, "display_name": pseudonym(row["registration"])})
    return result
