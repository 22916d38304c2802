"""Attacks on the web layer: forged posts, cookies, guessed tokens, spoofed headers, hostile bodies.

What other packages already prove is not repeated here: session rotation at sign-in and logout
(tests/integration/test_organisers.py), a foreign `Host` refused by a real server
(tests/integration/test_cli_and_serve.py), the privacy form's limits and identical answers
(tests/privacy/test_export.py), schema violations of the registration API in French
(tests/registrations/test_form_and_input.py). This file walks the whole route table for CSRF,
adds the cross-site `Origin` lock, token-guessing limits, and, over HTTP against a real
`trefpunt serve` with an https `BASE_URL`, Secure cookies, `X-Forwarded-For` spoofing and the
links of a mail asked for under another `Host`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, serving
from tests.integration import conftest as integration_fixtures
from tests.integration.helpers import (
    PASSWORD,
    csrf_from_html,
    make_event,
    make_organisation,
    make_organiser,
    sign_in,
    stored_event,
)
from tests.registrations.helpers import domain, register, registration, token_of
from tests.reliability.attack_payloads import (
    FORM_LANGUAGE_ERRORS,
    HOSTILE_BODIES,
    UNSAFE_METHODS,
    fill_path,
)

# The in-process client from an address of its own per test (registers the fixture here).
browser = integration_fixtures.browser

CSRF_COOKIE = "trefpunt_csrf"
SESSION_COOKIE = "trefpunt_session"
FOREIGN = "https://evil.test"


# CSRF: every state-changing form route ---------------------------------------------------------


def form_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every state-changing route outside the token-authenticated API."""
    routes = {
        (method, route.path)
        for route in app.routes
        for method in getattr(route, "methods", ())
        if method in UNSAFE_METHODS and not route.path.startswith("/api/")
    }
    return sorted(routes, key=lambda item: item[1])


async def _signed_in_world(browser: Any) -> dict[str, Any]:
    """An owner signed in, a draft and a published event, and a confirmed participant."""
    slug, org_id = await make_organisation("csrf")
    email = await make_organiser(slug, role="owner")
    assert (await sign_in(browser, email)).status_code == 303
    draft = await make_event(org_id, publish=False)
    published = await make_event(org_id)
    person = await register(published, f"ann@{domain()}")
    return {"draft": draft, "published": published, "registration": person.id, "token": token_of(person)}


async def test_every_state_changing_form_route_refuses_a_post_without_or_with_a_wrong_csrf_token(
    browser: Any, app: Any
) -> None:
    world = await _signed_in_world(browser)
    page = await browser.get("/admin")
    assert page.status_code == 200 and browser.cookies.get(CSRF_COOKIE), "a signed-in page sets the CSRF cookie"
    routes = form_routes(app)
    assert len(routes) >= 40, f"the route walk found only {routes}"
    assert ("POST", "/r/{token:str}/cancel") in routes and ("POST", "/logout") in routes

    refused: dict[str, tuple[int, int]] = {}
    for method, template in routes:
        path = fill_path(
            template, event_id=world["published"], registration_id=world["registration"], token=world["token"]
        )
        without = await browser.request(method, path, data={"name": "x"}, follow_redirects=False)
        wrong = await browser.request(method, path, data={"_csrf_token": secrets.token_hex(32)}, follow_redirects=False)
        refused[f"{method} {path}"] = (without.status_code, wrong.status_code)

    accepted = {route: codes for route, codes in refused.items() if codes != (403, 403)}
    assert not accepted, f"routes that did not answer 403 to a forged post: {accepted}"
    # Nothing happened: still signed in, the draft still a draft, the participant still confirmed.
    assert (await browser.get("/admin", follow_redirects=False)).status_code == 200
    assert (await stored_event(world["draft"]))["status"] == "draft"
    assert (await registration(world["registration"]))["status"] == "confirmed"


