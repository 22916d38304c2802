"""Shared fixtures of the real-browser end-to-end tests (issue 11).

What runs, all real and on loopback:

- `e2e_smtp`: ONE aiosmtpd server (tests/mail/conftest.py's `SmtpServer` + `ScriptedHandler`)
  for the package; `mailbox` wraps it to wait for and read the mails a test caused.
- `e2e_server`: ONE `trefpunt serve` for the package with `SMTP_URL` pointing at that server,
  its inline worker sending the mails, rate limits off (every browser request comes from
  127.0.0.1), on a database of its own (`private_database("e2e", for_subprocesses=True)`): the
  in-process services the tests call to make data (tests/integration/helpers.py) write to the
  very database the server reads, and no other live server's worker steals this package's mails.
- `browser`: ONE headless Debian chromium (`/usr/bin/chromium`, Playwright's async API) per session.
- `new_page`: a factory, `await new_page("fr", 375)` -> a Playwright `Page` in a fresh context
  that asks for that language (Accept-Language) at that width (375: phone, touch, 812 high;
  otherwise desktop, 800 high); `javascript=False` for the no-JavaScript checks. Contexts are
  closed after the test.

Helpers to import (`from tests.e2e.conftest import assert_accessible, screenshot, ...`):

- `await in_every_combination(journey)`: `journey(language, width)` for nl/fr x 375/1280 at once.
- `await screenshot(page, name)`: a full-page PNG in var/e2e-screenshots/ (or
  $TREFPUNT_E2E_SHOTS), kept as a test artefact; returns its path.
- `await assert_accessible(page)`: runs axe-core (tests/js/node_modules/axe-core, installed by
  `npm ci --prefix tests/js`) on the page and fails on any "serious" or "critical" violation,
  listing each rule, its help text and the offending elements.
- `console_problems(page)`: the console errors, uncaught page errors and >= 500 answers the page
  has seen so far (assert it is empty at the end of a journey).
- `mailbox` (fixture, a `Mailbox`): `await mailbox.wait_for(address, subject=...)` waits for a
  mail and returns it (an `EmailMessage`); `Mailbox.links(message)` its /r/... links;
  `mail_html(message)` / `mail_text(message)` its bodies.
- `await make_api_organisation()` -> `Org(slug, id, token)` (with `.auth` headers) and
  `api_client(server, token)`: make data through the real JSON API of `e2e_server`.

Tests in this package are marked `serve` automatically (they start a real server).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import secrets
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, LiveServer, free_port, private_database, serving
from tests.consultations.helpers import Org, new_org
from tests.mail.conftest import Received, ScriptedHandler, SmtpServer

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
PHONE, DESKTOP = 375, 1280
WIDTHS = (PHONE, DESKTOP)
LANGUAGES = ("nl", "fr")
HEIGHTS = {PHONE: 812}
DEFAULT_HEIGHT = 800
BLOCKING_IMPACTS = ("serious", "critical")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.serve)


# Artefacts -------------------------------------------------------------------------------------


def shots_folder() -> Path:
    """Where screenshots go: $TREFPUNT_E2E_SHOTS, else var/e2e-screenshots/ in the checkout."""
    folder = Path(os.environ.get("TREFPUNT_E2E_SHOTS") or ROOT / "var" / "e2e-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of `page` as `<name>.png` in `shots_folder()` and return its path.

    Use names that say where and how, e.g. `participant-private-page-fr-375`."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    path = shots_folder() / f"{safe}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


# Accessibility ---------------------------------------------------------------------------------


def axe_path() -> Path:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci --prefix tests/js` (CI's .ci/run does) to install axe-core.")
    return AXE


def _axe_source() -> str:
    return axe_path().read_text(encoding="utf-8")


def format_violations(url: str, violations: list[dict[str, Any]]) -> str:
    """axe's violations as readable lines: rule, impact, help, link, then each element and why."""
    lines = [f"axe-core found {len(violations)} serious/critical accessibility violation(s) on {url}:"]
    for violation in violations:
        lines.append(
            f"- [{violation['impact']}] {violation['id']}: {violation['help']} ({violation.get('helpUrl', '')})"
        )
        for node in violation.get("nodes", [])[:10]:
            target = " ".join(str(part) for part in node.get("target", []))
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {target}: {node.get('html', '')[:200]}")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


