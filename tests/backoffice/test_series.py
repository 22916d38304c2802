"""Series in the back office: a rule with a preview that equals the materialised dates (across
daylight saving time), occurrences moved or cancelled one by one, and edits that reach exactly
"this one", "this and following" or "all" (with updated invites only for those)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from events.tables import AuditLog, Event, OutboxMessage, Question, Series
from tests.integration.helpers import (
    bearer,
    make_event,
    make_organisation,
    make_organiser,
    make_token,
    post_form,
    sign_in,
)


@pytest.fixture(autouse=True)
def english(browser: Any) -> None:
    """These tests read the pages' English wording: the browser asks for English."""
    browser.headers["Accept-Language"] = "en"


BRUSSELS = ZoneInfo("Europe/Brussels")


def six_tuesdays_across_spring() -> date:
    """The Tuesday 19 days before next year's switch to summer time (the last Sunday of March),
    so six weekly dates straddle it: three in winter time, three in summer time."""
    year = datetime.now(UTC).year + 1
    last_sunday = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
    return last_sunday - timedelta(days=19)


def series_form(start: date, **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "kind": "workshop",
        "title_nl": "Boekhouding voor starters",
        "title_fr": "Comptabilité pour starters",
        "venue_name": "Ondernemershuis",
        "venue_address": "Kerkstraat 1, 9000 Gent",
        "capacity": "10",
        "waitlist": "on",
        "reminder_hours": "48, 2",
        "timezone": "Europe/Brussels",
        "start_date": start.isoformat(),
        "start_time": "18:00",
        "duration_minutes": "120",
        "frequency": "weekly",
        "interval": "1",
        "weekdays": "TU",
        "end": "count",
        "count": "6",
        "exdates": "",
        "action": "create",
    }
    form.update(overrides)
    return form


async def signed_in(browser: Any, role: str = "editor") -> tuple[str, int]:
    slug, org_id = await make_organisation("reeks")
    await sign_in(browser, await make_organiser(slug, role=role))
    return slug, org_id


async def create_series(browser: Any, start: date, **overrides: Any) -> int:
    response = await post_form(browser, "/admin/series/new", "/admin/series/new", **series_form(start, **overrides))
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/admin/series/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


async def occurrences(series_id: int) -> list[dict[str, Any]]:
    rows = await Event.select().where(Event.series == series_id)
    return sorted(rows, key=lambda r: r["series_original_start"])


async def register(browser: Any, event_id: int, name: str) -> None:
    email = f"{name.lower()}@deelnemer.example"
    body = {"name": name, "email": email, "language": "nl"}
    response = await browser.post(f"/api/v1/events/{event_id}/registrations", json=body)
    assert response.status_code == 201 and response.json()["status"] == "confirmed", response.text


async def updated_invites(event_ids: list[int]) -> list[tuple[int, str]]:
    rows = await OutboxMessage.select(OutboxMessage.event, OutboxMessage.recipient).where(
        OutboxMessage.event.is_in(event_ids) & (OutboxMessage.kind == "event_updated")
    )
    return sorted((r["event"], r["recipient"]) for r in rows)


def form_fields(html: str) -> dict[str, str]:
    """What a browser would post from the page's text, time and number fields and textareas."""
    fields = {}
    for tag in re.findall(r"<input [^>]*>", html):
        kind = re.search(r'type="([^"]+)"', tag)
        name = re.search(r'name="([^"]+)"', tag)
        if name and kind and kind.group(1) in ("text", "time", "number", "date", "url"):
            value = re.search(r'value="([^"]*)"', tag)
            fields[name.group(1)] = value.group(1) if value else ""
    for name, text in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        fields[name] = text
    return fields


async def edit(browser: Any, url: str, **changes: str) -> Any:
    """Post the edit form as a browser does: every field as shown, with `changes` applied."""
    page = await browser.get(url)
    assert page.status_code == 200, page.status_code
    return await post_form(browser, url, url, **{**form_fields(page.text), **changes})


def local(moment: datetime) -> datetime:
    return moment.astimezone(BRUSSELS)


