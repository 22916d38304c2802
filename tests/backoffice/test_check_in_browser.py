"""Check-in on a phone at the door, in a real headless Chromium against a real `trefpunt serve`:
375 px wide, search as you type, one tap to check in, undo; no sideways scrolling, buttons big
enough for a thumb, and a screenshot to look at (saved in $TREFPUNT_ARTIFACTS)."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.helpers import PASSWORD, make_event, make_organisation, make_organiser

CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 375, 812
MIN_TOUCH = 44  # px: the smallest comfortable touch target (WCAG 2.5.5, Apple HIG)


def _artifacts() -> Path:
    folder = Path(os.environ.get("TREFPUNT_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def _people(event_id: int) -> dict[str, int]:
    from events.services import registrations
    from events.services.registrations import RegistrationInput

    ids = {}
    for name, email, company in (
        ("Sofie Vandenbroucke-Van Den Heuvel", "sofie@example.org", "Bakkerij Sofie & Dochters bvba, Sint-Amandsberg"),
        ("Jan Peeters", "jan@example.org", "Fietsherstel Jan"),
        ("Amélie Dubois", "amelie@example.org", ""),
    ):
        result = await registrations.register(
            event_id, RegistrationInput(name=name, email=email, language="nl", company=company)
        )
        assert result.status == "confirmed" and result.id is not None
        ids[name] = result.id
    return ids


def _console_error(message: Any, problems: list[str]) -> None:
    """Console errors (a CSP violation, a script error, a missing file), except the browser's own
    request for /favicon.ico, which the site does not have."""
    url = (message.location or {}).get("url", "")
    if message.type == "error" and not url.endswith("/favicon.ico"):
        problems.append(f"{message.text} ({url})")


async def _counter(page: Any) -> str:
    return (await page.locator("#checked-count").inner_text()).strip()


async def _no_sideways_scrolling(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the page is {width}px wide on a {WIDTH}px screen: it scrolls sideways"


async def _buttons_are_thumb_sized(page: Any) -> None:
    heights = await page.evaluate(
        """() => [...document.querySelectorAll('.check-in button')]
              .filter((b) => b.offsetParent !== null)
              .map((b) => [b.textContent.trim(), b.getBoundingClientRect().height])"""
    )
    assert heights, "no visible buttons on the check-in page"
    small = [(text, height) for text, height in heights if height < MIN_TOUCH]
    assert not small, f"buttons smaller than {MIN_TOUCH}px: {small}"


async def test_check_in_on_a_375px_phone_search_tap_and_undo(live_server) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            "/usr/bin/chromium is missing: install the Debian package `chromium` (CI's .ci/run installs it) "
            "to run the real-browser check-in test."
        )
    from playwright.async_api import async_playwright

    from events.tables import Registration

    slug, org_id = await make_organisation("telefoon")
    event_id = await make_event(org_id)
    people = await _people(event_id)
    email = await make_organiser(slug, role="editor")
    sofie = people["Sofie Vandenbroucke-Van Den Heuvel"]

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = await browser.new_context(
                viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1, is_mobile=True, has_touch=True
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on("console", lambda msg: _console_error(msg, problems))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

            await page.goto(f"{live_server.url}/login?lang=en&next=/admin/events/{event_id}/check-in")
            await page.fill("#email", email)
            await page.fill("#password", PASSWORD)
            async with page.expect_navigation():
                await page.click("button[type=submit] >> text=Sign in")
            assert page.url.endswith(f"/admin/events/{event_id}/check-in"), page.url
            assert await _counter(page) == "0"
            await _no_sideways_scrolling(page)
            await _buttons_are_thumb_sized(page)

            # Search as you type: the list narrows without a reload.
            await page.locator("#ci-q").press_sequentially("sofie", delay=30)
            rows = page.locator("#check-in-list li[data-name]")
            visible = [await rows.nth(i).is_visible() for i in range(await rows.count())]
            assert visible.count(True) == 1, f"as-you-type search left {visible.count(True)} people visible"
            await page.screenshot(path=str(_artifacts() / "check-in-375-search.png"))

            # One tap checks in; the counter says 1.
            sofie_row = page.locator("#check-in-list li", has_text="Sofie")
            async with page.expect_navigation():
                await sofie_row.get_by_role("button", name="Check in").tap()
            assert await _counter(page) == "1"
            row = await Registration.select().where(Registration.id == sofie).first()
            assert row is not None and row["attendance"] == "attended" and row["checked_in_at"] is not None
            await _no_sideways_scrolling(page)
            await _buttons_are_thumb_sized(page)
            shot = _artifacts() / "check-in-375.png"
            await page.screenshot(path=str(shot), full_page=True)

            # Undo puts it back.
            async with page.expect_navigation():
                await page.locator("#check-in-list li", has_text="Sofie").get_by_role("button", name="Undo").tap()
            assert await _counter(page) == "0"
            row = await Registration.select().where(Registration.id == sofie).first()
            assert row is not None and row["attendance"] == "" and row["checked_in_at"] is None
            assert not problems, f"browser console errors: {problems}"
        finally:
            await browser.close()

    assert shot.exists()
    width, _ = _png_size(shot)
    assert width == WIDTH, f"the screenshot is {width}px wide"
