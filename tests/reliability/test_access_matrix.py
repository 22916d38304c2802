"""The access matrix of RELIABILITY.md "Access": every route of the app's own route table, as
every kind of caller.

`ROUTES` names every route (a new route without an entry fails
`test_every_route_of_the_app_has_an_access_entry`). Callers: an anonymous visitor; a participant
holding their private tokens and another participant holding theirs; the owner of another
organisation; a viewer, an editor and an owner of the target organisation; an editor of an
organisation that co-hosts one of its events; and integrators with an API token that is missing,
revoked, of another organisation, of a co-host, viewer-role or editor-role.

Expected answers: anonymous → /login (pages) or 401 (API, calendar files); another organisation
→ 404 and none of the target's names, emails or titles in the body; a viewer reads but every
change is 403; owner-only changes (team, tokens, webhooks, privacy settings) are 403 for an
editor; a co-host reads and may not change the event it co-hosts and learns nothing about the
others; a participant's token opens only their own data (never another's meeting), with
`Referrer-Policy` and a private `Cache-Control`; unknown tokens are 404. Every GET, by every
caller, leaves the database as it was. Changes are sent only by callers who must be refused, with
a valid CSRF token and a valid body, so what answers is the permission check, not validation.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from events.services import consents, organisers, privacy, tokens
from events.services.access import CLI_ACTOR
from events.services.consents import PurposeInput
from events.tables import ApiToken, Invitation, OutboxMessage, Registration, Series, Slot
from tests.conftest import TEST_HOST, private_database, serving
from tests.consultations.helpers import advisor, consultation, day, day_payload, window
from tests.integration.helpers import (
    bearer,
    csrf_from_html,
    event_payload,
    make_event,
    make_organisation,
    make_organiser,
    make_token,
    sign_in,
    stored_event,
    unique_address,
)
from tests.networking.meetings_helpers import networking
from tests.privacy.conftest import link_token

# The table ------------------------------------------------------------------------------------------

# Back office (signed-in organisers): "read" (every role reads), "manage" (owners and editors, also
# to read), "edit" (owners and editors change), "owner" (owners only).
# Public: "public" (anyone; GETs answer `status`, POSTs are sent empty by an anonymous visitor and
# answer `status`, never 401/403/5xx).
# API: "api-public" (anyone; a bad token is still a 401), "api-read" and "api-edit" (a token of a
# hosting organisation; viewer tokens read only), "api-create" (creates for the token's own
# organisation: editor tokens and up).
# Private links: "token" — the path carries the participant's (or advisor's, invitee's) token of
# kind `credential`.
LEVELS = {"read", "manage", "edit", "owner", "public", "api-public", "api-read", "api-edit", "api-create", "token"}


@dataclass(frozen=True)
class Access:
    """Who may use a route, and how to call it.

    scope: what the route is about — "event" (the co-hosted info session), "consultation",
    "networking", "registration" (the participant's registration in the info session), "booking"
    (their consultation booking), "slot", "message", "series", "organisation" (picked with
    ?organisation=), "invitation", "token", "own" (lists only the caller's own data), "none".
    """

    level: str
    scope: str = "none"
    path: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    # What a visitor who is not signed in gets: pages send them to /login; calendar files (.ics)
    # answer like every calendar URL does, 401.
    anonymous: str = "login"
    # What an allowed caller of a GET (or anyone on a public route) gets.
    status: int = 200
    # Private links: which token the path carries ("manage", "networking", "booking", "feed",
    # "privacy", "advisor", "invitation").
    credential: str = ""
    # A co-host's answer where it differs from the rule (reads of the co-hosted event, 403 for
    # its changes, 404 elsewhere): "door" (checking people in is shared with co-hosts, and so is
    # duplicating into one's own organisation: like an editor), "read" (reads), or a status.
    cohost: str = ""
    # What a revoked API token gets on a public API route: 401, or 200 where the route never
    # looks at the token.
    bad_token: str = "401"


ROUTES: dict[tuple[str, str], Access] = {
    # Sign-in and invitations (no sign-in needed).
    ("GET", "/login"): Access("public"),
    ("POST", "/login"): Access("public", status=401),
    ("POST", "/logout"): Access("public", status=303),
    ("GET", "/invitations/{token:str}"): Access("token", credential="invitation"),
    ("POST", "/invitations/{token:str}"): Access("token", credential="invitation"),
    # Back office.
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
        "edit", "registration", form={"attendance": "attended", "back": "/admin"}, cohost="door"
    ),
    ("POST", "/admin/slots/{slot_id:int}/{action:str}"): Access(
        "edit", "slot", path={"action": "block"}, form={"back": "/admin"}
    ),
    ("GET", "/admin/statistics"): Access("read", "organisation"),
    ("GET", "/admin/events/{event_id:int}/statistics"): Access("read", "event"),
    ("GET", "/admin/series/{series_id:int}/statistics"): Access("read", "series", cohost="read"),
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
    ("GET", "/admin/webhooks/{webhook_id:int}"): Access("manage", "organisation", path={"webhook_id": "0"}, status=404),
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
    ("GET", "/admin/events/{event_id:int}/duplicate"): Access("manage", "event", cohost="door"),
    ("POST", "/admin/events/{event_id:int}/duplicate"): Access("manage", "event", cohost="door"),
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
        "edit", "registration", cohost="404"
    ),
    ("POST", "/admin/events/{event_id:int}/check-in/code"): Access(
        "edit", "event", form={"code": "1-AAAAAAAA"}, cohost="door"
    ),
    ("POST", "/admin/events/{event_id:int}/no-shows"): Access("edit", "event", cohost="door"),
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
    # Public pages, feeds, documentation, health and static files.
    ("GET", "/"): Access("public"),
    ("GET", "/events"): Access("public"),
    ("GET", "/events/{event_id:int}"): Access("public", "event"),
    ("POST", "/events/{event_id:int}/register"): Access("public", "event", status=422),
    ("POST", "/events/{event_id:int}/book"): Access("public", "consultation", status=422),
    ("GET", "/calendar.ics"): Access("public"),
    ("GET", "/organisations/{slug:str}/calendar.ics"): Access("public", "organisation"),
    ("GET", "/series/{series_id:int}/calendar.ics"): Access("public", "series"),
    ("GET", "/events/{event_id:int}/calendar.ics"): Access("public", "event"),
    ("GET", "/privacy"): Access("public"),
    ("POST", "/privacy"): Access("public", status=422),
    ("GET", "/schema"): Access("public"),
    ("GET", "/schema/openapi.json"): Access("public"),
    ("GET", "/schema/redoc"): Access("public"),
    # Only the ReDoc viewer is configured: any other viewer name is a 404.
    ("GET", "/schema/{path:str}"): Access("public", path={"path": "swagger"}, status=404),
    ("GET", "/health"): Access("public"),
    ("GET", "/static/{file_path:path}"): Access("public", path={"file_path": "style.css"}),
    # A participant's private links.
    ("GET", "/r/{token:str}"): Access("token", credential="manage"),
    ("GET", "/r/{token:str}/confirm"): Access("token", credential="manage"),
    ("POST", "/r/{token:str}/confirm"): Access("token", credential="manage"),
    ("POST", "/r/{token:str}/cancel"): Access("token", credential="manage"),
    ("POST", "/r/{token:str}/language"): Access("token", credential="manage", form={"language": "fr"}),
    ("POST", "/r/{token:str}/reschedule"): Access("token", "slot", credential="booking", form={"slot": "1"}),
    ("POST", "/r/{token:str}/profile"): Access("token", credential="networking", form={"display_name": "X"}),
    ("POST", "/r/{token:str}/meetings"): Access("token", credential="networking", form={"profile": "1", "slot": "1"}),
    ("POST", "/r/{token:str}/meetings/{meeting_id:int}/{action:str}"): Access(
        "token", "meeting", path={"action": "accept"}, credential="networking"
    ),
    ("POST", "/r/{token:str}/feed"): Access("token", credential="manage"),
    ("POST", "/r/{token:str}/consents/{purpose_id:int}"): Access(
        "token", "purpose", credential="manage", form={"action": "withdraw"}
    ),
    ("GET", "/me/{token:str}/calendar.ics"): Access("token", credential="feed"),
    ("GET", "/advisors/{token:str}/calendar.ics"): Access("token", credential="advisor"),
    ("GET", "/privacy/{token:str}"): Access("token", credential="privacy"),
    ("GET", "/privacy/{token:str}/data.json"): Access("token", credential="privacy"),
    ("POST", "/privacy/{token:str}/erase"): Access("token", credential="privacy", form={"confirm": "yes"}),
    # JSON API: public reads and participant calls.
    ("GET", "/api/v1/events"): Access("api-public", bad_token="200"),
    ("GET", "/api/v1/events/{event_id:int}"): Access("api-public", "event"),
    ("GET", "/api/v1/events/{event_id:int}/slots"): Access("api-public", "consultation", bad_token="200"),
    ("GET", "/api/v1/events/{event_id:int}/questions"): Access("api-public", "event"),
    ("GET", "/api/v1/events/{event_id:int}/consent-purposes"): Access("api-public", "event"),
    ("POST", "/api/v1/events/{event_id:int}/registrations"): Access("api-public", "event", json={}, status=422),
    ("POST", "/api/v1/events/{event_id:int}/booking"): Access("api-public", "consultation", json={}, status=422),
    ("POST", "/api/v1/slots/{slot_id:int}/booking"): Access("api-public", "slot", json={}, status=422),
    ("DELETE", "/api/v1/registrations/{token:str}"): Access("token", credential="manage"),
    ("POST", "/api/v1/bookings/{token:str}/reschedule"): Access(
        "token", "slot", credential="booking", json={"slot": "{slot_id}"}
    ),
    ("GET", "/api/v1/me/{token:str}/profile"): Access("token", credential="networking"),
    ("PUT", "/api/v1/me/{token:str}/profile"): Access(
        "token", credential="networking", json={"opt_in": False, "display_name": "X"}
    ),
    ("GET", "/api/v1/me/{token:str}/directory"): Access("token", credential="networking"),
    ("GET", "/api/v1/me/{token:str}/suggestions"): Access("token", credential="networking"),
    ("GET", "/api/v1/me/{token:str}/meeting-slots"): Access("token", credential="networking"),
    ("GET", "/api/v1/me/{token:str}/meetings"): Access("token", credential="networking"),
    ("POST", "/api/v1/me/{token:str}/meetings"): Access(
        "token", credential="networking", json={"with": "{profile_id}", "slot": "{meeting_slot_id}"}
    ),
    ("POST", "/api/v1/me/{token:str}/meetings/{meeting_id:int}/{action:str}"): Access(
        "token", "meeting", path={"action": "accept"}, credential="networking"
    ),
    # JSON API: organiser operations (bearer token).
    ("POST", "/api/v1/events"): Access("api-create", json=event_payload()),
    ("POST", "/api/v1/consent-purposes"): Access("api-create", json={"key": "matrix", "text": {"nl": "Matrix"}}),
    ("PATCH", "/api/v1/events/{event_id:int}"): Access("api-edit", "event", json={"capacity": 7}),
    ("POST", "/api/v1/events/{event_id:int}/publish"): Access("api-edit", "event"),
    ("POST", "/api/v1/events/{event_id:int}/cancel"): Access("api-edit", "event"),
    ("POST", "/api/v1/events/{event_id:int}/broadcast"): Access(
        "api-edit", "event", json={"subject": "Hello", "message": "Hello all."}
    ),
    ("PUT", "/api/v1/events/{event_id:int}/questions"): Access(
        "api-edit", "event", json=[{"kind": "short_text", "label": {"nl": "Vraag"}, "required": False}]
    ),
    ("GET", "/api/v1/events/{event_id:int}/registrations"): Access("api-read", "event"),
    ("GET", "/api/v1/events/{event_id:int}/directory"): Access("api-read", "networking"),
    ("GET", "/api/v1/events/{event_id:int}/meetings"): Access("api-read", "networking"),
    ("POST", "/api/v1/registrations/{registration_id:int}/approve"): Access("api-edit", "registration"),
    ("POST", "/api/v1/registrations/{registration_id:int}/reject"): Access("api-edit", "registration"),
    ("POST", "/api/v1/registrations/{registration_id:int}/cancel"): Access("api-edit", "registration"),
    ("POST", "/api/v1/registrations/{registration_id:int}/move-up"): Access("api-edit", "registration"),
    ("POST", "/api/v1/registrations/{registration_id:int}/attendance"): Access(
        "api-edit", "registration", json={"attendance": "attended"}, cohost="door"
    ),
    ("POST", "/api/v1/registrations/{registration_id:int}/move"): Access(
        "api-edit", "booking", json={"slot": "{slot_id}"}
    ),
    ("POST", "/api/v1/slots/{slot_id:int}/block"): Access("api-edit", "slot"),
    ("POST", "/api/v1/slots/{slot_id:int}/unblock"): Access("api-edit", "slot"),
}

# Routes that only exist to hold a place in a controller until its pages land.
PLACEHOLDER = "/_"


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every handler in the app's route table (HEAD and OPTIONS aside)."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if PLACEHOLDER in route.path:
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method not in ("HEAD", "OPTIONS"):
                    found.add((method, route.path))
    return found


def test_every_route_of_the_app_has_an_access_entry(app: Any) -> None:
    routes = app_routes(app)
    missing = sorted(routes - ROUTES.keys())
    gone = sorted(ROUTES.keys() - routes)
    assert not missing, f"routes without an access entry (add them to ROUTES): {missing}"
    assert not gone, f"entries for routes that no longer exist: {gone}"
    assert {access.level for access in ROUTES.values()} <= LEVELS


# The world -----------------------------------------------------------------------------------------


@dataclass
class Person:
    name: str
    email: str
    phone: str
    credentials: dict[str, str] = field(default_factory=dict)  # kind → token
    registrations: dict[str, int] = field(default_factory=dict)  # event key → registration id

    @property
    def contact(self) -> list[str]:
        return [self.email, self.phone]


@dataclass
class World:
    org_id: int
    slug: str
    ids: dict[str, int]
    ann: Person
    bert: Person
    # What another organisation must never see: names, emails, titles.
    secrets: list[str]
    api: dict[str, str]  # bearer role → token
    titles: dict[str, str]  # event key → Dutch title
    credentials: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # kind → (Ann's, another's)


def _person(first: str, last: str) -> Person:
    tag = secrets.token_hex(3)
    return Person(
        name=f"{first} {last}{tag}",
        email=f"{first.lower()}.{tag}@matrix-people.example",
        phone=f"+32 470 {tag[:2]} {tag[2:4]} {tag[4:]}",
    )


def _title(what: str) -> dict[str, str]:
    tag = secrets.token_hex(3)
    return {"nl": f"Matrix {what} {tag}", "fr": f"Matrice {what} {tag}", "en": f"Matrix {what} {tag} en"}


async def _join(client: Any, url: str, who: Person, key: str, **extra: Any) -> None:
    body = {"name": who.name, "email": who.email, "language": "nl", "phone": who.phone, **extra}
    response = await client.post(url, json=body)
    assert response.status_code == 201, response.text
    who.registrations[key] = int(response.json()["id"])
    who.credentials[key] = response.json()["manage_url"].rsplit("/", 1)[1]


async def build_world(client: Any) -> World:
    """The target organisation with an info session co-hosted by another organisation, a
    consultation day, a networking event, a series; Ann and Bert in all of them; a stranger
    organisation; API tokens of every kind."""
    tag = secrets.token_hex(3)
    org_name = f"Matrixhuis {tag}"
    slug, org_id = await make_organisation("matrix", name=org_name)
    stranger_slug, _ = await make_organisation("stranger")
    cohost_slug, cohost_id = await make_organisation("cohost")
    owner_token = await make_token(slug, role="owner")
    auth = bearer(owner_token)
    revoked = await make_token(slug, role="editor")
    await ApiToken.update({ApiToken.revoked_at: datetime.now(UTC)}).where(ApiToken.prefix == revoked[:10])
    api = {
        "editor-token": await make_token(slug, role="editor"),
        "viewer-token": await make_token(slug, role="viewer"),
        "revoked-token": revoked,
        "stranger-token": await make_token(stranger_slug, role="owner"),
        "cohost-token": await make_token(cohost_slug, role="owner"),
    }
    purpose = await consents.define_purpose(
        CLI_ACTOR, org_id, PurposeInput(key="matrix-follow-up", text={"nl": "Volg mij op over financiering"})
    )
    titles = {key: _title(key) for key in ("info", "day", "net", "bert-only", "series-extra")}
    info = await make_event(org_id, capacity=5, hosts=[cohost_slug], title=titles["info"])
    net = await make_event(org_id, kind="networking", title=titles["net"])
    starts = (await stored_event(net))["starts_at"]
    patched = await client.patch(f"/api/v1/events/{net}", headers=auth, json={"networking": networking(starts)})
    assert patched.status_code == 200, patched.text
    bert_only = await make_event(org_id, title=titles["bert-only"])
    start = day(20)
    advisors = [
        advisor(f"Adviseur Een {tag}", f"een-{tag}@matrix.example", [window(start, 60)]),
        advisor(f"Adviseur Twee {tag}", f"twee-{tag}@matrix.example", [window(start, 60)]),
    ]
    body = {**day_payload(start, start + timedelta(hours=8), consultation(advisors)), "title": titles["day"]}
    created = await client.post("/api/v1/events", json=body, headers=auth)
    assert created.status_code == 201, created.text
    consultation_day = int(created.json()["id"])
    assert (await client.post(f"/api/v1/events/{consultation_day}/publish", headers=auth)).status_code == 200
    series = await Series.insert(Series(organisation=org_id, title_nl="Matrixreeks", rrule="FREQ=WEEKLY;COUNT=2"))
    from events.tables import Advisor, Event

    # A second occurrence of the series that the co-host of the info session does not co-host.
    series_extra = await make_event(org_id, title=titles["series-extra"])
    await Event.update({Event.series: series[0]["id"]}).where(Event.id.is_in([info, series_extra]))

    ann, bert, dirk = _person("Annelies", "Matrixvrouw"), _person("Bertrand", "Matrixman"), _person("Dirk", "Derde")
    for who in (ann, bert):
        await _join(client, f"/api/v1/events/{info}/registrations", who, "manage", consents=[purpose.id])
    await _join(client, f"/api/v1/events/{bert_only}/registrations", bert, "bert-only")
    slot_rows = await Slot.select().where(Slot.event == consultation_day).order_by(Slot.starts_at)
    by_advisor: dict[int, list[int]] = {}
    for row in slot_rows:
        by_advisor.setdefault(row["advisor"], []).append(row["id"])
    (ann_advisor, ann_slots), (bert_advisor, bert_slots) = sorted(by_advisor.items())
    await _join(client, f"/api/v1/slots/{ann_slots[0]}/booking", ann, "booking")
    await _join(client, f"/api/v1/slots/{bert_slots[0]}/booking", bert, "booking")
    for who in (ann, bert, dirk):
        await _join(client, f"/api/v1/events/{net}/registrations", who, "networking")
        profile = {"opt_in": True, "display_name": who.name.split()[0], "offers": ["coaching"], "languages": ["nl"]}
        saved = await client.put(f"/api/v1/me/{who.credentials['networking']}/profile", json=profile)
        assert saved.status_code == 200, saved.text
    directory = (await client.get(f"/api/v1/me/{ann.credentials['networking']}/directory")).json()
    dirk_profile = next(entry["id"] for entry in directory if entry["display_name"] == "Dirk")
    meeting_slots = (await client.get(f"/api/v1/me/{ann.credentials['networking']}/meeting-slots")).json()
    asked = await client.post(
        f"/api/v1/me/{ann.credentials['networking']}/meetings",
        json={"with": dirk_profile, "slot": meeting_slots[0]["id"]},
    )
    assert asked.status_code == 201, asked.text

    for who in (ann, bert):
        joined = await Registration.select().where(Registration.id == who.registrations["manage"]).first()
        assert joined is not None
        who.credentials["feed"] = tokens.derive("feed", joined["feed_token_nonce"])
        await privacy.request_link(who.email, "en")
        who.credentials["privacy"] = await link_token(who.email)
    advisor_tokens = {}
    for row in await Advisor.select().where(Advisor.event == consultation_day):
        advisor_tokens[row["id"]] = tokens.derive("advisor", row["feed_token_nonce"])
    ann.credentials["advisor"] = advisor_tokens[ann_advisor]
    bert.credentials["advisor"] = advisor_tokens[bert_advisor]

    invitation_token = secrets.token_urlsafe(32)
    invitation = await Invitation.insert(
        Invitation(
            organisation=org_id,
            email=f"invitee-{tag}@matrix.example",
            role="viewer",
            token_hash=tokens.token_hash(invitation_token),
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )
    )
    member = await organisers.create_organiser(f"member-{tag}@matrix.example", slug, role="editor")
    message = (
        await OutboxMessage.select(OutboxMessage.id)
        .where((OutboxMessage.event == info) & (OutboxMessage.recipient == ann.email))
        .first()
    )
    assert message is not None
    token_row = await ApiToken.select(ApiToken.id).where(ApiToken.prefix == api["viewer-token"][:10]).first()
    assert token_row is not None
    world = World(
        org_id=org_id,
        slug=slug,
        ids={
            "event": info,
            "consultation": consultation_day,
            "networking": net,
            "registration": ann.registrations["manage"],
            "booking": ann.registrations["booking"],
            "message": message["id"],
            "slot": ann_slots[0],
            "free_slot": ann_slots[1],
            "series": series[0]["id"],
            "organiser": member,
            "invitation": invitation[0]["id"],
            "token": token_row["id"],
            "meeting": int(asked.json()["id"]),
            "purpose": purpose.id,
            "profile": dirk_profile,
            "meeting_slot": meeting_slots[0]["id"],
            "cohost": cohost_id,
        },
        ann=ann,
        bert=bert,
        secrets=[org_name, *(t["nl"] for t in titles.values()), ann.name, ann.email, bert.name, bert.email],
        api=api,
        titles={key: t["nl"] for key, t in titles.items()},
    )
    for kind in ("manage", "networking", "booking", "feed", "privacy", "advisor"):
        world.credentials[kind] = (ann.credentials[kind], bert.credentials[kind])
    world.credentials["invitation"] = (invitation_token, None)
    return world


def _fill(template: str, world: World, access: Access, token: str | None) -> str:
    values = {**access.path}
    event_key = access.scope if access.scope in ("consultation", "networking") else "event"
    values.setdefault("event_id", str(world.ids[event_key]))
    values.setdefault("slug", world.slug)
    if access.scope == "booking":
        values.setdefault("registration_id", str(world.ids["booking"]))
    for key in ("registration", "message", "slot", "series", "organiser", "invitation", "token", "meeting", "purpose"):
        values.setdefault(f"{key}_id", str(world.ids[key]))
    if token is not None:
        values["token"] = token
    url = template
    for name, value in values.items():
        for suffix in (":int}", ":str}", ":path}", "}"):
            url = url.replace("{" + name + suffix, value)
    return url


def _url(path: str, access: Access, world: World, token: str | None = None) -> str:
    url = _fill(path, world, access, token)
    query = dict(access.query)
    if access.scope == "organisation" and access.level != "public":
        query.setdefault("organisation", str(world.org_id))
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def _json(access: Access, world: World) -> Any:
    """The route's JSON body with "{slot_id}"-style placeholders filled in (a free slot, Dirk's
    profile, a meeting slot)."""
    if access.json is None:
        return None
    fills = {
        "{slot_id}": world.ids["free_slot"],
        "{profile_id}": world.ids["profile"],
        "{meeting_slot_id}": world.ids["meeting_slot"],
    }
    if isinstance(access.json, dict):
        return {key: fills.get(value, value) if isinstance(value, str) else value for key, value in access.json.items()}
    return access.json


# What the database holds -------------------------------------------------------------------------

# Columns whose change is a change of state (counts of every table are compared too).
WATCHED = {
    "registration": ("status", "attendance", "manage_token_hash", "feed_token_hash", "slot", "language"),
    "event": ("status", "sequence", "capacity"),
    "slot": ("status",),
    "meeting": ("status",),
    "outbox_message": ("status",),
    "invitation": ("accepted_at", "revoked_at"),
    "api_token": ("revoked_at",),
    "privacy_request": ("erased_at",),
    "network_profile": ("opt_in",),
}


async def snapshot() -> dict[str, Any]:
    """Row counts of every table and the watched columns of every row, in one query (each query
    is a new connection in the in-process app's set-up)."""
    from events.piccolo_app import APP_CONFIG

    parts = [
        f"SELECT '{table._meta.tablename}' AS t, COUNT(*) AS id, '' AS v FROM \"{table._meta.tablename}\""
        for table in APP_CONFIG.table_classes
    ]
    for table, columns in WATCHED.items():
        values = " || '|' || ".join(f"COALESCE(CAST(\"{column}\" AS TEXT), '')" for column in columns)
        parts.append(f"SELECT '{table}:row' AS t, id, {values} AS v FROM \"{table}\"")
    rows = await Registration.raw(" UNION ALL ".join(parts))
    return {f"{row['t']}:{row['id']}" if row["t"].endswith(":row") else row["t"]: (row["id"], row["v"]) for row in rows}


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))