async def test_the_preview_lists_exactly_the_dates_that_become_events_across_dst(browser) -> None:
    start = six_tuesdays_across_spring()
    await signed_in(browser)
    preview = await post_form(browser, "/admin/series/new", "/admin/series/new", **series_form(start, action="preview"))
    assert preview.status_code == 200
    table = preview.text.split('class="table series-dates"')[1].split("</table>")[0]
    previewed = [datetime.fromisoformat(v) for v in re.findall(r'<time datetime="([^"]+)"', table)]
    assert len(previewed) == 6
    assert "daylight saving time" in table.split("<tr>")[5], "the 4th date notes the other UTC offset"
    assert "daylight saving time" not in "".join(table.split("<tr>")[:4])
    assert await Series.count() >= 0 and "Boekhouding voor starters" in preview.text, "the form keeps its input"

    series_id = await create_series(browser, start)
    rows = await occurrences(series_id)
    assert [r["starts_at"] for r in rows] == previewed, "preview == materialised (UTC)"
    assert [r["series_original_start"] for r in rows] == previewed
    assert [local(r["starts_at"]).strftime("%H:%M") for r in rows] == ["18:00"] * 6, "18:00 local on every date"
    assert [local(r["starts_at"]).date() for r in rows] == [start + timedelta(weeks=n) for n in range(6)]
    assert [r["starts_at"].astimezone(UTC).hour for r in rows] == [17, 17, 17, 16, 16, 16]
    assert all(r["ends_at"] - r["starts_at"] == timedelta(hours=2) for r in rows)
    assert {r["status"] for r in rows} == {"draft"} and len({r["uid"] for r in rows}) == 6
    assert {r["capacity"] for r in rows} == {10} and {r["title_fr"] for r in rows} == {"Comptabilité pour starters"}

    page = await browser.get(f"/admin/series/{series_id}?lang=en")
    assert page.status_code == 200
    assert "Every week on Tuesday, 6 times" in page.text
    for row in rows:
        assert f'href="/admin/events/{row["id"]}"' in page.text
    assert f'href="/admin/series/{series_id}/statistics"' in page.text
    assert f'href="/series/{series_id}/calendar.ics"' in page.text
    published = await post_form(browser, f"/admin/series/{series_id}/publish", f"/admin/series/{series_id}")
    assert published.status_code == 303
    assert {r["status"] for r in await occurrences(series_id)} == {"published"}
    assert "Boekhouding voor starters" in (await browser.get("/admin/series")).text


async def test_this_and_following_from_the_third_of_six_changes_exactly_three_to_six(browser) -> None:
    await signed_in(browser)
    series_id = await create_series(browser, six_tuesdays_across_spring())
    await post_form(browser, f"/admin/series/{series_id}/publish", f"/admin/series/{series_id}")
    before = await occurrences(series_id)
    ids = [r["id"] for r in before]
    await register(browser, ids[1], "Anna")  # 2nd: not in scope
    await register(browser, ids[2], "Bart")  # 3rd
    await register(browser, ids[4], "Chloe")  # 5th
    edit_url = f"/admin/series/{series_id}/edit?from={ids[2]}"
    form = await browser.get(edit_url)
    assert form.status_code == 200 and 'value="18:00"' in form.text

    review = await edit(browser, edit_url, scope="following", start_time="19:30", action="review")
    assert review.status_code == 200
    assert "This changes 4 dates." in review.text and "2 people will get an updated invite." in review.text
    assert await updated_invites(ids) == [], "reviewing changes nothing"
    applied = await edit(
        browser,
        edit_url,
        scope="following",
        start_time="19:30",
        action="apply",
        confirm_events="4",
        confirm_people="2",
    )
    assert applied.status_code == 303

    after = await occurrences(series_id)
    assert [local(r["starts_at"]).strftime("%H:%M") for r in after] == ["18:00", "18:00"] + ["19:30"] * 4
    assert [local(r["starts_at"]).date() for r in after] == [local(r["starts_at"]).date() for r in before]
    assert [r["ends_at"] - r["starts_at"] for r in after] == [timedelta(hours=2)] * 6
    assert [r["sequence"] for r in after] == [0, 0, 1, 1, 1, 1]
    assert [r["series_original_start"] for r in after] == [r["series_original_start"] for r in before]
    assert await updated_invites(ids) == [
        (ids[2], "bart@deelnemer.example"),
        (ids[4], "chloe@deelnemer.example"),
    ]
    entry = (
        await AuditLog.select()
        .where(AuditLog.target == f"series:{series_id}")
        .order_by(AuditLog.id, ascending=False)
        .first()
    )
    assert entry["action"] == "series.updated" and '"following"' in entry["detail"]


