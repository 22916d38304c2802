"""Property tests (hypothesis) of the pure rules: consultation slots, series expansion and
iCalendar text. Derandomized and bounded, so CI sees the same examples on every run."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.calendar.ics import CalendarItem, _feed_vevent, _vevent, _zone_rules, build_feed
from events.services.consultations import generate_slots
from events.services.series import expand, is_shifted

PROPERTY = settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
BRUSSELS = ZoneInfo("Europe/Brussels")
# Days around the clock changes, and ordinary days.
DAYS = [date(2027, 3, 28), date(2027, 10, 31), date(2026, 3, 29), date(2026, 10, 25), date(2027, 6, 15)]


# Consultation slots ------------------------------------------------------------------------------


@st.composite
def availability(draw: st.DrawFn) -> list[tuple[datetime, datetime]]:
    """1–4 non-overlapping windows (the gaps are breaks) on one Brussels day, DST days included."""
    day = draw(st.sampled_from(DAYS))
    midnight = datetime(day.year, day.month, day.day, tzinfo=BRUSSELS).astimezone(UTC)
    cuts = sorted(draw(st.lists(st.integers(0, 24 * 60), min_size=2, max_size=8, unique=True)))
    pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
    return [(midnight + timedelta(minutes=a), midnight + timedelta(minutes=b)) for a, b in pairs]


@PROPERTY
@given(windows=availability(), slot=st.integers(5, 120), buffer=st.integers(0, 60))
def test_slots_never_overlap_and_respect_windows_breaks_and_buffers(
    windows: list[tuple[datetime, datetime]], slot: int, buffer: int
) -> None:
    slots = generate_slots(windows, slot, buffer)
    length = timedelta(minutes=slot)
    for start, end in slots:
        assert end - start == length  # real (UTC) minutes, also on the night the clocks change
        assert any(w_start <= start and end <= w_end for w_start, w_end in windows), "outside every window"
    for (_, first_end), (second_start, _) in itertools.pairwise(slots):
        assert second_start >= first_end, "slots overlap"
        same_window = any(w0 <= first_end and second_start < w1 for w0, w1 in windows)
        if same_window:
            assert second_start - first_end >= timedelta(minutes=buffer), "buffer not kept"
    for w_start, w_end in windows:
        inside = [s for s in slots if w_start <= s[0] < w_end]
        # No room is wasted: another slot would not fit before the window ends.
        last_end = inside[-1][1] if inside else w_start - timedelta(minutes=buffer)
        assert last_end + timedelta(minutes=buffer) + length > w_end


# Series expansion --------------------------------------------------------------------------------


@PROPERTY
@given(
    first=st.dates(date(2026, 1, 1), date(2028, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    freq=st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]),
    interval=st.integers(1, 3),
    count=st.integers(1, 40),
    skip=st.lists(st.integers(0, 200), max_size=5),
    timezone=st.sampled_from(["Europe/Brussels", "America/New_York", "UTC"]),
)
def test_series_keep_the_wall_clock_time_and_respect_count_and_skipped_dates(
    first: date, hour: int, minute: int, freq: str, interval: int, count: int, skip: list[int], timezone: str
) -> None:
    start = datetime(first.year, first.month, first.day, hour, minute)
    every = expand(f"FREQ={freq};INTERVAL={interval};COUNT={count}", start, timezone)
    skipped = {every[i % len(every)].local_start.date() for i in skip} if every else set()
    kept = expand(f"FREQ={freq};INTERVAL={interval};COUNT={count}", start, timezone, exdates=sorted(skipped))
    assert len(every) <= count
    assert [o for o in every if o.local_start.date() not in skipped] == kept
    assert not {o.local_start.date() for o in kept} & skipped
    zone = ZoneInfo(timezone)
    for occurrence in every:
        assert (occurrence.local_start.hour, occurrence.local_start.minute) == (hour, minute)
        local = occurrence.starts_at.astimezone(zone).replace(tzinfo=None)
        if not is_shifted(occurrence.local_start, timezone):
            assert local == occurrence.local_start, "the wall-clock time moved across a DST change"
        assert occurrence.ends_at - occurrence.starts_at == timedelta(minutes=60)
    assert [o.starts_at for o in every] == sorted(o.starts_at for o in every)


@PROPERTY
@given(first=st.dates(date(2026, 1, 1), date(2027, 12, 31)), days=st.integers(0, 400))
def test_series_stop_at_until(first: date, days: int) -> None:
    until = first + timedelta(days=days)
    start = datetime(first.year, first.month, first.day, 18, 30)
    found = expand(f"FREQ=WEEKLY;UNTIL={until:%Y%m%d}T235959", start, "Europe/Brussels")
    assert found and found[0].local_start == start
    assert all(o.local_start.date() <= until for o in found)
    assert len(found) == min(100, days // 7 + 1)


# iCalendar text --------------------------------------------------------------------------------------

TRICKY = st.sampled_from(["\r\n", "\n", "\r", ";", ",", "\\", "\\n", "\\N", ":", "😀", "𝄞", "é", "中", "END:VEVENT"])
TEXT = st.lists(st.one_of(st.text(max_size=30), TRICKY), max_size=25).map("".join)


@st.composite
def calendar_items(draw: st.DrawFn) -> CalendarItem:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 3 * 365 * 24 * 60)))
    return CalendarItem(
        uid=f"event-{draw(st.integers(1, 10**6))}@trefpunt.example",
        sequence=draw(st.integers(0, 50)),
        starts_at=start,
        ends_at=start + timedelta(minutes=draw(st.integers(15, 3 * 24 * 60))),
        timezone=draw(st.sampled_from(["Europe/Brussels", "UTC", "America/New_York"])),
        summary=draw(TEXT),
        description=draw(TEXT),
        location=draw(TEXT),
        url=draw(st.sampled_from(["", "https://trefpunt.example/events/7?lang=fr"])),
        online_url="",
        cancelled=draw(st.booleans()),
        last_modified=start - timedelta(days=1),
        organizer_email="",
        organizer_name="",
    )


@PROPERTY
@given(item=calendar_items())
def test_any_text_round_trips_through_icalendar_as_one_vevent_in_lines_of_at_most_75_octets(
    item: CalendarItem,
) -> None:
    feed = build_feed("Feed", [item], calendar_uid="feed@trefpunt.example")
    for line in feed.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # folding never splits a UTF-8 sequence
    parsed = icalendar.Calendar.from_ical(feed)
    events = list(parsed.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]

    def unfolded(text: str) -> str:
        # iCalendar has no CR: every line break is written as \n and read back as LF. A literal
        # backslash-N is read as a line break too, as icalendar's own writer does (left as is).
        return text.replace("\\N", "\n").replace("\r\n", "\n").replace("\r", "\n")

    assert str(event.get("SUMMARY", "")) == unfolded(item.summary)
    if item.location:
        assert str(event["LOCATION"]) == unfolded(item.location)
    description = unfolded(item.description.strip())
    assert str(event.get("DESCRIPTION", "")).startswith(description)
    assert event["UID"] == item.uid


@PROPERTY
@given(item=calendar_items())
def test_the_direct_vevent_writer_writes_what_icalendar_writes(item: CalendarItem) -> None:
    rules = _zone_rules([item])
    assert _feed_vevent(item, rules) == bytes(_vevent(item, rules, stamp=item.last_modified).to_ical())
