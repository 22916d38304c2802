"""The contract as users meet it: the `trefpunt` command and a real `trefpunt serve` over HTTP."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest

from tests.conftest import run_cli, unique_slug
from tests.integration.helpers import (
    bearer,
    event_links,
    event_payload,
    future,
    html_lang,
    iso,
    make_event,
    make_organisation,
    make_token,
    set_cookies,
)

pytestmark = pytest.mark.serve

SESSION = "trefpunt_session"
# Referrer policies that never send a page's path (and the private tokens in it) to another site.
SAFE_REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin", "origin"}


def _token_from(result) -> str:
    return result.stdout.strip().splitlines()[-1].strip()


def _http(live_server, **kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=live_server.url, timeout=10, **kwargs)


# The command line -----------------------------------------------------------------------------


async def test_cli_sets_up_an_organisation_whose_api_token_publishes_over_http(live_server):
    slug = unique_slug("cli")
    created = run_cli("create-organisation", slug, "--name", "Ondernemerscentrum", "--email", f"info@{slug}.example")
    assert created.returncode == 0, created.stderr
    organiser = run_cli("create-organiser", f"owner@{slug}.example", "--organisation", slug, "--role", "owner",
                        "--password-stdin", input_text="password123\n")  # fmt: skip
    assert organiser.returncode == 0, organiser.stderr
    issued = run_cli("api-token", "--organisation", slug)
    assert issued.returncode == 0, issued.stderr
    token = _token_from(issued)
    assert re.fullmatch(r"\S{20,}", token), f"the last line is the token alone: {token!r}"

    starts = future(12)
    body = event_payload(title={"nl": f"Startersavond {slug}", "fr": f"Soirée des starters {slug}"},
                         starts_at=iso(starts), ends_at=iso(starts + timedelta(hours=2)))  # fmt: skip
    async with _http(live_server) as http:
        response = await http.post("/api/v1/events", json=body, headers=bearer(token))
        assert response.status_code == 201, response.text
        event = response.json()
        assert event["organisation"] == slug
        published = await http.post(f"/api/v1/events/{event['id']}/publish", headers=bearer(token))
        assert published.status_code == 200 and published.json()["status"] == "published"

        page = await http.get(f"/events?organisation={slug}&lang=nl")
        api = await http.get(f"/api/v1/events?organisation={slug}")
        event_page = await http.get(f"/events/{event['id']}?lang=fr")

    assert event["id"] in event_links(page.text)
    assert f"Startersavond {slug}" in page.text
    assert [item["id"] for item in api.json()["items"]] == [event["id"]]
    assert event_page.status_code == 200
    assert f"Soirée des starters {slug}" in event_page.text
    assert event["url"] == f"{live_server.url}/events/{event['id']}", "links use BASE_URL"


async def test_cli_tokens_are_new_each_time_and_each_one_works(live_server):
    slug = unique_slug("cli")
    assert run_cli("create-organisation", slug, "--name", "N", "--email", f"a@{slug}.example").returncode == 0

    first = _token_from(run_cli("api-token", "--organisation", slug))
    second = _token_from(run_cli("api-token", "--organisation", slug, "--role", "viewer"))

    assert first != second
    async with _http(live_server) as http:
        editor = await http.post("/api/v1/events", json=event_payload(), headers=bearer(first))
        viewer = await http.post("/api/v1/events", json=event_payload(), headers=bearer(second))
    assert editor.status_code == 201
    assert viewer.status_code == 403


def test_cli_refuses_a_duplicate_organisation_without_a_traceback():
    slug = unique_slug("dup")
    assert run_cli("create-organisation", slug, "--name", "N", "--email", f"a@{slug}.example").returncode == 0

    again = run_cli("create-organisation", slug, "--name", "N", "--email", f"a@{slug}.example")

    assert again.returncode != 0
    assert slug in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("api-token", "--organisation", "no-such-organisation-zz"), id="token-for-unknown-organisation"),
        pytest.param(("create-organiser", "x@y.example", "--organisation", "no-such-organisation-zz"),
                     id="organiser-of-unknown-organisation"),
        pytest.param(("create-organisation", "Not A Slug!", "--name", "N", "--email", "a@b.example"), id="bad-slug"),
        pytest.param(("create-organisation", "fine-slug-zz", "--name", "N", "--email", "not-an-email"),
                     id="bad-email"),
    ],
)  # fmt: skip
def test_cli_reports_bad_input_as_an_error_without_a_traceback(args):
    result = run_cli(*args)

    assert result.returncode != 0
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr


async def test_cli_refuses_a_short_password():
    slug, _ = await make_organisation()

    result = run_cli("create-organiser", f"o@{slug}.example", "--organisation", slug, "--password-stdin",
                     input_text="short\n")  # fmt: skip

    assert result.returncode != 0
    assert "Traceback" not in result.stderr


def test_cli_migrate_is_idempotent():
    result = run_cli("migrate")

    assert result.returncode == 0, result.stderr


# The running server ---------------------------------------------------------------------------


async def test_health_answers_ok_as_json(live_server):
    async with _http(live_server) as http:
        response = await http.get("/health")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "ok"


async def test_pages_are_served_in_french_by_the_real_server(live_server):
    async with _http(live_server) as http:
        response = await http.get("/events?lang=fr")

    assert response.status_code == 200
    assert html_lang(response.text) == "fr"
    assert "événements" in response.text.lower()


@pytest.mark.parametrize("path", ["/events", "/", "/login", "/events/987654321", "/api/v1/events", "/health"])
async def test_responses_carry_security_headers(live_server, path):
    async with _http(live_server) as http:
        response = await http.get(path)

    csp = response.headers.get("content-security-policy", "")
    directives = {part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";") if part.strip()}
    script_src = directives.get("script-src") or directives.get("default-src", "")
    assert script_src, f"no script-src/default-src in CSP {csp!r}"
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert directives.get("frame-ancestors") in ("frame-ancestors 'none'", "frame-ancestors 'self'")
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") in SAFE_REFERRER_POLICIES


async def test_a_wrong_host_header_is_400(live_server):
    async with _http(live_server) as http:
        evil = await http.get("/events", headers={"Host": "evil.example"})
        evil_with_port = await http.get("/api/v1/events", headers={"Host": "evil.example:80"})
        good = await http.get("/events", headers={"Host": "localhost"})

    assert evil.status_code == 400
    assert evil_with_port.status_code == 400
    assert good.status_code == 200


async def test_public_pages_and_the_api_set_no_session_cookie(live_server):
    _, org_id = await make_organisation()
    event_id = await make_event(org_id)

    async with _http(live_server) as http:
        pages = [await http.get(path) for path in ("/", "/events", f"/events/{event_id}", "/events/987654321")]
        api = [await http.get(path) for path in ("/api/v1/events", f"/api/v1/events/{event_id}", "/health")]

    for response in pages + api:
        assert response.status_code < 500
        assert set_cookies(response, SESSION) == [], f"{response.url} sets a session cookie"
    for response in api:
        assert response.headers.get_list("set-cookie") == [], f"{response.url} sets a cookie"


async def test_openapi_schema_is_valid_json_listing_the_events_api(live_server):
    async with _http(live_server) as http:
        response = await http.get("/schema/openapi.json")

    assert response.status_code == 200
    schema = json.loads(response.text)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/events" in schema["paths"]
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/events"])
    assert any(path.startswith("/api/v1/events/{") for path in schema["paths"])


async def test_the_server_log_holds_no_api_token(live_server):
    slug, org_id = await make_organisation()
    token = await make_token(slug)
    viewer_token = await make_token(slug, role="viewer")
    draft = await make_event(org_id, publish=False)

    async with _http(live_server) as http:
        await http.post("/api/v1/events", json=event_payload(), headers=bearer(token))
        await http.post("/api/v1/events", json=event_payload(capacity=-1), headers=bearer(token))
        await http.post(
            "/api/v1/events", content=b"{not json", headers={**bearer(token), "Content-Type": "application/json"}
        )
        await http.patch(f"/api/v1/events/{draft}", json={"capacity": 3}, headers=bearer(viewer_token))
        await http.get("/api/v1/events/987654321", headers=bearer(token))
        await http.get("/api/v1/events", headers=bearer(token[:-2] + "xx"))
        await http.get(f"/events?token={token}")

    log = live_server.log.read_text(errors="replace")
    assert token not in log
    assert viewer_token not in log
    assert token[:-2] + "xx" not in log
