"""Who consented to what, per event: the consent ledger read back for the event's hosts.

The ledger (`Consent`) is append-only; a person's state for a purpose is their latest row for
it: given or withdrawn, or "never" without one. Every host of the event reads the states; who
the people are follows visibility.py (a co-host without a person's consent sees a pseudonym).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from events.services.access import Actor
from events.services.attendees import neutralise
from events.services.host_view import host_view, shown
from events.settings import LANGUAGES
from events.tables import Consent, ConsentPurpose, Organisation, Registration

State = Literal["given", "withdrawn", "never"]


class ConsentState(msgspec.Struct, omit_defaults=True):
    """A person's latest word on one purpose."""

    state: State
    at: datetime | None = None
    version: int | None = None  # the wording version they saw
    source: str = ""  # registration | private_page | api | …


class PurposeColumn(msgspec.Struct):
    id: int
    key: str
    organisation_id: int
    organisation: dict[str, str]  # name per language
    text: dict[str, str]  # the current wording per language
    version: int  # the current wording version
    active: bool
    owner: bool  # a purpose of the owning organisation (else of a co-host)
    given: int = 0
    withdrawn: int = 0
    never: int = 0


class PersonConsents(msgspec.Struct):
    registration_id: int
    name: str
    email: str
    status: str
    redacted: bool
    states: list[ConsentState]  # one per purpose, in the order of `ConsentOverview.purposes`


class ConsentOverview(msgspec.Struct):
    event_id: int
    purposes: list[PurposeColumn]
    people: list[PersonConsents]


async def _latest(registration_ids: list[int]) -> dict[tuple[int, int], dict[str, Any]]:
    """The latest ledger row per (registration, purpose), in one query."""
    if not registration_ids:
        return {}
    rows = await Consent.select().where(Consent.registration.is_in(registration_ids)).order_by(Consent.id)
    return {(row["registration"], row["purpose"]): row for row in rows}


async def current_purposes(registration_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each registration, the purposes it currently consents to: one query for all."""
    ids = list(dict.fromkeys(registration_ids))
    result: dict[int, set[int]] = {registration_id: set() for registration_id in ids}
    for (registration_id, purpose_id), row in (await _latest(ids)).items():
        if row["action"] == "given":
            result[registration_id].add(purpose_id)
    return result


async def consent_overview(actor: Actor, event_id: int) -> ConsentOverview:
    """Per person and per purpose (the owner's and the co-hosts'), the current state with when,
    the wording version and the source, and a count per purpose. Any host reads (404 for
    everyone else); people appear as visibility.py lets the viewer see them."""
    view = await host_view(actor, event_id)
    registrations = await shown(
        view, await Registration.select().where(Registration.event == event_id).order_by(Registration.id)
    )
    latest = await _latest([row["id"] for row in registrations])
    hosts = [view.owner, *view.co_hosts]
    purpose_rows = (
        await ConsentPurpose.select()
        .where(
            (ConsentPurpose.organisation.is_in(hosts) & (ConsentPurpose.active == True))  # noqa: E712
            | ConsentPurpose.id.is_in(list({purpose for _, purpose in latest}) or [-1])
        )
        .order_by(ConsentPurpose.id)
    )
    organisations = {
        row["id"]: {lang: row[f"name_{lang}"] for lang in LANGUAGES if row[f"name_{lang}"]} or {"en": row["slug"]}
        for row in await Organisation.select().where(
            Organisation.id.is_in(list({row["organisation"] for row in purpose_rows}) or [-1])
        )
    }
    # The owner's purposes first, then each co-host's, in the order they were defined.
    order = {org: index for index, org in enumerate(hosts)}
    purpose_rows.sort(key=lambda row: (order.get(row["organisation"], len(order)), row["id"]))
    purposes = [
        PurposeColumn(
            id=row["id"],
            key=row["key"],
            organisation_id=row["organisation"],
            organisation=organisations.get(row["organisation"], {}),
            text={lang: row[f"text_{lang}"] for lang in LANGUAGES if row[f"text_{lang}"]},
            version=row["version"],
            active=row["active"],
            owner=row["organisation"] == view.owner,
        )
        for row in purpose_rows
    ]
    people = []
    for registration in registrations:
        states = []
        for purpose in purposes:
            entry = latest.get((registration["id"], purpose.id))
            if entry is None:
                states.append(ConsentState(state="never"))
                purpose.never += 1
                continue
            state: State = "given" if entry["action"] == "given" else "withdrawn"
            if state == "given":
                purpose.given += 1
            else:
                purpose.withdrawn += 1
            states.append(
                ConsentState(
                    state=state, at=entry["created_at"], version=entry["wording_version"], source=entry["source"]
                )
            )
        people.append(
            PersonConsents(
                registration_id=registration["id"],
                name=registration["name"],
                email=registration["email"],
                status=registration["status"],
                redacted=registration["redacted"],
                states=states,
            )
        )
    return ConsentOverview(event_id=event_id, purposes=purposes, people=people)


CSV_HEADER = [
    "registration_id",
    "name",
    "email",
    "status",
    "organisation",
    "purpose",
    "purpose_text",
    "state",
    "at",
    "wording_version",
    "source",
]


def overview_rows(overview: ConsentOverview, language: str) -> list[list[Any]]:
    """The overview as one row per (person, purpose), for a CSV export; text cells neutralised."""
    from events.i18n import pick_translation

    rows = []
    for person in overview.people:
        for purpose, state in zip(overview.purposes, person.states, strict=True):
            cells: list[Any] = [
                person.registration_id,
                person.name,
                person.email,
                person.status,
                pick_translation(purpose.organisation, language)[0] if purpose.organisation else "",
                purpose.key,
                pick_translation(purpose.text, language)[0] if purpose.text else "",
                state.state,
                state.at.astimezone(UTC).isoformat() if state.at else "",
                "" if state.version is None else state.version,
                state.source,
            ]
            rows.append([neutralise(cell) for cell in cells])
    return rows
