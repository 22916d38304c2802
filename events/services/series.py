"""Series: a recurrence rule, its preview, and its occurrences as ordinary events.

A series' rule (RFC 5545 RRULE) is expanded on NAIVE local wall-clock times and only then
placed in the series' time zone, so "every Tuesday at 18:00" stays 18:00 local across daylight
saving time changes (its UTC time moves instead). Two local times need a decision:

- an ambiguous time (the autumn hour that happens twice) takes its first instance (fold=0,
  still summer time);
- a nonexistent time (the spring hour that is skipped) moves forward by the gap: 02:30 on the
  night clocks jump from 02:00 to 03:00 becomes 03:30. That is what zoneinfo gives for fold=0
  (the offset before the transition), turned into a real instant.

The preview and the materialised occurrences come from the same `expand()`, so they cannot
disagree. Each occurrence keeps the start the rule gave it in `Event.series_original_start`
(its RECURRENCE-ID), even when it is moved on its own later.

Hard limits: at most 100 occurrences and 3 years after the first one; a rule without UNTIL or
COUNT is cut there.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

import msgspec
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from events.db import write_transaction
from events.services import audit
from events.services import events as event_service
from events.services.access import Actor
from events.services.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from events.services.events import (
    KINDS,
    DescriptionTexts,
    EventInput,
    EventPatch,
    TitleTexts,
    VenueInput,
)
from events.settings import DEFAULT_TIMEZONE, LANGUAGES
from events.tables import Event, EventHost, Organisation, Question, Registration, Room, Series, Venue

MAX_OCCURRENCES = 100
HORIZON = relativedelta(years=3)
MAX_DURATION_MINUTES = 24 * 60
WEEKDAYS: tuple[str, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
POSITIONS: tuple[int, ...] = (1, 2, 3, 4, -1)  # first … fourth, last
Frequency = Literal["weekly", "monthly_weekday", "monthly_day"]
Scope = Literal["this", "following", "all"]
SCOPES: tuple[str, ...] = ("this", "following", "all")

_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
_HHMM = re.compile(r"^\d{1,2}:\d{2}$")


class Occurrence(NamedTuple):
    """One date a rule gives: its local wall-clock start (naive) and its UTC start and end."""

    local_start: datetime
    starts_at: datetime
    ends_at: datetime


# Expansion (pure) ----------------------------------------------------------------------------


def to_utc(local: datetime, timezone: str) -> datetime:
    """A naive local wall time in `timezone` as an aware UTC instant (see the module docstring
    for ambiguous and nonexistent times)."""
    return local.replace(tzinfo=ZoneInfo(timezone), fold=0).astimezone(UTC)


def is_shifted(local: datetime, timezone: str) -> bool:
    """True when `local` does not exist in `timezone` (it falls in a spring-forward gap)."""
    back = to_utc(local, timezone).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return back != local


def parse_local(value: str, field: str = "start") -> datetime:
    """ "2027-03-09T18:00" → naive datetime; a clear field error otherwise."""
    value = value.strip()
    try:
        if not _LOCAL.match(value):
            raise ValueError(value)
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("Give a date and a time, e.g. 2027-03-09 and 18:00."), field=field) from None


def parse_exdates(values: str | Iterable[str]) -> list[date]:
    """Comma- or line-separated local dates ("2027-04-06, 2027-07-06") → sorted unique dates."""
    items = re.split(r"[\s,;]+", values) if isinstance(values, str) else list(values)
    days = set()
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise InvalidInput(
                N_("%(value)s is not a date; write exceptions as 2027-04-06."), field="exdates", value=item[:20]
            ) from None
    if len(days) > MAX_OCCURRENCES:
        raise InvalidInput(N_("At most 100 exception dates."), field="exdates")
    return sorted(days)


def expand(
    rule: str | RuleParts,
    dtstart_local: str | datetime,
    timezone: str,
    exdates: str | Iterable[str] | Iterable[date] = (),
    limit: int = MAX_OCCURRENCES,
    *,
    duration_minutes: int = 60,
) -> list[Occurrence]:
    """The dates a rule gives, in order: (local start, UTC start, UTC end).

    `rule` is an RRULE string ("FREQ=WEEKLY;BYDAY=TU;COUNT=6") or `RuleParts`; the rule runs on
    naive local times from `dtstart_local`, skips the local dates in `exdates`, and stops at
    `limit` (at most 100) occurrences or 3 years after the start, whichever comes first.
    """
    text = rule.to_rrule() if isinstance(rule, RuleParts) else rule
    start = dtstart_local if isinstance(dtstart_local, datetime) else parse_local(dtstart_local)
    skip = set(
        parse_exdates([d.isoformat() if isinstance(d, date) else d for d in exdates])
        if not isinstance(exdates, str)
        else parse_exdates(exdates)
    )
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        raise InvalidInput(N_("Unknown time zone %(name)s."), field="timezone", name=timezone[:64]) from None
    recurrence = _parse_rule(text, start)
    horizon = start + HORIZON
    limit = max(0, min(limit, MAX_OCCURRENCES))
    length = timedelta(minutes=duration_minutes)
    result: list[Occurrence] = []
    # Bounded: a rule that never matches (e.g. 31 February) must not loop forever.
    for local in itertools.islice(iter(recurrence), 5000):
        if local > horizon or len(result) >= limit:
            break
        if local.date() in skip:
            continue
        starts = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
        result.append(Occurrence(local, starts, starts + length))
    return result


def _parse_rule(text: str, start: datetime) -> Any:
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or "\n" in text or len(text) > 500:
        raise InvalidInput(N_("The recurrence rule is not valid."), field="rrule")
    freq = re.search(r"(?:^|;)FREQ=([A-Z]+)", text.upper())
    if not freq or freq.group(1) not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise InvalidInput(N_("A series repeats daily, weekly, monthly or yearly."), field="frequency")
    try:
        return rrulestr(text, dtstart=start)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(N_("The recurrence rule is not valid."), field="rrule") from None


# The rule as an organiser describes it -------------------------------------------------------


@dataclass(frozen=True)
class RuleParts:
    """A rule from the form: weekly on weekdays, monthly on "the first Tuesday", or monthly on
    a day of the month; every `interval` weeks/months; until a local date or `count` times."""

    frequency: Frequency
    interval: int = 1
    weekdays: tuple[str, ...] = ()  # weekly: ("TU",), ("MO", "TH")
    position: int = 1  # monthly_weekday: 1..4 or -1 (last)
    weekday: str = "TU"  # monthly_weekday
    month_day: int = 1  # monthly_day
    until: date | None = None
    count: int | None = None

    def to_rrule(self) -> str:
        parts = [f"FREQ={'WEEKLY' if self.frequency == 'weekly' else 'MONTHLY'}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.frequency == "weekly":
            parts.append("BYDAY=" + ",".join(d for d in WEEKDAYS if d in self.weekdays))
        elif self.frequency == "monthly_weekday":
            parts.append(f"BYDAY={self.position}{self.weekday}")
        else:
            parts.append(f"BYMONTHDAY={self.month_day}")
        if self.until is not None:
            # Local wall time, like DTSTART: the whole until-day counts.
            parts.append(f"UNTIL={self.until:%Y%m%d}T235959")
        elif self.count is not None:
            parts.append(f"COUNT={self.count}")
        return ";".join(parts)


def parse_rrule(text: str) -> RuleParts | None:
    """A stored RRULE back into `RuleParts` (None for a rule the form cannot show)."""
    values = dict(part.split("=", 1) for part in text.upper().split(";") if "=" in part)
    interval = int(values.get("INTERVAL", "1") or 1)
    until = None
    if "UNTIL" in values:
        until = datetime.strptime(values["UNTIL"][:8], "%Y%m%d").date()
    count = int(values["COUNT"]) if "COUNT" in values else None
    byday = values.get("BYDAY", "")
    if values.get("FREQ") == "WEEKLY" and byday and all(d in WEEKDAYS for d in byday.split(",")):
        return RuleParts("weekly", interval, weekdays=tuple(byday.split(",")), until=until, count=count)
    if values.get("FREQ") == "MONTHLY":
        match = re.fullmatch(r"([+-]?\d)([A-Z]{2})", byday)
        if match and int(match.group(1)) in POSITIONS and match.group(2) in WEEKDAYS:
            return RuleParts(
                "monthly_weekday",
                interval,
                position=int(match.group(1)),
                weekday=match.group(2),
                until=until,
                count=count,
            )
        if values.get("BYMONTHDAY", "").isdigit():
            return RuleParts("monthly_day", interval, month_day=int(values["BYMONTHDAY"]), until=until, count=count)
    return None


class SeriesForm(msgspec.Struct, kw_only=True):
    """The "new series" form as posted: every field a string, checked by `check_form`."""

    organisation: str = ""
    template_event: str = ""
    kind: str = "workshop"
    title_nl: str = ""
    title_fr: str = ""
    title_en: str = ""
    description_nl: str = ""
    description_fr: str = ""
    description_en: str = ""
    venue_name: str = ""
    venue_address: str = ""
    venue_room: str = ""
    online_url: str = ""
    capacity: str = ""
    waitlist: str = ""
    requires_approval: str = ""
    double_opt_in: str = ""
    reminder_hours: str = "48, 2"
    timezone: str = DEFAULT_TIMEZONE
    start_date: str = ""
    start_time: str = "18:00"
    duration_minutes: str = "120"
    frequency: str = "weekly"
    interval: str = "1"
    weekdays: str | list[str] = msgspec.field(default_factory=list)
    position: str = "1"
    weekday: str = "TU"
    month_day: str = ""
    end: str = "count"  # count | until
    until: str = ""
    count: str = "6"
    exdates: str = ""
    action: str = "preview"

    def weekday_list(self) -> list[str]:
        return [self.weekdays] if isinstance(self.weekdays, str) else list(self.weekdays)


@dataclass(frozen=True)
class CheckedRule:
    parts: RuleParts
    dtstart_local: datetime
    timezone: str
    duration_minutes: int
    exdates: list[date]

    def expand(self) -> list[Occurrence]:
        return expand(
            self.parts, self.dtstart_local, self.timezone, self.exdates, duration_minutes=self.duration_minutes
        )


def _int(value: str, field: str, low: int, high: int, message: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidInput(message, field=field) from None
    if not low <= number <= high:
        raise InvalidInput(message, field=field)
    return number


def parse_time(value: str, field: str = "start_time") -> time:
    value = value.strip()
    try:
        if not _HHMM.match(value):
            raise ValueError(value)
        return time.fromisoformat(value.zfill(5))
    except ValueError:
        raise InvalidInput(N_("Give a time as 18:00."), field=field) from None


def check_rule(form: SeriesForm) -> CheckedRule:
    """The rule part of the form, checked field by field; raises InvalidInput naming the field."""
    try:
        first_day = date.fromisoformat(form.start_date.strip())
    except ValueError:
        raise InvalidInput(N_("Give the first date, e.g. 2027-03-09."), field="start_date") from None
    at = parse_time(form.start_time)
    duration = _int(
        form.duration_minutes,
        "duration_minutes",
        5,
        MAX_DURATION_MINUTES,
        N_("The length is a number of minutes between 5 and 1440."),
    )
    timezone = form.timezone.strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        raise InvalidInput(N_("Unknown time zone %(name)s."), field="timezone", name=timezone[:64]) from None
    if form.frequency not in ("weekly", "monthly_weekday", "monthly_day"):
        raise InvalidInput(N_("Choose how often the series repeats."), field="frequency")
    frequency: Frequency = form.frequency  # type: ignore[assignment]
    interval = _int(form.interval, "interval", 1, 12, N_("Repeat every 1 to 12 weeks or months."))
    until = count = None
    if form.end == "until":
        try:
            until = date.fromisoformat(form.until.strip())
        except ValueError:
            raise InvalidInput(N_("Give the last date, e.g. 2027-06-30."), field="until") from None
        if until < first_day:
            raise InvalidInput(N_("The last date cannot be before the first date."), field="until")
        if until > first_day + HORIZON:
            raise InvalidInput(N_("A series can run for at most 3 years."), field="until")
    elif form.end == "count":
        count = _int(form.count, "count", 1, MAX_OCCURRENCES, N_("A series has 1 to 100 dates."))
    else:
        raise InvalidInput(N_("Choose when the series ends."), field="end")
    if frequency == "weekly":
        days = [d.upper() for d in form.weekday_list() if d]
        if not days:
            days = [WEEKDAYS[first_day.weekday()]]
        if any(d not in WEEKDAYS for d in days):
            raise InvalidInput(N_("Choose the weekdays."), field="weekdays")
        parts = RuleParts(frequency, interval, weekdays=tuple(days), until=until, count=count)
    elif frequency == "monthly_weekday":
        position = _int(form.position, "position", -1, 4, N_("Choose first, second, third, fourth or last."))
        if position not in POSITIONS:
            raise InvalidInput(N_("Choose first, second, third, fourth or last."), field="position")
        if form.weekday.upper() not in WEEKDAYS:
            raise InvalidInput(N_("Choose the weekday."), field="weekday")
        parts = RuleParts(
            frequency, interval, position=position, weekday=form.weekday.upper(), until=until, count=count
        )
    else:
        month_day = (
            _int(form.month_day, "month_day", 1, 31, N_("The day of the month is a number from 1 to 31."))
            if form.month_day.strip()
            else first_day.day
        )
        parts = RuleParts(frequency, interval, month_day=month_day, until=until, count=count)
    checked = CheckedRule(parts, datetime.combine(first_day, at), timezone, duration, parse_exdates(form.exdates))
    if not checked.expand():
        raise InvalidInput(N_("This rule gives no dates; check the first date and the end."), field="start_date")
    return checked


# Preview (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewDate:
    local_start: datetime
    starts_at: datetime
    ends_at: datetime
    utc_offset: str  # "+01:00"
    offset_differs: bool  # from the first date's offset: a daylight-saving note
    shifted: bool  # the local time does not exist that day and moved forward


def preview(rule: CheckedRule) -> list[PreviewDate]:
    """The dates a rule gives with what an organiser needs to check them (offset notes)."""
    zone = ZoneInfo(rule.timezone)
    dates = []
    first_offset = None
    for occurrence in rule.expand():
        offset = occurrence.starts_at.astimezone(zone).utcoffset() or timedelta(0)
        first_offset = offset if first_offset is None else first_offset
        dates.append(
            PreviewDate(
                local_start=occurrence.local_start,
                starts_at=occurrence.starts_at,
                ends_at=occurrence.ends_at,
                utc_offset=_format_offset(offset),
                offset_differs=offset != first_offset,
                shifted=is_shifted(occurrence.local_start, rule.timezone),
            )
        )
    return dates


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# Use cases -----------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EventSettings:
    """What every occurrence copies: from the form, or from a template event."""

    kind: str
    title: TitleTexts
    description: DescriptionTexts
    venue: VenueInput | None
    online_url: str
    capacity: int | None
    waitlist: bool
    requires_approval: bool
    double_opt_in: bool
    reminder_hours: list[int]
    hosts: list[str] = field(default_factory=list)
    template_event: int | None = None


def _texts(form: SeriesForm, prefix: str) -> dict[str, str]:
    return {lang: getattr(form, f"{prefix}_{lang}") for lang in LANGUAGES}


def _settings_from_form(form: SeriesForm) -> EventSettings:
    if form.kind not in KINDS or form.kind == "consultation_day":
        raise InvalidInput(N_("Choose the kind of event."), field="kind")
    title = _texts(form, "title")
    if not any(text.strip() for text in title.values()):
        raise InvalidInput(N_("Give the series a title in at least one language."), field="title_nl")
    for lang, text in title.items():
        if len(text) > 200 or any(ord(c) < 32 for c in text):
            raise InvalidInput(N_("A title has at most 200 characters on one line."), field=f"title_{lang}")
    description = _texts(form, "description")
    if any(len(text) > 20_000 for text in description.values()):
        raise InvalidInput(N_("A description has at most 20000 characters."), field="description_nl")
    capacity = None
    if form.capacity.strip():
        capacity = _int(form.capacity, "capacity", 0, 100_000, N_("Capacity is a whole number, or empty for no limit."))
    venue = None
    if form.venue_name.strip():
        if len(form.venue_name) > 200 or len(form.venue_address) > 300 or len(form.venue_room) > 200:
            raise InvalidInput(N_("The venue's name or address is too long."), field="venue_name")
        venue = VenueInput(
            name=form.venue_name.strip(), address=form.venue_address.strip(), room=form.venue_room.strip() or None
        )
    elif form.venue_address.strip() or form.venue_room.strip():
        raise InvalidInput(N_("Give the venue a name."), field="venue_name")
    try:
        reminders = sorted({int(h) for h in re.split(r"[\s,;]+", form.reminder_hours.strip()) if h}, reverse=True)
    except ValueError:
        raise InvalidInput(N_("Reminders are hours before the start, e.g. 48, 2."), field="reminder_hours") from None
    if len(reminders) > 5 or any(not 1 <= h <= 720 for h in reminders):
        raise InvalidInput(N_("At most 5 reminders, each 1 to 720 hours before."), field="reminder_hours")
    return EventSettings(
        kind=form.kind,
        title=TitleTexts(**{k: v.strip() for k, v in title.items()}),
        description=DescriptionTexts(**description),
        venue=venue,
        online_url=form.online_url.strip(),
        capacity=capacity,
        waitlist=bool(form.waitlist),
        requires_approval=bool(form.requires_approval),
        double_opt_in=bool(form.double_opt_in),
        reminder_hours=reminders,
    )


async def _settings_from_template(actor: Actor, organisation_id: int, event_id: int) -> EventSettings:
    row = await Event.select().where((Event.id == event_id) & (Event.organisation == organisation_id)).first()
    if row is None:
        raise InvalidInput(N_("Choose one of your organisation's events as the model."), field="template_event")
    if row["kind"] == "consultation_day":
        raise InvalidInput(N_("A consultation day cannot be repeated as a series."), field="template_event")
    venue = None
    if row["venue"] is not None:
        place = await Venue.select().where(Venue.id == row["venue"]).first()
        room = await Room.select().where(Room.id == row["room"]).first() if row["room"] else None
        if place is not None:
            venue = VenueInput(
                name=place["name"], address=place["address"], city=place["city"], room=room["name"] if room else None
            )
    hosts = await EventHost.select(EventHost.organisation.slug.as_alias("slug")).where(EventHost.event == event_id)
    return EventSettings(
        kind=row["kind"],
        title=TitleTexts(**{lang: row[f"title_{lang}"] for lang in LANGUAGES}),
        description=DescriptionTexts(**{lang: row[f"description_{lang}"] for lang in LANGUAGES}),
        venue=venue,
        online_url=row["online_url"],
        capacity=row["capacity"],
        waitlist=row["waitlist"],
        requires_approval=row["requires_approval"],
        double_opt_in=row["double_opt_in"],
        reminder_hours=[int(h) for h in row["reminder_hours"].split(",") if h],
        hosts=[h["slug"] for h in hosts],
        template_event=event_id,
    )


def _require_edit(actor: Actor, organisation_id: int) -> None:
    if actor.kind == "cli" or actor.can_edit_for(organisation_id):
        return
    raise NotFound() if actor.role_in(organisation_id) is None else Forbidden()


async def _series_row(actor: Actor, series_id: int, *, edit: bool) -> dict[str, Any]:
    row = await Series.select().where(Series.id == series_id).first()
    if row is None or (actor.kind != "cli" and actor.role_in(row["organisation"]) is None):
        raise NotFound(N_("This series does not exist."))
    if edit:
        _require_edit(actor, row["organisation"])
    return row


async def _materialise(
    actor: Actor,
    organisation_id: int,
    series_id: int,
    settings: EventSettings,
    occurrences: list[Occurrence],
    timezone: str,
) -> list[int]:
    """One draft event per occurrence through the ordinary event service (inside the caller's
    transaction: write_transaction nests), each remembering the start the rule gave it."""
    questions = []
    if settings.template_event is not None:
        questions = await Question.select().where(Question.event == settings.template_event).order_by(Question.position)
    ids = []
    for occurrence in occurrences:
        data = EventInput(
            kind=settings.kind,  # type: ignore[arg-type]
            title=settings.title,
            description=settings.description,
            starts_at=occurrence.starts_at,
            ends_at=occurrence.ends_at,
            timezone=timezone,
            venue=settings.venue,
            online_url=settings.online_url,
            capacity=settings.capacity,
            waitlist=settings.waitlist,
            requires_approval=settings.requires_approval,
            double_opt_in=settings.double_opt_in,
            reminder_hours=settings.reminder_hours,
            hosts=settings.hosts,
            series_id=series_id,
        )
        event_id = await event_service.create_event(actor, organisation_id, data)
        await Event.update({Event.series_original_start: occurrence.starts_at}).where(Event.id == event_id)
        for question in questions:
            copy = {k: v for k, v in question.items() if k not in ("id", "event")}
            await Question.insert(Question(event=event_id, **copy))
        ids.append(event_id)
    return ids


async def preview_series(actor: Actor, organisation_id: int, form: SeriesForm) -> list[PreviewDate]:
    """The dates "Create" would materialise, after the same checks (nothing is written)."""
    _require_edit(actor, organisation_id)
    rule = check_rule(form)
    if form.template_event.strip():
        template_id = _int(form.template_event, "template_event", 1, 2**31 - 1, N_("Choose an event."))
        await _settings_from_template(actor, organisation_id, template_id)
    else:
        _settings_from_form(form)
    return preview(rule)


async def create_series(actor: Actor, organisation_id: int, form: SeriesForm) -> int:
    """Create a series and one draft event per date of its rule; returns the series id."""
    _require_edit(actor, organisation_id)
    rule = check_rule(form)
    async with write_transaction():
        if form.template_event.strip():
            template_id = _int(form.template_event, "template_event", 1, 2**31 - 1, N_("Choose an event."))
            settings = await _settings_from_template(actor, organisation_id, template_id)
        else:
            settings = _settings_from_form(form)
        occurrences = rule.expand()
        series_id: int = (
            await Series.insert(
                Series(
                    organisation=organisation_id,
                    **{f"title_{lang}": getattr(settings.title, lang) for lang in LANGUAGES},
                    rrule=rule.parts.to_rrule(),
                    timezone=rule.timezone,
                    dtstart_local=rule.dtstart_local.strftime("%Y-%m-%dT%H:%M"),
                    duration_minutes=rule.duration_minutes,
                    exdates=",".join(d.isoformat() for d in rule.exdates),
                    template_event=settings.template_event,
                )
            )
        )[0]["id"]
        ids = await _materialise(actor, organisation_id, series_id, settings, occurrences, rule.timezone)
        if settings.template_event is None:
            await Series.update({Series.template_event: ids[0]}).where(Series.id == series_id)
        await audit.record(
            actor,
            "series.created",
            organisation_id=organisation_id,
            target=f"series:{series_id}",
            rrule=rule.parts.to_rrule(),
            occurrences=len(ids),
        )
    return series_id


async def publish_series(actor: Actor, series_id: int) -> int:
    """Publish every draft occurrence; returns how many were published."""
    async with write_transaction():
        row = await _series_row(actor, series_id, edit=True)
        drafts = await Event.select(Event.id).where((Event.series == series_id) & (Event.status == "draft"))
        for draft in drafts:
            await event_service.publish_event(actor, draft["id"])
        await audit.record(
            actor,
            "series.published",
            organisation_id=row["organisation"],
            target=f"series:{series_id}",
            count=len(drafts),
        )
    return len(drafts)


# Changing occurrences --------------------------------------------------------------------------


class SeriesChanges(msgspec.Struct, kw_only=True):
    """What "edit the series" may change; UNSET fields stay as each occurrence has them."""

    title: TitleTexts | msgspec.UnsetType = msgspec.UNSET
    description: DescriptionTexts | msgspec.UnsetType = msgspec.UNSET
    start_time: time | msgspec.UnsetType = msgspec.UNSET
    duration_minutes: int | msgspec.UnsetType = msgspec.UNSET
    capacity: int | msgspec.UnsetType | None = msgspec.UNSET
    venue: VenueInput | msgspec.UnsetType | None = msgspec.UNSET

    def is_empty(self) -> bool:
        return all(getattr(self, name) is msgspec.UNSET for name in self.__struct_fields__)

    def material(self) -> bool:
        """Whether calendars must act on it (time or place): updated invites go out."""
        return any(getattr(self, name) is not msgspec.UNSET for name in ("start_time", "duration_minutes", "venue"))


@dataclass(frozen=True)
class UpdatePlan:
    event_ids: list[int]
    people: int  # confirmed people who will get an updated invite


async def _targets(series_id: int, from_event_id: int, scope: str) -> list[dict[str, Any]]:
    """The occurrences a scope covers, oldest first; cancelled ones are never changed."""
    if scope not in SCOPES:
        raise InvalidInput(N_("Choose this one, this and following, or all."), field="scope")
    origin = await Event.select().where((Event.id == from_event_id) & (Event.series == series_id)).first()
    if origin is None:
        raise NotFound(N_("This occurrence is not part of the series."))
    if scope == "this":
        if origin["status"] == "cancelled":
            raise Conflict(N_("A cancelled event cannot be changed."))
        return [origin]
    query = Event.select().where((Event.series == series_id) & (Event.status != "cancelled"))
    if scope == "following":
        anchor = origin["series_original_start"] or origin["starts_at"]
        rows = await query
        rows = [r for r in rows if (r["series_original_start"] or r["starts_at"]) >= anchor]
    else:
        rows = await query
    return sorted(rows, key=lambda r: (r["series_original_start"] or r["starts_at"], r["id"]))


def _patch_for(row: dict[str, Any], changes: SeriesChanges) -> EventPatch:
    """The event patch one occurrence gets: a new local time keeps the occurrence's own date."""
    patch = EventPatch()
    if changes.title is not msgspec.UNSET:
        patch.title = changes.title
    if changes.description is not msgspec.UNSET:
        patch.description = changes.description
    if changes.capacity is not msgspec.UNSET:
        patch.capacity = changes.capacity
    if changes.venue is not msgspec.UNSET:
        patch.venue = changes.venue
    starts: datetime = row["starts_at"]
    length: timedelta = row["ends_at"] - row["starts_at"]
    if changes.start_time is not msgspec.UNSET:
        local_day = starts.astimezone(ZoneInfo(row["timezone"])).date()
        starts = to_utc(datetime.combine(local_day, changes.start_time), row["timezone"])
    if changes.duration_minutes is not msgspec.UNSET:
        length = timedelta(minutes=changes.duration_minutes)
    if changes.start_time is not msgspec.UNSET or changes.duration_minutes is not msgspec.UNSET:
        patch.starts_at = starts
        patch.ends_at = starts + length
    return patch


