"""The JSON API for events (/api/v1/events), as an integrator's script meets it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.integration.helpers import (
    bearer,
    count_events,
    event_payload,
    future,
    iso,
    make_event,
    make_organisation,
    make_token,
    stored_event,
)

API = "/api/v1/events"
CONTRACT_FIELDS = {
    "id", "kind", "title", "description", "starts_at", "ends_at", "timezone", "venue", "online_url",
    "capacity", "waitlist", "requires_approval", "double_opt_in", "registration_opens_at",
    "registration_closes_at", "organisation", "hosts", "series_id", "reminder_hours", "status", "uid",
    "sequence", "url",
}  # fmt: skip


async def _org_with_token(role: str = "editor") -> tuple[str, int, dict[str, str]]:
    slug, org_id = await make_organisation()
    return slug, org_id, bearer(await make_token(slug, role=role))


async def _create(client, headers, **overrides) -> dict:
    response = await client.post(API, json=event_payload(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _assert_error(response, status: int | None = None) -> dict:
    """A JSON error `{status_code, detail}` with a 4xx status (exactly `status` when given)."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert 400 <= response.status_code, f"accepted with {response.status_code}: {response.text[:300]}"
    if status is not None:
        assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status_code"] == response.status_code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# Create, change, publish, cancel --------------------------------------------------------------


async def test_create_event_answers_201_with_the_contract_shape(client):
    slug, _, headers = await _org_with_token()
    partner, _ = await make_organisation("partner")
    starts = future(30)
    body = event_payload(
        starts_at=iso(starts), ends_at=iso(starts + timedelta(hours=2)), hosts=[partner], reminder_hours=[24, 2]
    )

    response = await client.post(API, json=body, headers=headers)

    assert response.status_code == 201, response.text
    event = response.json()
    assert CONTRACT_FIELDS <= set(event), CONTRACT_FIELDS - set(event)
    assert isinstance(event["id"], int)
    assert event["kind"] == "info_session"
    assert event["title"] == body["title"]
    assert event["description"]["nl"] == body["description"]["nl"]
    assert datetime.fromisoformat(event["starts_at"]) == starts
    assert datetime.fromisoformat(event["starts_at"]).tzinfo is not None, "datetimes carry an offset"
    assert datetime.fromisoformat(event["ends_at"]) == starts + timedelta(hours=2)
    assert event["timezone"] == "Europe/Brussels"
    assert event["venue"]["name"] == "Ondernemershuis"
    assert event["venue"]["address"] == "Kerkstraat 1, 9000 Gent"
    assert event["venue"]["room"] == "Zaal A"
    assert event["capacity"] == 20
    assert event["waitlist"] is True and event["requires_approval"] is False and event["double_opt_in"] is False
    assert event["organisation"] == slug, "the owner comes from the token"
    assert event["hosts"] == [partner]
    assert event["series_id"] is None
    assert sorted(event["reminder_hours"]) == [2, 24]
    assert event["status"] == "draft"
    assert event["uid"]
    assert event["sequence"] == 0
    assert event["url"].endswith(f"/events/{event['id']}")


async def test_create_online_event_has_a_null_venue(client):
    _, _, headers = await _org_with_token()

    event = await _create(client, headers, venue=None, online_url="https://meet.example.org/abc")

    assert event["venue"] is None
    assert event["online_url"] == "https://meet.example.org/abc"


async def test_created_event_can_be_read_back_by_its_organisation(client):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)

    response = await client.get(f"{API}/{created['id']}", headers=headers)

    assert response.status_code == 200
    assert response.json()["uid"] == created["uid"]
    assert response.json()["title"] == created["title"]


async def test_patch_changes_only_the_given_fields(client):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)

    response = await client.patch(
        f"{API}/{created['id']}", json={"title": {"nl": "Nieuwe titel"}, "capacity": 35}, headers=headers
    )

    assert response.status_code == 200, response.text
    event = response.json()
    assert event["title"] == {"nl": "Nieuwe titel"}
    assert event["capacity"] == 35
    assert event["starts_at"] == created["starts_at"]
    assert event["venue"] == created["venue"]
    assert (await stored_event(created["id"]))["capacity"] == 35