async def test_a_form_post_from_another_site_is_refused_even_with_a_valid_csrf_token(browser: Any) -> None:
    world = await _signed_in_world(browser)
    token = csrf_from_html((await browser.get(f"/admin/events/{world['draft']}")).text)
    publish = f"/admin/events/{world['draft']}/publish"

    foreign = await browser.post(publish, data={"_csrf_token": token}, headers={"Origin": FOREIGN})
    cross_site = await browser.post(publish, data={"_csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"})
    null_origin = await browser.post(publish, data={"_csrf_token": token}, headers={"Origin": "null"})

    assert [foreign.status_code, cross_site.status_code, null_origin.status_code] == [403, 403, 403]
    assert (await stored_event(world["draft"]))["status"] == "draft"

    # The participant's page too: a foreign site cannot cancel someone's seat.
    private = await browser.get(f"/r/{world['token']}")
    cancel = await browser.post(
        f"/r/{world['token']}/cancel",
        data={"_csrf_token": csrf_from_html(private.text)},
        headers={"Origin": FOREIGN},
        follow_redirects=False,
    )
    assert cancel.status_code == 403
    assert (await registration(world["registration"]))["status"] == "confirmed"

    # Control: the same post from the app's own origin goes through.
    own = await browser.post(
        publish,
        data={"_csrf_token": token},
        headers={"Origin": "http://testserver.local", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert own.status_code == 303
    assert (await stored_event(world["draft"]))["status"] == "published"


async def test_a_refused_post_answers_in_the_visitors_language_not_the_default(browser: Any) -> None:
    """Regression: errors raised by middleware (CSRF, guards, rate limits) were rendered after the
    language middleware had restored Dutch, so a French visitor got a Dutch 403 page."""
    _, org_id = await make_organisation("csrf-fr")
    event_id = await make_event(org_id)
    await browser.get(f"/events/{event_id}", headers={"Accept-Language": "fr"})

    refused = await browser.post(f"/events/{event_id}/register", data={"name": "x"}, headers={"Accept-Language": "fr"})
    foreign = await browser.post(
        f"/events/{event_id}/register", data={"name": "x"}, headers={"Accept-Language": "fr", "Origin": FOREIGN}
    )
    guessed = await browser.get(f"/r/{secrets.token_urlsafe(32)}", headers={"Accept-Language": "fr"})

    for answer in (refused, foreign):
        assert answer.status_code == 403
        assert '<html lang="fr"' in answer.text and "Votre rôle ne le permet pas." in answer.text
    assert guessed.status_code == 404 and '<html lang="fr"' in guessed.text


async def test_a_sign_in_flood_does_not_use_up_the_same_clients_registration_budget(browser: Any) -> None:
    """Regression: Litestar keys every rate limit by the bare client address, so the sign-in limit
    (20 a minute) and the registration limit (30 a minute) shared one counter: after a burst of
    failed sign-ins the same office could register only ten more people."""
    _, org_id = await make_organisation("budget")
    event_id = await make_event(org_id, capacity=100)
    sign_ins = [(await sign_in(browser, "nobody@people.example", "wrong")).status_code for _ in range(21)]
    assert sign_ins[-1] == 429, sign_ins

    registered = [
        (
            await browser.post(
                f"/api/v1/events/{event_id}/registrations",
                json={"name": f"Person {n}", "email": f"p{n}@{domain()}", "language": "en"},
            )
        ).status_code
        for n in range(25)
    ]
    assert registered == [201] * 25, registered


# Guessing private tokens -----------------------------------------------------------------------

GUESS_URLS = {
    "private page": ("GET", "/r/{t}"),
    "personal feed": ("GET", "/me/{t}/calendar.ics"),
    "advisor feed": ("GET", "/advisors/{t}/calendar.ics"),
    "privacy link": ("GET", "/privacy/{t}"),
    "team invitation": ("GET", "/invitations/{t}"),
    "networking profile API": ("GET", "/api/v1/me/{t}/profile"),
    "cancel by token API": ("DELETE", "/api/v1/registrations/{t}"),
}


@pytest.mark.parametrize(("method", "template"), GUESS_URLS.values(), ids=GUESS_URLS.keys())
async def test_guessing_tokens_gets_404s_then_429_for_that_client_only(app: Any, method: Any, template: Any) -> None:
    from litestar.testing import AsyncTestClient

    from events.web.security import GUESS_LIMIT
    from tests.integration.helpers import from_address, unique_address

    guesser, bystander = unique_address(), unique_address()
    async with AsyncTestClient(app=from_address(app, guesser), base_url="http://testserver.local") as client:
        answers = [
            (await client.request(method, template.format(t=secrets.token_urlsafe(32)))).status_code
            for _ in range(GUESS_LIMIT + 1)
        ]
        assert answers == [404] * GUESS_LIMIT + [429], answers
        blocked = await client.request(method, template.format(t=secrets.token_urlsafe(32)))
        assert blocked.status_code == 429 and blocked.headers.get("retry-after")
    async with AsyncTestClient(app=from_address(app, bystander), base_url="http://testserver.local") as other:
        assert (await other.request(method, template.format(t=secrets.token_urlsafe(32)))).status_code == 404


async def test_a_participant_reloading_their_own_page_is_never_limited(app: Any) -> None:
    """Only unknown tokens count: pages that open are not guesses, however often they are loaded."""
    from litestar.testing import AsyncTestClient

    from events.web.security import GUESS_LIMIT
    from tests.integration.helpers import from_address, unique_address

    _, org_id = await make_organisation("reload")
    own = f"/r/{token_of(await register(await make_event(org_id), f'reload@{domain()}'))}"
    async with AsyncTestClient(app=from_address(app, unique_address()), base_url="http://testserver.local") as client:
        mistakes = [(await client.get(f"/r/{secrets.token_urlsafe(32)}")).status_code for _ in range(GUESS_LIMIT - 1)]
        reloads = [(await client.get(own)).status_code for _ in range(5)]
        last_mistake = (await client.get(f"/r/{secrets.token_urlsafe(32)}")).status_code
        over = (await client.get(f"/r/{secrets.token_urlsafe(32)}")).status_code
    assert set(mistakes) == {404} and reloads == [200] * 5
    assert (last_mistake, over) == (404, 429), "the reloads did not count; the mistake over the limit does"


async def test_private_tokens_carry_at_least_128_random_bits(browser: Any) -> None:
    from events.tables import OutboxMessage

    _, org_id = await make_organisation("bits")
    mail = f"bits@{domain()}"
    person = await register(await make_event(org_id), mail)
    feed = await browser.get(f"/r/{token_of(person)}")
    feed_token = re.search(r"/me/([A-Za-z0-9_-]+)/calendar\.ics", feed.text)
    assert feed_token, "the private page links the personal feed"
    from events.services import privacy

    await privacy.request_link(mail, "en")
    rows = await OutboxMessage.select(OutboxMessage.text_body).where(OutboxMessage.recipient == mail)
    privacy_token = re.search(r"/privacy/([A-Za-z0-9_-]+)", " ".join(row["text_body"] for row in rows))
    assert privacy_token, "a privacy link was mailed"

    for kind, token in {
        "manage": token_of(person),
        "feed": feed_token.group(1),
        "privacy": privacy_token.group(1),
    }.items():
        # URL-safe base64: 6 bits a character.
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token) and len(token) * 6 >= 128, f"{kind} token {token!r}"


# Hostile bodies never give a 500 -----------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "body", "statuses"), HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
async def test_a_hostile_api_body_is_a_4xx_with_a_json_error_in_the_callers_language(
    browser: Any, content_type: Any, body: Any, statuses: Any
) -> None:
    _, org_id = await make_organisation("body")
    event_id = await make_event(org_id)

    response = await browser.post(
        f"/api/v1/events/{event_id}/registrations",
        content=body,
        headers={"Content-Type": content_type, "Accept-Language": "fr"},
    )

    assert response.status_code in statuses, (response.status_code, response.text[:200])
    error = response.json()
    assert error["status_code"] == response.status_code
    assert error["detail"] and "request" not in error["detail"].lower(), f"not French: {error['detail']}"
    assert len(response.content) < 5_000


@pytest.mark.parametrize(
    "changes",
    [
        {"starts_at": "2030-03-02T18:30:00", "ends_at": "2030-03-02T20:30:00"},
        {"starts_at": "2030-03-02T20:30:00+01:00", "ends_at": "2030-03-02T18:30:00+01:00"},
        {"capacity": -1},
        {"title": {"nl": "x" * 1_000_000}},
        {"capacity": "many", "colour": {"deep": [1, 2, 3]}},
        {"timezone": "Mars/Olympus_Mons"},
    ],
    ids=["naive-datetimes", "end-before-start", "capacity-minus-one", "1MB-title", "wrong-types", "bad-timezone"],
)
async def test_a_broken_event_through_the_api_is_a_4xx_json_error_never_a_500(browser: Any, changes: Any) -> None:
    from tests.integration.helpers import bearer, event_payload, make_token

    slug, _ = await make_organisation("evbody")
    token = await make_token(slug)

    response = await browser.post(
        "/api/v1/events", json=event_payload(**changes), headers={**bearer(token), "Accept-Language": "en"}
    )

    assert response.status_code in (400, 413, 422), (response.status_code, response.text[:300])
    assert response.json()["detail"], response.text[:300]


@pytest.mark.parametrize("language", ["nl", "fr"])
async def test_junk_posted_to_the_registration_form_is_a_page_in_the_visitors_language(
    browser: Any, language: Any
) -> None:
    _, org_id = await make_organisation("junk")
    event_id = await make_event(org_id)
    page = await browser.get(f"/events/{event_id}", headers={"Accept-Language": language})
    token = csrf_from_html(page.text)

    answers = [
        await browser.post(
            f"/events/{event_id}/register",
            content=f'--x\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n{token}\r\n--x\r\njunk'.encode(),
            headers={"Content-Type": "multipart/form-data; boundary=x", "Accept-Language": language},
        ),
        await browser.post(
            f"/events/{event_id}/register",
            content=b"_csrf_token=" + token.encode() + b"&name=\xff\xfe&email=%00",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": language},
        ),
        await browser.post(
            f"/events/{event_id}/register",
            content=b"x" * (20 * 1024 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": language},
        ),
    ]

    for answer in answers:
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:200])
        assert answer.headers["content-type"].startswith("text/html")
        assert f'<html lang="{language}"' in answer.text
        shown = re.search(r'id="form-error"[^>]*>(.*?)<', answer.text, re.S)
        message = shown.group(1) if shown else answer.text
        assert any(words in message for words in FORM_LANGUAGE_ERRORS[language]), message[:800]