async def test_this_changes_one_and_all_skips_cancelled_ones(browser) -> None:
    await signed_in(browser)
    series_id = await create_series(browser, six_tuesdays_across_spring())
    ids = [r["id"] for r in await occurrences(series_id)]
    page = f"/admin/series/{series_id}"

    url = f"/admin/series/{series_id}/edit?from={ids[3]}"
    done = await edit(
        browser, url, scope="this", title_nl="Extra editie", action="apply", confirm_events="1", confirm_people="0"
    )
    assert done.status_code == 303
    rows = await occurrences(series_id)
    assert [r["title_nl"] for r in rows] == ["Boekhouding voor starters"] * 3 + ["Extra editie"] + [
        "Boekhouding voor starters"
    ] * 2
    assert [r["sequence"] for r in rows] == [0] * 6, "a title is not a calendar change"

    cancelled = await post_form(browser, f"/admin/series/{series_id}/occurrences/{ids[1]}/cancel", page)
    assert cancelled.status_code == 303
    url = f"/admin/series/{series_id}/edit?from={ids[4]}"
    review = await edit(browser, url, scope="all", duration_minutes="90", action="review")
    assert "This changes 5 dates." in review.text
    done = await edit(
        browser, url, scope="all", duration_minutes="90", action="apply", confirm_events="5", confirm_people="0"
    )
    assert done.status_code == 303
    rows = await occurrences(series_id)
    lengths = [r["ends_at"] - r["starts_at"] for r in rows]
    assert lengths == [timedelta(minutes=90), timedelta(hours=2)] + [timedelta(minutes=90)] * 4
    assert [r["status"] for r in rows] == ["draft", "cancelled", "draft", "draft", "draft", "draft"]
    assert rows[3]["title_nl"] == "Extra editie", "fields not changed in the form stay as each date has them"
    assert (await Series.select().where(Series.id == series_id).first())["duration_minutes"] == 90

    stale = await edit(
        browser, url, scope="all", duration_minutes="60", action="apply", confirm_events="6", confirm_people="0"
    )
    assert stale.status_code == 200 and "This changes 5 dates." in stale.text, "a stale confirmation is asked again"
    assert (await occurrences(series_id))[0]["ends_at"] - rows[0]["starts_at"] == timedelta(minutes=90)


async def test_one_date_is_cancelled_moved_or_skipped_without_touching_the_others(browser) -> None:
    await signed_in(browser)
    series_id = await create_series(browser, six_tuesdays_across_spring())
    await post_form(browser, f"/admin/series/{series_id}/publish", f"/admin/series/{series_id}")
    before = await occurrences(series_id)
    ids = [r["id"] for r in before]
    await register(browser, ids[0], "Dirk")
    await register(browser, ids[2], "Eva")
    page = f"/admin/series/{series_id}"

    assert (await post_form(browser, f"{page}/occurrences/{ids[0]}/cancel", page)).status_code == 303
    rows = await occurrences(series_id)
    assert [r["status"] for r in rows] == ["cancelled"] + ["published"] * 5
    assert [r["sequence"] for r in rows] == [1, 0, 0, 0, 0, 0]
    told = await OutboxMessage.select(OutboxMessage.recipient).where(
        OutboxMessage.event.is_in(ids) & (OutboxMessage.kind == "event_cancelled")
    )
    assert [m["recipient"] for m in told] == ["dirk@deelnemer.example"]

    new_day = local(before[2]["starts_at"]).date() + timedelta(days=1)
    moved = await post_form(
        browser, f"{page}/occurrences/{ids[2]}/move", page, new_date=new_day.isoformat(), new_time="10:00"
    )
    assert moved.status_code == 303
    rows = await occurrences(series_id)
    assert local(rows[2]["starts_at"]).replace(tzinfo=None) == datetime.combine(new_day, datetime.min.time()).replace(
        hour=10
    )
    assert rows[2]["series_original_start"] == before[2]["series_original_start"], "the rule's start is kept"
    assert [r["starts_at"] for i, r in enumerate(rows) if i != 2] == [
        r["starts_at"] for i, r in enumerate(before) if i != 2
    ]
    assert await updated_invites(ids) == [(ids[2], "eva@deelnemer.example")]
    assert "Moved; by the rule" in (await browser.get(f"{page}?lang=en")).text

    skip = local(before[4]["starts_at"]).date()
    assert (await post_form(browser, f"{page}/exceptions", page, date=skip.isoformat())).status_code == 303
    rows = await occurrences(series_id)
    assert [r["status"] for r in rows] == ["cancelled", "published", "published", "published", "cancelled", "published"]
    assert (await Series.select().where(Series.id == series_id).first())["exdates"] == skip.isoformat()

    bad = await post_form(browser, f"{page}/occurrences/{ids[3]}/move", page, new_date="tomorrow", new_time="10:00")
    assert bad.status_code == 422 and f'aria-describedby="err-move-{ids[3]}"' in bad.text