async def test_publish_makes_the_event_public_and_cancel_marks_it_cancelled(client):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)

    published = await client.post(f"{API}/{created['id']}/publish", headers=headers)
    anonymous = await client.get(f"{API}/{created['id']}")
    cancelled = await client.post(f"{API}/{created['id']}/cancel", headers=headers)

    assert published.status_code == 200 and published.json()["status"] == "published"
    assert anonymous.status_code == 200 and anonymous.json()["status"] == "published"
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await stored_event(created["id"]))["status"] == "cancelled"


async def test_public_list_shows_published_events_only(client):
    slug, _, headers = await _org_with_token()
    draft = await _create(client, headers)
    published = await _create(client, headers)
    await client.post(f"{API}/{published['id']}/publish", headers=headers)

    response = await client.get(f"{API}?organisation={slug}")

    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["items"]}
    assert ids == {published["id"]}
    assert draft["id"] not in ids
    # Even its own token does not see drafts in the public list.
    with_token = await client.get(f"{API}?organisation={slug}", headers=headers)
    assert {item["id"] for item in with_token.json()["items"]} == {published["id"]}


async def test_anonymous_get_of_a_draft_is_404(client):
    _, _, headers = await _org_with_token()
    draft = await _create(client, headers)

    _assert_error(await client.get(f"{API}/{draft['id']}"), 404)


async def test_public_list_is_paginated_as_items_and_next(client):
    slug, org_id = await make_organisation()
    ids = [
        await make_event(org_id, starts_at=iso(future(3 + n)), ends_at=iso(future(3 + n) + timedelta(hours=1)))
        for n in range(3)
    ]

    first = await client.get(f"{API}?organisation={slug}&limit=2")
    assert first.status_code == 200
    page1 = first.json()
    assert [item["id"] for item in page1["items"]] == ids[:2]
    assert page1.get("next"), "a next link while there is more"
    assert f"organisation={slug}" in page1["next"]

    second = await client.get(page1["next"].removeprefix("http://testserver.local"))
    page2 = second.json()
    assert [item["id"] for item in page2["items"]] == ids[2:]
    assert page2.get("next") is None, "no next link on the last page"


async def test_public_list_filters_by_kind_and_language(client):
    slug, org_id = await make_organisation()
    workshop_fr = await make_event(org_id, kind="workshop", title={"fr": "Atelier"})
    await make_event(org_id, kind="workshop", title={"nl": "Werkwinkel"})
    await make_event(org_id, kind="networking", title={"fr": "Réseautage"})

    response = await client.get(f"{API}?organisation={slug}&kind=workshop&language=fr")

    assert [item["id"] for item in response.json()["items"]] == [workshop_fr]


# SEQUENCE and UID -----------------------------------------------------------------------------


async def test_sequence_starts_at_zero_and_publishing_does_not_raise_it(client):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)

    published = await client.post(f"{API}/{created['id']}/publish", headers=headers)

    assert created["sequence"] == 0
    assert published.json()["sequence"] == 0
    assert published.json()["uid"] == created["uid"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda e: {"starts_at": iso(datetime.fromisoformat(e["starts_at"]) - timedelta(hours=1))},
                     id="starts_at"),
        pytest.param(lambda e: {"ends_at": iso(datetime.fromisoformat(e["ends_at"]) + timedelta(hours=1))},
                     id="ends_at"),
        pytest.param(lambda e: {"starts_at": iso(datetime.fromisoformat(e["starts_at"]) + timedelta(days=1)),
                                "ends_at": iso(datetime.fromisoformat(e["ends_at"]) + timedelta(days=1))},
                     id="starts_at_and_ends_at_together"),
        pytest.param(lambda e: {"venue": {"name": "Stadhuis", "address": "Botermarkt 1, 9000 Gent"}}, id="venue"),
        pytest.param(lambda e: {"venue": {**e["venue"], "room": "Zaal B"}}, id="room"),
        pytest.param(lambda e: {"venue": None, "online_url": "https://meet.example.org/x"}, id="venue_to_online"),
        pytest.param(lambda e: {"online_url": "https://meet.example.org/other"}, id="online_url"),
    ],
)  # fmt: skip
async def test_sequence_rises_by_exactly_one_on_a_change_calendars_must_act_on(client, change):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers, online_url="https://meet.example.org/first")
    await client.post(f"{API}/{created['id']}/publish", headers=headers)

    response = await client.patch(f"{API}/{created['id']}", json=change(created), headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["sequence"] == 1
    assert response.json()["uid"] == created["uid"]
    assert (await stored_event(created["id"]))["sequence"] == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"title": {"nl": "Andere titel", "fr": "Autre titre"}}, id="title"),
        pytest.param({"description": {"nl": "Nieuwe uitleg", "en": "New text"}}, id="description"),
        pytest.param({"capacity": 99}, id="capacity"),
    ],
)
async def test_sequence_does_not_rise_on_title_description_or_capacity_changes(client, change):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)
    await client.post(f"{API}/{created['id']}/publish", headers=headers)

    response = await client.patch(f"{API}/{created['id']}", json=change, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["sequence"] == 0
    assert response.json()["uid"] == created["uid"]


async def test_patch_with_the_same_start_time_does_not_raise_the_sequence(client):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)

    response = await client.patch(f"{API}/{created['id']}", json={"starts_at": created["starts_at"]}, headers=headers)

    assert response.status_code == 200
    assert response.json()["sequence"] == 0