async def _confirmed_people(event_ids: list[int]) -> int:
    if not event_ids:
        return 0
    return int(
        await Registration.count().where(
            Registration.event.is_in(event_ids) & (Registration.status == "confirmed") & Registration.slot.is_null()
        )
    )


async def plan_update(
    actor: Actor, series_id: int, from_event_id: int, scope: str, changes: SeriesChanges
) -> UpdatePlan:
    """Which occurrences a change covers and how many people will get an updated invite."""
    await _series_row(actor, series_id, edit=False)
    rows = await _targets(series_id, from_event_id, scope)
    ids = [row["id"] for row in rows]
    people = 0
    if changes.material():
        people = await _confirmed_people([row["id"] for row in rows if row["status"] == "published"])
    return UpdatePlan(ids, people)


async def update_series(
    actor: Actor, series_id: int, from_event_id: int, scope: str, changes: SeriesChanges
) -> UpdatePlan:
    """Change one occurrence ("this"), it and every later one by the rule's order
    ("following"), or every occurrence that is not cancelled ("all"), through the event
    service, so a material change raises each SEQUENCE and sends updated invites."""
    async with write_transaction():
        series = await _series_row(actor, series_id, edit=True)
        if changes.is_empty():
            raise InvalidInput(N_("Nothing was changed."), field="scope")
        minutes = changes.duration_minutes
        if minutes is not msgspec.UNSET and not 5 <= minutes <= MAX_DURATION_MINUTES:
            raise InvalidInput(N_("The length is a number of minutes between 5 and 1440."), field="duration_minutes")
        rows = await _targets(series_id, from_event_id, scope)
        people = 0
        if changes.material():
            people = await _confirmed_people([row["id"] for row in rows if row["status"] == "published"])
        for row in rows:
            await event_service.update_event(actor, row["id"], _patch_for(row, changes))
        series_values: dict[Any, Any] = {}
        if scope == "all" or (scope == "following" and rows and rows[0]["id"] == await _first_id(series_id)):
            if changes.title is not msgspec.UNSET:
                series_values.update({f"title_{lang}": getattr(changes.title, lang).strip() for lang in LANGUAGES})
            if changes.duration_minutes is not msgspec.UNSET:
                series_values["duration_minutes"] = changes.duration_minutes
            if changes.start_time is not msgspec.UNSET and series["dtstart_local"]:
                series_values["dtstart_local"] = f"{series['dtstart_local'][:10]}T{changes.start_time:%H:%M}"
        series_values["updated_at"] = _now()
        await Series.update(series_values).where(Series.id == series_id)
        await audit.record(
            actor,
            "series.updated",
            organisation_id=series["organisation"],
            target=f"series:{series_id}",
            scope=scope,
            events=[row["id"] for row in rows],
            told=people,
        )
    return UpdatePlan([row["id"] for row in rows], people)


