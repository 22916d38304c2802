"""Public calendar feeds over HTTP, as calendar clients subscribe to them (CALENDAR.md, "Feeds").

Data is made through the services (and the JSON API for edits); the feeds are read with
`client` (in process) and, for the caching headers, with httpx against a real `trefpunt serve`.
Every body goes through ical.js and libical.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.calendar.data import (
    add_registration,
    future,
    make_event,
    make_organisation,
    make_series,
    make_token,
    stored_event,
)
from tests.calendar.helpers import calendar_level_lines, property_names, unfolded
from tests.calendar.parsers import parse_everywhere, parse_with_icaljs, parse_with_libical, prefetch
from tests.calendar.zones import CASES

BASE = "http://testserver.local"


def assert_calendar_response(response: Any) -> None:
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].split(";")[0].strip() == "text/calendar", response.headers
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")


def read(body: bytes) -> dict[str, Any]:
    """ical.js's reading, after checking that libical reads the same events without errors."""
    libical = parse_with_libical(body)
    assert libical["parse_errors"] == [], libical["parse_errors"]
    icaljs = parse_with_icaljs(body)
    assert [e["uid"] for e in icaljs["vevents"]] == [e["uid"] for e in libical["vevents"]]
    for mine, theirs in zip(icaljs["vevents"], libical["vevents"], strict=True):
        assert (mine["start_utc"], mine["end_utc"]) == (theirs["start_utc"], theirs["end_utc"]), mine["uid"]
        assert (mine["sequence"], mine["status"]) == (theirs["sequence"], theirs["status"]), mine["uid"]
    return icaljs


