"""Retention: personal data of past events is anonymised after a period.

An event's period is its own `retention_months` (a stricter value an organiser set) or else its
organisation's (default 24 months). Once an event ended more than that long ago, every
registration of it not yet anonymised is, with the same core as an erasure (privacy.anonymise):
no mails, no promotions, the event is over. The worker runs `run_retention` once a day.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from dateutil.relativedelta import relativedelta

from events.db import write_transaction
from events.services import audit
from events.services.access import Actor
from events.services.errors import N_, Forbidden, InvalidInput, NotFound
from events.services.hosts import require_editor
from events.services.privacy import anonymise
from events.settings import LANGUAGES
from events.tables import DataVersion, Event, Organisation, PrivacyRequest, Registration

log = logging.getLogger("trefpunt.retention")

DEFAULT_MONTHS = 24
MIN_MONTHS, MAX_MONTHS = 1, 120
# Privacy requests are kept this long after their link expired (to show a request was
# answered), then lose their address.
PRIVACY_REQUEST_DAYS = 30
# The row in `data_version` whose `changed_at` records the last daily run (one per day, across
# all worker processes).
JOB_SCOPE = "job:retention"
RETENTION_ACTOR = Actor(kind="retention", id=0)


class RetentionCounts(msgspec.Struct, kw_only=True):
    events: int = 0
    registrations: int = 0
    privacy_requests: int = 0


def expires_at(ends_at: datetime, months: int) -> datetime:
    """When an event's personal data goes: `months` calendar months after it ended."""
    return ends_at + relativedelta(months=months)


def months_for(event_months: int | None, organisation_months: int | None) -> int:
    """The stricter of the two: an event may only shorten its organisation's period."""
    base = organisation_months or DEFAULT_MONTHS
    return min(base, event_months) if event_months else base


async def due_events(now: datetime) -> list[tuple[int, int]]:
    """(event id, organisation id) of ended events past their period with registrations left
    to anonymise."""
    pending = Registration.select(Registration.event).where(Registration.anonymised_at.is_null())
    rows = await Event.select(
        Event.id,
        Event.organisation,
        Event.ends_at,
        Event.retention_months,
        Event.organisation.retention_months.as_alias("org_months"),
    ).where((Event.ends_at < now - relativedelta(months=MIN_MONTHS)) & Event.id.is_in(pending))
    return [
        (row["id"], row["organisation"])
        for row in rows
        if expires_at(row["ends_at"], months_for(row["retention_months"], row["org_months"])) <= now
    ]


async def run_retention(now: datetime | None = None) -> RetentionCounts:
    """Anonymise every registration of the events whose period is over; one transaction per
    event. Returns what was done."""
    now = now or datetime.now(UTC)
    counts = RetentionCounts()
    for event_id, organisation_id in await due_events(now):
        async with write_transaction():
            rows = (
                await Registration.select()
                .where((Registration.event == event_id) & Registration.anonymised_at.is_null())
                .order_by(Registration.id)
            )
            done = await anonymise(rows, now=now)
            if done:
                await audit.record(
                    RETENTION_ACTOR,
                    "event.retention_applied",
                    organisation_id=organisation_id,
                    target=f"event:{event_id}",
                    registrations=done,
                )
        counts.events += 1 if done else 0
        counts.registrations += done
    async with write_transaction():
        old = await PrivacyRequest.select(PrivacyRequest.id).where(
            (PrivacyRequest.expires_at < now - timedelta(days=PRIVACY_REQUEST_DAYS)) & (PrivacyRequest.email_key != "")
        )
        if old:
            await PrivacyRequest.update({PrivacyRequest.email_key: ""}).where(
                PrivacyRequest.id.is_in([row["id"] for row in old])
            )
        counts.privacy_requests = len(old)
    return counts


async def claim_daily_run(now: datetime) -> bool:
    """True for exactly one caller a day, whatever the number of worker processes: a
    conditional UPDATE of one row moves its time stamp forward."""
    last = await DataVersion.select(DataVersion.changed_at).where(DataVersion.scope == JOB_SCOPE).first()
    if last is not None and _aware(last["changed_at"]) > now - timedelta(hours=23):
        return False  # a plain read first: no write lock every minute
    async with write_transaction():
        await DataVersion.insert(
            DataVersion(scope=JOB_SCOPE, version=0, changed_at=now - timedelta(days=2))
        ).on_conflict(target=DataVersion.scope, action="DO NOTHING")
        claimed = await DataVersion.raw(
            "UPDATE data_version SET version = version + 1, changed_at = {} "
            "WHERE scope = {} AND changed_at <= {} RETURNING id",
            now,
            JOB_SCOPE,
            now - timedelta(hours=23),
        )
    return bool(claimed)


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def daily_retention(now: datetime | None = None) -> RetentionCounts | None:
    """The worker's daily job: runs when no process has run it in the last 23 hours."""
    now = now or datetime.now(UTC)
    if not await claim_daily_run(now):
        return None
    counts = await run_retention(now)
    log.info(
        "retention: %s registrations of %s events anonymised, %s privacy requests cleared",
        counts.registrations,
        counts.events,
        counts.privacy_requests,
    )
    return counts


