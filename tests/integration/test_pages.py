"""Public pages as a visitor meets them: languages, filters, pages of results, the event page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.integration.helpers import (
    event_links,
    future,
    h1_of,
    html_lang,
    iso,
    make_event,
    make_organisation,
    set_cookies,
)

# Words a correct translation of "Upcoming events" must contain, case-insensitively.
UPCOMING_WORD = {"nl": "evenementen", "fr": "événements", "en": "upcoming events"}


# Languages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["nl", "fr", "en"])
async def test_event_list_is_served_in_the_language_asked_with_lang_query(client, language):
    response = await client.get(f"/events?lang={language}")

    assert response.status_code == 200
    assert html_lang(response.text) == language
    assert UPCOMING_WORD[language] in h1_of(response.text).lower()


async def test_event_list_heading_differs_between_dutch_french_and_english(client):
    headings = {}
    for language in ("nl", "fr", "en"):
        client.cookies.clear()
        headings[language] = h1_of((await client.get(f"/events?lang={language}")).text)

    assert len(set(headings.values())) == 3, headings
    assert "upcoming" not in headings["nl"].lower()
    assert "upcoming" not in headings["fr"].lower()


async def test_home_page_is_the_event_list(client):
    response = await client.get("/?lang=fr")

    assert response.status_code == 200
    assert UPCOMING_WORD["fr"] in h1_of(response.text).lower()


async def test_lang_query_sets_a_lang_cookie_that_later_pages_follow(client):
    first = await client.get("/events?lang=fr")
    assert any("lang=fr" in header for header in set_cookies(first, "lang"))

    # No query now: the cookie decides, even against the browser's Accept-Language.
    later = await client.get("/events", headers={"Accept-Language": "en"})
    assert html_lang(later.text) == "fr"
    assert UPCOMING_WORD["fr"] in h1_of(later.text).lower()


async def test_lang_query_beats_the_lang_cookie(client):
    client.cookies.set("lang", "fr")
    response = await client.get("/events?lang=en")

    assert html_lang(response.text) == "en"
    assert UPCOMING_WORD["en"] in h1_of(response.text).lower()


async def test_accept_language_chooses_when_there_is_no_query_and_no_cookie(client):
    french = await client.get("/events", headers={"Accept-Language": "fr-BE,fr;q=0.9,nl;q=0.5"})
    english = await client.get("/events", headers={"Accept-Language": "de-DE, en;q=0.7"})

    assert html_lang(french.text) == "fr"
    assert UPCOMING_WORD["fr"] in h1_of(french.text).lower()
    assert html_lang(english.text) == "en"


async def test_unsupported_accept_language_falls_back_to_dutch(client):
    response = await client.get("/events", headers={"Accept-Language": "de-DE,de;q=0.9"})

    assert html_lang(response.text) == "nl"
    assert UPCOMING_WORD["nl"] in h1_of(response.text).lower()


async def test_unsupported_lang_query_is_ignored_and_sets_no_cookie(client):
    response = await client.get("/events?lang=de", headers={"Accept-Language": "fr"})

    assert response.status_code == 200
    assert html_lang(response.text) == "fr"
    assert set_cookies(response, "lang") == []


# Filters --------------------------------------------------------------------------------------


async def test_organisation_filter_shows_its_own_and_its_co_hosted_events_only(client):
    slug_a, org_a = await make_organisation("host")
    slug_b, org_b = await make_organisation("partner")
    own = await make_event(org_a)
    co_hosted = await make_event(org_b, hosts=[slug_a])
    others = await make_event(org_b)

    page_a = event_links((await client.get(f"/events?organisation={slug_a}")).text)
    page_b = event_links((await client.get(f"/events?organisation={slug_b}")).text)

    assert page_a == {own, co_hosted}
    assert page_b == {co_hosted, others}


async def test_event_list_shows_published_events_but_not_drafts(client):
    slug, org = await make_organisation()
    published = await make_event(org)
    draft = await make_event(org, publish=False)

    links = event_links((await client.get(f"/events?organisation={slug}")).text)

    assert published in links
    assert draft not in links


async def test_kind_filter_shows_only_that_kind(client):
    slug, org = await make_organisation()
    info = await make_event(org, kind="info_session")
    workshop = await make_event(org, kind="workshop")

    links = event_links((await client.get(f"/events?organisation={slug}&kind=workshop")).text)

    assert links == {workshop}
    assert info not in links


async def test_language_filter_shows_events_that_have_a_title_in_that_language(client):
    slug, org = await make_organisation()
    dutch_only = await make_event(org, title={"nl": "Netwerkavond"})
    french = await make_event(org, title={"fr": "Soirée réseautage"})
    both = await make_event(org, title={"nl": "Zitdag", "fr": "Permanence"})

    links = event_links((await client.get(f"/events?organisation={slug}&language=fr")).text)

    assert links == {french, both}
    assert dutch_only not in links


async def test_date_filter_shows_events_from_that_day_on(client):
    slug, org = await make_organisation()
    soon = await make_event(org, starts_at=iso(future(10)), ends_at=iso(future(10) + timedelta(hours=2)))
    later = await make_event(org, starts_at=iso(future(40)), ends_at=iso(future(40) + timedelta(hours=2)))
    cutoff = (datetime.now(UTC) + timedelta(days=20)).date()

    links = event_links((await client.get(f"/events?organisation={slug}&date={cutoff.isoformat()}")).text)

    assert links == {later}
    assert soon not in links


async def test_filters_combine(client):
    slug, org = await make_organisation()
    match = await make_event(org, kind="workshop", title={"fr": "Atelier"})
    await make_event(org, kind="workshop", title={"nl": "Workshop"})
    await make_event(org, kind="info_session", title={"fr": "Séance"})

    links = event_links((await client.get(f"/events?organisation={slug}&kind=workshop&language=fr")).text)

    assert links == {match}


async def test_event_list_is_paginated_by_twenty_with_a_next_link_until_the_last_page(client):
    slug, org = await make_organisation()
    ids = [
        await make_event(org, starts_at=iso(future(5 + n)), ends_at=iso(future(5 + n) + timedelta(hours=1)))
        for n in range(23)
    ]

    first = await client.get(f"/events?organisation={slug}")
    second = await client.get(f"/events?organisation={slug}&page=2")

    first_links, second_links = event_links(first.text), event_links(second.text)
    assert len(first_links) == 20
    assert first_links == set(ids[:20]), "page 1 holds the 20 earliest events"
    assert second_links == set(ids[20:])
    next_link = re.search(r'<a[^>]*rel="next"[^>]*href="([^"]+)"', first.text)
    assert next_link, "page 1 has a rel=next link"
    assert f"organisation={slug}" in next_link.group(1)
    assert "page=2" in next_link.group(1)
    assert 'rel="next"' not in second.text, "the last page has no rel=next link"
    assert 'rel="prev"' in second.text


# The event page -------------------------------------------------------------------------------


async def test_event_page_shows_times_in_the_events_timezone(client):
    _, org = await make_organisation()
    brussels = await make_event(
        org, starts_at="2027-07-01T16:00:00Z", ends_at="2027-07-01T17:30:00Z", timezone="Europe/Brussels"
    )
    new_york = await make_event(
        org, starts_at="2027-07-01T16:00:00Z", ends_at="2027-07-01T17:30:00Z", timezone="America/New_York"
    )

    brussels_page = (await client.get(f"/events/{brussels}?lang=nl")).text
    new_york_page = (await client.get(f"/events/{new_york}?lang=nl")).text

    assert "18:00" in brussels_page and "19:30" in brussels_page
    assert "16:00" not in re.sub(r'datetime="[^"]*"', "", brussels_page), "UTC time leaked into the page"
    assert "12:00" in new_york_page and "13:30" in new_york_page
    assert "18:00" not in new_york_page


async def test_event_page_names_the_owner_and_the_co_hosts(client):
    _, org_a = await make_organisation("owner", name="Ondernemershuis Gent")
    slug_b, _ = await make_organisation("cohost", name="Microkrediet Vlaanderen")
    event = await make_event(org_a, hosts=[slug_b])

    page = (await client.get(f"/events/{event}")).text

    assert "Ondernemershuis Gent" in page
    assert "Microkrediet Vlaanderen" in page


async def test_event_page_renders_markdown_but_escapes_script_tags(client):
    _, org = await make_organisation()
    event = await make_event(
        org,
        title={"nl": "Titel <script>alert('t')</script>"},
        description={"nl": "**Vet** en <script>alert(1)</script> en <img src=x onerror=alert(2)>"},
    )

    page = (await client.get(f"/events/{event}")).text

    assert "<strong>Vet</strong>" in page, "Markdown is rendered"
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "Titel &lt;script&gt;" in page


async def test_event_page_does_not_make_javascript_links_from_markdown(client):
    _, org = await make_organisation()
    event = await make_event(
        org, description={"nl": "[klik](javascript:alert(1)) en [veilig](https://example.org/info)"}
    )

    page = (await client.get(f"/events/{event}")).text

    assert not re.search(r"href\s*=\s*[\"']?\s*javascript:", page, re.I), "an active javascript: link"
    assert 'href="https://example.org/info"' in page, "ordinary links still work"


async def test_event_page_says_when_the_event_is_not_in_the_requested_language(client):
    _, org = await make_organisation()
    event = await make_event(org, title={"nl": "Alleen in het Nederlands"}, description={"nl": "Uitleg"})

    french = (await client.get(f"/events/{event}?lang=fr")).text
    client.cookies.clear()
    dutch = (await client.get(f"/events/{event}?lang=nl")).text

    notice = re.search(r'<p class="notice"[^>]*role="note"[^>]*>(.*?)</p>', french, re.S)
    assert notice, "the French page has a language fallback notice"
    assert "Nederlands" in notice.group(1)
    assert "not available in your language" not in notice.group(1), "notice is not translated into French"
    assert "Alleen in het Nederlands" in french
    assert 'role="note"' not in dutch


async def test_draft_event_page_is_404(client):
    _, org = await make_organisation()
    draft = await make_event(org, publish=False, title={"nl": "Geheim concept"})

    response = await client.get(f"/events/{draft}")

    assert response.status_code == 404
    assert "Geheim concept" not in response.text


async def test_unknown_event_is_a_404_page_in_the_users_language(client):
    details = {}
    for language in ("nl", "fr", "en"):
        client.cookies.clear()
        response = await client.get(f"/events/987654321?lang={language}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert html_lang(response.text) == language
        details[language] = re.search(r"<main[^>]*>(.*?)</main>", response.text, re.S).group(1)

    assert "does not exist" in details["en"]
    assert "does not exist" not in details["nl"] and "does not exist" not in details["fr"]
    assert len(set(details.values())) == 3


async def test_unknown_event_404_follows_accept_language(client):
    response = await client.get("/events/987654321", headers={"Accept-Language": "fr-BE"})

    assert response.status_code == 404
    assert html_lang(response.text) == "fr"


@pytest.mark.parametrize(
    "query",
    ["kind=bogus", "page=0", "page=-1", "page=abc", "date=notadate", "date=2027-02-30", "language=de"],
)
async def test_bad_event_list_query_is_a_400_page_not_a_500(client, query):
    response = await client.get(f"/events?{query}")

    assert response.status_code == 400, response.status_code


async def test_bad_event_list_query_answers_with_an_error_page_in_the_users_language(client):
    response = await client.get("/events?kind=bogus&lang=fr")

    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("text/html")
    assert html_lang(response.text) == "fr"
    assert "Traceback" not in response.text


async def test_event_list_shows_upcoming_events_only(client):
    slug, org = await make_organisation()
    upcoming = await make_event(org)
    today = date.today()
    past = await make_event(
        org, starts_at=f"{today - timedelta(days=3)}T10:00:00Z", ends_at=f"{today - timedelta(days=3)}T12:00:00Z"
    )

    links = event_links((await client.get(f"/events?organisation={slug}")).text)

    assert upcoming in links
    assert past not in links


@pytest.mark.parametrize(
    ("language", "advice"),
    [
        ("nl", "kijk dan eerst in je mailbox"),
        ("fr", "regardez d'abord dans votre boîte mail"),
        ("en", "look in your mailbox"),
    ],
)
async def test_a_bug_answers_a_page_in_the_users_language_that_says_how_to_check_what_went_through(
    language: str, advice: str
) -> None:
    """A 500 may come after the COMMIT: the page must not promise that nothing happened, and
    must not show the exception."""
    from litestar import get
    from litestar.testing import AsyncTestClient

    from events.app import create_app
    from tests.conftest import TEST_HOST

    @get("/a-route-with-a-bug", sync_to_thread=False)
    def buggy() -> str:
        raise RuntimeError("secret internal detail")

    app = create_app()
    app.register(buggy)
    async with AsyncTestClient(app=app, base_url=f"http://{TEST_HOST}") as client:
        page = await client.get("/a-route-with-a-bug", headers={"Accept-Language": language})

    assert page.status_code == 500
    assert html_lang(page.text) == language
    assert advice in page.text.replace("&#39;", "'").lower()
    assert "secret internal detail" not in page.text
    assert "Traceback" not in page.text