async def test_sequence_counts_each_material_change_and_cancel_and_uid_never_changes(client):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)
    url = f"{API}/{created['id']}"
    starts = datetime.fromisoformat(created["starts_at"])
    sequences, uids = [], []

    for step in (
        client.post(f"{url}/publish", headers=headers),
        client.patch(url, json={"starts_at": iso(starts + timedelta(minutes=30))}, headers=headers),
        client.patch(url, json={"title": {"nl": "Hernoemd"}}, headers=headers),
        client.patch(url, json={"online_url": "https://meet.example.org/y"}, headers=headers),
        client.post(f"{url}/cancel", headers=headers),
    ):
        response = await step
        assert response.status_code == 200, response.text
        sequences.append(response.json()["sequence"])
        uids.append(response.json()["uid"])

    assert sequences == [0, 1, 1, 2, 3]
    assert set(uids) == {created["uid"]}


async def test_cancelled_event_cannot_be_patched_409(client):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)
    await client.post(f"{API}/{created['id']}/cancel", headers=headers)

    response = await client.patch(f"{API}/{created['id']}", json={"title": {"nl": "Toch niet"}}, headers=headers)

    _assert_error(response, 409)
    stored = await stored_event(created["id"])
    assert stored["title_nl"] == created["title"]["nl"]
    assert stored["status"] == "cancelled"


async def test_cancelled_event_cannot_be_published_again(client):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)
    await client.post(f"{API}/{created['id']}/cancel", headers=headers)

    response = await client.post(f"{API}/{created['id']}/publish", headers=headers)

    _assert_error(response, 409)
    assert (await stored_event(created["id"]))["status"] == "cancelled"


# Access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["create", "patch", "publish", "cancel"])
async def test_anonymous_changes_are_401_json(client, action):
    _, org_id = await make_organisation()
    event_id = await make_event(org_id, publish=False)
    requests = {
        "create": lambda: client.post(API, json=event_payload()),
        "patch": lambda: client.patch(f"{API}/{event_id}", json={"capacity": 1}),
        "publish": lambda: client.post(f"{API}/{event_id}/publish"),
        "cancel": lambda: client.post(f"{API}/{event_id}/cancel"),
    }

    _assert_error(await requests[action](), 401)
    stored = await stored_event(event_id)
    assert (stored["status"], stored["capacity"]) == ("draft", 20)


