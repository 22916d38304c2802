"""Every back-office route, from the app's own route table, as anonymous, another organisation's
owner, a viewer and an editor.

The table below must name every route: adding a page without saying who may use it fails here.
Expected answers (docs/RELIABILITY.md): anonymous → sent to /login; another organisation → 404
(it learns nothing); viewer → reads, but every change is 403; owner-only changes → 403 for an
editor. POSTs carry a valid CSRF token and a valid form, so what answers is the permission check,
not the form validation.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from events.services import organisers
from events.tables import Event, Invitation, OutboxMessage, Registration, Series, Slot
from tests.conftest import TEST_HOST
from tests.consultations.helpers import advisor, day, new_org, window
from tests.consultations.helpers import create_day as create_consultation_day
from tests.integration.helpers import (
    csrf_from_html,
    from_address,
    make_event,
    make_organisation,
    make_organiser,
    sign_in,
    unique_address,
)


@dataclass(frozen=True)
class Access:
    """Who may use a route.

    level: "read" (every role reads), "edit" (owners and editors), "owner" (owners only),
    "manage" (owners and editors, also to read). scope: what the route is about — "event",
    "consultation", "networking", "registration", "slot", "message", "series", "organisation"
    (picked with ?organisation=), "own" (lists only the organiser's own data; nothing to hide),
    "public" (no sign-in needed).
    """

    level: str
    scope: str
    path: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    # What a visitor who is not signed in gets: pages send them to /login; calendar files (.ics)
    # answer like every calendar URL does, 401.
    anonymous: str = "login"


ROUTES: dict[tuple[str, str], Access] = {
    ("GET", "/login"): Access("read", "public"),
    ("POST", "/login"): Access("read", "public"),
    ("POST", "/logout"): Access("read", "public"),
    ("GET", "/admin"): Access("read", "own"),
    ("GET", "/admin/mail"): Access("read", "own"),
    ("POST", "/admin/mail/{message_id:int}/resend"): Access("edit", "message"),
    ("GET", "/admin/events/{event_id:int}"): Access("read", "event"),
    ("GET", "/admin/events/{event_id:int}/day"): Access("read", "consultation"),
    ("GET", "/admin/events/{event_id:int}/meetings"): Access("read", "networking"),
    ("GET", "/admin/events/{event_id:int}/meetings.csv"): Access("read", "networking"),
    ("GET", "/admin/events/{event_id:int}/attendees"): Access("read", "event"),
    ("GET", "/admin/events/{event_id:int}/attendees.csv"): Access("read", "event"),
    ("GET", "/admin/events/{event_id:int}/attendees.xlsx"): Access("read", "event"),
    ("GET", "/admin/events/{event_id:int}/check-in"): Access("read", "event"),
    ("POST", "/admin/events/{event_id:int}/publish"): Access("edit", "event"),
    ("POST", "/admin/events/{event_id:int}/cancel"): Access("edit", "event"),
    ("POST", "/admin/registrations/{registration_id:int}/{action:str}"): Access(
        "edit", "registration", path={"action": "cancel"}, form={"back": "/admin"}
    ),
    ("POST", "/admin/registrations/{registration_id:int}/attendance"): Access(
        "edit", "registration", form={"attendance": "attended", "back": "/admin"}
    ),
    ("POST", "/admin/slots/{slot_id:int}/{action:str}"): Access(
        "edit", "slot", path={"action": "block"}, form={"back": "/admin"}
    ),
    ("GET", "/admin/statistics"): Access("read", "organisation"),
    ("GET", "/admin/events/{event_id:int}/statistics"): Access("read", "event"),
    ("GET", "/admin/series/{series_id:int}/statistics"): Access("read", "series"),
    ("GET", "/admin/team"): Access("read", "organisation"),
    ("GET", "/admin/team/tokens"): Access("read", "organisation"),
    ("GET", "/admin/audit"): Access("manage", "organisation"),
    ("POST", "/admin/team/invitations"): Access(
        "owner", "organisation", form={"email": "new@matrix.example", "role": "viewer", "language": "nl"}
    ),
    ("POST", "/admin/team/invitations/{invitation_id:int}/revoke"): Access("owner", "invitation"),
    ("POST", "/admin/team/members/{organiser_id:int}/role"): Access("owner", "organisation", form={"role": "viewer"}),
    ("POST", "/admin/team/members/{organiser_id:int}/remove"): Access("owner", "organisation"),
    ("POST", "/admin/team/tokens"): Access("owner", "organisation", form={"name": "Matrix", "role": "viewer"}),
    ("POST", "/admin/team/tokens/{token_id:int}/revoke"): Access("owner", "token"),
    # Webhooks: the organisation (?organisation=) is checked before the webhook is looked up,
    # so id 0 shows the permission answer; tests/webhooks covers real webhooks across organisations.
    ("GET", "/admin/webhooks"): Access("manage", "organisation"),
    ("POST", "/admin/webhooks"): Access(
        "owner", "organisation", form={"url": "https://example.org/hook", "events": "event.updated"}
    ),
    ("GET", "/admin/webhooks/{webhook_id:int}"): Access("manage", "organisation", path={"webhook_id": "0"}),
    ("POST", "/admin/webhooks/{webhook_id:int}/test"): Access("owner", "organisation", path={"webhook_id": "0"}),
    ("POST", "/admin/webhooks/{webhook_id:int}/enable"): Access("owner", "organisation", path={"webhook_id": "0"}),
    ("POST", "/admin/webhooks/{webhook_id:int}/disable"): Access("owner", "organisation", path={"webhook_id": "0"}),
    ("POST", "/admin/webhooks/{webhook_id:int}/delete"): Access("owner", "organisation", path={"webhook_id": "0"}),
    ("POST", "/admin/webhooks/{webhook_id:int}/rotate-secret"): Access(
        "owner", "organisation", path={"webhook_id": "0"}
    ),
    ("POST", "/admin/webhooks/{webhook_id:int}/deliveries/{delivery_id:int}/resend"): Access(
        "owner", "organisation", path={"webhook_id": "0", "delivery_id": "0"}
    ),
    ("GET", "/invitations/{token:str}"): Access("read", "public"),
    ("POST", "/invitations/{token:str}"): Access("read", "public"),
    ("GET", "/admin/series"): Access("read", "own"),
    ("GET", "/admin/series/new"): Access("manage", "own"),
    ("POST", "/admin/series/new"): Access("edit", "own"),
    ("GET", "/admin/series/{series_id:int}"): Access("read", "series"),
    ("POST", "/admin/series/{series_id:int}/publish"): Access("edit", "series"),
    ("POST", "/admin/series/{series_id:int}/occurrences/{event_id:int}/cancel"): Access("edit", "series"),
    ("POST", "/admin/series/{series_id:int}/occurrences/{event_id:int}/move"): Access(
        "edit", "series", form={"new_date": "2030-01-01", "new_time": "10:00"}
    ),
    ("POST", "/admin/series/{series_id:int}/exceptions"): Access("edit", "series", form={"date": "2030-01-01"}),
    ("GET", "/admin/series/{series_id:int}/edit"): Access("manage", "series"),
    ("POST", "/admin/series/{series_id:int}/edit"): Access(
        "edit", "series", form={"scope": "all", "start_time": "09:00"}
    ),
    ("GET", "/admin/series/{series_id:int}/rule"): Access("manage", "series"),
    ("POST", "/admin/series/{series_id:int}/rule"): Access("edit", "series"),
    ("GET", "/admin/events/{event_id:int}/questions"): Access("read", "event"),
    ("POST", "/admin/events/{event_id:int}/questions"): Access("edit", "event", form={"action": "add"}),
    ("POST", "/admin/events/{event_id:int}/consent-purposes"): Access(
        "edit", "event", form={"text-en": "Call me about a loan"}
    ),
    ("GET", "/admin/events/{event_id:int}/advisors"): Access("read", "consultation"),
    ("POST", "/admin/events/{event_id:int}/advisors"): Access("edit", "consultation", form={"action": "add-advisor"}),
    ("GET", "/admin/events/{event_id:int}/networking"): Access("read", "networking"),
    ("POST", "/admin/events/{event_id:int}/networking"): Access("edit", "networking", form={"tables": "Table 1"}),
    ("GET", "/admin/events/new"): Access("manage", "organisation"),
    ("POST", "/admin/events/new"): Access("manage", "organisation"),
    ("GET", "/admin/events/{event_id:int}/edit"): Access("manage", "event"),
    ("POST", "/admin/events/{event_id:int}/edit"): Access("manage", "event"),
    ("GET", "/admin/events/{event_id:int}/duplicate"): Access("manage", "event"),
    ("POST", "/admin/events/{event_id:int}/duplicate"): Access("manage", "event"),
    ("GET", "/admin/events/{event_id:int}/cancel"): Access("manage", "event"),
    ("POST", "/admin/events/{event_id:int}/attendees"): Access(
        "edit", "event", form={"name": "Matrix Person", "email": "person@matrix.example", "language": "nl"}
    ),
    ("POST", "/admin/events/{event_id:int}/attendees/mail"): Access(
        "edit",
        "event",
        form={"subject": "Hello", "message": "Hello all.", "target": "status", "to_status": "confirmed"},
    ),
    ("GET", "/admin/registrations/{registration_id:int}"): Access("read", "registration"),
    ("POST", "/admin/registrations/{registration_id:int}/mails/{message_id:int}/resend"): Access(
        "edit", "registration"
    ),
    ("POST", "/admin/events/{event_id:int}/check-in/code"): Access("edit", "event", form={"code": "1-AAAAAAAA"}),
    ("POST", "/admin/events/{event_id:int}/no-shows"): Access("edit", "event"),
    ("GET", "/admin/events/{event_id:int}/attendance-sheet"): Access("read", "event"),
    ("GET", "/admin/events/{event_id:int}/consents"): Access("read", "event"),
    ("GET", "/admin/events/{event_id:int}/consents.csv"): Access("read", "event"),
    ("GET", "/admin/privacy"): Access("read", "organisation"),
    ("POST", "/admin/privacy"): Access("owner", "organisation", form={"retention_months": "24"}),
    ("GET", "/admin/events/{event_id:int}/retention"): Access("manage", "event"),
    ("POST", "/admin/events/{event_id:int}/retention"): Access("edit", "event", form={"retention_months": "12"}),
    ("GET", "/admin/registrations/{registration_id:int}/erase"): Access("manage", "registration"),
    ("POST", "/admin/registrations/{registration_id:int}/erase"): Access(
        "edit", "registration", form={"confirm": "yes"}
    ),
    ("GET", "/dev/mail"): Access("read", "own"),
    ("GET", "/dev/mail/{message_id:int}"): Access("read", "message"),
    ("GET", "/dev/mail/{message_id:int}/invite.ics"): Access("read", "message", anonymous="401"),
}

# Routes that only exist to hold a place in a controller until its pages land.
PLACEHOLDER = "/_"


def back_office_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        path = route.path
        if not path.startswith(("/admin", "/login", "/logout", "/invitations", "/dev/mail")):
            continue
        if PLACEHOLDER in path:
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method not in ("HEAD", "OPTIONS"):
                    found.add((method, path))
    return found


def test_every_back_office_route_has_an_entry(app: Any) -> None:
    routes = back_office_routes(app)
    missing = sorted(routes - ROUTES.keys())
    gone = sorted(ROUTES.keys() - routes)
    assert not missing, f"routes without an access entry (add them to ROUTES): {missing}"
    assert not gone, f"entries for routes that no longer exist: {gone}"


@dataclass
class World:
    ids: dict[str, int]
    org_id: int


async def _world() -> World:
    org = await new_org("matrix")
    info = await make_event(org.id, capacity=5)
    from events.services import registrations
    from events.services.registrations import RegistrationInput

    await registrations.register(info, RegistrationInput(name="Ann Matrix", email="ann@matrix.example", language="nl"))
    registration = await Registration.select().where(Registration.event == info).first()
    message = await OutboxMessage.select().where(OutboxMessage.event == info).first()
    async with AsyncTestClient(app=_app(), base_url=f"http://{TEST_HOST}") as client:
        start = day(20)
        consultation = await create_consultation_day(
            client,
            org,
            [advisor("Adv", "adv@matrix.example", [window(start, 60)])],
            starts=start,
            ends=start + timedelta(hours=8),
        )
    slot = await Slot.select().where(Slot.event == consultation).first()
    networking = await make_event(org.id, kind="networking")
    series = await Series.insert(Series(organisation=org.id, title_nl="Reeks", rrule="FREQ=WEEKLY;COUNT=2"))
    await Event.update({Event.series: series[0]["id"]}).where(Event.id == info)
    assert registration and message and slot
    member = await organisers.create_organiser(f"member-{org.slug}@matrix.example", org.slug, role="editor")
    invitation = await Invitation.insert(
        Invitation(
            organisation=org.id,
            email="invitee@matrix.example",
            role="viewer",
            token_hash=secrets.token_hex(32),
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )
    )
    token = await organisers.issue_api_token(org.id, role="viewer", name="Matrix")
    return World(
        ids={
            "event": info,
            "consultation": consultation,
            "networking": networking,
            "registration": registration["id"],
            "message": message["id"],
            "slot": slot["id"],
            "series": series[0]["id"],
            "organiser": member,
            "invitation": invitation[0]["id"],
            "token": token.id,
        },
        org_id=org.id,
    )


_APP: Any = None


def _app() -> Any:
    assert _APP is not None
    return _APP


def _url(path: str, access: Access, world: World) -> str:
    values = dict(access.path)
    event_key = access.scope if access.scope in ("consultation", "networking") else "event"
    values.setdefault("event_id", str(world.ids[event_key]))
    for key in ("registration", "message", "slot", "series", "organiser", "invitation", "token"):
        values.setdefault(f"{key}_id", str(world.ids[key]))
    url = path
    for name, value in values.items():
        for suffix in (":int}", ":str}", "}"):
            url = url.replace("{" + name + suffix, value)
    query = dict(access.query)
    if access.scope == "organisation":
        query.setdefault("organisation", str(world.org_id))
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


@pytest.fixture
async def clients(app: Any) -> AsyncIterator[dict[str, AsyncTestClient[Any]]]:
    global _APP
    _APP = app
    opened: dict[str, AsyncTestClient[Any]] = {}
    for name in ("anonymous", "stranger", "viewer", "editor"):
        client: AsyncTestClient[Any] = AsyncTestClient(
            app=from_address(app, unique_address()), base_url=f"http://{TEST_HOST}"
        )
        await client.__aenter__()
        opened[name] = client
    try:
        yield opened
    finally:
        for client in opened.values():
            await client.__aexit__(None, None, None)


async def _call(client: AsyncTestClient[Any], method: str, url: str, access: Access) -> Any:
    if method == "GET":
        return await client.get(url, follow_redirects=False)
    page = await client.get("/login")
    form = {"_csrf_token": csrf_from_html(page.text), **access.form}
    return await client.request(method, url, data=form, follow_redirects=False)


async def test_access_matrix(app: Any, clients: dict[str, AsyncTestClient[Any]]) -> None:
    world = await _world()
    slug = await _org_slug(world.org_id)
    other_slug, _ = await make_organisation("stranger")
    await sign_in(clients["stranger"], await make_organiser(other_slug, role="owner"))
    await sign_in(clients["viewer"], await make_organiser(slug, role="viewer"))
    await sign_in(clients["editor"], await make_organiser(slug, role="editor"))

    failures: list[str] = []

    def expect(who: str, method: str, url: str, response: Any, wanted: str) -> None:
        status = response.status_code
        location = response.headers.get("location", "")
        ok = {
            "login": status in (302, 303) and location.startswith("/login"),
            "404": status == 404,
            "403": status == 403,
            "401": status == 401,
            "readable": status == 200,
        }[wanted]
        if not ok:
            failures.append(f"{who:9} {method:4} {url}: wanted {wanted}, got {status} {location}")

    for (method, path), access in sorted(ROUTES.items()):
        if access.scope == "public":
            continue
        url = _url(path, access, world)
        expect("anonymous", method, url, await _call(clients["anonymous"], method, url, access), access.anonymous)
        if access.scope != "own":
            expect("stranger", method, url, await _call(clients["stranger"], method, url, access), "404")
        if method == "GET":
            wanted = "403" if access.level == "manage" else "readable"
            expect("viewer", method, url, await _call(clients["viewer"], method, url, access), wanted)
        else:
            expect("viewer", method, url, await _call(clients["viewer"], method, url, access), "403")
            if access.level == "owner":
                expect("editor", method, url, await _call(clients["editor"], method, url, access), "403")
    assert not failures, "\n".join(failures)


async def _org_slug(org_id: int) -> str:
    from events.tables import Organisation

    row = await Organisation.select(Organisation.slug).where(Organisation.id == org_id).first()
    assert row is not None
    return str(row["slug"])