# Over HTTP: a real `trefpunt serve` behind an https BASE_URL --------------------------------------

PUBLIC_URL = "https://trefpunt.example"


@pytest.fixture(scope="module")
def https_server() -> Iterator[LiveServer]:
    """Its own server: its rate-limit budgets are not shared with the rest of the suite. The
    X-Forwarded-For test uses them up, so it comes last."""
    with serving("attacks-https", BASE_URL=PUBLIC_URL, TREFPUNT_WORKER="off") as server:
        yield server


def _set_cookie(response: httpx.Response, name: str) -> tuple[str, list[str]]:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.split("=", 1)[0].strip() == name]
    value = header.split("=", 1)[1].split(";", 1)[0]
    return value, [part.strip().lower() for part in header.split(";")[1:]]


def _login_form(http: httpx.Client, forwarded_for: str | None = None) -> tuple[str, str]:
    """(csrf cookie, csrf token) of a fresh login page; the Secure cookie is sent back by hand."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = http.get("/login", headers=headers)
    cookie, _ = _set_cookie(page, CSRF_COOKIE)
    return cookie, csrf_from_html(page.text)


@pytest.mark.serve
def test_over_https_every_cookie_is_secure_httponly_and_samesite(https_server: Any) -> None:
    import asyncio

    async def organiser() -> str:
        slug, _ = await make_organisation("secure")
        return await make_organiser(slug)

    email = asyncio.run(organiser())
    with https_server.client() as http:
        page = http.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        csrf, csrf_flags = _set_cookie(page, CSRF_COOKIE)
        signed_in = http.post(
            "/login",
            data={"email": email, "password": PASSWORD, "_csrf_token": csrf_from_html(page.text)},
            headers={"Cookie": f"{CSRF_COOKIE}={csrf}"},
        )
        assert signed_in.status_code == 303, signed_in.text[:300]
        _, session_flags = _set_cookie(signed_in, SESSION_COOKIE)

    for flags in (csrf_flags, session_flags):
        assert "secure" in flags and "httponly" in flags, flags
        assert any(flag in ("samesite=lax", "samesite=strict") for flag in flags), flags


@pytest.mark.serve
def test_a_mail_asked_for_under_another_host_links_to_base_url_only(https_server: Any) -> None:
    import asyncio

    from events.tables import OutboxMessage

    async def event() -> int:
        _, org_id = await make_organisation("host")
        return await make_event(org_id)

    event_id = asyncio.run(event())
    mail = f"host@{domain()}"
    with https_server.client() as http:
        evil = http.get("/events", headers={"Host": "evil.test"})
        assert evil.status_code == 400
        port = https_server.url.rsplit(":", 1)[1]
        answer = http.post(
            f"/api/v1/events/{event_id}/registrations",
            json={"name": "Host Header", "email": mail, "language": "en"},
            headers={"Host": f"localhost:{port}", "X-Forwarded-Host": "evil.test"},
        )
        assert answer.status_code == 201, answer.text[:300]
        assert answer.json()["manage_url"].startswith(f"{PUBLIC_URL}/r/")

    rows = asyncio.run(OutboxMessage.select().where(OutboxMessage.recipient == mail).run())
    assert rows, "a confirmation was queued"
    for row in rows:
        assert f"{PUBLIC_URL}/r/" in row["text_body"] and f"{PUBLIC_URL}/r/" in row["html_body"]
        for body in (row["text_body"], row["html_body"], row["ics"]):
            assert "localhost" not in body and "evil.test" not in body and "127.0.0.1" not in body


@pytest.mark.serve
def test_rotating_x_forwarded_for_does_not_escape_the_sign_in_or_registration_limits(https_server: Any) -> None:
    with https_server.client() as http:
        sign_ins = []
        for attempt in range(22):
            cookie, token = _login_form(http)
            answer = http.post(
                "/login",
                data={"email": "nobody@people.example", "password": "guess", "_csrf_token": token},
                headers={"Cookie": f"{CSRF_COOKIE}={cookie}", "X-Forwarded-For": f"203.0.113.{attempt + 1}"},
            )
            sign_ins.append(answer.status_code)
        # Twenty a minute per client (the first refusal may fall on the 20th: the window is rolling).
        assert set(sign_ins) == {401, 429} and sign_ins.index(429) >= 19 and sign_ins[-2:] == [429, 429], sign_ins

        registrations = [
            http.post(
                "/api/v1/events/2147480000/registrations",
                json={"name": "Bot", "email": f"bot{n}@bots.test", "language": "en"},
                headers={"X-Forwarded-For": f"198.18.0.{n + 1}", "X-Real-IP": f"198.18.1.{n + 1}"},
            ).status_code
            for n in range(31)
        ]
        # Thirty a minute per client (one went to the Host test on this server).
        assert registrations[:29] == [404] * 29 and registrations[-1] == 429, registrations