async def _first_id(series_id: int) -> int | None:
    rows = await Event.select(Event.id, Event.series_original_start, Event.starts_at).where(Event.series == series_id)
    if not rows:
        return None
    return int(min(rows, key=lambda r: (r["series_original_start"] or r["starts_at"], r["id"]))["id"])


async def _occurrence(series_id: int, event_id: int) -> dict[str, Any]:
    row = await Event.select().where((Event.id == event_id) & (Event.series == series_id)).first()
    if row is None:
        raise NotFound(N_("This occurrence is not part of the series."))
    return row


async def cancel_occurrence(actor: Actor, series_id: int, event_id: int) -> None:
    """Cancel one occurrence (its participants are told); the others are untouched."""
    async with write_transaction():
        series = await _series_row(actor, series_id, edit=True)
        await _occurrence(series_id, event_id)
        await event_service.cancel_event(actor, event_id)
        await audit.record(
            actor, "series.occurrence_cancelled", organisation_id=series["organisation"], target=f"event:{event_id}"
        )


async def move_occurrence(actor: Actor, series_id: int, event_id: int, new_start_local: str) -> bool:
    """Move one occurrence to another local date and time, keeping its length and the start the
    rule gave it. Returns whether participants were sent an updated invite."""
    async with write_transaction():
        series = await _series_row(actor, series_id, edit=True)
        local = parse_local(new_start_local, "new_start")
        row = await _occurrence(series_id, event_id)
        if row["status"] == "cancelled":
            raise Conflict(N_("A cancelled event cannot be changed."))
        starts = to_utc(local, row["timezone"])
        patch = EventPatch(starts_at=starts, ends_at=starts + (row["ends_at"] - row["starts_at"]))
        material = await event_service.update_event(actor, event_id, patch)
        await audit.record(
            actor,
            "series.occurrence_moved",
            organisation_id=series["organisation"],
            target=f"event:{event_id}",
            to=starts.isoformat(),
        )
    return material


