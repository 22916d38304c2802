"""The time-zone matrix (CALENDAR.md, "Time"): change nights in both hemispheres, a zone
without DST, summer, winter and a date past 2038. Instants are what zoneinfo says for the
local wall-clock times; where the night makes it worth it, the UTC instants are spelled out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.calendar.helpers import local

BXL = "Europe/Brussels"
SYD = "Australia/Sydney"
NYC = "America/New_York"
KOL = "Asia/Kolkata"


@dataclass(frozen=True)
class Case:
    id: str
    tzid: str
    starts_at: datetime
    ends_at: datetime
    expected: tuple[str, str]  # the UTC instants of start and end, spelled out


def case(
    id: str,
    tzid: str,
    start: tuple[int, ...],
    end: tuple[int, ...] | timedelta,
    expected: tuple[str, str],
    *,
    fold: int = 0,
) -> Case:
    """`start` is a local wall-clock time (`fold` picks the first or second of a repeated hour);
    `end` is a local wall-clock time too, or a real duration added in UTC."""
    starts = local(tzid, *start, fold=fold)
    ends = starts + end if isinstance(end, timedelta) else local(tzid, *end)
    return Case(id, tzid, starts, ends, expected)


HOUR = timedelta(hours=1)
CASES = [
    # 2027-03-28: clocks go from 02:00 CET to 03:00 CEST; 01:30 → 03:30 local is one real hour.
    case("brussels-spring-across-gap", BXL, (2027, 3, 28, 1, 30), (2027, 3, 28, 3, 30),
         ("2027-03-28T00:30:00Z", "2027-03-28T01:30:00Z")),
    case("brussels-spring-0300", BXL, (2027, 3, 28, 3, 0), (2027, 3, 28, 4, 0),
         ("2027-03-28T01:00:00Z", "2027-03-28T02:00:00Z")),
    case("brussels-spring-0130-plus-90min", BXL, (2027, 3, 28, 1, 30), timedelta(minutes=90),
         ("2027-03-28T00:30:00Z", "2027-03-28T02:00:00Z")),
    # 2026-10-25: 03:00 CEST → 02:00 CET, so 02:30 happens twice.
    case("brussels-autumn-0230-first", BXL, (2026, 10, 25, 2, 30), HOUR,
         ("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"), fold=0),
    case("brussels-autumn-0230-second", BXL, (2026, 10, 25, 2, 30), HOUR,
         ("2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"), fold=1),
    case("brussels-autumn-evening", BXL, (2026, 10, 25, 19, 0), (2026, 10, 25, 21, 0),
         ("2026-10-25T18:00:00Z", "2026-10-25T20:00:00Z")),
    case("brussels-summer", BXL, (2026, 7, 14, 14, 0), (2026, 7, 14, 16, 0),
         ("2026-07-14T12:00:00Z", "2026-07-14T14:00:00Z")),
    case("brussels-winter", BXL, (2027, 1, 19, 19, 0), (2027, 1, 19, 21, 30),
         ("2027-01-19T18:00:00Z", "2027-01-19T20:30:00Z")),
    case("brussels-2040-summer", BXL, (2040, 6, 12, 19, 0), (2040, 6, 12, 21, 0),
         ("2040-06-12T17:00:00Z", "2040-06-12T19:00:00Z")),
    case("brussels-2040-winter", BXL, (2040, 12, 4, 9, 0), (2040, 12, 4, 12, 0),
         ("2040-12-04T08:00:00Z", "2040-12-04T11:00:00Z")),
    # Sydney: DST ends 2027-04-04 03:00 AEDT → 02:00 AEST; starts 2027-10-03 02:00 AEST → 03:00 AEDT.
    case("sydney-april-0230-first", SYD, (2027, 4, 4, 2, 30), HOUR,
         ("2027-04-03T15:30:00Z", "2027-04-03T16:30:00Z"), fold=0),
    case("sydney-april-0230-second", SYD, (2027, 4, 4, 2, 30), HOUR,
         ("2027-04-03T16:30:00Z", "2027-04-03T17:30:00Z"), fold=1),
    case("sydney-october-across-gap", SYD, (2027, 10, 3, 1, 30), (2027, 10, 3, 3, 30),
         ("2027-10-02T15:30:00Z", "2027-10-02T16:30:00Z")),
    case("sydney-normal-day", SYD, (2027, 2, 10, 9, 0), (2027, 2, 10, 11, 0),
         ("2027-02-09T22:00:00Z", "2027-02-10T00:00:00Z")),
    case("sydney-winter", SYD, (2027, 7, 10, 9, 0), (2027, 7, 10, 11, 0),
         ("2027-07-09T23:00:00Z", "2027-07-10T01:00:00Z")),
    # No daylight saving time, and a half-hour offset.
    case("kolkata", KOL, (2026, 9, 1, 14, 0), (2026, 9, 1, 15, 30),
         ("2026-09-01T08:30:00Z", "2026-09-01T10:00:00Z")),
    case("new-york-spring-across-gap", NYC, (2027, 3, 14, 1, 30), (2027, 3, 14, 3, 30),
         ("2027-03-14T06:30:00Z", "2027-03-14T07:30:00Z")),
    case("new-york-autumn-0130-second", NYC, (2026, 11, 1, 1, 30), HOUR,
         ("2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z"), fold=1),
    case("new-york-normal", NYC, (2026, 12, 3, 18, 0), (2026, 12, 3, 20, 0),
         ("2026-12-03T23:00:00Z", "2026-12-04T01:00:00Z")),
]  # fmt: skip
