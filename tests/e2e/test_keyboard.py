"""Keyboard only: the registration form and the booking form completed with Tab, Shift+Tab, Space,
Enter and typing, never a click, in a real headless chromium against a real `trefpunt serve`.

Every element the focus lands on on the way must show where the focus is (an outline or a
shadow that it does not have without the focus), and the focus must follow the visual order of
the form's fields. Both languages and both widths are covered between the two forms.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from events.mail.render import SUBJECTS
from tests.conftest import LiveServer
from tests.consultations.helpers import advisor, create_day, day, window
from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    Mailbox,
    PageFactory,
    api_client,
    console_problems,
    email_for,
    make_api_organisation,
    screenshot,
    send_after_fill_time,
    words,
)
from tests.integration.helpers import event_payload

pytestmark = pytest.mark.serve

MAX_TABS = 60

# What the focused element looks like, and whether that differs from how it looks unfocused.
_FOCUS_STATE = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const look = (s) => [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow].join('|');
    const focused = getComputedStyle(el);
    const ring = (focused.outlineStyle !== 'none' && parseFloat(focused.outlineWidth) >= 2)
        || focused.boxShadow !== 'none';
    const box = el.getBoundingClientRect();
    return {
        id: el.id, tag: el.tagName.toLowerCase(), type: el.type || '', name: el.name || '',
        text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 60),
        ring: ring, look: look(focused), width: box.width, height: box.height,
    };
}"""


def describe(state: dict[str, Any]) -> str:
    return f"<{state['tag']} id={state['id']!r} name={state['name']!r}> {state['text']!r}"


class Keyboard:
    """Moves the focus with the keyboard only and checks, at every stop, that the focus shows."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.stops: list[str] = []

    async def focused(self) -> dict[str, Any]:
        state = await self.page.evaluate(_FOCUS_STATE)
        assert state is not None, "the focus left the page's controls"
        return dict(state)

    async def _check_visible(self, state: dict[str, Any]) -> None:
        assert state["width"] > 0 and state["height"] > 0, f"the focus is on an invisible element: {describe(state)}"
        assert state["ring"], f"no visible focus indicator on {describe(state)} (outline/box-shadow: {state['look']})"

    async def press(self, key: str) -> dict[str, Any]:
        await self.page.keyboard.press(key)
        state = await self.focused()
        self.stops.append(describe(state))
        await self._check_visible(state)
        return state

    async def tab_until(self, selector: str) -> dict[str, Any]:
        """Tab forward until the element matching `selector` has the focus."""
        for _ in range(MAX_TABS):
            state = await self.press("Tab")
            if await self.page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return state
        raise AssertionError(f"{MAX_TABS} Tabs never reached {selector}; the focus went: {self.stops}")

    async def next_is(self, selector: str, key: str = "Tab") -> None:
        """One Tab (or Shift+Tab) moves the focus to `selector`: the focus order follows the form."""
        state = await self.press(key)
        matches = await self.page.evaluate("(s) => document.activeElement.matches(s)", selector)
        assert matches, f"{key} went to {describe(state)} instead of {selector}"

    async def type(self, text: str) -> None:
        await self.page.keyboard.type(text)


async def test_the_registration_form_is_completed_with_the_keyboard_alone_and_the_focus_always_shows(
    e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    org = await make_api_organisation("keys-register")
    async with api_client(e2e_server, org.token) as api:
        created = await api.post("/api/v1/events", json=event_payload(), headers=org.auth)
        assert created.status_code == 201, created.text
        event_id = int(created.json()["id"])
        assert (await api.post(f"/api/v1/events/{event_id}/publish", headers=org.auth)).status_code == 200

    async def register(language: str, width: int) -> None:
        t = words(language)
        page = await new_page(language, width)
        await page.goto(f"{e2e_server.url}/events/{event_id}")
        opened = time.monotonic()
        keys = Keyboard(page)
        email = email_for("kees", language, width)

        first = await keys.press("Tab")  # the first stop is the skip link
        assert first["text"] == t("Skip to content"), keys.stops
        await keys.tab_until("#r-name")
        await keys.type("Kees Toetsenbord")
        await keys.next_is("#r-email")
        await keys.type(email)
        await keys.next_is("#r-phone")
        await keys.next_is("#r-company")
        await keys.type("Sleutel & Co")
        await keys.next_is("#r-language")
        await keys.next_is("#r-company", "Shift+Tab")  # back one field, and forward again
        await keys.next_is("#r-language")
        await keys.next_is("form[action$='/register'] button[type=submit]")
        await screenshot(page, f"keyboard-register-{language}-{width}-submit-focused", full_page=False)
        await send_after_fill_time(page, opened, lambda: page.keyboard.press("Enter"))

        await page.get_by_role("heading", level=1, name=t("You are registered")).wait_for()
        invitation = await mailbox.wait_for(email, subject=t(SUBJECTS["invitation"], title=""))
        assert "Kees Toetsenbord" in str(invitation["To"])
        assert not console_problems(page), console_problems(page)

    await asyncio.gather(register("nl", DESKTOP), register("fr", PHONE))


async def test_a_consultation_slot_is_booked_with_the_keyboard_alone_and_the_focus_always_shows(
    e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    org = await make_api_organisation("keys-book")
    start = day(25)
    advisors = [  # two at each time: both people can take "the first suitable advisor" at the first time
        advisor("Nele Advies", "nele@keyboard-advisors.example", [window(start, 60)], languages=["nl", "fr"]),
        advisor("Camille Conseil", "camille@keyboard-advisors.example", [window(start, 60)], languages=["fr", "nl"]),
    ]
    async with api_client(e2e_server, org.token) as api:
        event_id = await create_day(api, org, advisors, starts=start)

    async def book(language: str, width: int) -> None:
        t = words(language)
        page = await new_page(language, width)
        await page.goto(f"{e2e_server.url}/events/{event_id}")
        opened = time.monotonic()
        keys = Keyboard(page)
        email = email_for("bo", language, width)

        # The slot filter comes first; the radios of the slots are one stop; Space picks one.
        await keys.tab_until("#s-language")
        await keys.tab_until("input[name=slot]")
        await page.keyboard.press("Space")
        chosen = await page.evaluate("document.querySelector('input[name=slot]:checked')?.value")
        assert chosen is not None and chosen.startswith("any:"), f"Space did not pick the first time ({chosen})"
        await keys.next_is("#b-topic")
        await keys.next_is("#b-name")
        await keys.type("Bo Toetsenbord")
        await keys.next_is("#b-email")
        await keys.type(email)
        await keys.tab_until("form[action$='/book'] button[type=submit]")
        await screenshot(page, f"keyboard-book-{language}-{width}-submit-focused", full_page=False)
        await send_after_fill_time(page, opened, lambda: page.keyboard.press("Enter"))

        errors = await page.locator("#form-error").all_inner_texts()
        assert not errors, f"the booking was refused: {errors}"
        await page.get_by_role("heading", level=1, name=t("You are registered")).wait_for()
        await mailbox.wait_for(email, subject=t(SUBJECTS["booking_confirmed"], title=""))
        assert not console_problems(page), console_problems(page)

    await asyncio.gather(book("fr", DESKTOP), book("nl", PHONE))