# Settings in the back office ---------------------------------------------------------------------


def check_months(value: int | None, *, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if value is None or not MIN_MONTHS <= value <= MAX_MONTHS:
        raise InvalidInput(
            N_("Give a number of months from %(low)s to %(high)s."),
            field="retention_months",
            low=MIN_MONTHS,
            high=MAX_MONTHS,
        )
    return value


class EventRetention(msgspec.Struct, kw_only=True):
    id: int
    title: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    timezone: str
    retention_months: int | None
    organisation_months: int
    effective_months: int
    anonymise_after: datetime
    anonymised: int
    registrations: int


class OrganisationRetention(msgspec.Struct, kw_only=True):
    organisation_id: int
    retention_months: int
    role: str
    events: list[EventRetention]


async def organisation_retention(actor: Actor, organisation_id: int) -> OrganisationRetention:
    """An organisation's period and its events' own values; any role reads (others: 404)."""
    role = actor.role_in(organisation_id)
    if role is None:
        raise NotFound()
    org = await Organisation.select(Organisation.retention_months).where(Organisation.id == organisation_id).first()
    if org is None:
        raise NotFound()
    rows = (
        await Event.select()
        .where(Event.organisation == organisation_id)
        .order_by(Event.starts_at, ascending=False)
        .limit(500)
    )
    ids = [row["id"] for row in rows] or [-1]
    registrations = await Registration.select(Registration.event, Registration.anonymised_at).where(
        Registration.event.is_in(ids)
    )
    total: dict[int, int] = {}
    anonymised: dict[int, int] = {}
    for r in registrations:
        total[r["event"]] = total.get(r["event"], 0) + 1
        if r["anonymised_at"] is not None:
            anonymised[r["event"]] = anonymised.get(r["event"], 0) + 1
    events = [
        _event_retention(row, org["retention_months"], anonymised.get(row["id"], 0), total.get(row["id"], 0))
        for row in rows
    ]
    return OrganisationRetention(
        organisation_id=organisation_id, retention_months=org["retention_months"], role=role, events=events
    )


async def set_organisation_retention(actor: Actor, organisation_id: int, months: int) -> None:
    """Owners set their organisation's period (1–120 months); other roles 403, others 404."""
    role = actor.role_in(organisation_id)
    if role is None:
        raise NotFound()
    if role != "owner":
        raise Forbidden()
    value = check_months(months, optional=False)
    async with write_transaction():
        await Organisation.update({Organisation.retention_months: value}).where(Organisation.id == organisation_id)
        await audit.record(
            actor, "organisation.retention_changed", organisation_id=organisation_id, target="", months=value
        )


async def event_retention(actor: Actor, event_id: int) -> EventRetention:
    """One event's period, for its owners and editors."""
    organisation_id = await require_editor(actor, event_id)
    org = await Organisation.select(Organisation.retention_months).where(Organisation.id == organisation_id).first()
    row = await Event.select().where(Event.id == event_id).first()
    if org is None or row is None:
        raise NotFound()
    total = await Registration.count().where(Registration.event == event_id)
    anonymised = await Registration.count().where(
        (Registration.event == event_id) & Registration.anonymised_at.is_not_null()
    )
    return _event_retention(row, org["retention_months"], int(anonymised), int(total))


def _event_retention(
    row: dict[str, Any], organisation_months: int, anonymised: int, registrations: int
) -> EventRetention:
    """An Event row's retention as the pages show it: its own period, the organisation's, the
    one that applies and when it runs out."""
    months = months_for(row["retention_months"], organisation_months)
    return EventRetention(
        id=row["id"],
        title={lang: row[f"title_{lang}"] for lang in LANGUAGES if row[f"title_{lang}"]},
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        retention_months=row["retention_months"],
        organisation_months=organisation_months,
        effective_months=months,
        anonymise_after=expires_at(row["ends_at"], months),
        anonymised=anonymised,
        registrations=registrations,
    )


async def set_event_retention(actor: Actor, event_id: int, months: int | None) -> None:
    """Owners and editors of the owning organisation give an event a stricter period (or None
    for the organisation's); a value longer than the organisation's is refused."""
    owner = await require_editor(actor, event_id)
    value = check_months(months, optional=True)
    org = await Organisation.select(Organisation.retention_months).where(Organisation.id == owner).first()
    assert org is not None
    if value is not None and value > org["retention_months"]:
        raise InvalidInput(
            N_("An event can only keep data for less time than its organisation (%(months)s months)."),
            field="retention_months",
            months=org["retention_months"],
        )
    async with write_transaction():
        await Event.update({Event.retention_months: value}).where(Event.id == event_id)
        await audit.record(
            actor, "event.retention_changed", organisation_id=owner, target=f"event:{event_id}", months=value
        )