async def add_exception(actor: Actor, series_id: int, day: str) -> int | None:
    """Skip a local date from now on; the occurrence on that date (by the rule), if any, is
    cancelled. Returns the cancelled event's id."""
    async with write_transaction():
        series = await _series_row(actor, series_id, edit=True)
        days_given = parse_exdates([day])
        if len(days_given) != 1:
            raise InvalidInput(N_("Give a date, e.g. 2027-04-06."), field="exdates")
        when = days_given[0]
        days = set(parse_exdates(series["exdates"])) | {when}
        await Series.update(
            {Series.exdates: ",".join(d.isoformat() for d in sorted(days)), Series.updated_at: _now()}
        ).where(Series.id == series_id)
        zone = ZoneInfo(series["timezone"])
        cancelled = None
        for row in await Event.select().where((Event.series == series_id) & (Event.status != "cancelled")):
            original = row["series_original_start"] or row["starts_at"]
            if original.astimezone(zone).date() == when:
                await event_service.cancel_event(actor, row["id"])
                cancelled = row["id"]
        await audit.record(
            actor,
            "series.exception_added",
            organisation_id=series["organisation"],
            target=f"series:{series_id}",
            date=when.isoformat(),
            cancelled=cancelled,
        )
    return cancelled


# Changing the rule from one occurrence on (a split) -------------------------------------------


