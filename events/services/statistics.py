"""Statistics per event, series and organisation over a period of event starts.

Three queries per scope whatever its size: the events, their registrations, and each
person's first registration with the hosting organisations (for new vs returning). The
arithmetic is a pure function (`summarise`) so the definitions can be tested on their own;
the statistics page states the same definitions under its tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import msgspec
from piccolo.query.functions.aggregate import Min

from events.services.access import Actor
from events.services.errors import N_, InvalidInput, NotFound
from events.services.hosts import hosts_of, require_host
from events.settings import DEFAULT_TIMEZONE, LANGUAGES
from events.tables import Event, EventHost, Organisation, Registration, Series

Scope = Literal["organisation", "series", "event"]
STATUSES: tuple[str, ...] = ("confirmed", "waitlisted", "pending_email", "pending_approval", "cancelled", "rejected")
# A cancellation this close to the start leaves a seat that is hard to fill again.
LATE_CANCELLATION = timedelta(hours=48)
# Weeks are counted (and periods bounded) in the partners' own time zone.
STATISTICS_TIMEZONE = DEFAULT_TIMEZONE
# Enough for a year and a bit of weekly columns; a longer span is cut to its latest weeks.
MAX_WEEKS = 160


class Period(msgspec.Struct, frozen=True):
    """Events whose start falls on `start`…`end` (local dates, both included; None: open)."""

    start: date | None = None
    end: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """[from, to) in UTC: local midnight of `start` up to local midnight after `end`."""
        zone = ZoneInfo(STATISTICS_TIMEZONE)

        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

        return (
            midnight(self.start) if self.start else None,
            midnight(self.end + timedelta(days=1)) if self.end else None,
        )

    def contains(self, moment: datetime) -> bool:
        low, high = self.bounds()
        return (low is None or moment >= low) and (high is None or moment < high)


def default_period(today: date) -> Period:
    """The last twelve months up to today, and everything upcoming."""
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 1, day=28)
    return Period(start=start, end=None)


def parse_period(start: str | None, end: str | None, today: date) -> Period:
    """The period of a query string: absent `from` means the default, an empty one no bound.

    Raises InvalidInput (tied to the field) for a date that is not YYYY-MM-DD or from > to.
    """
    if start is None and end is None:
        return default_period(today)
    default = default_period(today)

    def parse(value: str | None, field: str, fallback: date | None) -> date | None:
        if value is None:
            return fallback
        value = value.strip()
        if not value:
            return None
        try:
            if len(value) != 10:
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(N_("Give a date as YYYY-MM-DD."), field=field) from None

    first = parse(start, "from", default.start)
    last = parse(end, "to", None)
    if first and last and first > last:
        raise InvalidInput(N_("The start of the period must not be after its end."), field="from")
    return Period(start=first, end=last)


class EventFacts(msgspec.Struct, frozen=True):
    """What the arithmetic needs of an event."""

    id: int
    title: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    timezone: str
    status: str
    capacity: int | None


class RegistrationFacts(msgspec.Struct, frozen=True):
    """What the arithmetic needs of a registration."""

    event: int
    email_key: str
    language: str
    status: str
    attendance: str
    created_at: datetime
    waitlisted_at: datetime | None = None
    promoted_at: datetime | None = None
    cancelled_at: datetime | None = None


class EventLine(msgspec.Struct):
    """One row of the per-event table."""

    id: int
    title: dict[str, str]
    starts_at: datetime
    timezone: str
    status: str
    capacity: int | None
    registrations: int
    confirmed: int
    waitlisted: int
    attended: int
    no_show: int
    fill_rate: float | None  # confirmed / capacity; None without a (non-zero) capacity


class WeekCount(msgspec.Struct):
    """Registrations created in one ISO week (Monday to Sunday, local time)."""

    label: str  # "2025-W07"
    monday: date
    count: int


class Statistics(msgspec.Struct):
    """The figures of one scope; every rate is None when its denominator is 0."""

    events: int
    ended_events: int
    registrations: int
    by_status: dict[str, int]
    attended: int
    no_show: int
    attended_ended: int
    no_show_ended: int
    no_show_rate: float | None
    waitlisted: int  # registrations that were ever on the waitlist
    promoted: int
    waitlist_conversion: float | None
    cancelled: int
    cancelled_late: int
    languages: dict[str, int]
    people: int
    new_people: int
    returning_people: int
    per_event: list[EventLine]
    weekly: list[WeekCount]


class Report(msgspec.Struct):
    """A scope, what it covers, and its statistics (what the page shows)."""

    scope: Scope
    title: dict[str, str]
    period: Period | None
    organisation_ids: list[int]
    statistics: Statistics
    target_id: int


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _iso_weeks(created: Iterable[datetime]) -> list[WeekCount]:
    zone = ZoneInfo(STATISTICS_TIMEZONE)
    per_monday: Counter[date] = Counter()
    for moment in created:
        day = moment.astimezone(zone).date()
        per_monday[day - timedelta(days=day.weekday())] += 1
    if not per_monday:
        return []
    first, last = min(per_monday), max(per_monday)
    first = max(first, last - timedelta(weeks=MAX_WEEKS - 1))
    weeks = []
    monday = first
    while monday <= last:
        year, week, _ = monday.isocalendar()
        weeks.append(WeekCount(label=f"{year}-W{week:02d}", monday=monday, count=per_monday[monday]))
        monday += timedelta(weeks=1)
    return weeks


def summarise(
    events: Sequence[EventFacts],
    registrations: Sequence[RegistrationFacts],
    first_seen: dict[str, datetime],
    now: datetime,
) -> Statistics:
    """The statistics of these events and their registrations.

    `first_seen` maps an email_key to the creation time of that person's first registration
    (any status but rejected) at any event of the hosting organisations, within or before the
    scope. A person is *returning* when that first registration is older than their first
    registration in the scope; every person (distinct email_key) is either new or returning.
    """
    by_event = {event.id: event for event in events}
    ended = {event.id for event in events if event.ends_at <= now}
    status_counts = Counter(r.status for r in registrations)
    attended = [r for r in registrations if r.attendance == "attended"]
    no_show = [r for r in registrations if r.attendance == "no_show"]
    attended_ended = sum(1 for r in attended if r.event in ended)
    no_show_ended = sum(1 for r in no_show if r.event in ended)
    waitlisted = [r for r in registrations if r.waitlisted_at is not None]
    promoted = sum(1 for r in waitlisted if r.promoted_at is not None)
    cancelled = [r for r in registrations if r.status == "cancelled"]
    late = sum(
        1
        for r in cancelled
        if r.cancelled_at is not None
        and r.event in by_event
        and r.cancelled_at > by_event[r.event].starts_at - LATE_CANCELLATION
    )
    language_counts = Counter(r.language for r in registrations)
    languages = {lang: language_counts.get(lang, 0) for lang in LANGUAGES}
    languages.update({lang: n for lang, n in sorted(language_counts.items()) if lang not in languages})

    first_in_scope: dict[str, datetime] = {}
    for r in registrations:
        if r.email_key not in first_in_scope or r.created_at < first_in_scope[r.email_key]:
            first_in_scope[r.email_key] = r.created_at
    returning = sum(1 for key, first in first_in_scope.items() if key in first_seen and first_seen[key] < first)

    per_event: dict[int, Counter[str]] = {event.id: Counter() for event in events}
    for r in registrations:
        counts = per_event.setdefault(r.event, Counter())
        counts["registrations"] += 1
        counts[r.status] += 1
        if r.attendance in ("attended", "no_show"):
            counts[r.attendance] += 1
    lines = [
        EventLine(
            id=event.id,
            title=event.title,
            starts_at=event.starts_at,
            timezone=event.timezone,
            status=event.status,
            capacity=event.capacity,
            registrations=per_event[event.id]["registrations"],
            confirmed=per_event[event.id]["confirmed"],
            waitlisted=per_event[event.id]["waitlisted"],
            attended=per_event[event.id]["attended"],
            no_show=per_event[event.id]["no_show"],
            fill_rate=_rate(per_event[event.id]["confirmed"], event.capacity or 0),
        )
        for event in sorted(events, key=lambda e: (e.starts_at, e.id))
    ]
    return Statistics(
        events=len(events),
        ended_events=len(ended),
        registrations=len(registrations),
        by_status={status: status_counts.get(status, 0) for status in STATUSES},
        attended=len(attended),
        no_show=len(no_show),
        attended_ended=attended_ended,
        no_show_ended=no_show_ended,
        no_show_rate=_rate(no_show_ended, attended_ended + no_show_ended),
        waitlisted=len(waitlisted),
        promoted=promoted,
        waitlist_conversion=_rate(promoted, len(waitlisted)),
        cancelled=len(cancelled),
        cancelled_late=late,
        languages=languages,
        people=len(first_in_scope),
        new_people=len(first_in_scope) - returning,
        returning_people=returning,
        per_event=lines,
        weekly=_iso_weeks(r.created_at for r in registrations),
    )


# --- queries ---------------------------------------------------------------------------

_EVENT_COLUMNS = (
    Event.id,
    Event.title_nl,
    Event.title_fr,
    Event.title_en,
    Event.starts_at,
    Event.ends_at,
    Event.timezone,
    Event.status,
    Event.capacity,
)
_REGISTRATION_COLUMNS = (
    Registration.event,
    Registration.email_key,
    Registration.language,
    Registration.status,
    Registration.attendance,
    Registration.created_at,
    Registration.waitlisted_at,
    Registration.promoted_at,
    Registration.cancelled_at,
)


def _titles(row: dict[str, Any]) -> dict[str, str]:
    return {lang: row[f"title_{lang}"] for lang in LANGUAGES if row[f"title_{lang}"]}


def _event_facts(row: dict[str, Any]) -> EventFacts:
    return EventFacts(
        id=row["id"],
        title=_titles(row),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        status=row["status"],
        capacity=row["capacity"],
    )


def _aware(value: Any) -> datetime:
    """An aggregate's timestamp: SQLite hands back the stored text, PostgreSQL a datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _in_period(select: Any, period: Period | None) -> Any:
    if period is None:
        return select
    low, high = period.bounds()
    if low is not None:
        select = select.where(Event.starts_at >= low)
    if high is not None:
        select = select.where(Event.starts_at < high)
    return select