async def test_changing_the_rule_from_the_fourth_date_splits_the_series(browser) -> None:
    start = six_tuesdays_across_spring()
    await signed_in(browser)
    series_id = await create_series(browser, start)
    await post_form(browser, f"/admin/series/{series_id}/publish", f"/admin/series/{series_id}")
    ids = [r["id"] for r in await occurrences(series_id)]
    url = f"/admin/series/{series_id}/rule?from={ids[3]}"
    fourth = start + timedelta(weeks=3)
    # Every two weeks from the 4th date, four times: keeps the 4th and 6th, drops the 5th, adds two.
    form = series_form(fourth, interval="2", count="4")
    form = {k: form[k] for k in ("start_date", "start_time", "duration_minutes", "frequency", "interval", "weekdays")}
    preview = await post_form(
        browser, url, url, **form, end="count", count="4", action="preview", timezone="Europe/Brussels"
    )
    assert preview.status_code == 200 and preview.text.count('<time datetime="') >= 4
    response = await post_form(
        browser, url, url, **form, end="count", count="4", action="create", timezone="Europe/Brussels"
    )
    assert response.status_code == 303
    new_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert new_id != series_id

    old_rows = await occurrences(series_id)
    assert [r["id"] for r in old_rows] == [*ids[:3], ids[4]], "the old series keeps its dates before the 4th"
    assert old_rows[3]["status"] == "cancelled", "the 5th fits the new rule no longer"
    new_rows = await occurrences(new_id)
    assert [local(r["starts_at"]).date() for r in new_rows] == [fourth + timedelta(weeks=2 * n) for n in range(4)]
    assert [r["id"] for r in new_rows[:2]] == [ids[3], ids[5]], "dates that still fit keep their event (and UID)"
    assert {r["status"] for r in new_rows} == {"published"}
    assert [r["sequence"] for r in new_rows[:2]] == [0, 0]
    old = await Series.select().where(Series.id == series_id).first()
    assert "UNTIL=" in old["rrule"] and "COUNT" not in old["rrule"]


async def test_bad_input_re_renders_the_form_with_the_error_on_its_field(browser) -> None:
    await signed_in(browser)
    response = await post_form(
        browser, "/admin/series/new", "/admin/series/new", **series_form(date(2027, 3, 9), start_date="9 maart")
    )
    assert response.status_code == 422
    assert 'aria-describedby="err-start_date"' in response.text and 'id="err-start_date"' in response.text
    assert 'value="Boekhouding voor starters"' in response.text, "input is kept"
    response = await post_form(
        browser,
        "/admin/series/new",
        "/admin/series/new",
        **series_form(date(2027, 3, 9), title_nl="", title_fr="", count="500"),
    )
    assert response.status_code == 422 and 'id="err-count"' in response.text


