"""The response cache of public pages (events/web/cache.py): fast, and never stale or personal.

A cached copy is keyed on the "pages" data version, which the database bumps on every write to
what those pages show; each test writes through the real services (or straight into a table, as
any future code path might) and then checks the very next GET.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from tests.integration.helpers import (
    bearer,
    cookie_value,
    csrf_from_html,
    future,
    iso,
    make_event,
    make_organisation,
)


def _stored_entries(app: Any) -> list[bytes]:
    store = app.stores.get("pages")
    return [entry.data for entry in store._store.values()]


async def _register(client: Any, event_id: int, name: str, email: str) -> dict[str, Any]:
    body = {"name": name, "email": email, "language": "nl"}
    response = await client.post(f"/api/v1/events/{event_id}/registrations", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _places_left(html: str) -> str:
    match = re.search(r"(\d+) (?:van|of|sur) (\d+)", html)
    assert match, "the event page shows no places left"
    return match.group(1)


async def test_a_registration_makes_the_very_next_event_page_and_json_list_show_it(client):
    slug, org_id = await make_organisation()
    event_id = await make_event(org_id, capacity=10)
    page = f"/events/{event_id}?lang=en"
    listing = f"/api/v1/events?organisation={slug}"
    first, again = await client.get(page), await client.get(page)
    assert _places_left(first.text) == _places_left(again.text) == "10"
    assert (await client.get(listing)).json()["items"][0]["seats_taken"] == 0

    await _register(client, event_id, "Ann Peeters", "ann@example.be")

    assert _places_left((await client.get(page)).text) == "9"
    assert (await client.get(listing)).json()["items"][0]["seats_taken"] == 1


async def test_changing_an_event_refreshes_the_list_the_event_page_and_the_feeds(client):
    from events.services import organisers

    slug, org_id = await make_organisation()
    token = await organisers.create_api_token(slug, role="editor")
    event_id = await make_event(org_id)
    paths = [f"/events?organisation={slug}", f"/events/{event_id}", f"/api/v1/events?organisation={slug}",
             f"/organisations/{slug}/calendar.ics", f"/events/{event_id}/calendar.ics"]  # fmt: skip
    for path in paths:  # warm the cache
        assert "Infosessie microkrediet" in (await client.get(path + "?lang=nl" if "?" not in path else path)).text

    title = {"nl": "Nieuwe titel na wijziging", "en": "New title"}
    changed = await client.patch(f"/api/v1/events/{event_id}", json={"title": title}, headers=bearer(token))
    assert changed.status_code == 200, changed.text

    for path in paths:
        assert "Nieuwe titel na wijziging" in (await client.get(path)).text, path


async def test_a_write_that_no_service_announces_still_refreshes_the_cached_page(client):
    """The version moves with the database's own triggers, whatever wrote the row."""
    from events.tables import Event, Organisation

    slug, org_id = await make_organisation(name="Oude Naam vzw")
    event_id = await make_event(org_id)
    assert "Oude Naam vzw" in (await client.get(f"/events/{event_id}")).text

    await Organisation.update({Organisation.name_nl: "Nieuwe Naam vzw"}).where(Organisation.id == org_id)
    assert "Nieuwe Naam vzw" in (await client.get(f"/events/{event_id}")).text

    await Event.update({Event.title_nl: "Rechtstreeks gewijzigd"}).where(Event.id == event_id)
    assert "Rechtstreeks gewijzigd" in (await client.get(f"/events?organisation={slug}")).text


async def test_every_visitor_of_a_cached_event_page_gets_their_own_csrf_token_and_a_fresh_stamp(client):
    from events.web.participant import stamp_age

    _, org_id = await make_organisation()
    event_id = await make_event(org_id)
    tokens = []
    for _ in range(3):
        client.cookies.clear()
        response = await client.get(f"/events/{event_id}")
        assert response.status_code == 200
        token = csrf_from_html(response.text)
        assert cookie_value(response, "trefpunt_csrf") == token  # the form posts with this visitor's cookie
        stamp = re.search(r'name="stamp" value="([^"]+)"', response.text)
        assert stamp and stamp_age(event_id, stamp.group(1)) is not None
        tokens.append(token)
    assert len(set(tokens)) == 3
    # A visitor who has the cookie keeps their token and is not sent a new cookie.
    response = await client.get(f"/events/{event_id}")
    assert csrf_from_html(response.text) == tokens[-1]
    assert cookie_value(response, "trefpunt_csrf") is None


