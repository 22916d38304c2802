"""Organiser sign-in, sessions, CSRF and roles in the back office (in-process and over real HTTP)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import run_cli, unique_slug
from tests.integration.helpers import (
    PASSWORD,
    cookie_value,
    csrf_from_html,
    make_event,
    make_organisation,
    make_organiser,
    post_form,
    set_cookies,
    sign_in,
    stored_event,
)

SESSION = "trefpunt_session"


def _is_redirect_to_login(response) -> bool:
    return response.status_code in (302, 303, 307) and response.headers["location"].startswith("/login")


async def _admin_with_session_id(browser, session_id: str):
    """GET /admin presenting only this session id (as a second browser, or an attacker, would)."""
    browser.cookies.clear()
    browser.cookies.set(SESSION, session_id)
    return await browser.get("/admin", follow_redirects=False)


# Sign-in --------------------------------------------------------------------------------------


async def test_login_page_shows_a_form_with_a_csrf_field(browser):
    response = await browser.get("/login")

    assert response.status_code == 200
    assert 'action="/login"' in response.text
    assert 'name="email"' in response.text and 'name="password"' in response.text
    token = csrf_from_html(response.text)
    assert cookie_value(response, "trefpunt_csrf") == token


async def test_wrong_password_is_a_401_page_with_a_message_and_no_session(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)

    response = await sign_in(browser, email, "wrong password!")

    assert response.status_code == 401
    assert 'role="alert"' in response.text
    assert 'name="password"' in response.text, "the form is shown again"
    assert _is_redirect_to_login(await browser.get("/admin", follow_redirects=False))


async def test_unknown_email_is_the_same_401_as_a_wrong_password(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)

    wrong_password = await sign_in(browser, email, "wrong password!")
    unknown_email = await sign_in(browser, f"nobody-{unique_slug()}@people.example", PASSWORD)

    assert unknown_email.status_code == wrong_password.status_code == 401
    assert 'role="alert"' in unknown_email.text


async def test_login_error_message_is_in_the_users_language(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)
    browser.cookies.set("lang", "en")
    english = await sign_in(browser, email, "wrong password!")
    browser.cookies.set("lang", "fr")
    french = await sign_in(browser, email, "wrong password!")

    assert "not correct" in english.text
    assert "not correct" not in french.text


async def test_right_password_redirects_303_to_admin_with_an_httponly_samesite_lax_session_cookie(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)

    response = await sign_in(browser, email)

    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    [cookie] = set_cookies(response, SESSION)
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    dashboard = await browser.get("/admin", follow_redirects=False)
    assert dashboard.status_code == 200
    assert slug in dashboard.text or f"Organisation {slug}" in dashboard.text


async def test_sign_in_never_redirects_to_another_site(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)

    response = await sign_in(browser, email, next_="//evil.example/steal")

    assert response.status_code == 303
    assert response.headers["location"] == "/admin"


async def test_session_id_changes_at_login_and_the_old_id_no_longer_works(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)
    await browser.get("/login")
    before = browser.cookies.get(SESSION)
    assert before, "the login page gives a session cookie"

    response = await sign_in(browser, email)
    after = cookie_value(response, SESSION)

    assert after and after != before
    assert _is_redirect_to_login(await _admin_with_session_id(browser, before))
    assert (await _admin_with_session_id(browser, after)).status_code == 200


async def test_signing_in_again_replaces_a_signed_in_session_id(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)
    first = cookie_value(await sign_in(browser, email), SESSION)

    second = cookie_value(await sign_in(browser, email), SESSION)

    assert first and second and first != second
    assert _is_redirect_to_login(await _admin_with_session_id(browser, first))
    assert (await _admin_with_session_id(browser, second)).status_code == 200


async def test_a_planted_session_id_is_not_adopted_at_login(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)
    planted = "a" * 64
    browser.cookies.set(SESSION, planted)

    response = await sign_in(browser, email)

    assert response.status_code == 303
    assert cookie_value(response, SESSION) != planted
    assert _is_redirect_to_login(await _admin_with_session_id(browser, planted))


async def test_logout_with_csrf_drops_the_session(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)
    session_id = cookie_value(await sign_in(browser, email), SESSION)

    response = await post_form(browser, "/logout", "/admin")

    assert response.status_code == 303
    assert _is_redirect_to_login(await browser.get("/admin", follow_redirects=False))
    # The id is dead on the server too, not only forgotten by this browser.
    assert _is_redirect_to_login(await _admin_with_session_id(browser, session_id))


async def test_logout_without_csrf_token_is_403_and_keeps_the_session(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)
    await sign_in(browser, email)

    response = await browser.post("/logout", follow_redirects=False)

    assert response.status_code == 403
    assert (await browser.get("/admin", follow_redirects=False)).status_code == 200


@pytest.mark.parametrize("path", ["/admin", "/admin/events/1"])
async def test_admin_pages_redirect_anonymous_visitors_to_login(browser, path):
    response = await browser.get(path, follow_redirects=False)

    assert _is_redirect_to_login(response)
    assert f"next={path}" in response.headers["location"]


async def test_organiser_created_with_the_cli_can_sign_in(browser):
    slug, _ = await make_organisation()
    email = f"{unique_slug('cli')}@people.example"
    result = run_cli("create-organiser", email, "--organisation", slug, "--role", "viewer", "--password-stdin",
                     input_text="password123\n")  # fmt: skip
    assert result.returncode == 0, result.stderr

    response = await sign_in(browser, email, "password123")

    assert response.status_code == 303
    assert (await browser.get("/admin", follow_redirects=False)).status_code == 200


# CSRF -----------------------------------------------------------------------------------------


async def test_login_post_without_csrf_token_is_403_and_signs_nobody_in(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)
    await browser.get("/login")

    response = await browser.post("/login", data={"email": email, "password": PASSWORD}, follow_redirects=False)

    assert response.status_code == 403
    assert set_cookies(response, SESSION) == [] or cookie_value(response, SESSION) in (None, "null", "")
    assert _is_redirect_to_login(await browser.get("/admin", follow_redirects=False))


async def test_login_post_with_a_forged_csrf_token_is_403(browser):
    slug, _ = await make_organisation()
    email = await make_organiser(slug)
    await browser.get("/login")

    response = await browser.post(
        "/login", data={"email": email, "password": PASSWORD, "_csrf_token": "forged"}, follow_redirects=False
    )

    assert response.status_code == 403


async def test_publish_form_without_csrf_token_is_403_and_with_it_publishes(browser):
    slug, org_id = await make_organisation()
    email = await make_organiser(slug, role="editor")
    event_id = await make_event(org_id, publish=False)
    await sign_in(browser, email)

    without = await browser.post(f"/admin/events/{event_id}/publish", follow_redirects=False)
    assert without.status_code == 403
    assert (await stored_event(event_id))["status"] == "draft"

    with_token = await post_form(browser, f"/admin/events/{event_id}/publish", f"/admin/events/{event_id}")
    assert with_token.status_code == 303
    assert (await stored_event(event_id))["status"] == "published"


# Roles ----------------------------------------------------------------------------------------


async def test_organiser_of_another_organisation_gets_404_on_an_event_not_theirs(browser):
    _, org_id = await make_organisation("owner")
    event_id = await make_event(org_id, publish=False, title={"nl": "Interne planning"})
    other_slug, _ = await make_organisation("other")
    email = await make_organiser(other_slug, role="owner")
    await sign_in(browser, email)

    page = await browser.get(f"/admin/events/{event_id}", follow_redirects=False)
    own_page = await browser.get("/admin")
    token = csrf_from_html(own_page.text)
    publish = await browser.post(f"/admin/events/{event_id}/publish", data={"_csrf_token": token},
                                follow_redirects=False)  # fmt: skip

    assert page.status_code == 404
    assert "Interne planning" not in page.text
    assert publish.status_code == 404
    assert (await stored_event(event_id))["status"] == "draft"


async def test_viewer_sees_the_event_page_but_cannot_publish_403(browser):
    slug, org_id = await make_organisation()
    email = await make_organiser(slug, role="viewer")
    event_id = await make_event(org_id, publish=False, title={"nl": "Zitdag financiering"})
    await sign_in(browser, email)

    page = await browser.get(f"/admin/events/{event_id}")
    assert page.status_code == 200
    assert "Zitdag financiering" in page.text
    assert f'action="/admin/events/{event_id}/publish"' not in page.text, "no publish button for a viewer"

    response = await browser.post(
        f"/admin/events/{event_id}/publish", data={"_csrf_token": csrf_from_html(page.text)}, follow_redirects=False
    )

    assert response.status_code == 403
    assert (await stored_event(event_id))["status"] == "draft"


async def test_viewer_cannot_cancel_an_event_403(browser):
    slug, org_id = await make_organisation()
    email = await make_organiser(slug, role="viewer")
    event_id = await make_event(org_id)
    await sign_in(browser, email)

    response = await post_form(browser, f"/admin/events/{event_id}/cancel", f"/admin/events/{event_id}")

    assert response.status_code == 403
    assert (await stored_event(event_id))["status"] == "published"


@pytest.mark.parametrize("role", ["owner", "editor"])
async def test_owner_or_editor_publishes_and_cancels_through_the_forms(browser, role):
    slug, org_id = await make_organisation()
    email = await make_organiser(slug, role=role)
    event_id = await make_event(org_id, publish=False)
    await sign_in(browser, email)
    page_url = f"/admin/events/{event_id}"

    page = await browser.get(page_url)
    assert f'action="/admin/events/{event_id}/publish"' in page.text

    published = await post_form(browser, f"{page_url}/publish", page_url)
    assert published.status_code == 303 and published.headers["location"] == page_url
    assert (await stored_event(event_id))["status"] == "published"

    cancelled = await post_form(browser, f"{page_url}/cancel", page_url)
    assert cancelled.status_code == 303
    stored = await stored_event(event_id)
    assert stored["status"] == "cancelled"
    assert stored["sequence"] == 1


async def test_co_host_organiser_sees_the_event_but_cannot_publish_it_403(browser):
    _, owner_id = await make_organisation("owner")
    cohost_slug, _ = await make_organisation("cohost")
    email = await make_organiser(cohost_slug, role="owner")
    event_id = await make_event(owner_id, publish=False, hosts=[cohost_slug])
    await sign_in(browser, email)

    page = await browser.get(f"/admin/events/{event_id}")
    response = await browser.post(
        f"/admin/events/{event_id}/publish", data={"_csrf_token": csrf_from_html(page.text)}, follow_redirects=False
    )

    assert page.status_code == 200
    assert response.status_code == 403
    assert (await stored_event(event_id))["status"] == "draft"


async def test_dashboard_lists_only_the_organisers_own_events(browser):
    slug, org_id = await make_organisation()
    _, other_id = await make_organisation("other")
    mine = await make_event(org_id, publish=False, title={"nl": "Mijn concept"})
    theirs = await make_event(other_id, title={"nl": "Andermans event"})
    email = await make_organiser(slug, role="viewer")
    await sign_in(browser, email)

    page = (await browser.get("/admin")).text

    assert f'href="/admin/events/{mine}"' in page
    assert f'href="/admin/events/{theirs}"' not in page
    assert "Andermans event" not in page


# Over real HTTP (a `trefpunt serve` process) -------------------------------------------------


async def test_sign_in_and_out_over_the_live_server(live_server):
    slug, org_id = await make_organisation()
    email = await make_organiser(slug, role="editor")
    event_id = await make_event(org_id, publish=False)

    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as browser:
        login_page = await browser.get("/login")
        assert login_page.status_code == 200
        first_id = browser.cookies.get(SESSION)
        token = csrf_from_html(login_page.text)

        no_csrf = await browser.post("/login", data={"email": email, "password": PASSWORD})
        assert no_csrf.status_code == 403

        wrong = await browser.post("/login", data={"email": email, "password": "nope-nope", "_csrf_token": token})
        assert wrong.status_code == 401
        assert 'role="alert"' in wrong.text
        assert _is_redirect_to_login(await browser.get("/admin"))

        right = await browser.post("/login", data={"email": email, "password": PASSWORD, "_csrf_token": token})
        assert right.status_code == 303
        assert right.headers["location"] == "/admin"
        [cookie] = set_cookies(right, SESSION)
        attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "httponly" in attributes and "samesite=lax" in attributes
        session_id = cookie_value(right, SESSION)
        assert session_id and session_id != first_id
        assert (await browser.get("/admin")).status_code == 200

        published = await post_form(browser, f"/admin/events/{event_id}/publish", f"/admin/events/{event_id}")
        assert published.status_code == 303
        assert (await stored_event(event_id))["status"] == "published"

        logout = await post_form(browser, "/logout", "/admin")
        assert logout.status_code == 303
        assert _is_redirect_to_login(await browser.get("/admin"))

    async with httpx.AsyncClient(base_url=live_server.url, timeout=10, cookies={SESSION: session_id}) as replay:
        assert _is_redirect_to_login(await replay.get("/admin")), "the logged-out session id still works"
    if first_id:
        async with httpx.AsyncClient(base_url=live_server.url, timeout=10, cookies={SESSION: first_id}) as old:
            assert _is_redirect_to_login(await old.get("/admin")), "the pre-login session id works"
