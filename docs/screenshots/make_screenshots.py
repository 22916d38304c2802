"""Regenerate the README's screenshots from the demo data.

    .venv/bin/python docs/screenshots/make_screenshots.py

Starts a throw-away `trefpunt serve` on a fresh SQLite demo database (nothing of var/ is touched),
registers one participant through the JSON API for a private page, and photographs the pages with
Debian's chromium (`/usr/bin/chromium`, through Playwright) into this folder. Each PNG is one
screen (not the whole page), so it stays well under 150 KB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, ViewportSize, sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
from tests.processes import free_port, wait_until_healthy  # noqa: E402 - needs ROOT on the path

CHROMIUM = "/usr/bin/chromium"
DESKTOP: ViewportSize = {"width": 1200, "height": 760}
PHONE: ViewportSize = {"width": 375, "height": 720}


def shoot(page: Page, name: str) -> None:
    path = HERE / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#email", "demo@depunt.example")
    page.fill("#password", "trefpunt-demo")
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(f"{url}/admin")


def main() -> None:
    var = Path(tempfile.mkdtemp(prefix="trefpunt-shots-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TREFPUNT_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'demo.sqlite3'}",
        "BASE_URL": url,
        "TREFPUNT_RATE_LIMIT": "off",
    }
    env.pop("SMTP_URL", None)
    env.pop("REDIS_URL", None)
    for command in (["migrate"], ["demo"]):
        subprocess.run(  # noqa: S603 - our own console script
            [str(BIN / "trefpunt"), *command], cwd=ROOT, env=env, check=True, capture_output=True
        )
    server = subprocess.Popen(  # noqa: S603 - our own console script
        [str(BIN / "trefpunt"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(url, server, lambda: "(its output is discarded)", interval=0.2)

        events = httpx.get(f"{url}/api/v1/events", timeout=10).json()
        items = events["items"] if isinstance(events, dict) else events
        # The co-hosted information session with people registered (the demo's Impulskrediet one).
        session = next(e for e in items if e["kind"] == "info_session" and e["hosts"])
        registered = httpx.post(
            f"{url}/api/v1/events/{session['id']}/registrations",
            json={"name": "Lotte Peeters", "email": "lotte@example.org", "language": "nl", "company": "Atelier Lotte"},
            timeout=10,
        )
        registered.raise_for_status()
        private_url = registered.json()["manage_url"]

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            desktop = browser.new_context(
                viewport=DESKTOP, locale="nl-BE", extra_http_headers={"Accept-Language": "nl"}
            )
            page = desktop.new_page()
            page.goto(f"{url}/events")
            shoot(page, "public-list")
            page.goto(f"{url}/events/{session['id']}")
            shoot(page, "event-page")
            page.goto(private_url)
            shoot(page, "private-page")
            sign_in(page, url)
            shoot(page, "back-office-dashboard")

            phone = browser.new_context(
                viewport=PHONE,
                is_mobile=True,
                has_touch=True,
                locale="nl-BE",
                extra_http_headers={"Accept-Language": "nl"},
            )
            mobile = phone.new_page()
            sign_in(mobile, url)
            mobile.goto(f"{url}/admin/events/{session['id']}/check-in")
            mobile.locator("#check-in-list li[data-name] button.tap").first.click()
            mobile.wait_for_selector("#check-in-list li.is-in")
            mobile.evaluate("() => window.scrollTo(0, document.querySelector('main h1').offsetTop - 8)")
            shoot(mobile, "check-in-phone")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    main()
