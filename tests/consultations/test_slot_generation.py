"""Slot generation: windows, lengths, buffers, breaks, minimum notice, and the DST nights."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tests.consultations.helpers import (
    BRUSSELS,
    advisor,
    create_day,
    day,
    new_org,
    slot_rows,
    slots,
    utc,
    window,
)
from tests.registrations.helpers import domain


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BRUSSELS)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_one_window_holds_back_to_back_slots_of_the_given_length():
    from events.services.consultations import generate_slots

    start = _local(2030, 5, 6, 9, 0)
    got = generate_slots([(start, start + timedelta(hours=2))], 30, 0)
    assert [(s.astimezone(BRUSSELS).strftime("%H:%M"), e - s) for s, e in got] == [
        ("09:00", timedelta(minutes=30)),
        ("09:30", timedelta(minutes=30)),
        ("10:00", timedelta(minutes=30)),
        ("10:30", timedelta(minutes=30)),
    ]
    assert all(s.tzinfo is not None and s.utcoffset() == timedelta(0) for s, _ in got), "slots are in UTC"


def test_a_remainder_shorter_than_a_slot_is_no_slot_and_lengths_other_than_30_work():
    from events.services.consultations import generate_slots

    start = _local(2030, 5, 6, 9, 0)
    got = generate_slots([(start, start + timedelta(minutes=100))], 45, 0)
    assert [(s.astimezone(BRUSSELS).strftime("%H:%M"), e.astimezone(BRUSSELS).strftime("%H:%M")) for s, e in got] == [
        ("09:00", "09:45"),
        ("09:45", "10:30"),
    ]


def test_buffers_sit_between_slots_and_the_last_slot_may_end_at_the_window_end():
    from events.services.consultations import generate_slots

    start = _local(2030, 5, 6, 9, 0)
    got = generate_slots([(start, start + timedelta(minutes=110))], 20, 10)
    assert [s.astimezone(BRUSSELS).strftime("%H:%M") for s, _ in got] == ["09:00", "09:30", "10:00", "10:30"]
    assert got[-1][1] == start + timedelta(minutes=110), "no buffer is needed after the last slot"
    assert generate_slots([(start, start + timedelta(minutes=109))], 20, 10)[-1][0] == start + timedelta(hours=1)
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(got)]
    assert gaps == [timedelta(minutes=10)] * 3


def test_a_break_between_two_windows_has_no_slot():
    from events.services.consultations import generate_slots

    morning = (_local(2030, 5, 6, 9, 0), _local(2030, 5, 6, 10, 0))
    afternoon = (_local(2030, 5, 6, 13, 0), _local(2030, 5, 6, 14, 0))
    got = generate_slots([afternoon, morning], 30, 0)
    assert [s.astimezone(BRUSSELS).strftime("%H:%M") for s, _ in got] == ["09:00", "09:30", "13:00", "13:30"]
    assert not any(_local(2030, 5, 6, 10, 0) <= s < _local(2030, 5, 6, 13, 0) for s, _ in got)


def test_spring_forward_night_in_brussels_has_no_phantom_and_no_missing_slot():
    """28 March 2027: 02:00 CET becomes 03:00 CEST. 01:00–04:00 local is two real hours."""
    from events.services.consultations import generate_slots

    start = _local(2027, 3, 28, 1, 0)
    end = _local(2027, 3, 28, 4, 0)
    got = generate_slots([(start, end)], 30, 0)
    assert [s for s, _ in got] == [
        _utc(2027, 3, 28, 0, 0),
        _utc(2027, 3, 28, 0, 30),
        _utc(2027, 3, 28, 1, 0),
        _utc(2027, 3, 28, 1, 30),
    ]
    local = [s.astimezone(BRUSSELS).strftime("%H:%M") for s, _ in got]
    assert local == ["01:00", "01:30", "03:00", "03:30"], "no slot at a 02:xx that does not exist"
    assert all(e - s == timedelta(minutes=30) for s, e in got), "every slot is 30 real minutes"


def test_fall_back_night_in_brussels_has_no_doubled_slot():
    """31 October 2027: 03:00 CEST becomes 02:00 CET; 02:00–03:00 happens twice."""
    from events.services.consultations import generate_slots

    start = _local(2027, 10, 31, 1, 0)  # CEST, 23:00 UTC the day before
    end = _local(2027, 10, 31, 4, 0)  # CET, 03:00 UTC
    got = generate_slots([(start, end)], 30, 0)
    starts = [s for s, _ in got]
    assert len(starts) == len(set(starts)) == 8, "four real hours, eight distinct slots"
    assert starts[0] == _utc(2027, 10, 30, 23, 0) and starts[-1] == _utc(2027, 10, 31, 2, 30)
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(starts))
    local = [s.astimezone(BRUSSELS).strftime("%H:%M%z") for s in starts]
    assert local.count("02:00+0200") == 1 and local.count("02:00+0100") == 1


@pytest.mark.parametrize(
    ("when", "utc_starts"),
    [
        (
            "spring",
            [
                "2027-03-28T00:00:00+00:00",
                "2027-03-28T00:30:00+00:00",
                "2027-03-28T01:00:00+00:00",
                "2027-03-28T01:30:00+00:00",
            ],
        ),
        (
            "autumn",
            [f"2027-10-30T23:{m}:00+00:00" for m in ("00", "30")]
            + [f"2027-10-31T0{h}:{m}:00+00:00" for h in (0, 1, 2) for m in ("00", "30")],
        ),
    ],
)
async def test_a_day_across_a_dst_night_lists_exactly_the_real_slots_over_the_api(client, when, utc_starts):
    org = await new_org()
    if when == "spring":
        start, end = _local(2027, 3, 28, 1, 0), _local(2027, 3, 28, 4, 0)
    else:
        start, end = _local(2027, 10, 31, 1, 0), _local(2027, 10, 31, 4, 0)
    windows = [{"starts_at": start.isoformat(), "ends_at": end.isoformat()}]
    event_id = await create_day(client, org, [advisor("Ann", f"ann@{domain()}", windows)], starts=start, ends=end)
    listed = await slots(client, event_id)
    assert [utc(s["starts_at"]) for s in listed] == [datetime.fromisoformat(u) for u in utc_starts]
    assert len(await slot_rows(event_id)) == len(utc_starts)


async def test_minimum_notice_hides_slots_that_start_too_soon(client):
    org = await new_org()
    soon = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    windows = [window(soon, 8 * 60)]  # slots from ~3 h to ~11 h from now
    event_id = await create_day(
        client,
        org,
        [advisor("Ann", f"ann@{domain()}", windows)],
        starts=soon,
        ends=soon + timedelta(hours=8),
        min_notice_hours=6,
    )
    cutoff = datetime.now(UTC) + timedelta(hours=6)
    listed = [utc(s["starts_at"]) for s in await slots(client, event_id)]
    generated = [row["starts_at"].astimezone(UTC) for row in await slot_rows(event_id)]
    assert len(generated) == 16, "the slots exist; notice only hides them"
    assert listed == [s for s in generated if s >= cutoff], "exactly the slots beyond six hours are offered"
    assert 0 < len(listed) < 16


async def test_a_day_defined_through_the_api_gives_each_advisor_slots_in_their_own_windows_with_buffers(client):
    org = await new_org()
    start = day()
    mail = domain()
    ann = advisor("Ann", f"ann@{mail}", [window(start, 60), window(start + timedelta(hours=3), 60)])
    bob = advisor("Bob", f"bob@{mail}", [window(start + timedelta(hours=1), 90)])
    event_id = await create_day(client, org, [ann, bob], slot_minutes=25, buffer_minutes=5)
    listed = await slots(client, event_id)
    by_name: dict[str, list[str]] = {}
    for s in listed:
        by_name.setdefault(s["advisor"]["name"], []).append(utc(s["starts_at"]).astimezone(BRUSSELS).strftime("%H:%M"))
        assert utc(s["ends_at"]) - utc(s["starts_at"]) == timedelta(minutes=25)
    assert by_name == {"Ann": ["09:00", "09:30", "12:00", "12:30"], "Bob": ["10:00", "10:30", "11:00"]}
    assert [utc(s["starts_at"]) for s in listed] == sorted(utc(s["starts_at"]) for s in listed), "earliest first"
