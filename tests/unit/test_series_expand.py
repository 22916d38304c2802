"""Expanding a series' rule: local wall-clock times that survive daylight saving time, the rule
as the form builds it, exceptions, and the hard limits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from events.services.errors import InvalidInput
from events.services.series import (
    MAX_OCCURRENCES,
    RuleParts,
    SeriesForm,
    check_rule,
    expand,
    is_shifted,
    parse_rrule,
    preview,
)

BRUSSELS = "Europe/Brussels"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_weekly_tuesdays_keep_18h_local_across_the_spring_change() -> None:
    dates = expand("FREQ=WEEKLY;BYDAY=TU;COUNT=6", "2027-03-09T18:00", BRUSSELS, duration_minutes=120)
    assert [o.local_start for o in dates] == [datetime(2027, 3, d, 18) for d in (9, 16, 23, 30)] + [
        datetime(2027, 4, 6, 18),
        datetime(2027, 4, 13, 18),
    ]
    # Summer time starts on Sunday 2027-03-28: 17:00 UTC before, 16:00 UTC after.
    assert [o.starts_at for o in dates] == [
        utc(2027, 3, 9, 17),
        utc(2027, 3, 16, 17),
        utc(2027, 3, 23, 17),
        utc(2027, 3, 30, 16),
        utc(2027, 4, 6, 16),
        utc(2027, 4, 13, 16),
    ]
    assert all((o.ends_at - o.starts_at).total_seconds() == 7200 for o in dates)


def test_autumn_change_moves_utc_the_other_way() -> None:
    dates = expand("FREQ=WEEKLY;BYDAY=TU;COUNT=2", "2027-10-26T18:00", BRUSSELS)
    assert [o.starts_at for o in dates] == [utc(2027, 10, 26, 16), utc(2027, 11, 2, 17)]


def test_first_tuesday_of_every_month() -> None:
    rule = RuleParts("monthly_weekday", position=1, weekday="TU", count=4)
    assert rule.to_rrule() == "FREQ=MONTHLY;BYDAY=1TU;COUNT=4"
    dates = expand(rule, "2027-01-05T19:00", BRUSSELS)
    assert [o.local_start.date() for o in dates] == [
        date(2027, 1, 5),
        date(2027, 2, 2),
        date(2027, 3, 2),
        date(2027, 4, 6),
    ]
    assert dates[3].starts_at == utc(2027, 4, 6, 17), "19:00 summer time"


def test_last_friday_and_day_of_month() -> None:
    last = expand(RuleParts("monthly_weekday", position=-1, weekday="FR", count=2), "2027-01-01T10:00", BRUSSELS)
    assert [o.local_start.date() for o in last] == [date(2027, 1, 29), date(2027, 2, 26)]
    fifteenth = expand(RuleParts("monthly_day", month_day=15, count=3), "2027-01-15T10:00", BRUSSELS)
    assert [o.local_start.date() for o in fifteenth] == [date(2027, 1, 15), date(2027, 2, 15), date(2027, 3, 15)]


def test_every_two_weeks_until_a_june_date_includes_that_day() -> None:
    rule = RuleParts("weekly", interval=2, weekdays=("TH",), until=date(2027, 6, 17))
    assert rule.to_rrule() == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;UNTIL=20270617T235959"
    dates = expand(rule, "2027-04-08T09:30", BRUSSELS)
    assert [o.local_start.date() for o in dates] == [
        date(2027, 4, 8),
        date(2027, 4, 22),
        date(2027, 5, 6),
        date(2027, 5, 20),
        date(2027, 6, 3),
        date(2027, 6, 17),
    ]
    assert parse_rrule(rule.to_rrule()) == rule


def test_exceptions_skip_their_dates_and_count_like_rfc_5545() -> None:
    dates = expand("FREQ=WEEKLY;BYDAY=TU;COUNT=4", "2027-03-09T18:00", BRUSSELS, "2027-03-16, 2027-03-30")
    assert [o.local_start.date() for o in dates] == [date(2027, 3, 9), date(2027, 3, 23)]
    with pytest.raises(InvalidInput) as error:
        expand("FREQ=WEEKLY;COUNT=2", "2027-03-09T18:00", BRUSSELS, "next tuesday")
    assert error.value.field == "exdates"


def test_a_rule_without_end_is_cut_at_100_dates_or_three_years() -> None:
    weekly = expand("FREQ=WEEKLY;BYDAY=MO,WE", "2027-01-04T12:00", BRUSSELS)
    assert len(weekly) == MAX_OCCURRENCES
    monthly = expand("FREQ=MONTHLY;BYMONTHDAY=1", "2027-01-01T12:00", BRUSSELS)
    assert monthly[-1].local_start == datetime(2030, 1, 1, 12), "three years and not a day more"
    assert len(monthly) == 37
    assert len(expand("FREQ=WEEKLY;COUNT=500", "2027-01-04T12:00", BRUSSELS)) == MAX_OCCURRENCES
    assert len(expand("FREQ=WEEKLY", "2027-01-04T12:00", BRUSSELS, limit=3)) == 3
    assert expand("FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2", "2027-01-01T12:00", BRUSSELS) == []


def test_a_nonexistent_local_time_moves_forward_by_the_gap_and_an_ambiguous_one_takes_summer_time() -> None:
    # 2027-03-28 02:30 does not exist in Brussels (02:00 → 03:00): it becomes 03:30 CEST.
    spring = expand("FREQ=DAILY;COUNT=1", "2027-03-28T02:30", BRUSSELS)[0]
    assert spring.starts_at == utc(2027, 3, 28, 1, 30)
    assert is_shifted(datetime(2027, 3, 28, 2, 30), BRUSSELS)
    assert not is_shifted(datetime(2027, 3, 29, 2, 30), BRUSSELS)
    # 2027-10-31 02:30 happens twice: the first one (CEST, 00:30 UTC).
    autumn = expand("FREQ=DAILY;COUNT=1", "2027-10-31T02:30", BRUSSELS)[0]
    assert autumn.starts_at == utc(2027, 10, 31, 0, 30)


@pytest.mark.parametrize(
    ("rule", "field"),
    [("FREQ=HOURLY;COUNT=3", "frequency"), ("FREQ=WEEKLY;BYDAY=XX", "rrule"), ("nonsense", "frequency")],
)
def test_bad_rules_are_field_errors(rule: str, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        expand(rule, "2027-01-04T12:00", BRUSSELS)
    assert error.value.field == field


def test_the_form_builds_the_rule_and_names_the_field_in_error() -> None:
    form = SeriesForm(
        start_date="2027-03-09", start_time="18:00", frequency="weekly", weekdays="TU", end="count", count="6"
    )
    checked = check_rule(form)
    assert checked.parts.to_rrule() == "FREQ=WEEKLY;BYDAY=TU;COUNT=6"
    dates = preview(checked)
    assert [d.utc_offset for d in dates] == ["+01:00"] * 3 + ["+02:00"] * 3
    assert [d.offset_differs for d in dates] == [False] * 3 + [True] * 3
    assert [d.starts_at for d in dates] == [o.starts_at for o in checked.expand()]

    for changes, field in (
        ({"start_date": "9 March"}, "start_date"),
        ({"start_time": "6pm"}, "start_time"),
        ({"interval": "0"}, "interval"),
        ({"count": "101"}, "count"),
        ({"end": "until", "until": "2027-03-01"}, "until"),
        ({"end": "until", "until": "2031-01-01"}, "until"),
        ({"weekdays": ["TU", "XX"]}, "weekdays"),
        ({"frequency": "hourly"}, "frequency"),
        ({"duration_minutes": "0"}, "duration_minutes"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"frequency": "monthly_weekday", "position": "5"}, "position"),
        ({"frequency": "monthly_day", "month_day": "32"}, "month_day"),
        ({"exdates": "2027-13-01"}, "exdates"),
    ):
        with pytest.raises(InvalidInput) as error:
            check_rule(SeriesForm(**{**msgspec_fields(form), **changes}))
        assert error.value.field == field, changes


def test_weekly_without_chosen_days_uses_the_first_dates_weekday() -> None:
    checked = check_rule(SeriesForm(start_date="2027-03-10", start_time="09:00", frequency="weekly", count="2"))
    assert checked.parts.weekdays == ("WE",)


def msgspec_fields(form: SeriesForm) -> dict[str, object]:
    return {name: getattr(form, name) for name in form.__struct_fields__}