async def _statistics(events: list[EventFacts], organisation_ids: list[int], now: datetime) -> Statistics:
    """Registrations of the events (one query) and the people's history with the
    organisations (one grouped query), then the arithmetic."""
    if not events:
        return summarise([], [], {}, now)
    event_ids = [event.id for event in events]
    rows = await Registration.select(*_REGISTRATION_COLUMNS).where(Registration.event.is_in(event_ids))
    registrations = [msgspec.convert(row, RegistrationFacts) for row in rows]
    first_seen: dict[str, datetime] = {}
    if registrations:
        hosted = Event.select(Event.id).where(
            Event.organisation.is_in(organisation_ids)
            | Event.id.is_in(EventHost.select(EventHost.event).where(EventHost.organisation.is_in(organisation_ids)))
        )
        people = Registration.select(Registration.email_key).where(Registration.event.is_in(event_ids))
        latest = max(r.created_at for r in registrations)
        history = (
            await Registration.select(Registration.email_key, Min(Registration.created_at, alias="first_seen"))
            .where(
                Registration.event.is_in(hosted)
                & Registration.email_key.is_in(people)
                & (Registration.status != "rejected")
                & (Registration.created_at <= latest)
            )
            .group_by(Registration.email_key)
        )
        first_seen = {row["email_key"]: _aware(row["first_seen"]) for row in history}
    return summarise(events, registrations, first_seen, now)


