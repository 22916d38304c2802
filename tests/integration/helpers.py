"""Shared helpers for integration tests: data through the real services, and small HTML readers.

Every test makes its own organisation (`unique_slug()`), so tests never depend on each other's
data nor on the order they run in, and the shared database of a run can hold anything else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from tests.conftest import unique_slug

PASSWORD = "correct horse battery"


def future(days: int = 30, hour: int = 16) -> datetime:
    """An aware UTC datetime `days` from today at `hour`:00 UTC (always upcoming)."""
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return today.replace(hour=hour) + timedelta(days=days)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def event_payload(**overrides: Any) -> dict[str, Any]:
    """A valid POST /api/v1/events body (an info session next month); overrides replace fields."""
    starts = future(30)
    body: dict[str, Any] = {
        "kind": "info_session",
        "title": {"nl": "Infosessie microkrediet", "fr": "Séance d'information microcrédit", "en": "Microcredit info"},
        "description": {"nl": "Alles over **microkrediet**."},
        "starts_at": iso(starts),
        "ends_at": iso(starts + timedelta(hours=2)),
        "timezone": "Europe/Brussels",
        "venue": {"name": "Ondernemershuis", "address": "Kerkstraat 1, 9000 Gent", "room": "Zaal A"},
        "capacity": 20,
    }
    body.update(overrides)
    return body


async def make_organisation(prefix: str = "org", name: str | None = None) -> tuple[str, int]:
    """A new organisation through the service: (slug, id)."""
    from events.services import organisers

    slug = unique_slug(prefix)
    org_id = await organisers.create_organisation(slug, name or f"Organisation {slug}", f"info@{slug}.example")
    return slug, org_id


async def make_token(slug: str, role: str = "editor") -> str:
    from events.services import organisers

    return await organisers.create_api_token(slug, role=role)


async def make_organiser(slug: str, role: str = "editor", password: str = PASSWORD) -> str:
    """An organiser account with a password and a role in `slug`; returns its email."""
    from events.services import organisers

    email = f"{unique_slug(role)}@people.example"
    await organisers.create_organiser(email, slug, role=role, password=password)
    return email


async def make_event(organisation_id: int, *, publish: bool = True, **overrides: Any) -> int:
    """An event created (and by default published) through the services as the CLI actor."""
    from events.services import events as event_service
    from events.services.access import CLI_ACTOR
    from events.services.events import EventInput

    data = msgspec.convert(event_payload(**overrides), EventInput)
    event_id = await event_service.create_event(CLI_ACTOR, organisation_id, data)
    if publish:
        await event_service.publish_event(CLI_ACTOR, event_id)
    return event_id


async def count_events(organisation_id: int) -> int:
    from events.tables import Event

    return int(await Event.count().where(Event.organisation == organisation_id))


async def stored_event(event_id: int) -> dict[str, Any]:
    from events.tables import Event

    row = await Event.select().where(Event.id == event_id).first()
    assert row is not None
    return row


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


_CSRF_INPUT = re.compile(r'<input[^>]*name="_csrf_token"[^>]*>')
_VALUE = re.compile(r'value="([^"]+)"')


def csrf_from_html(html: str) -> str:
    """The value of the hidden `_csrf_token` input of a rendered form."""
    tag = _CSRF_INPUT.search(html)
    assert tag, "page has no hidden _csrf_token input"
    value = _VALUE.search(tag.group(0))
    assert value, "the _csrf_token input has no value"
    return value.group(1)


def h1_of(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match, "page has no <h1>"
    return match.group(1).strip()


def html_lang(html: str) -> str:
    match = re.search(r'<html[^>]*\blang="([^"]+)"', html)
    assert match, "page has no <html lang=…>"
    return match.group(1)


def event_links(html: str) -> set[int]:
    """Ids of the events an event list links to."""
    return {int(m) for m in re.findall(r'href="/events/(\d+)"', html)}


def set_cookies(response: Any, name: str) -> list[str]:
    """The Set-Cookie headers of `response` that set cookie `name`."""
    return [value for value in response.headers.get_list("set-cookie") if value.split("=", 1)[0].strip() == name]


def cookie_value(response: Any, name: str) -> str | None:
    headers = set_cookies(response, name)
    if not headers:
        return None
    return headers[-1].split("=", 1)[1].split(";", 1)[0]


async def sign_in(client: Any, email: str, password: str = PASSWORD, *, next_: str | None = None) -> Any:
    """GET /login then POST the form with its CSRF token, as a browser does; the POST's response."""
    page = await client.get("/login")
    assert page.status_code == 200, page.status_code
    form = {"email": email, "password": password, "_csrf_token": csrf_from_html(page.text)}
    if next_ is not None:
        form["next"] = next_
    return await client.post("/login", data=form, follow_redirects=False)


async def post_form(client: Any, url: str, page_url: str, **fields: str) -> Any:
    """POST a back-office form with the CSRF token of the page that shows it."""
    page = await client.get(page_url, follow_redirects=False)
    assert page.status_code == 200, f"{page_url}: {page.status_code}"
    return await client.post(url, data={"_csrf_token": csrf_from_html(page.text), **fields}, follow_redirects=False)


def from_address(app: Any, host: str) -> Any:
    """The app as seen from client address `host`.

    Sign-in is rate limited per client address, and every in-process request comes from
    "testclient": a browser per test with its own address keeps tests from sharing one budget.
    """

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "client": (host, 50000)}
        await app(scope, receive, send)

    return asgi


def unique_address() -> str:
    """A random address in TEST-NET-2 (198.51.100.0/24 is reserved for documentation)."""
    import secrets

    return f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