@pytest.mark.parametrize("header", ["Bearer tp_not-a-real-token", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer "])
async def test_invalid_token_is_401(client, header):
    _, org_id = await make_organisation()
    event_id = await make_event(org_id, publish=False)

    _assert_error(await client.post(API, json=event_payload(), headers={"Authorization": header}), 401)
    _assert_error(await client.patch(f"{API}/{event_id}", json={"capacity": 1}, headers={"Authorization": header}),
                  401)  # fmt: skip
    assert (await stored_event(event_id))["capacity"] == 20


@pytest.mark.parametrize("action", ["patch", "publish", "cancel"])
async def test_token_of_another_organisation_gets_404_even_for_a_published_event(client, action):
    _, org_id = await make_organisation()
    published = await make_event(org_id)
    _, _, stranger = await _org_with_token("owner")
    requests = {
        "patch": lambda: client.patch(f"{API}/{published}", json={"capacity": 1}, headers=stranger),
        "publish": lambda: client.post(f"{API}/{published}/publish", headers=stranger),
        "cancel": lambda: client.post(f"{API}/{published}/cancel", headers=stranger),
    }

    _assert_error(await requests[action](), 404)
    stored = await stored_event(published)
    assert (stored["status"], stored["capacity"], stored["sequence"]) == ("published", 20, 0)


async def test_token_of_another_organisation_cannot_read_a_draft_404(client):
    _, org_id = await make_organisation()
    draft = await make_event(org_id, publish=False, title={"nl": "Vertrouwelijk"})
    _, _, stranger = await _org_with_token("owner")

    response = await client.get(f"{API}/{draft}", headers=stranger)

    _assert_error(response, 404)
    assert "Vertrouwelijk" not in response.text


@pytest.mark.parametrize("action", ["create", "patch", "publish", "cancel"])
async def test_viewer_token_cannot_change_events_403(client, action):
    _, org_id, viewer = await _org_with_token("viewer")
    event_id = await make_event(org_id, publish=False)
    before = await count_events(org_id)
    requests = {
        "create": lambda: client.post(API, json=event_payload(), headers=viewer),
        "patch": lambda: client.patch(f"{API}/{event_id}", json={"capacity": 1}, headers=viewer),
        "publish": lambda: client.post(f"{API}/{event_id}/publish", headers=viewer),
        "cancel": lambda: client.post(f"{API}/{event_id}/cancel", headers=viewer),
    }

    _assert_error(await requests[action](), 403)
    stored = await stored_event(event_id)
    assert (stored["status"], stored["capacity"]) == ("draft", 20)
    assert await count_events(org_id) == before


async def test_viewer_token_can_read_its_organisations_draft(client):
    _, org_id, viewer = await _org_with_token("viewer")
    draft = await make_event(org_id, publish=False)

    response = await client.get(f"{API}/{draft}", headers=viewer)

    assert response.status_code == 200
    assert response.json()["status"] == "draft"


@pytest.mark.parametrize("action", ["patch", "publish", "cancel"])
async def test_co_host_editor_cannot_change_an_event_it_does_not_own_403(client, action):
    _, owner_id = await make_organisation("owner")
    cohost_slug, _, cohost = await _org_with_token("editor")
    event_id = await make_event(owner_id, publish=False, hosts=[cohost_slug])
    requests = {
        "patch": lambda: client.patch(f"{API}/{event_id}", json={"capacity": 1}, headers=cohost),
        "publish": lambda: client.post(f"{API}/{event_id}/publish", headers=cohost),
        "cancel": lambda: client.post(f"{API}/{event_id}/cancel", headers=cohost),
    }

    _assert_error(await requests[action](), 403)
    stored = await stored_event(event_id)
    assert (stored["status"], stored["capacity"]) == ("draft", 20)


async def test_co_host_editor_can_read_the_draft_it_co_hosts(client):
    owner_slug, owner_id = await make_organisation("owner")
    cohost_slug, _, cohost = await _org_with_token("editor")
    event_id = await make_event(owner_id, publish=False, hosts=[cohost_slug])

    response = await client.get(f"{API}/{event_id}", headers=cohost)

    assert response.status_code == 200, response.text
    assert response.json()["organisation"] == owner_slug
    assert response.json()["hosts"] == [cohost_slug]


# Bad input ------------------------------------------------------------------------------------


def _json(**overrides) -> bytes:
    return json.dumps(event_payload(**overrides)).encode()


def _with_extra_field() -> bytes:
    body = event_payload()
    body["colour_of_the_chairs"] = "blue"
    return json.dumps(body).encode()


START = future(30)
BAD_BODIES = [
    pytest.param(_json(ends_at=iso(START - timedelta(hours=1)), starts_at=iso(START)), "application/json", 422,
                 id="end-before-start"),
    pytest.param(_json(starts_at=START.replace(tzinfo=None).isoformat()), "application/json", 422,
                 id="naive-datetime"),
    pytest.param(_json(timezone="Europe/Gent"), "application/json", 422, id="unknown-timezone"),
    pytest.param(_json(timezone="../../etc/passwd"), "application/json", 422, id="path-as-timezone"),
    pytest.param(_json(capacity=-1), "application/json", 422, id="capacity-minus-one"),
    pytest.param(_json(kind="party"), "application/json", 422, id="unknown-kind"),
    pytest.param(_json(title={"nl": "x" * 10_000}), "application/json", 422, id="10kB-title"),
    pytest.param(_json(title={}), "application/json", 422, id="no-title"),
    pytest.param(_json(hosts=["no-such-organisation-xyz"]), "application/json", 422, id="unknown-host"),
    pytest.param(_json(online_url="javascript:alert(1)"), "application/json", 422, id="javascript-online-url"),
    pytest.param(_with_extra_field(), "application/json", None, id="unknown-field"),
    pytest.param(b'{"kind": "info_session", "title": ', "application/json", 400, id="invalid-json"),
    pytest.param(b'{"kind": "info_session", "title": {"nl": "\xff\xfe\xc3"}}', "application/json", None,
                 id="invalid-utf8"),
    pytest.param(b"[" * 10_000 + b"]" * 10_000, "application/json", None, id="10000-nested-arrays"),
    pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json", None, id="10000-nested-objects"),
    pytest.param(b"x" * (20 * 1024 * 1024), "application/json", 413, id="20MB-body"),
    pytest.param(_json(), "text/plain", None, id="text-plain-content-type"),
    pytest.param(b"kind=info_session&title=x", "application/x-www-form-urlencoded", None, id="form-content-type"),
    pytest.param(b"", "application/json", None, id="empty-body"),
    pytest.param(b"null", "application/json", None, id="json-null"),
    pytest.param(b"[]", "application/json", None, id="json-array"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "content_type", "status"), BAD_BODIES)
async def test_bad_create_input_is_a_json_4xx_and_stores_nothing(client, body, content_type, status):
    _, org_id, headers = await _org_with_token()
    before = await count_events(org_id)

    response = await client.post(API, content=body, headers={**headers, "Content-Type": content_type})

    _assert_error(response, status)
    assert await count_events(org_id) == before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"ends_at": iso(START - timedelta(days=400))}, id="end-before-start"),
        pytest.param({"starts_at": START.replace(tzinfo=None).isoformat()}, id="naive-datetime"),
        pytest.param({"timezone": "Mars/Olympus_Mons"}, id="unknown-timezone"),
        pytest.param({"capacity": -1}, id="capacity-minus-one"),
        pytest.param({"kind": "party"}, id="unknown-kind"),
        pytest.param({"title": {"nl": "x" * 10_000}}, id="10kB-title"),
        pytest.param({"sequence": 42}, id="sequence-is-not-writable"),
        pytest.param({"status": "published"}, id="status-is-not-writable"),
    ],
)
async def test_bad_patch_is_422_and_changes_nothing(client, change):
    _, _, headers = await _org_with_token()
    created = await _create(client, headers)
    before = await stored_event(created["id"])

    response = await client.patch(f"{API}/{created['id']}", json=change, headers=headers)

    _assert_error(response, 422)
    assert await stored_event(created["id"]) == before


async def test_error_detail_is_in_the_users_language(client):
    _, org_id, headers = await _org_with_token()
    body = event_payload(starts_at=iso(START), ends_at=iso(START - timedelta(hours=1)))
    details = {}
    for language in ("en", "fr", "nl"):
        response = await client.post(API, json=body, headers={**headers, "Accept-Language": language})
        details[language] = _assert_error(response, 422)["detail"]

    assert "end" in details["en"].lower()
    assert details["fr"] != details["en"], "the French detail is not translated"
    assert details["nl"] != details["en"], "the Dutch detail is not translated"
    assert details["fr"] != details["nl"]
    assert await count_events(org_id) == 0


async def test_not_found_detail_is_in_the_users_language(client):
    english = _assert_error(await client.get(f"{API}/987654321", headers={"Accept-Language": "en"}), 404)
    french = _assert_error(await client.get(f"{API}/987654321", headers={"Accept-Language": "fr"}), 404)

    assert french["detail"] != english["detail"]


@pytest.mark.parametrize("query", ["kind=bogus", "page=0", "limit=0", "limit=100000", "date=notadate", "language=de"])
async def test_bad_list_query_is_a_json_4xx(client, query):
    _assert_error(await client.get(f"{API}?{query}"))