async def test_permissions_viewer_reads_other_organisation_sees_nothing_anonymous_signs_in(browser) -> None:
    slug, _ = await signed_in(browser)
    series_id = await create_series(browser, six_tuesdays_across_spring())
    ids = [r["id"] for r in await occurrences(series_id)]
    page = f"/admin/series/{series_id}"
    changes = [
        ("/admin/series/new", series_form(six_tuesdays_across_spring())),
        (f"{page}/publish", {}),
        (f"{page}/occurrences/{ids[0]}/cancel", {}),
        (f"{page}/occurrences/{ids[0]}/move", {"new_date": "2030-01-01", "new_time": "10:00"}),
        (f"{page}/exceptions", {"date": "2030-01-01"}),
        (f"{page}/edit?from={ids[0]}", {"scope": "all", "start_time": "09:00", "action": "review"}),
        (f"{page}/rule?from={ids[0]}", {**series_form(six_tuesdays_across_spring()), "action": "preview"}),
    ]

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    view = await browser.get(page)
    assert view.status_code == 200 and "Boekhouding voor starters" in view.text
    assert "/move" not in view.text and "Edit the series" not in view.text and "/publish" not in view.text
    assert (await browser.get("/admin/series")).status_code == 200
    for url in ("/admin/series/new", f"{page}/edit?from={ids[0]}", f"{page}/rule?from={ids[0]}"):
        assert (await browser.get(url)).status_code == 403, url
    for url, fields in changes:
        response = await post_form(browser, url, page, **fields)
        assert response.status_code == 403, url
    assert {r["status"] for r in await occurrences(series_id)} == {"draft"}

    other, _ = await make_organisation("ander")
    await sign_in(browser, await make_organiser(other, role="owner"))
    assert "Boekhouding voor starters" not in (await browser.get("/admin/series")).text
    for url in (page, f"{page}/edit?from={ids[0]}", f"{page}/rule?from={ids[0]}"):
        assert (await browser.get(url)).status_code == 404, url
    for url, fields in changes[1:]:
        response = await post_form(browser, url, "/admin/series", **fields)
        assert response.status_code == 404, url

    await browser.post("/logout", data={"_csrf_token": "x"})
    browser.cookies.clear()
    for url in ("/admin/series", "/admin/series/new", page, f"{page}/edit"):
        response = await browser.get(url, follow_redirects=False)
        assert response.status_code in (302, 303, 307) and "/login" in response.headers["location"], url


async def test_a_first_tuesday_series_copies_a_model_event_with_its_questions(browser) -> None:
    slug, org_id = await signed_in(browser)
    model = await make_event(org_id, publish=False, capacity=7, title={"nl": "Koffie met de bank"})
    questions = [{"kind": "short_text", "label": {"nl": "Uw sector"}, "required": True}]
    put = await browser.put(f"/api/v1/events/{model}/questions", json=questions, headers=bearer(await make_token(slug)))
    assert put.status_code == 200, put.text
    year = datetime.now(UTC).year + 1
    series_id = await create_series(
        browser,
        date(year, 1, 1),
        template_event=str(model),
        title_nl="(ignored)",
        frequency="monthly_weekday",
        position="1",
        weekday="TU",
        end="until",
        until=f"{year}-06-30",
        exdates=f"{year}-04-06",
        start_time="09:30",
    )
    rows = await occurrences(series_id)
    days = [local(r["starts_at"]).date() for r in rows]
    first_tuesdays = [
        min(d for d in (date(year, month, n) for n in range(1, 8)) if d.weekday() == 1) for month in range(1, 7)
    ]
    assert days == [d for d in first_tuesdays if d != date(year, 4, 6)]
    assert {r["title_nl"] for r in rows} == {"Koffie met de bank"} and {r["capacity"] for r in rows} == {7}
    assert {local(r["starts_at"]).strftime("%H:%M") for r in rows} == {"09:30"}
    for row in rows:
        copied = await Question.select().where(Question.event == row["id"])
        assert [q["label_nl"] for q in copied] == ["Uw sector"] and copied[0]["required"]
    page = (await browser.get(f"/admin/series/{series_id}?lang=en")).text
    assert f"Every month on the first Tuesday, until {year}-06-30" in page and f"{year}-04-06" in page

    twice = await post_form(
        browser,
        "/admin/series/new",
        "/admin/series/new",
        **series_form(date(year, 1, 4), weekdays=["MO", "TH"], count="4", action="preview"),
    )
    table = twice.text.split('class="table series-dates"')[1]
    assert [d for d in re.findall(r"<time [^>]*>([\d-]+)</time>", table)] == [
        f"{year}-01-04",
        f"{year}-01-07",
        f"{year}-01-11",
        f"{year}-01-14",
    ]