def by_uid(parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    events = {e["uid"]: e for e in parsed["vevents"]}
    assert len(events) == len(parsed["vevents"]), "a UID appears twice in the feed"
    return events


async def feed(client: Any, url: str, **headers: str) -> Any:
    return await client.get(url, headers=headers)


def http_date(response: Any) -> Any:
    return parsedate_to_datetime(response.headers["last-modified"])


@pytest.fixture
async def world() -> dict[str, Any]:
    """Two organisations: `owner` hosts `own` (in a series) and co-hosts `shared` of `partner`;
    plus a draft and a confirmed registration (whose email must never show in a feed)."""
    owner_slug, owner_id = await make_organisation("owner")
    partner_slug, partner_id = await make_organisation("partner")
    series_id = await make_series(owner_id, "Reeks ondernemen", "Série entreprendre")
    own = await make_event(owner_id, series_id=series_id, starts_at=future(20))
    shared = await make_event(
        partner_id,
        hosts=[owner_slug],
        starts_at=future(40),
        title={"nl": "Netwerkavond", "fr": "Soirée réseautage"},
    )
    draft = await make_event(owner_id, publish=False, series_id=series_id, title={"nl": "Nog geheim"})
    _, participant_email = await add_registration(own)
    return {
        "owner": owner_slug,
        "owner_id": owner_id,
        "partner": partner_slug,
        "series": series_id,
        "own": own,
        "shared": shared,
        "draft": draft,
        "participant_email": participant_email,
        "uids": {key: (await stored_event(eid))["uid"] for key, eid in (("own", own), ("shared", shared))},
        "draft_uid": (await stored_event(draft))["uid"],
    }


def world_suffix() -> str:
    import secrets

    return secrets.token_hex(4)


def feed_urls(world: dict[str, Any]) -> list[str]:
    return [
        "/calendar.ics",
        f"/organisations/{world['owner']}/calendar.ics",
        f"/series/{world['series']}/calendar.ics",
        f"/events/{world['own']}/calendar.ics",
    ]


# What each feed holds ---------------------------------------------------------------------------


async def test_every_feed_answers_200_text_calendar_that_icaljs_and_libical_read(client, world):
    for url in feed_urls(world):
        response = await feed(client, url)
        assert_calendar_response(response)
        uids = by_uid(read(response.content))
        assert world["uids"]["own"] in uids, url
        assert world["draft_uid"] not in uids, url


async def test_organisation_feed_holds_owned_and_co_hosted_events(client, world):
    owner = by_uid(read((await feed(client, f"/organisations/{world['owner']}/calendar.ics")).content))
    partner = by_uid(read((await feed(client, f"/organisations/{world['partner']}/calendar.ics")).content))

    assert set(owner) == {world["uids"]["own"], world["uids"]["shared"]}
    assert set(partner) == {world["uids"]["shared"]}


async def test_series_and_event_feeds_hold_only_their_events(client, world):
    series = by_uid(read((await feed(client, f"/series/{world['series']}/calendar.ics")).content))
    one = by_uid(read((await feed(client, f"/events/{world['shared']}/calendar.ics")).content))
    everything = by_uid(read((await feed(client, "/calendar.ics")).content))

    assert set(series) == {world["uids"]["own"]}
    assert set(one) == {world["uids"]["shared"]}
    assert {world["uids"]["own"], world["uids"]["shared"]} <= set(everything)


async def test_feed_events_carry_the_stored_instants_and_links(client, world):
    row = await stored_event(world["own"])
    event = by_uid(read((await feed(client, f"/events/{world['own']}/calendar.ics")).content))[row["uid"]]

    assert event["start_utc"] == row["starts_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["end_utc"] == row["ends_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["url"] == f"{BASE}/events/{world['own']}"
    assert event["status"] == "CONFIRMED"


async def test_feeds_carry_no_method_organizer_attendee_or_participant_data(client, world):
    for url in feed_urls(world):
        body = (await feed(client, url)).content
        names = {property_names(line) for line in unfolded(body)}
        assert not names & {"METHOD", "ORGANIZER", "ATTENDEE", "X-WR-TIMEZONE"}, (url, names)
        text = body.decode("utf-8")
        assert "mailto:" not in text.lower(), url
        assert world["participant_email"].lower() not in text.lower(), url
        assert f"info@{world['owner']}.example" not in text, url
        emails = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)
        assert {e.split("@", 1)[1] for e in emails} <= {"testserver.local"}, f"{url}: addresses {emails}"
        assert parse_with_libical(body)["method"] is None


async def test_feed_names_itself_once_with_refresh_interval_and_a_fixed_uid(client, world):
    for url in feed_urls(world):
        first = await feed(client, url)
        await make_event(world["owner_id"], starts_at=future(60))  # a change between two fetches
        second = await feed(client, url)
        for response in (first, second):
            top = calendar_level_lines(response.content)
            names = [property_names(line) for line in top]
            assert names.count("NAME") == 1, (url, names)
            assert names.count("X-WR-CALNAME") == 1, (url, names)
            assert names.count("UID") == 1, (url, names)
            assert any(re.fullmatch(r"REFRESH-INTERVAL;VALUE=DURATION:P(T\d+[HMS])+", line) for line in top), top
            assert any(re.fullmatch(r"X-PUBLISHED-TTL:P(T\d+[HMS])+", line) for line in top), top
        uid_lines = [
            [line for line in calendar_level_lines(r.content) if property_names(line) == "UID"] for r in (first, second)
        ]
        assert uid_lines[0] == uid_lines[1], f"{url}: the calendar UID changed between requests"
        parsed = read(second.content)
        assert parsed["name"] == parsed["calname"] and parsed["name"], url


async def test_organisation_feed_is_named_after_the_organisation(client, world):
    parsed = read((await feed(client, f"/organisations/{world['owner']}/calendar.ics")).content)
    assert f"Organisatie {world['owner']}" in parsed["calname"]


async def test_event_feeds_keep_the_instants_on_change_nights(client):
    """The time-zone matrix through the database and HTTP: every parser reads the stored instants."""
    _, org_id = await make_organisation("zones")
    created = []
    for case in CASES:
        event_id = await make_event(
            org_id, starts_at=case.starts_at, ends_at=case.ends_at, timezone=case.tzid, title={"en": case.id}
        )
        created.append((case, event_id))
    bodies = []
    for _, event_id in created:
        response = await feed(client, f"/events/{event_id}/calendar.ics")
        assert_calendar_response(response)
        bodies.append(response.content)
    prefetch(bodies)

    for (case, _), body in zip(created, bodies, strict=True):
        for name, parsed in parse_everywhere(body).items():
            (event,) = parsed["vevents"]
            assert (event["start_utc"], event["end_utc"]) == case.expected, f"{name} read {case.id} wrong"


# Caching: strong ETag, 304, Last-Modified -------------------------------------------------------


async def test_strong_etag_and_if_none_match_gives_304_with_an_empty_body(client, world):
    for url in feed_urls(world):
        first = await feed(client, url)
        second = await feed(client, url)
        etag = first.headers["etag"]

        assert re.fullmatch(r'"[^"\s]+"', etag), f"{url}: not a strong ETag: {etag}"
        assert second.headers["etag"] == etag, url
        assert second.content == first.content, f"{url}: the body changed between two requests"
        for if_none_match in (etag, f'"other", {etag}', "*"):
            cached = await feed(client, url, **{"If-None-Match": if_none_match})
            assert cached.status_code == 304, (url, if_none_match)
            assert cached.content == b"", url
            assert cached.headers["etag"] == etag, url
        modified = await feed(client, url, **{"If-None-Match": '"something-else"'})
        assert modified.status_code == 200 and modified.content == first.content


async def test_a_weak_if_none_match_of_the_same_tag_gives_304(client, world):
    """RFC 9110 §13.1.2: If-None-Match uses the weak comparison. A proxy that compresses the
    feed (nginx gzip) turns the ETag into W/"…", and clients send that back."""
    url = f"/events/{world['own']}/calendar.ics"
    etag = (await feed(client, url)).headers["etag"]

    cached = await feed(client, url, **{"If-None-Match": f"W/{etag}"})

    assert cached.status_code == 304, f"W/{etag} gave {cached.status_code}"
    assert cached.content == b""


async def test_head_answers_like_get_without_a_body(client, world):
    """RFC 9110 §9.3.2: general-purpose servers support HEAD; feed checkers use it."""
    url = f"/events/{world['own']}/calendar.ics"
    got = await feed(client, url)

    head = await client.head(url)

    assert head.status_code == 200, f"HEAD {url}: {head.status_code}"
    assert head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-type"].startswith("text/calendar")


async def test_a_feed_that_depends_on_negotiation_says_so_in_vary(client, world):
    """Without ?lang=, the language comes from Accept-Language or the lang cookie; a public,
    cacheable response that depends on them must name them in Vary, or a shared cache hands
    one subscriber's language to the next."""
    url = f"/events/{world['shared']}/calendar.ics"
    uid = world["uids"]["shared"]
    for header, french, dutch in (
        ("accept-language", {"Accept-Language": "fr-BE,fr;q=0.9"}, {"Accept-Language": "nl-BE,nl;q=0.9"}),
        ("cookie", {"Cookie": "lang=fr"}, {"Cookie": "lang=nl"}),
    ):
        fr, nl = await client.get(url, headers=french), await client.get(url, headers=dutch)
        client.cookies.clear()
        if by_uid(read(fr.content))[uid]["summary"] == by_uid(read(nl.content))[uid]["summary"]:
            continue  # the feed ignores this header: nothing to declare
        for response in (fr, nl):
            vary = {v.strip().lower() for v in response.headers.get("vary", "").split(",")}
            assert header in vary or "*" in vary, (
                f"the feed's language follows {header} but Vary is {response.headers.get('vary')!r} "
                f"with Cache-Control {response.headers.get('cache-control')!r}"
            )


async def test_an_organisation_name_with_a_line_break_is_refused(client):
    from events.services import organisers
    from events.services.errors import InvalidInput

    slug = f"nl-{world_suffix()}"
    with pytest.raises(InvalidInput):
        await organisers.create_organisation(slug, "Ondernemershuis\nGent", f"info@{slug}.example")


async def test_an_organisation_name_with_a_line_break_still_gives_a_feed(client):
    """The service refuses such names now, but rows written before (or by hand) may hold a
    line break; the feed must still be served, as one NAME line, not a 500."""
    from events.tables import Organisation

    slug = f"nl-{world_suffix()}"
    rows = await Organisation.insert(
        Organisation(
            slug=slug,
            email=f"info@{slug}.example",
            name_nl="Ondernemershuis\nGent",
            name_fr="Ondernemershuis\nGent",
            name_en="Ondernemershuis\nGent",
        )
    )
    await make_event(rows[0]["id"], starts_at=future(12))

    response = await feed(client, f"/organisations/{slug}/calendar.ics")

    assert_calendar_response(response)
    parsed = read(response.content)
    assert parsed["calname"].startswith("Ondernemershuis") and "\n" not in parsed["calname"]
    assert len(parsed["vevents"]) == 1


async def test_if_modified_since_gives_304_until_a_change(client, world):
    url = f"/events/{world['own']}/calendar.ics"
    first = await feed(client, url)

    cached = await feed(client, url, **{"If-Modified-Since": first.headers["last-modified"]})
    assert cached.status_code == 304 and cached.content == b""


async def test_editing_changes_the_etag_and_last_modified_never_moves_back(client, world):
    headers = await make_token(world["owner"])
    urls = [f"/events/{world['own']}/calendar.ics", "/calendar.ics", f"/organisations/{world['owner']}/calendar.ics"]
    before = {url: await feed(client, url) for url in urls}

    patched = await client.patch(
        f"/api/v1/events/{world['own']}", json={"title": {"nl": "Nieuwe titel", "fr": "Nouveau titre"}}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    edited_at = (await stored_event(world["own"]))["updated_at"]
    after_edit = {url: await feed(client, url) for url in urls}

    cancelled = await client.post(f"/api/v1/events/{world['own']}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    cancelled_at = (await stored_event(world["own"]))["updated_at"]
    after_cancel = {url: await feed(client, url) for url in urls}

    for url in urls:
        etags = [r.headers["etag"] for r in (before[url], after_edit[url], after_cancel[url])]
        assert len(set(etags)) == 3, f"{url}: {etags}"
        times = [http_date(r) for r in (before[url], after_edit[url], after_cancel[url])]
        assert times == sorted(times), f"{url}: Last-Modified moved back: {times}"
        assert times[1] >= edited_at.replace(microsecond=0), f"{url}: Last-Modified {times[1]} before the edit"
        assert times[2] >= cancelled_at.replace(microsecond=0), f"{url}: Last-Modified {times[2]} before the cancel"
        stale = await feed(client, url, **{"If-None-Match": before[url].headers["etag"]})
        assert stale.status_code == 200, f"{url}: an old ETag still gives {stale.status_code}"
    event = by_uid(read(after_edit[urls[0]].content))[world["uids"]["own"]]
    assert event["summary"] == "Nieuwe titel"


async def test_cancelled_event_stays_in_feeds_as_cancelled_with_sequence_plus_one(client, world):
    from events.services import events as event_service
    from events.services.access import CLI_ACTOR

    uid = world["uids"]["own"]
    urls = [f"/events/{world['own']}/calendar.ics", "/calendar.ics", f"/organisations/{world['owner']}/calendar.ics"]
    urls.append(f"/series/{world['series']}/calendar.ics")
    before = {url: by_uid(read((await feed(client, url)).content))[uid] for url in urls}

    await event_service.cancel_event(CLI_ACTOR, world["own"])

    for url in urls:
        after = by_uid(read((await feed(client, url)).content))
        assert uid in after, f"{url}: the cancelled event left the feed"
        assert after[uid]["status"] == "CANCELLED", url
        assert after[uid]["sequence"] == before[url]["sequence"] + 1, url
        assert before[url]["status"] == "CONFIRMED"


async def test_a_material_change_raises_the_sequence_in_the_feed(client, world):
    from events.services import events as event_service
    from events.services.access import CLI_ACTOR
    from events.services.events import EventPatch

    url = f"/events/{world['own']}/calendar.ics"
    uid = world["uids"]["own"]
    before = by_uid(read((await feed(client, url)).content))[uid]
    moved = future(21)

    await event_service.update_event(
        CLI_ACTOR, world["own"], EventPatch(starts_at=moved, ends_at=moved + timedelta(hours=1))
    )

    after = by_uid(read((await feed(client, url)).content))[uid]
    assert after["sequence"] == before["sequence"] + 1
    assert after["start_utc"] == moved.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_drafts_are_absent_and_unknown_feeds_are_404(client, world):
    for url in (
        "/calendar.ics",
        f"/organisations/{world['owner']}/calendar.ics",
        f"/series/{world['series']}/calendar.ics",
    ):
        assert world["draft_uid"] not in by_uid(read((await feed(client, url)).content)), url

    for url in (
        f"/events/{world['draft']}/calendar.ics",
        "/events/999999999/calendar.ics",
        "/organisations/no-such-organisation-x/calendar.ics",
        "/series/999999999/calendar.ics",
    ):
        response = await feed(client, url)
        assert response.status_code == 404, f"{url}: {response.status_code}"
        assert b"BEGIN:VCALENDAR" not in response.content


async def test_lang_fr_gives_the_french_summary(client, world):
    fr = by_uid(read((await feed(client, f"/events/{world['shared']}/calendar.ics?lang=fr")).content))
    nl = by_uid(read((await feed(client, f"/events/{world['shared']}/calendar.ics?lang=nl")).content))
    everything_fr = by_uid(read((await feed(client, "/calendar.ics?lang=fr")).content))
    org_fr = read((await feed(client, f"/organisations/{world['owner']}/calendar.ics?lang=fr")).content)

    uid = world["uids"]["shared"]
    assert fr[uid]["summary"] == "Soirée réseautage"
    assert nl[uid]["summary"] == "Netwerkavond"
    assert everything_fr[uid]["summary"] == "Soirée réseautage"
    assert by_uid(org_fr)[uid]["summary"] == "Soirée réseautage"
    series_fr = read((await feed(client, f"/series/{world['series']}/calendar.ics?lang=fr")).content)
    assert series_fr["calname"] == "Série entreprendre"


async def test_feeds_set_no_cookie(client, world):
    for url in feed_urls(world):
        for query, headers in (
            ("", {}),
            ("?lang=fr", {}),
            ("?lang=fr", {"Cookie": "lang=nl"}),
            ("?lang=en", {"Accept-Language": "fr-BE,fr;q=0.9"}),
        ):
            response = await client.get(url + query, headers=headers)
            assert response.status_code == 200, (url, query)
            assert "set-cookie" not in response.headers, f"{url}{query}: {response.headers.get_list('set-cookie')}"
            cached = await client.get(url + query, headers={**headers, "If-None-Match": response.headers["etag"]})
            assert cached.status_code == 304
            assert "set-cookie" not in cached.headers, f"{url}{query} (304)"
    client.cookies.clear()


@pytest.mark.parametrize(
    "url",
    [
        "/calendar.ics?kind=bogus",
        "/calendar.ics?lang=xx",
        "/calendar.ics?language=klingon",
        "/calendar.ics?organisation=" + "x" * 100,
        "/organisations/some-org/calendar.ics?lang=bogus",
        "/events/1/calendar.ics?lang=bogus",
    ],
)
async def test_bad_query_parameters_are_400_not_500(client, url):
    response = await client.get(url)
    assert response.status_code == 400, f"{url}: {response.status_code} {response.text[:200]}"


async def test_kind_filter_of_the_all_feed(client, world):
    networking = await make_event(world["owner_id"], kind="networking", starts_at=future(25))
    uid = (await stored_event(networking))["uid"]

    only = by_uid(read((await feed(client, "/calendar.ics?kind=networking")).content))
    other = by_uid(read((await feed(client, "/calendar.ics?kind=info_session")).content))

    assert uid in only and world["uids"]["own"] not in only
    assert uid not in other and world["uids"]["own"] in other


# Pages link to the feeds -----------------------------------------------------------------------


async def test_events_page_offers_webcal_google_and_outlook_subscriptions(client, world):
    page = await client.get("/events")
    assert page.status_code == 200
    html = page.text

    assert re.search(r'href="webcal://testserver\.local/calendar\.ics[^"]*"', html), "no webcal:// link"
    assert "https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Ftestserver.local%2Fcalendar.ics" in html
    assert "https://outlook.live.com/calendar/0/addfromweb?url=http%3A%2F%2Ftestserver.local%2Fcalendar.ics" in html
    assert "http://testserver.local/calendar.ics" in html, "no https/http feed address to copy"


async def test_events_page_subscription_follows_the_filters(client, world):
    html = (await client.get(f"/events?organisation={world['owner']}")).text
    assert re.search(rf'href="webcal://testserver\.local/calendar\.ics\?[^"]*organisation={world["owner"]}', html)


async def test_event_page_offers_add_to_calendar_links(client, world):
    row = await stored_event(world["own"])
    html = (await client.get(f"/events/{world['own']}")).text
    starts = row["starts_at"].astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    ends = row["ends_at"].astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    assert f'href="/events/{world["own"]}/calendar.ics' in html
    google = re.search(r'href="(https://calendar\.google\.com/calendar/render\?[^"]+)"', html)
    assert google, "no add-to-Google link"
    assert "action=TEMPLATE" in google.group(1)
    assert f"dates={starts}%2F{ends}" in google.group(1).replace("&amp;", "&")
    assert re.search(r'href="https://outlook\.live\.com/calendar/0/deeplink/compose\?[^"]+"', html)

    ics_link = re.search(rf'href="(/events/{world["own"]}/calendar\.ics[^"]*)"', html).group(1)
    response = await client.get(ics_link.replace("&amp;", "&"))
    assert_calendar_response(response)
    assert row["uid"] in by_uid(read(response.content))


# A real server -----------------------------------------------------------------------------------


@pytest.mark.serve
async def test_live_server_feed_caching_and_parsing(live_server):
    slug, org_id = await make_organisation("live")
    event_id = await make_event(org_id, starts_at=future(15))
    uid = (await stored_event(event_id))["uid"]
    urls = ["/calendar.ics", f"/organisations/{slug}/calendar.ics", f"/events/{event_id}/calendar.ics?lang=fr"]

    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        for url in urls:
            first = await http.get(url)
            second = await http.get(url)
            assert_calendar_response(first)
            assert "set-cookie" not in first.headers, url
            assert first.content == second.content, url
            etag = first.headers["etag"]
            assert not etag.startswith("W/"), etag
            assert second.headers["etag"] == etag
            assert uid in by_uid(read(first.content)), url
            cached = await http.get(url, headers={"If-None-Match": etag})
            assert cached.status_code == 304 and cached.content == b"", url
            assert "set-cookie" not in cached.headers, url

        before = await http.get(urls[1])
        from events.services import events as event_service
        from events.services.access import CLI_ACTOR

        await event_service.cancel_event(CLI_ACTOR, event_id)
        after = await http.get(urls[1], headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200
        assert http_date(after) >= http_date(before)
        event = by_uid(read(after.content))[uid]
        assert event["status"] == "CANCELLED"
        assert event["url"] == f"{live_server.url}/events/{event_id}"
