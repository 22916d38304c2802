"""VTIMEZONE components in the style Outlook and Google write: one STANDARD and one DAYLIGHT
sub-component, each with a yearly RRULE (CALENDAR.md). icalendar's `add_missing_timezones()`
writes dated transitions (RDATE) that Thunderbird misreads and that stop in 2038.

The rule is derived from zoneinfo's real transitions and checked against the neighbouring
years; a zone whose changes don't follow an "n-th weekday of a month" rule gets no VTIMEZONE
and its times are written in UTC instead. So is a moment that is ambiguous or nonexistent in
local time (the repeated hour in autumn): a TZID form could not say which one is meant.
"""

from __future__ import annotations

import calendar as pycalendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class Change:
    """A yearly change: on the `nth` (−1 = last) `weekday` of `month`, at local `hour:minute`."""

    month: int
    nth: int
    weekday: int
    hour: int
    minute: int
    offset_from: timedelta
    offset_to: timedelta
    name: str

    def local_date(self, year: int) -> date:
        days = [
            d
            for d in range(1, pycalendar.monthrange(year, self.month)[1] + 1)
            if date(year, self.month, d).weekday() == self.weekday
        ]
        return date(year, self.month, days[self.nth - 1] if self.nth > 0 else days[-1])

    def utc_moment(self, year: int) -> datetime:
        day = self.local_date(year)
        local = datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=UTC)
        return local - self.offset_from


@dataclass(frozen=True)
class ZoneRule:
    tzid: str
    standard_offset: timedelta
    standard_name: str
    changes: tuple[Change, ...]  # empty for zones without daylight saving time


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _transitions(zone: ZoneInfo, year: int) -> list[tuple[datetime, timedelta, timedelta, str]]:
    """(UTC moment, offset before, offset after, name after) of each change in `year`."""
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(days=1)
    before = _offset(zone, moment)
    while moment < end:
        after_moment = moment + step
        after = _offset(zone, after_moment)
        if after != before:
            low, high = moment, after_moment
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if _offset(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            high = high.replace(second=0, microsecond=0)
            found.append((high, before, after, high.astimezone(zone).tzname() or ""))
            before = after
        moment = after_moment
    return found


def _change_from(moment: datetime, before: timedelta, after: timedelta, name: str) -> Change:
    local = moment + before  # wall clock just before the change, in the old offset
    days_in_month = pycalendar.monthrange(local.year, local.month)[1]
    nth = -1 if local.day + 7 > days_in_month else (local.day - 1) // 7 + 1
    return Change(local.month, nth, local.weekday(), local.hour, local.minute, before, after, name)


@lru_cache(maxsize=256)
def zone_rule(tzid: str, year: int) -> ZoneRule | None:
    """The yearly rule of `tzid` around `year`, or None when no such rule describes it."""
    try:
        zone = ZoneInfo(tzid)
    except (KeyError, ValueError, OSError):
        return None
    transitions = _transitions(zone, year)
    if not transitions:
        moment = datetime(year, 7, 1, tzinfo=UTC)
        for other in (year - 1, year + 1):
            if _transitions(zone, other):
                return None
        return ZoneRule(tzid, _offset(zone, moment), moment.astimezone(zone).tzname() or "", ())
    if len(transitions) != 2:
        return None
    changes = tuple(_change_from(*t) for t in transitions)
    for other in (year - 1, year + 1):
        actual = [t[0] for t in _transitions(zone, other)]
        if actual != sorted(change.utc_moment(other) for change in changes):
            return None
    standard = min(changes, key=lambda c: c.offset_to)
    return ZoneRule(tzid, standard.offset_to, standard.name, changes)


def rule_for_span(tzid: str, first: datetime, last: datetime) -> ZoneRule | None:
    """One rule valid for every year from `first` to `last`, else None (write UTC)."""
    rule = zone_rule(tzid, first.year)
    if rule is None:
        return None
    for year in range(first.year + 1, last.year + 1):
        if zone_rule(tzid, year) != rule:
            return None
    return rule


def is_unambiguous(moment: datetime, tzid: str) -> bool:
    """True when the local wall-clock time names exactly this instant (no gap, no repeat)."""
    zone = ZoneInfo(tzid)
    local = moment.astimezone(zone).replace(tzinfo=None)
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return first == second == moment.astimezone(UTC)


def _first_in_1970(change: Change) -> datetime:
    day = change.local_date(1970)
    return datetime(day.year, day.month, day.day, change.hour, change.minute)


def vtimezone(rule: ZoneRule) -> Timezone:
    """The VTIMEZONE component for `rule`."""
    component = Timezone()
    component.add("TZID", rule.tzid)
    if not rule.changes:
        standard = TimezoneStandard()
        standard.add("DTSTART", datetime(1970, 1, 1))
        standard.add("TZOFFSETFROM", rule.standard_offset)
        standard.add("TZOFFSETTO", rule.standard_offset)
        if rule.standard_name:
            standard.add("TZNAME", rule.standard_name)
        component.add_component(standard)
        return component
    for change in sorted(rule.changes, key=lambda c: c.offset_to):
        sub = TimezoneStandard() if change.offset_to == rule.standard_offset else TimezoneDaylight()
        sub.add("DTSTART", _first_in_1970(change))
        sub.add("TZOFFSETFROM", change.offset_from)
        sub.add("TZOFFSETTO", change.offset_to)
        if change.name:
            sub.add("TZNAME", change.name)
        sub.add(
            "RRULE", {"FREQ": "YEARLY", "BYMONTH": change.month, "BYDAY": f"{change.nth}{WEEKDAYS[change.weekday]}"}
        )
        component.add_component(sub)
    return component