async def axe_violations(page: Any, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; the violations with one of `impacts`."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluate() is not subject to the page's Content-Security-Policy (a <script> tag would be).
        await page.evaluate(_axe_source())
    result = await page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map((n) => ({target: n.target, html: n.html, failureSummary: n.failureSummary})),
            }));
        }"""
    )
    return [violation for violation in result if violation.get("impact") in impacts]


async def assert_accessible(page: Any) -> None:
    """Fail, listing them clearly, when axe-core finds a serious or critical violation on the page."""
    violations = await axe_violations(page)
    assert not violations, format_violations(page.url, violations)


# Small steps of every journey ----------------------------------------------------------------


def words(language: str) -> Any:
    """`t("msgid", **params)`: the app's text in `language`."""
    from events.i18n import translate

    return lambda message, **params: translate(message, language, **params)


async def visit(page: Any, name: str) -> None:
    """Every page of a journey: accessible (axe-core) and saved as a screenshot."""
    await assert_accessible(page)
    await screenshot(page, name)


async def send_after_fill_time(page: Any, opened: float, send: Callable[[], Awaitable[None]]) -> None:
    """Send a form with `send()` (a click, the Enter key) no sooner than the app's minimum fill
    time after it was served (its bot check), and wait for the page that answers."""
    from events.web.participant import MIN_FILL_SECONDS

    wait = MIN_FILL_SECONDS + 0.2 - (time.monotonic() - opened)
    if wait > 0:
        await page.wait_for_timeout(wait * 1000)
    async with page.expect_navigation():
        await send()


async def no_sideways_scrolling(page: Any, width: int) -> None:
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide on a {width}px screen: it scrolls sideways"


def email_for(who: str, language: str, width: int) -> str:
    """A fresh address for one person of one combination, so parallel journeys never share a mailbox."""
    return f"{who}-{language}-{width}-{secrets.token_hex(3)}@journeys.example"


# Browser ---------------------------------------------------------------------------------------

COMBINATIONS = tuple((language, width) for language in LANGUAGES for width in WIDTHS)


async def in_every_combination(journey: Callable[[str, int], Awaitable[None]]) -> None:
    """Run `journey(language, width)` for nl/fr at 375/1280 px side by side (one browser, a
    context each: the waits of one overlap the work of the others), then fail with every
    combination that failed and its traceback."""
    results = await asyncio.gather(*(journey(lang, width) for lang, width in COMBINATIONS), return_exceptions=True)
    failures = [(combo, r) for combo, r in zip(COMBINATIONS, results, strict=True) if isinstance(r, BaseException)]
    if len(failures) == 1 and isinstance(failures[0][1], AssertionError):
        (language, width), error = failures[0]
        raise AssertionError(f"[{language} at {width}px] {error}") from error
    if failures:
        report = "\n\n".join(
            f"=== {language} at {width}px ===\n" + "".join(traceback.format_exception(error))
            for (language, width), error in failures
        )
        raise AssertionError(f"{len(failures)} of {len(COMBINATIONS)} combinations failed:\n{report}")


def console_problems(page: Any) -> list[str]:
    """Console errors, uncaught errors and 5xx answers the page saw (favicon requests excluded)."""
    return list(page.e2e_problems) if hasattr(page, "e2e_problems") else []


