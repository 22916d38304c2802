"""Pure builders: domain values → iCalendar bytes. No database, no clock (callers pass DTSTAMP).

Invites (iMIP, RFC 6047) carry METHOD, ORGANIZER and one ATTENDEE; feeds carry neither and no
personal data. Text is escaped and folded by icalendar — or, for a feed's VEVENTs, by a writer
tested to give icalendar's very bytes (`_feed_vevent`), never formatted ad hoc.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vDuration, vText

from events import __version__
from events.calendar.timezones import ZoneRule, is_unambiguous, rule_for_span, vtimezone

PRODID = f"-//Trefpunt//Trefpunt {__version__}//EN"
Method = Literal["REQUEST", "CANCEL"]


@dataclass(frozen=True)
class CalendarItem:
    """What a calendar needs of an event, booking or meeting, already in one language."""

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    timezone: str
    summary: str
    description: str
    location: str
    url: str
    online_url: str
    cancelled: bool
    last_modified: datetime
    organizer_email: str
    organizer_name: str


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str


def _zone_rules(items: Iterable[CalendarItem]) -> dict[str, ZoneRule]:
    spans: dict[str, tuple[datetime, datetime]] = {}
    for item in items:
        first, last = spans.get(item.timezone, (item.starts_at, item.ends_at))
        spans[item.timezone] = (min(first, item.starts_at), max(last, item.ends_at))
    rules = {}
    for tzid, (first, last) in spans.items():
        if tzid == "UTC":
            continue
        rule = rule_for_span(tzid, first, last)
        if rule is not None:
            rules[tzid] = rule
    return rules


def _moment(moment: datetime, tzid: str, rules: dict[str, ZoneRule]) -> datetime:
    """Local time with TZID when a VTIMEZONE is shipped and the wall time is unambiguous, else UTC."""
    if tzid in rules and is_unambiguous(moment, tzid):
        return moment.astimezone(ZoneInfo(tzid))
    return moment.astimezone(UTC)


def _vevent(item: CalendarItem, rules: dict[str, ZoneRule], *, stamp: datetime) -> Event:
    event = Event()
    event.add("UID", item.uid)
    event.add("SEQUENCE", item.sequence)
    event.add("DTSTAMP", stamp.astimezone(UTC))
    event.add("DTSTART", _moment(item.starts_at, item.timezone, rules))
    event.add("DTEND", _moment(item.ends_at, item.timezone, rules))
    event.add("SUMMARY", item.summary)
    description = item.description.strip()
    links = "\n".join(link for link in (item.online_url, item.url) if link)
    event.add("DESCRIPTION", f"{description}\n\n{links}".strip() if links else description)
    # Clients show LOCATION prominently; an online-only event puts its link there too.
    location = item.location or item.online_url
    if location:
        event.add("LOCATION", location)
    if item.url:
        event.add("URL", item.url)
    event.add("STATUS", "CANCELLED" if item.cancelled else "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    event.add("LAST-MODIFIED", item.last_modified.astimezone(UTC))
    return event


def _organizer(item: CalendarItem) -> vCalAddress:
    organizer = vCalAddress(f"mailto:{item.organizer_email}")
    organizer.params["CN"] = vText(item.organizer_name)
    return organizer


def build_invite(item: CalendarItem, attendee: Attendee, *, method: Method, stamp: datetime) -> bytes:
    """An iMIP message body for one recipient: METHOD:REQUEST (new or updated) or METHOD:CANCEL.

    `item.sequence` must already be the sequence this message carries (a cancellation's is
    higher than the invite it replaces). The attendee is the recipient, never the organiser.
    """
    rules = _zone_rules([item])
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    for rule in rules.values():
        calendar.add_component(vtimezone(rule))
    event = _vevent(item, rules, stamp=stamp)
    if method == "CANCEL":
        event["STATUS"] = "CANCELLED"
    event.add("ORGANIZER", _organizer(item))
    address = vCalAddress(f"mailto:{attendee.email}")
    address.params["CN"] = vText(attendee.name or attendee.email)
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    # Trefpunt, not the organiser's mailbox, holds the registration: no reply is asked for.
    address.params["RSVP"] = "FALSE"
    event.add("ATTENDEE", address)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


# Feeds ---------------------------------------------------------------------------------------
# A feed's VEVENTs all have one fixed shape, which _feed_vevent writes directly: the same bytes as
# icalendar's `_vevent(...).to_ical()` (property order, TEXT escaping, folding at 75 octets without
# splitting a character or an escape), about 20 times faster. tests/perf/test_feed_vevent.py
# compares the two on many generated events; anything outside the shape goes to icalendar.

_SAFE_TZID = re.compile(r"[A-Za-z0-9_+\-/]+")


def _ical_text(text: str) -> str:
    # The order matters (as in icalendar): a backslash is escaped before the escapes are added.
    return (
        text.replace(r"\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", r"\;")
        .replace(",", r"\,")
        .replace("\r\n", r"\n")
        .replace("\n", r"\n")
        .replace("\r", r"\n")
    )


def _ical_utc(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}Z"
    )


def _ical_moment(name: str, moment: datetime, tzid: str, rules: dict[str, ZoneRule]) -> str:
    """As `_moment`: local time with TZID when that wall time names one instant, else UTC."""
    if tzid in rules:
        zone = ZoneInfo(tzid)
        local = moment.astimezone(zone)
        # `local` names `moment`; it is unambiguous when the other fold has the same offset
        # (is_unambiguous, in one conversion instead of three).
        if local.replace(fold=1 - local.fold).utcoffset() == local.utcoffset():
            stamp = (
                f"{local.year:04d}{local.month:02d}{local.day:02d}T{local.hour:02d}{local.minute:02d}{local.second:02d}"
            )
            return f"{name};TZID={tzid}:{stamp}"
    return f"{name}:{_ical_utc(moment)}"


def _fold(data: bytes) -> bytes:
    """RFC 5545 folding as icalendar does it: at most 74 octets of content per physical line,
    never inside a UTF-8 character, and a trailing backslash or caret moves to the next line."""
    parts = []
    start = 0
    while len(data) - start >= 75:
        end = start + 74
        while data[end] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            end -= 1
        if end - start > 1 and data[end - 1] in (0x5C, 0x5E):
            end -= 1
        parts.append(data[start:end])
        start = end
    parts.append(data[start:])
    return b"\r\n ".join(parts)


def _feed_vevent(item: CalendarItem, rules: dict[str, ZoneRule]) -> bytes:
    if not _SAFE_TZID.fullmatch(item.timezone):
        return bytes(_vevent(item, rules, stamp=item.last_modified).to_ical())
    description = item.description.strip()
    links = "\n".join(link for link in (item.online_url, item.url) if link)
    description = f"{description}\n\n{links}".strip() if links else description
    location = item.location or item.online_url
    changed = _ical_utc(item.last_modified)
    lines = [
        "BEGIN:VEVENT",
        f"SUMMARY:{_ical_text(item.summary)}",
        _ical_moment("DTSTART", item.starts_at, item.timezone, rules),
        _ical_moment("DTEND", item.ends_at, item.timezone, rules),
        f"DTSTAMP:{changed}",
        f"UID:{_ical_text(item.uid)}",
        f"SEQUENCE:{int(item.sequence)}",
        f"DESCRIPTION:{_ical_text(description)}",
        f"LAST-MODIFIED:{changed}",
    ]
    if location:
        lines.append(f"LOCATION:{_ical_text(location)}")
    lines.append("STATUS:CANCELLED" if item.cancelled else "STATUS:CONFIRMED")
    lines.append("TRANSP:OPAQUE")
    if item.url:
        lines.append(f"URL:{item.url}")
    lines.append("END:VEVENT")
    encoded = [line.encode("utf-8") for line in lines]
    return b"\r\n".join(data if len(data) < 75 else _fold(data) for data in encoded) + b"\r\n"


@lru_cache(maxsize=20_000)
def _feed_vevent_bytes(item: CalendarItem, rule_key: tuple[tuple[str, ZoneRule], ...]) -> bytes:
    """A feed's VEVENT, serialised once per (item, zone rules): items are frozen values, so the
    cache key changes whenever SEQUENCE, text or last change does."""
    return _feed_vevent(item, dict(rule_key))


def build_feed(
    name: str,
    items: Sequence[CalendarItem],
    *,
    calendar_uid: str,
    description: str = "",
    refresh: timedelta = timedelta(hours=1),
) -> bytes:
    """A subscribable feed: no METHOD, no ORGANIZER or ATTENDEE, no personal data.

    The bytes depend only on the arguments: ordered as given, DTSTAMP = each item's last
    change, a fixed calendar UID. Each VEVENT's serialisation is cached.
    """
    rules = _zone_rules(items)
    # icalendar writes NAME and X-WR-CALNAME unescaped and clients read them raw: one line.
    name = " ".join(name.split())
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("UID", calendar_uid)
    calendar.add("NAME", name)
    calendar.add("X-WR-CALNAME", name)
    if description:
        calendar.add("DESCRIPTION", description)
    calendar.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(refresh))
    for tzid in sorted(rules):
        calendar.add_component(vtimezone(rules[tzid]))
    envelope = bytes(calendar.to_ical())
    head, end = envelope.rsplit(b"END:VCALENDAR", 1)
    rule_key = tuple(sorted(rules.items()))
    relevant = {tzid: _relevant(rule_key, tzid) for tzid in {item.timezone for item in items}}
    body = b"".join(_feed_vevent_bytes(item, relevant[item.timezone]) for item in items)
    return head + body + b"END:VCALENDAR" + end


def _relevant(rule_key: tuple[tuple[str, ZoneRule], ...], tzid: str) -> tuple[tuple[str, ZoneRule], ...]:
    return tuple(pair for pair in rule_key if pair[0] == tzid)
