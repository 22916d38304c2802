"""Helpers shared by the calendar tests: calendar items, UTC arithmetic, raw-line checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from events.calendar.ics import CalendarItem

ORG_EMAIL = "info@ondernemershuis.example"
ORG_NAME = "Ondernemershuis Gent"
STAMP = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def local(tzid: str, *parts: int, fold: int = 0) -> datetime:
    """An aware datetime from a local wall-clock time in `tzid`, as UTC (what Trefpunt stores)."""
    return datetime(*parts, tzinfo=ZoneInfo(tzid), fold=fold).astimezone(UTC)  # type: ignore[misc]


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_item(**overrides: Any) -> CalendarItem:
    """A plain info session on a summer day in Brussels; overrides replace fields."""
    starts = local("Europe/Brussels", 2026, 7, 14, 14, 0)
    item = CalendarItem(
        uid="event-1b2c3d4e@trefpunt.example",
        sequence=0,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        timezone="Europe/Brussels",
        summary="Infosessie microkrediet",
        description="Alles over microkrediet.",
        location="Ondernemershuis, Zaal A, Kerkstraat 1, Gent",
        url="https://trefpunt.example/events/1",
        online_url="",
        cancelled=False,
        last_modified=datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
        organizer_email=ORG_EMAIL,
        organizer_name=ORG_NAME,
    )
    return replace(item, **overrides)


def raw_lines(ics: bytes) -> list[bytes]:
    """The physical lines of an iCalendar body; asserts every line ends with CRLF."""
    assert ics.endswith(b"\r\n"), "the last line must end with CRLF"
    lines = ics[:-2].split(b"\r\n")
    for number, line in enumerate(lines, 1):
        assert b"\n" not in line and b"\r" not in line, f"line {number} has a bare CR or LF: {line!r}"
    return lines


def assert_folded(ics: bytes) -> None:
    """RFC 5545 §3.1: no line longer than 75 octets (without the CRLF), CRLF line endings,
    and folding never splits a UTF-8 sequence."""
    for number, line in enumerate(raw_lines(ics), 1):
        assert len(line) <= 75, f"line {number} has {len(line)} octets: {line!r}"
        line.decode("utf-8")  # a fold inside a multi-byte character leaves invalid UTF-8 on both lines


def unfolded(ics: bytes) -> list[str]:
    """Content lines after unfolding (RFC 5545 §3.1)."""
    return ics.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")


def calendar_level_lines(ics: bytes) -> list[str]:
    """The VCALENDAR's own properties (outside any sub-component)."""
    depth = 0
    found = []
    for line in unfolded(ics):
        if line.startswith("BEGIN:"):
            depth += 1
        elif line.startswith("END:"):
            depth -= 1
        elif depth == 1:
            found.append(line)
    return found


def property_names(line: str) -> str:
    return line.split(":", 1)[0].split(";", 1)[0].upper()