def _watch(page: Any) -> None:
    problems: list[str] = []
    page.e2e_problems = problems

    def on_console(message: Any) -> None:
        url = (message.location or {}).get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):
            problems.append(f"console: {message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """One headless Debian chromium for the session (Playwright's async API)."""
    if not CHROMIUM.exists():
        pytest.fail(
            "/usr/bin/chromium is missing: install the Debian package `chromium` (CI's .ci/run installs it) "
            "to run the real-browser tests."
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


PageFactory = Callable[..., Awaitable[Any]]


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[PageFactory]:
    """`await new_page(language="nl", width=375, *, javascript=True)`: a page in a fresh browser
    context (its own cookies) whose requests ask for `language`, `width` px wide (375 is a phone
    with touch). Console errors are collected (`console_problems(page)`)."""
    contexts: list[Any] = []

    async def open_page(language: str = "nl", width: int = PHONE, *, javascript: bool = True) -> Any:
        phone = width <= 480
        context = await browser.new_context(
            viewport={"width": width, "height": HEIGHTS.get(width, DEFAULT_HEIGHT)},
            device_scale_factor=1,
            is_mobile=phone,
            has_touch=phone,
            locale={"nl": "nl-BE", "fr": "fr-BE"}.get(language, language),
            extra_http_headers={"Accept-Language": language},
            java_script_enabled=javascript,
        )
        # axe-core is loaded before each document's own scripts (and outside its CSP) so that
        # `assert_accessible` needs no 500 kB round trip per page.
        await context.add_init_script(path=str(axe_path()))
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        _watch(page)
        return page

    yield open_page
    for context in contexts:
        await context.close()


# Server, SMTP and mail -------------------------------------------------------------------------


@pytest.fixture(scope="package", autouse=True)
def e2e_database() -> Iterator[str]:
    """A fresh migrated database for this package, also for the server it starts."""
    with private_database("e2e", for_subprocesses=True) as url:
        yield url


@pytest.fixture(scope="package")
def e2e_smtp() -> Iterator[SmtpServer]:
    """One real aiosmtpd server on loopback that accepts and records every mail."""
    server = SmtpServer(ScriptedHandler(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def e2e_server(e2e_database: str, e2e_smtp: SmtpServer) -> Iterator[LiveServer]:
    """One real `trefpunt serve` (inline worker, pool) sending mail to `e2e_smtp`; rate limits off
    because every browser request comes from 127.0.0.1."""
    with serving(
        "e2e",
        SMTP_URL=f"smtp://127.0.0.1:{e2e_smtp.port}",
        SMTP_TIMEOUT="10",
        TREFPUNT_RATE_LIMIT="off",
    ) as server:
        yield server


def mail_html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return str(part.get_content()) if part is not None else ""


def mail_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def _spaces(text: str) -> str:
    """Runs of white space (also French no-break spaces) as one space: subjects are refolded."""
    return " ".join(text.split())


@dataclasses.dataclass
class Mailbox:
    """The mails `e2e_smtp` accepted, read the way a participant would."""

    server: SmtpServer

    @property
    def handler(self) -> ScriptedHandler:
        return self.server.handler

    def to(self, address: str) -> list[Received]:
        """Every accepted mail for `address` (case-insensitive), oldest first."""
        wanted = address.lower()
        with self.handler.lock:
            return [m for m in self.handler.accepted if wanted in (r.lower() for r in m.rcpt_tos)]

    async def wait_for(self, address: str, *, subject: str = "", count: int = 1, timeout: float = 20.0) -> EmailMessage:
        """Wait until `count` mails for `address` whose Subject contains `subject` (white space
        compared loosely) arrived; return the `count`-th of them."""
        deadline = time.monotonic() + timeout
        wanted = _spaces(subject)
        while True:
            matching = [m.message for m in self.to(address) if wanted in _spaces(str(m.message["Subject"] or ""))]
            if len(matching) >= count:
                return matching[count - 1]
            if time.monotonic() > deadline:
                seen = [str(m.message["Subject"]) for m in self.to(address)]
                raise AssertionError(
                    f"no mail #{count} for {address} with {subject!r} in the subject after {timeout}s; got {seen}"
                )
            await asyncio.sleep(0.1)

    @staticmethod
    def links(message: EmailMessage, pattern: str = r"/r/[A-Za-z0-9_-]+") -> list[str]:
        """The absolute links in the mail's text and HTML whose path matches `pattern`, in order."""
        found: list[str] = []
        for body in (mail_text(message), mail_html(message)):
            for url in re.findall(r"https?://[^\s\"'<>)]+", body):
                url = url.replace("&amp;", "&")
                if re.search(pattern, url) and url not in found:
                    found.append(url)
        return found


@pytest.fixture(scope="package")
def mailbox(e2e_smtp: SmtpServer) -> Mailbox:
    return Mailbox(e2e_smtp)


# Data ------------------------------------------------------------------------------------------


async def make_api_organisation(prefix: str = "e2e") -> Org:
    """A new organisation in the server's database with an editor API token:
    `Org(slug, id, token)` of tests/consultations/helpers.py (`.auth` gives the header)."""
    return await new_org(prefix)


def api_client(server: LiveServer, token: str) -> httpx.AsyncClient:
    """An httpx client for the real server's JSON API as the token's organisation."""
    return httpx.AsyncClient(base_url=server.url, timeout=15, headers={"Authorization": f"Bearer {token}"})