# Callers -------------------------------------------------------------------------------------------

SESSION_ROLES = ("stranger", "viewer", "editor", "owner", "cohost")
# Every caller; the bearer roles send their token from their own client address.
ROLES = (
    "anonymous",
    "participant",
    "other",
    *SESSION_ROLES,
    *(f"{r}-token" for r in ("editor", "viewer", "revoked", "stranger", "cohost")),
)


@dataclass
class Caller:
    client: Any
    csrf: str = ""
    headers: dict[str, str] = field(default_factory=dict)


CALLER_HEADER = "x-matrix-caller"


def addressed_by_header(app: Any) -> Any:
    """The app as seen from the client address a request names in CALLER_HEADER.

    One in-process client (one lifespan) serves every caller; each caller has its own cookie jar
    and its own address, so sign-in and token-guess limits are per caller as in real life."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for key, value in scope["headers"]:
                if key == CALLER_HEADER.encode():
                    scope = {**scope, "client": (value.decode(), 50000)}
        await app(scope, receive, send)

    return asgi


@pytest.fixture
async def world_and_callers(app: Any) -> AsyncIterator[tuple[World, dict[str, Caller]]]:
    """A world of its own in a private database (no other test's rows, no live server's worker
    changing rows during the GET checks), and a client per caller, each from its own address."""
    with private_database("access"):
        async with AsyncTestClient(app=addressed_by_header(app), base_url=f"http://{TEST_HOST}") as shared:

            def open_client() -> httpx.AsyncClient:
                return httpx.AsyncClient(
                    transport=shared._transport,
                    base_url=f"http://{TEST_HOST}",
                    headers={CALLER_HEADER: unique_address()},
                )

            world = await build_world(open_client())
            callers: dict[str, Caller] = {}
            for role in ROLES:
                caller = Caller(open_client())
                if role in SESSION_ROLES:
                    signed = await sign_in(caller.client, await _organiser_for(role, world))
                    assert signed.status_code in (302, 303), signed.status_code
                if role.endswith("-token"):
                    caller.headers = bearer(world.api[role])
                page = await caller.client.get("/privacy")
                caller.csrf = csrf_from_html(page.text)
                callers[role] = caller
            yield world, callers


async def _organiser_for(role: str, world: World) -> str:
    """A new organiser account for a session role: the target organisation's viewer, editor or
    owner, a new stranger organisation's owner, or the co-host's editor."""
    from events.tables import Organisation

    if role == "stranger":
        slug, _ = await make_organisation("stranger")
        return await make_organiser(slug, role="owner")
    if role == "cohost":
        row = await Organisation.select(Organisation.slug).where(Organisation.id == world.ids["cohost"]).first()
        assert row is not None
        return await make_organiser(str(row["slug"]), role="editor")
    return await make_organiser(world.slug, role=role)


# Expected answers ----------------------------------------------------------------------------------

BACK_OFFICE = {"read", "manage", "edit", "owner"}
# Scopes a co-host reaches: the co-hosted info session and its registrations.
COHOSTED = {"event", "registration"}


def expected(role: str, method: str, access: Access) -> str | None:
    """What `role` gets from a route: "login", an HTTP status as text, or None (not sent: a
    change by a caller who may make it, or a caller no different from one already asked)."""
    get = method == "GET"
    level, scope = access.level, access.scope
    if level in BACK_OFFICE:
        ok = str(access.status)
        if role in ("anonymous", "editor-token"):
            return access.anonymous
        if role == "stranger":
            return ("200" if get else None) if scope == "own" else "404"
        if role == "viewer":
            return ("403" if level == "manage" else ok) if get else "403"
        if role == "editor":
            return ok if get else ("403" if level == "owner" else None)
        if role == "owner":
            return ok if get else None
        if role == "cohost":
            if access.cohost == "door":
                return "200" if get else None
            if access.cohost == "read":
                return "200" if get else "403"
            if access.cohost:
                return access.cohost
            if scope == "own":
                return "200" if get else None
            if scope in COHOSTED:
                return ("403" if level == "manage" else "200") if get else "403"
            return "404"
        return None
    if level == "public":
        if not get:
            return str(access.status) if role == "anonymous" else None
        return (
            str(access.status) if role in ("anonymous", "participant", "stranger", "viewer", "editor-token") else None
        )
    if level == "api-public":
        if not get:
            return str(access.status) if role == "anonymous" else None
        if role == "revoked-token":
            return access.bad_token
        return "200" if role in ("anonymous", "stranger", "editor-token", "stranger-token") else None
    if level in ("api-read", "api-edit", "api-create"):
        if role in ("anonymous", "editor", "revoked-token"):
            return "401"
        if role == "viewer-token":
            return "200" if get else "403"
        if level == "api-create":
            return None
        if role == "stranger-token":
            return "404"
        if role == "cohost-token":
            if access.cohost == "door":
                return "200" if get else None
            if scope not in COHOSTED:
                return "404"
            return "200" if get else "403"
        if role == "editor-token":
            return "200" if get else None
        return None
    assert level == "token"
    if role in ("anonymous", "stranger"):
        return "404"  # with a token nobody was given
    if role == "participant":
        return "200" if get else None
    if role == "other":
        if get:
            return "200" if access.credential != "invitation" else None
        return "404" if scope == "meeting" else None
    return None


def _token_for(role: str, access: Access, world: World) -> str | None:
    if access.level != "token":
        return None
    own, other = world.credentials[access.credential]
    if role == "participant":
        return own
    if role == "other":
        return other
    return secrets.token_urlsafe(32)  # well-formed, but nobody's


SAFE_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


async def _call(caller: Caller, method: str, url: str, access: Access, world: World) -> Any:
    if method == "GET":
        return await caller.client.get(url, headers=caller.headers, follow_redirects=False)
    body = _json(access, world)
    if body is not None or url.startswith("/api/"):
        return await caller.client.request(method, url, json=body, headers=caller.headers, follow_redirects=False)
    form = {"_csrf_token": caller.csrf, **access.form}
    return await caller.client.request(method, url, data=form, headers=caller.headers, follow_redirects=False)


def check(role: str, method: str, url: str, access: Access, wanted: str, response: Any, world: World) -> list[str]:
    """What is wrong with `response` (nothing: an empty list)."""
    problems: list[str] = []
    status = response.status_code
    location = response.headers.get("location", "")
    ok = status in (302, 303) and location.startswith("/login") if wanted == "login" else str(status) == wanted
    if not ok:
        problems.append(f"wanted {wanted}, got {status} {location} {response.text[:120]!r}")
    body = response.text
    if status == 404 or (role == "stranger" and access.level in BACK_OFFICE):
        leaked = [secret for secret in world.secrets if secret.lower() in body.lower()]
        if leaked:
            problems.append(f"the answer shows the target's {leaked}")
    if role in ("cohost", "cohost-token"):
        elsewhere = [title for key, title in world.titles.items() if key != "info" and title in body]
        if elsewhere:
            problems.append(f"the co-host of one event sees the owner's other events {elsewhere}")
    if access.level == "token":
        referrer = response.headers.get("referrer-policy", "")
        if referrer not in SAFE_REFERRER:
            problems.append(f"Referrer-Policy {referrer!r} lets the token out in Referer")
        if role == "other":
            leaked = [secret for secret in world.ann.contact if secret.lower() in body.lower()]
            if leaked:
                problems.append(f"another participant's token shows Ann's {leaked}")
        if role == "participant" and status == 200:
            kind = response.headers.get("content-type", "")
            cache = response.headers.get("cache-control", "")
            if kind.startswith(("text/html", "text/calendar")) and not (
                {"private", "no-store"} & set(re.split(r"[,\s]+", cache))
            ):
                problems.append(f"a private page or feed with Cache-Control {cache!r}")
    return [f"{role:14} {method:6} {url}: {problem}" for problem in problems]


async def test_every_route_answers_every_caller_as_the_access_rules_say(
    world_and_callers: tuple[World, dict[str, Caller]],
) -> None:
    world, callers = world_and_callers
    failures: list[str] = []
    for (method, path), access in sorted(ROUTES.items()):
        before = await snapshot() if method == "GET" else None
        for role in ROLES:
            wanted = expected(role, method, access)
            if wanted is None:
                continue
            url = _url(path, access, world, _token_for(role, access, world))
            response = await _call(callers[role], method, url, access, world)
            failures += check(role, method, url, access, wanted, response, world)
        if before is not None:
            changed = _differences(before, await snapshot())
            if changed:
                failures.append(f"GET {path} changed the database: {changed}")
    assert not failures, "\n".join(failures)


async def test_over_http_a_real_server_answers_a_few_rows_of_the_matrix_alike(app: Any) -> None:
    """The same rules through a real `trefpunt serve` on loopback: the login redirect, another
    organisation's token, a viewer token's change, a revoked token, and a participant's page."""
    with private_database("access-http", for_subprocesses=True):
        async with AsyncTestClient(app=app, base_url=f"http://{TEST_HOST}") as client:
            world = await build_world(client)
        info = world.ids["event"]
        with serving("access-matrix", TREFPUNT_WORKER="off") as server, server.client() as http:
            attendees = http.get(f"/admin/events/{info}/attendees.csv")
            assert attendees.status_code in (302, 303) and attendees.headers["location"].startswith("/login")
            listed = http.get(f"/api/v1/events/{info}/registrations", headers=bearer(world.api["stranger-token"]))
            assert listed.status_code == 404
            assert not [secret for secret in world.secrets if secret in listed.text]
            patched = http.patch(
                f"/api/v1/events/{info}", json={"capacity": 9}, headers=bearer(world.api["viewer-token"])
            )
            assert patched.status_code == 403
            revoked = http.get(f"/api/v1/events/{info}/registrations", headers=bearer(world.api["revoked-token"]))
            assert revoked.status_code == 401
            page = http.get(f"/r/{world.ann.credentials['manage']}")
            assert page.status_code == 200 and world.titles["info"] in page.text
            assert page.headers["referrer-policy"] in SAFE_REFERRER
            assert "private" in page.headers["cache-control"] or "no-store" in page.headers["cache-control"]
            feed = http.get(f"/me/{world.ann.credentials['feed']}/calendar.ics")
            assert feed.status_code == 200 and "private" in feed.headers["cache-control"]
            assert world.titles["info"] in feed.text and world.titles["bert-only"] not in feed.text