@dataclass(frozen=True)
class SplitResult:
    series_id: int
    kept: list[int]
    created: list[int]
    cancelled: list[int]


async def change_rule_from(actor: Actor, series_id: int, from_event_id: int, form: SeriesForm) -> SplitResult:
    """Change the rule for "this and following": the old series now ends just before this
    occurrence; a new series holds the new rule from this occurrence's date on. Later
    occurrences that fall on a date and time of the new rule move to the new series as they
    are (same UID, nobody is bothered); the others are cancelled; new dates become new events
    with the settings of this occurrence, published when it was."""
    async with write_transaction():
        old = await _series_row(actor, series_id, edit=True)
        rule = check_rule(form)
        origin = await _occurrence(series_id, from_event_id)
        anchor: datetime = origin["series_original_start"] or origin["starts_at"]
        zone = ZoneInfo(old["timezone"])
        if rule.dtstart_local < anchor.astimezone(zone).replace(tzinfo=None).replace(hour=0, minute=0):
            raise InvalidInput(N_("The new rule cannot start before this occurrence."), field="start_date")
        # The old rule ends the second before this occurrence (local wall time, like DTSTART).
        old_parts = [p for p in old["rrule"].split(";") if not p.upper().startswith(("UNTIL=", "COUNT="))]
        until_local = anchor.astimezone(zone).replace(tzinfo=None) - timedelta(seconds=1)
        old_parts.append(f"UNTIL={until_local:%Y%m%dT%H%M%S}")
        await Series.update({Series.rrule: ";".join(old_parts), Series.updated_at: _now()}).where(
            Series.id == series_id
        )
        new_id: int = (
            await Series.insert(
                Series(
                    organisation=old["organisation"],
                    **{f"title_{lang}": old[f"title_{lang}"] for lang in LANGUAGES},
                    rrule=rule.parts.to_rrule(),
                    timezone=rule.timezone,
                    dtstart_local=rule.dtstart_local.strftime("%Y-%m-%dT%H:%M"),
                    duration_minutes=rule.duration_minutes,
                    exdates=",".join(d.isoformat() for d in rule.exdates),
                    template_event=from_event_id,
                )
            )
        )[0]["id"]
        wanted = {o.starts_at: o for o in rule.expand()}
        later = [
            r
            for r in await Event.select().where((Event.series == series_id) & (Event.status != "cancelled"))
            if (r["series_original_start"] or r["starts_at"]) >= anchor
        ]
        kept, cancelled = [], []
        for row in later:
            original = row["series_original_start"] or row["starts_at"]
            occurrence = wanted.pop(original, None)
            if (
                occurrence is not None
                and row["ends_at"] - row["starts_at"] == occurrence.ends_at - occurrence.starts_at
            ):
                await Event.update({Event.series: new_id}).where(Event.id == row["id"])
                kept.append(row["id"])
            else:
                if occurrence is not None:
                    wanted[original] = occurrence  # same start, other length: a new event replaces it
                # It stays in the old series, so that series' feed shows it cancelled.
                await event_service.cancel_event(actor, row["id"])
                cancelled.append(row["id"])
        settings = await _settings_from_template(actor, old["organisation"], from_event_id)
        created = await _materialise(
            actor, old["organisation"], new_id, settings, sorted(wanted.values()), rule.timezone
        )
        if origin["status"] == "published":
            for event_id in created:
                await event_service.publish_event(actor, event_id)
        await audit.record(
            actor,
            "series.split",
            organisation_id=old["organisation"],
            target=f"series:{series_id}",
            new_series=new_id,
            rrule=rule.parts.to_rrule(),
            kept=kept,
            created=created,
            cancelled=cancelled,
        )
    return SplitResult(new_id, kept, created, cancelled)


# Reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OccurrenceView:
    id: int
    title: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    original_start: datetime | None
    status: str
    sequence: int
    confirmed: int
    capacity: int | None
    timezone: str = DEFAULT_TIMEZONE

    @property
    def local_day(self) -> str:
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d")

    @property
    def local_hhmm(self) -> str:
        return self.starts_at.astimezone(ZoneInfo(self.timezone)).strftime("%H:%M")

    @property
    def moved(self) -> bool:
        return self.original_start is not None and self.original_start != self.starts_at


@dataclass(frozen=True)
class SeriesView:
    id: int
    organisation: int
    organisation_slug: str
    title: dict[str, str]
    rrule: str
    rule: RuleParts | None
    timezone: str
    dtstart_local: str
    duration_minutes: int
    exdates: list[date]
    occurrences: list[OccurrenceView]
    can_edit: bool

    @property
    def start_time(self) -> str:
        return self.dtstart_local[11:16]


def _view(row: dict[str, Any], slug: str, events: list[dict[str, Any]], can_edit: bool) -> SeriesView:
    occurrences = [
        OccurrenceView(
            id=e["id"],
            title={lang: e[f"title_{lang}"] for lang in LANGUAGES if e[f"title_{lang}"]},
            starts_at=e["starts_at"],
            ends_at=e["ends_at"],
            original_start=e["series_original_start"],
            status=e["status"],
            sequence=e["sequence"],
            confirmed=e["confirmed_count"],
            capacity=e["capacity"],
            timezone=e["timezone"],
        )
        for e in sorted(events, key=lambda e: (e["series_original_start"] or e["starts_at"], e["id"]))
    ]
    return SeriesView(
        id=row["id"],
        organisation=row["organisation"],
        organisation_slug=slug,
        title={lang: row[f"title_{lang}"] for lang in LANGUAGES if row[f"title_{lang}"]},
        rrule=row["rrule"],
        rule=parse_rrule(row["rrule"]) if row["rrule"] else None,
        timezone=row["timezone"],
        dtstart_local=row["dtstart_local"],
        duration_minutes=row["duration_minutes"],
        exdates=parse_exdates(row["exdates"]),
        occurrences=occurrences,
        can_edit=can_edit,
    )


async def get_series(actor: Actor, series_id: int) -> SeriesView:
    """A series with its occurrences, for anyone with a role in its organisation (others: 404)."""
    row = await _series_row(actor, series_id, edit=False)
    org = await Organisation.select(Organisation.slug).where(Organisation.id == row["organisation"]).first()
    events = await Event.select().where(Event.series == series_id)
    return _view(row, org["slug"] if org else "", events, actor.can_edit_for(row["organisation"]))


async def list_series(actor: Actor) -> list[SeriesView]:
    """The series of every organisation the actor has a role in, newest first."""
    ids = list(actor.roles) or [-1]
    rows = await Series.select().where(Series.organisation.is_in(ids)).order_by(Series.id, ascending=False)
    if not rows:
        return []
    orgs = {
        o["id"]: o["slug"]
        for o in await Organisation.select(Organisation.id, Organisation.slug).where(Organisation.id.is_in(ids))
    }
    events = await Event.select().where(Event.series.is_in([r["id"] for r in rows]))
    by_series: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        by_series.setdefault(event["series"], []).append(event)
    return [
        _view(
            row,
            orgs.get(row["organisation"], ""),
            by_series.get(row["id"], []),
            actor.can_edit_for(row["organisation"]),
        )
        for row in rows
    ]