async def organisation_statistics(
    actor: Actor, organisation_id: int, period: Period, *, now: datetime | None = None
) -> Report:
    """Events the organisation owns or co-hosts that start in the period; 404 unless the actor
    has a role in the organisation."""
    if actor.role_in(organisation_id) is None:
        raise NotFound()
    org = await Organisation.select().where(Organisation.id == organisation_id).first()
    if org is None:
        raise NotFound()
    co_hosted = EventHost.select(EventHost.event).where(EventHost.organisation == organisation_id)
    select = Event.select(*_EVENT_COLUMNS).where((Event.organisation == organisation_id) | Event.id.is_in(co_hosted))
    events = [_event_facts(row) for row in await _in_period(select, period)]
    statistics = await _statistics(events, [organisation_id], now or datetime.now(UTC))
    return Report(
        scope="organisation",
        title={lang: org[f"name_{lang}"] for lang in LANGUAGES if org[f"name_{lang}"]} or {"en": org["slug"]},
        period=period,
        organisation_ids=[organisation_id],
        statistics=statistics,
        target_id=organisation_id,
    )


async def series_access(actor: Actor, series_id: int) -> tuple[dict[str, str], list[int]]:
    """The series' title and its hosting organisations (its own, then the co-hosts of its
    occurrences). Visible to any role in one of them; 404 for anyone else."""
    series = await Series.select().where(Series.id == series_id).first()
    if series is None:
        raise NotFound()
    co_hosted = EventHost.select(EventHost.organisation).where(
        EventHost.event.is_in(Event.select(Event.id).where(Event.series == series_id))
    )
    co_hosts = {row["organisation"] for row in await co_hosted}
    organisation_ids = [series["organisation"], *sorted(co_hosts - {series["organisation"]})]
    if not any(actor.role_in(org) for org in organisation_ids):
        raise NotFound()
    return _titles(series), organisation_ids


async def series_statistics(
    actor: Actor, series_id: int, period: Period | None = None, *, now: datetime | None = None
) -> Report:
    """The occurrences of a series (starting in the period, if one is given); see
    `series_access` for who may see them."""
    title, organisation_ids = await series_access(actor, series_id)
    select = Event.select(*_EVENT_COLUMNS).where(Event.series == series_id)
    if actor.kind != "cli" and actor.role_in(organisation_ids[0]) is None:
        # Co-hosting one occurrence opens that occurrence, not the rest of the series.
        co_hosted = EventHost.select(EventHost.event).where(EventHost.organisation.is_in(list(actor.roles) or [0]))
        select = select.where(Event.id.is_in(co_hosted))
    events = [_event_facts(row) for row in await _in_period(select, period)]
    statistics = await _statistics(events, organisation_ids, now or datetime.now(UTC))
    return Report(
        scope="series",
        title=title,
        period=period,
        organisation_ids=organisation_ids,
        statistics=statistics,
        target_id=series_id,
    )


async def event_statistics(actor: Actor, event_id: int, *, now: datetime | None = None) -> Report:
    """One event, for any role in its owner or a co-host (others: 404)."""
    await require_host(actor, event_id)
    owner, co_hosts = await hosts_of(event_id)
    row = await Event.select(*_EVENT_COLUMNS).where(Event.id == event_id).first()
    if row is None:
        raise NotFound()
    event = _event_facts(row)
    statistics = await _statistics([event], [owner, *co_hosts], now or datetime.now(UTC))
    return Report(
        scope="event",
        title=event.title,
        period=None,
        organisation_ids=[owner, *co_hosts],
        statistics=statistics,
        target_id=event_id,
    )