async def test_nothing_personal_and_no_cookie_is_ever_stored(app, client):
    _, org_id = await make_organisation()
    event_id = await make_event(org_id)
    registered = await _register(client, event_id, "Zoë Private-Person", "zoe.private@example.be")
    token = registered["manage_url"].rstrip("/").rsplit("/", 1)[1]
    await client.get(f"/r/{token}")
    await client.get(f"/r/{token}")
    await client.get(f"/events/{event_id}?from={token}")
    await client.get(f"/events/{event_id}?from={token}")
    await client.get(f"/events/{event_id}?lang=fr")  # sets the language cookie: not stored
    await client.get(f"/events/{event_id}")

    entries = _stored_entries(app)
    assert entries, "the public event page was not cached at all"
    for data in entries:
        assert b"zoe.private" not in data and b"Private-Person" not in data and token.encode() not in data
    for data in entries:
        if data.startswith(b"BEGIN:VCALENDAR"):
            continue
        status, headers, _body = msgspec.msgpack.decode(data)
        assert status == 200
        assert not [name for name, _ in headers if name.lower() == b"set-cookie"]


async def test_an_ongoing_long_event_stays_listed_while_past_events_are_skipped(client):
    slug, org_id = await make_organisation()
    started = future(-20)
    ongoing = await make_event(org_id, starts_at=iso(started), ends_at=iso(started + timedelta(days=25)))
    ended = await make_event(org_id, starts_at=iso(future(-3)), ends_at=iso(future(-3) + timedelta(hours=2)))
    response = await client.get(f"/api/v1/events?organisation={slug}")
    ids = [item["id"] for item in response.json()["items"]]
    assert ongoing in ids and ended not in ids


async def test_the_cache_forgets_its_oldest_pages_beyond_its_size_bound():
    from events.web.cache import BoundedMemoryStore

    store = BoundedMemoryStore(max_bytes=10_000)
    for number in range(100):
        await store.set(f"page-{number}", b"x" * 1_000, expires_in=60)
    assert await store.get("page-0") is None
    assert await store.get("page-99") == b"x" * 1_000
    assert sum(len(entry.data) for entry in store._store.values()) <= 10_000


# Queries per request -------------------------------------------------------------------------


class QueryCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from events.db import engine

        self.count = 0
        engine_class = type(engine())
        original = engine_class.run_querystring

        async def counting(db: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(db, *args, **kwargs)

        monkeypatch.setattr(engine_class, "run_querystring", counting)


async def _add_copies(event_id: int, count: int) -> None:
    """`count` more published events like `event_id`, straight into the table."""
    import uuid

    from events.tables import Event

    row = await Event.select().where(Event.id == event_id).first()
    assert row is not None
    copies = []
    for number in range(count):
        values = {key: value for key, value in row.items() if key != "id"}
        values.update(uid=f"copy-{uuid.uuid4()}@test", starts_at=row["starts_at"] + timedelta(hours=number + 1),
                      ends_at=row["ends_at"] + timedelta(hours=number + 1))  # fmt: skip
        copies.append(Event(**values))
    await Event.insert(*copies)


async def _queries(client: Any, counter: QueryCounter, path: str) -> tuple[int, int]:
    """Queries of a request that builds the page (just after a write) and of one served cached."""
    from events.services.versions import bump_data_version
    from events.tables import DataVersion

    await bump_data_version()  # feeds: a new ETag
    await DataVersion.raw("UPDATE data_version SET version = version + 1 WHERE scope = 'pages'")
    counter.count = 0
    assert (await client.get(path)).status_code == 200
    built = counter.count
    counter.count = 0
    assert (await client.get(path)).status_code == 200
    return built, counter.count


async def test_list_event_page_and_feed_use_as_many_queries_for_200_events_as_for_20(client, monkeypatch):
    slug, org_id = await make_organisation()
    first = await make_event(org_id, capacity=30)
    await _add_copies(first, 19)
    paths = [f"/events?organisation={slug}", f"/events/{first}", f"/api/v1/events?organisation={slug}",
             f"/organisations/{slug}/calendar.ics"]  # fmt: skip
    counter = QueryCounter(monkeypatch)
    at_20 = {path: await _queries(client, counter, path) for path in paths}
    await _add_copies(first, 180)
    at_200 = {path: await _queries(client, counter, path) for path in paths}

    assert at_20 == at_200
    for path, (built, cached) in at_200.items():
        assert cached <= 2, f"{path}: {cached} queries when cached"
        assert built <= 10, f"{path}: {built} queries when built"
