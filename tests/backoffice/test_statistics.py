"""Statistics per organisation, series and event, from a fixed data set with exact numbers:
the service's figures and the same figures in the page's tables, SVG charts that parse, the
period filter, and who may see what (other organisation: 404; a viewer reads)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

from events.services import statistics
from events.services.access import Actor
from events.services.errors import InvalidInput
from events.tables import Event, Registration, Series
from tests.integration.helpers import make_event, make_organisation, make_organiser, sign_in

BRUSSELS = ZoneInfo("Europe/Brussels")
SVG = "{http://www.w3.org/2000/svg}"


class _Tables(HTMLParser):
    """Rows of cell texts of every table with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("id"):
            self._table = dict(attrs)["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables_of(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def figures(html: str) -> dict[str, str]:
    """The key-figures table as {row heading: value}."""
    return {row[0]: row[1] for row in tables_of(html)["key-figures"]}


def svgs_of(html: str) -> list[ET.Element]:
    """Every inline chart, parsed as XML (a chart that is not well-formed fails here)."""
    return [ET.fromstring(markup) for markup in re.findall(r"<svg\b.*?</svg>", html, re.S)]


@dataclass
class DataSet:
    slug: str
    org: int
    partner_slug: str
    partner: int
    other_slug: str
    past: int
    upcoming: int
    shared: int
    running: int
    old: int
    series: int
    created: list[datetime]
    now: datetime


async def _event(org: int, title: str, starts: datetime, capacity: int | None, **extra: Any) -> int:
    event_id = await make_event(org, title={"nl": title}, capacity=capacity, **extra)
    await Event.update({Event.starts_at: starts, Event.ends_at: starts + timedelta(hours=2)}).where(
        Event.id == event_id
    )
    return event_id


async def build_data_set() -> DataSet:
    """Organisation A owns a past event (capacity 5), a running one (capacity 2), an upcoming
    one (capacity 4) and one of 13 months ago (outside the default period); it co-hosts partner
    B's past event (no limit).
    B has an event of its own, and a third organisation C one that has nothing to do with A."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    slug, org = await make_organisation("stats")
    partner_slug, partner = await make_organisation("partner")
    other_slug, other = await make_organisation("other")
    past = await _event(org, "Verleden sessie", now - timedelta(days=20), 5)
    upcoming = await _event(org, "Komende <script>alert('x')</script> sessie", now + timedelta(days=20), 4)
    old = await _event(org, "Oude sessie", now - timedelta(days=400), 10)
    running = await _event(org, "Lopende sessie", now - timedelta(hours=1), 2)  # has not ended yet
    shared = await _event(partner, "Gedeelde sessie", now - timedelta(days=10), None, hosts=[slug])
    partner_only = await _event(partner, "Alleen partner", now - timedelta(days=200), 10)
    unrelated = await _event(other, "Ander huis", now - timedelta(days=100), 10)
    series = await Series.insert(Series(organisation=org, title_nl="Maandelijkse sessie")).returning(Series.id)
    await Event.update({Event.series: series[0]["id"]}).where(Event.id.is_in([past, upcoming]))

    def reg(event: int, who: str, created: datetime, **fields: Any) -> Registration:
        return Registration(
            event=event,
            name=who.title(),
            email=f"{who}@stats.example",
            email_key=f"{who}@stats.example",
            created_at=created,
            **fields,
        )

    p_start = now - timedelta(days=20)
    in_scope = [
        # the past event: 4 confirmed (3 attended, 1 no-show, 1 came from the waiting list)
        reg(past, "ann", p_start - timedelta(days=30), status="confirmed", attendance="attended", language="nl"),
        reg(past, "bob", p_start - timedelta(days=29), status="confirmed", attendance="no_show", language="fr"),
        reg(past, "cat", p_start - timedelta(days=22), status="confirmed", attendance="attended", language="nl"),
        reg(
            past,
            "dan",
            p_start - timedelta(days=15),
            status="cancelled",
            language="en",
            cancelled_at=p_start - timedelta(hours=10),
        ),  # late
        reg(
            past,
            "eve",
            p_start - timedelta(days=8),
            status="confirmed",
            attendance="attended",
            language="nl",
            waitlisted_at=p_start - timedelta(days=8),
            promoted_at=p_start - timedelta(days=3),
        ),
        reg(past, "fay", p_start - timedelta(days=7), status="rejected", language="nl"),
        # the upcoming event
        reg(upcoming, "ann", now - timedelta(days=5), status="confirmed", language="nl"),
        reg(
            upcoming,
            "gus",
            now - timedelta(days=4),
            status="waitlisted",
            language="fr",
            waitlisted_at=now - timedelta(days=4),
        ),
        reg(
            upcoming,
            "hal",
            now - timedelta(days=3),
            status="cancelled",
            language="en",
            cancelled_at=now - timedelta(days=1),
        ),  # 21 days before the start: not late
        reg(upcoming, "ivy", now - timedelta(days=2), status="pending_email", language="nl"),
        reg(upcoming, "leo", now - timedelta(days=1), status="pending_approval", language="fr"),
        # the co-hosted event
        reg(shared, "jan", now - timedelta(days=12), status="confirmed", attendance="attended", language="fr"),
        reg(shared, "kim", now - timedelta(days=11), status="confirmed", attendance="no_show", language="en"),
        # the running event: checked in, but it has not ended, so not in the no-show rate
        reg(running, "mia", now - timedelta(days=6), status="confirmed", attendance="attended", language="nl"),
    ]
    history = [
        reg(old, "ann", now - timedelta(days=420), status="confirmed", attendance="attended"),  # ann returns
        reg(old, "ivy", now - timedelta(days=415), status="cancelled"),  # any status but rejected: ivy returns
        reg(old, "bob", now - timedelta(days=410), status="rejected"),  # rejected: bob is new
        reg(unrelated, "cat", now - timedelta(days=120), status="confirmed"),  # not A's event: cat is new
        reg(partner_only, "kim", now - timedelta(days=210), status="confirmed"),  # B's event only
    ]
    await Registration.insert(*in_scope, *history)
    return DataSet(
        slug=slug,
        org=org,
        partner_slug=partner_slug,
        partner=partner,
        other_slug=other_slug,
        past=past,
        upcoming=upcoming,
        shared=shared,
        running=running,
        old=old,
        series=series[0]["id"],
        created=[r.created_at for r in in_scope],
        now=now,
    )


def expected_weeks(created: list[datetime]) -> list[tuple[str, int]]:
    """ISO weeks (Brussels time) from the first to the last registration, empty weeks included."""
    mondays = Counter()
    for moment in created:
        day = moment.astimezone(BRUSSELS).date()
        mondays[day - timedelta(days=day.weekday())] += 1
    weeks, monday = [], min(mondays)
    while monday <= max(mondays):
        year, week, _ = monday.isocalendar()
        weeks.append((f"{year}-W{week:02d}", mondays[monday]))
        monday += timedelta(weeks=1)
    return weeks


async def test_organisation_statistics_give_exact_numbers_in_the_service_and_on_the_page(browser) -> None:
    data = await build_data_set()
    viewer = Actor(kind="organiser", id=0, roles={data.org: "viewer"})
    today = datetime.now(BRUSSELS).date()
    report = await statistics.organisation_statistics(viewer, data.org, statistics.default_period(today))
    s = report.statistics
    assert (s.events, s.ended_events, s.registrations) == (4, 2, 14)
    assert s.by_status == {
        "confirmed": 8,
        "waitlisted": 1,
        "pending_email": 1,
        "pending_approval": 1,
        "cancelled": 2,
        "rejected": 1,
    }
    assert (s.attended, s.no_show, s.attended_ended, s.no_show_ended) == (5, 2, 4, 2)
    assert s.no_show_rate == 2 / 6
    assert (s.waitlisted, s.promoted, s.waitlist_conversion) == (2, 1, 0.5)
    assert (s.cancelled, s.cancelled_late) == (2, 1)
    assert s.languages == {"nl": 7, "fr": 4, "en": 3}
    assert (s.people, s.new_people, s.returning_people) == (13, 11, 2), "ann and ivy return; bob, cat, kim do not"
    assert [(line.id, line.confirmed, line.waitlisted, line.attended, line.no_show) for line in s.per_event] == [
        (data.past, 4, 0, 3, 1),
        (data.shared, 2, 0, 1, 1),
        (data.running, 1, 0, 1, 0),
        (data.upcoming, 1, 1, 0, 0),
    ]
    assert [line.fill_rate for line in s.per_event] == [0.8, None, 0.5, 0.25]
    assert [(w.label, w.count) for w in s.weekly] == expected_weeks(data.created)

    await sign_in(browser, await make_organiser(data.slug, role="viewer"))
    response = await browser.get("/admin/statistics?lang=en")
    assert response.status_code == 200, "the viewer reads statistics; their first organisation is the default"
    page = response.text
    assert figures(page) == {
        "Events": "4",
        "Registrations": "14",
        "People": "13",
        "New participants": "11",
        "Returning participants": "2",
        "Attended": "5",
        "No-shows": "2",
        "No-show rate": "33.3% (2 of 6)",
        "Waiting list conversion": "50.0% (1 of 2)",
        "Cancellations": "2",
        "Cancelled less than 48 hours before the start": "1",
    }
    tables = tables_of(page)
    assert tables["by-status"][1:] == [
        ["Confirmed", "8"],
        ["On the waiting list", "1"],
        ["Waiting for e-mail confirmation", "1"],
        ["Waiting for approval", "1"],
        ["Cancelled", "2"],
        ["Rejected", "1"],
    ]
    assert tables["by-language"][1:] == [["Nederlands", "7"], ["Français", "4"], ["English", "3"]]
    assert tables["by-people"][1:] == [["New participants", "11"], ["Returning participants", "2"]]
    assert [tuple(row) for row in tables["by-week"][1:]] == [
        (label, str(n)) for label, n in expected_weeks(data.created)
    ]
    per_event = {row[0]: row[2:] for row in tables["per-event"][1:]}
    assert per_event == {
        "Verleden sessie": ["5", "4", "0", "3", "1", "80.0%"],
        "Gedeelde sessie": ["no limit", "2", "0", "1", "1", "n/a"],
        "Lopende sessie": ["2", "1", "0", "1", "0", "50.0%"],
        "Komende <script>alert('x')</script> sessie": ["4", "1", "1", "0", "0", "25.0%"],
    }
    assert "Oude sessie" not in page, "an event outside the period is not counted"
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page, "titles are text, in tables and charts"
    assert "owns or co-hosts" in page and "start" in page

    charts = svgs_of(page)
    assert len(charts) == 5
    by_title = {svg.findtext(f"{SVG}title"): svg for svg in charts}
    for svg in charts:
        assert svg.get("role") == "img"
        title = svg.find(f"{SVG}title")
        assert title is not None and svg.get("aria-labelledby") == title.get("id")
    status_bars = by_title["Registrations by status"].findall(f"{SVG}rect[@class='bar']")
    assert len(status_bars) == 6
    assert [bar.findtext(f"{SVG}title") for bar in status_bars] == [
        "Confirmed: 8",
        "On the waiting list: 1",
        "Waiting for e-mail confirmation: 1",
        "Waiting for approval: 1",
        "Cancelled: 2",
        "Rejected: 1",
    ]
    assert len(by_title["Registrations per week"].findall(f"{SVG}rect[@class='bar']")) == len(
        expected_weeks(data.created)
    )
    event_bars = by_title["Confirmed registrations per event"].findall(f"{SVG}rect[@class='bar']")
    assert [bar.findtext(f"{SVG}title").rsplit(": ", 1)[1] for bar in event_bars] == ["4", "2", "1", "1"]
    assert any("<script>alert('x')</script>" in (bar.findtext(f"{SVG}title") or "") for bar in event_bars), (
        "the title survives as text inside the chart"
    )


async def test_the_period_filter_counts_only_events_that_start_in_it(browser) -> None:
    data = await build_data_set()
    await sign_in(browser, await make_organiser(data.slug, role="viewer"))
    old_day = (data.now - timedelta(days=400)).astimezone(BRUSSELS).date()
    page = (await browser.get(f"/admin/statistics?lang=en&organisation={data.org}&from={old_day}&to={old_day}")).text
    numbers = figures(page)
    assert (numbers["Events"], numbers["Registrations"], numbers["People"]) == ("1", "3", "3")
    assert (numbers["New participants"], numbers["Returning participants"]) == ("3", "0")
    assert [row[0] for row in tables_of(page)["per-event"][1:]] == ["Oude sessie"]
    assert f'value="{old_day}"' in page, "the period stays in the form"

    after_past = (data.now - timedelta(days=19)).astimezone(BRUSSELS).date()
    page = (await browser.get(f"/admin/statistics?lang=en&from={after_past}&to=")).text
    assert [row[0] for row in tables_of(page)["per-event"][1:]] == [
        "Gedeelde sessie",
        "Lopende sessie",
        "Komende <script>alert('x')</script> sessie",
    ], "an empty end includes everything upcoming"


async def test_an_empty_period_says_so_instead_of_drawing_a_chart(browser) -> None:
    data = await build_data_set()
    await sign_in(browser, await make_organiser(data.slug, role="owner"))
    response = await browser.get("/admin/statistics?lang=en&from=2001-01-01&to=2001-01-31")
    assert response.status_code == 200
    assert "No events in this period." in response.text
    assert "<svg" not in response.text and "key-figures" not in response.text


async def test_bad_dates_are_a_400_with_the_message_next_to_the_field(browser) -> None:
    data = await build_data_set()
    await sign_in(browser, await make_organiser(data.slug, role="viewer"))
    response = await browser.get("/admin/statistics?lang=en&from=2025-13-01&to=")
    assert response.status_code == 400
    assert "Give a date as YYYY-MM-DD." in response.text
    assert re.search(r'<input id="s-from"[^>]*aria-invalid="true" aria-describedby="period-error"', response.text)
    assert 'value="2025-13-01"' in response.text, "the input is kept"
    response = await browser.get("/admin/statistics?lang=en&from=2025-06-01&to=2025-05-01")
    assert response.status_code == 400
    assert "The start of the period must not be after its end." in response.text
    response = await browser.get(f"/admin/series/{data.series}/statistics?lang=en&from=yesterday")
    assert response.status_code == 400 and "Give a date as YYYY-MM-DD." in response.text


async def test_event_statistics_count_new_and_returning_with_all_its_hosts(browser) -> None:
    data = await build_data_set()
    await sign_in(browser, await make_organiser(data.slug, role="viewer"))
    response = await browser.get(f"/admin/events/{data.shared}/statistics?lang=en")
    assert response.status_code == 200, "a co-hosted event is visible to the co-host"
    numbers = figures(response.text)
    assert numbers["Registrations"] == "2"
    assert numbers["No-show rate"] == "50.0% (1 of 2)"
    assert numbers["Waiting list conversion"] == "n/a"
    assert (numbers["New participants"], numbers["Returning participants"]) == ("1", "1"), (
        "kim came to an event of the partner before, which hosts this one"
    )
    assert "Events" not in numbers and "per-event" not in response.text
    assert tables_of(response.text)["by-language"][1:] == [["Nederlands", "0"], ["Français", "1"], ["English", "1"]]


async def test_series_statistics_count_its_occurrences_only(browser) -> None:
    data = await build_data_set()
    await sign_in(browser, await make_organiser(data.slug, role="viewer"))
    response = await browser.get(f"/admin/series/{data.series}/statistics?lang=en")
    assert response.status_code == 200
    assert "Maandelijkse sessie" in response.text
    numbers = figures(response.text)
    assert (numbers["Events"], numbers["Registrations"], numbers["Cancellations"]) == ("2", "11", "2")
    assert [row[0] for row in tables_of(response.text)["per-event"][1:]] == [
        "Verleden sessie",
        "Komende <script>alert('x')</script> sessie",
    ]


async def test_another_organisation_gets_404_and_anonymous_goes_to_login(browser) -> None:
    data = await build_data_set()
    response = await browser.get("/admin/statistics", follow_redirects=False)
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]
    await sign_in(browser, await make_organiser(data.other_slug, role="owner"))
    for url in (
        f"/admin/statistics?organisation={data.org}",
        f"/admin/statistics?organisation={data.org}&from=bad",
        f"/admin/events/{data.past}/statistics",
        f"/admin/events/{data.shared}/statistics",
        f"/admin/series/{data.series}/statistics",
        "/admin/series/999999999/statistics",
        "/admin/events/999999999/statistics",
    ):
        assert (await browser.get(url)).status_code == 404, url
    page = (await browser.get("/admin/statistics?lang=en")).text
    assert "Verleden sessie" not in page and "Gedeelde sessie" not in page
    assert "Ander huis" in page, "their own organisation's statistics"


async def test_a_person_who_registered_twice_in_the_period_is_one_new_person() -> None:
    event = statistics.EventFacts(
        id=1,
        title={"nl": "x"},
        starts_at=datetime(2025, 3, 4, 17, tzinfo=UTC),
        ends_at=datetime(2025, 3, 4, 19, tzinfo=UTC),
        timezone="Europe/Brussels",
        status="published",
        capacity=0,
    )
    first = datetime(2025, 2, 1, 9, tzinfo=UTC)
    registrations = [
        statistics.RegistrationFacts(
            event=1, email_key="a@x", language="de", status="confirmed", attendance="", created_at=first
        ),
        statistics.RegistrationFacts(
            event=1,
            email_key="a@x",
            language="nl",
            status="cancelled",
            attendance="",
            created_at=first + timedelta(days=1),
        ),
    ]
    s = statistics.summarise([event], registrations, {"a@x": first}, now=datetime(2025, 3, 1, tzinfo=UTC))
    assert (s.people, s.new_people, s.returning_people) == (1, 1, 0)
    assert s.languages == {"nl": 1, "fr": 0, "en": 0, "de": 1}
    assert s.no_show_rate is None and s.waitlist_conversion is None and s.ended_events == 0
    assert s.per_event[0].fill_rate is None, "a capacity of 0 has no fill rate"
    assert s.cancelled_late == 0, "no cancellation time recorded"


def test_periods_are_parsed_strictly_and_default_to_a_year_and_upcoming() -> None:
    today = date(2024, 2, 29)
    assert statistics.parse_period(None, None, today) == statistics.Period(start=date(2023, 2, 28), end=None)
    assert statistics.parse_period("", "", today) == statistics.Period(None, None)
    assert statistics.parse_period("2024-01-01", "2024-01-31", today).bounds() == (
        datetime(2023, 12, 31, 23, tzinfo=UTC),
        datetime(2024, 1, 31, 23, tzinfo=UTC),
    )
    for bad in ("2024-1-1", "01/02/2024", "2024-02-30", "x" * 40):
        try:
            statistics.parse_period(bad, "", today)
        except InvalidInput as error:
            assert error.field == "from"
        else:
            raise AssertionError(bad)
