"""The registration lifecycle through the JSON API (DESIGN.md, "Contract"), in-process.

Statuses: confirmed, waitlisted (with its place), pending_approval (approve → confirmed with an
invite, reject → rejected), pending_email (double opt-in: a GET shows a page, a POST with CSRF
confirms). Refusals say why. Capacity changes drop nobody. Organisers list, approve, reject,
cancel, move up, check in and mail; anonymous callers get 401, other organisations 404, viewers
403 for writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.integration.helpers import bearer, csrf_from_html, make_organisation, make_token
from tests.registrations.helpers import (
    assert_seats_consistent,
    domain,
    event_mails,
    event_row,
    mails_to,
    new_event,
    now,
    registration,
    rows_of,
    token_in,
)

EN = {"Accept-Language": "en"}


async def api_register(client: Any, event_id: int, email: str, language: str = "en", **extra: Any) -> Any:
    body = {"name": f"Deelnemer {email.split('@')[0]}", "email": email, "language": language, **extra}
    return await client.post(f"/api/v1/events/{event_id}/registrations", json=body, headers=EN)


async def organiser_event(**overrides: Any) -> tuple[int, dict[str, str]]:
    """An event of a new organisation and the Authorization header of an editor token of it."""
    slug, organisation_id = await make_organisation("reg")
    event_id, _ = await new_event(organisation_id, **overrides)
    return event_id, bearer(await make_token(slug))


# Statuses -------------------------------------------------------------------------------------------


async def test_registering_for_an_open_event_answers_201_confirmed_with_id_and_private_link(client):
    event_id, _ = await new_event(capacity=10)
    mail = domain()

    response = await api_register(client, event_id, f"ann@{mail}")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    assert isinstance(body["id"], int)
    assert body["manage_url"].startswith("http://testserver.local/r/")
    assert "waitlist_position" not in body or body["waitlist_position"] is None
    row = await registration(body["id"])
    assert row["status"] == "confirmed" and row["event"] == event_id and row["email_key"] == f"ann@{mail}"
    invites = await mails_to(body["id"], "invitation")
    assert len(invites) == 1 and invites[0]["ics_method"] == "REQUEST"
    await assert_seats_consistent(event_id, 1)


async def test_a_full_event_with_a_waitlist_answers_waitlisted_with_each_persons_place(client):
    event_id, _ = await new_event(capacity=1, waitlist=True)
    mail = domain()

    answers = [(await api_register(client, event_id, f"p{i}@{mail}")).json() for i in range(3)]

    assert [a["status"] for a in answers] == ["confirmed", "waitlisted", "waitlisted"]
    assert [a.get("waitlist_position") for a in answers[1:]] == [1, 2]
    assert [len(await mails_to(a["id"], "waitlisted")) for a in answers[1:]] == [1, 1]
    assert await mails_to(answers[1]["id"], "invitation") == [], "no invite for a waitlisted person"
    await assert_seats_consistent(event_id, 1)


async def test_approval_holds_registrations_until_an_organiser_approves_with_an_invite_or_rejects(client):
    event_id, auth = await organiser_event(capacity=10, requires_approval=True)
    mail = domain()
    first = (await api_register(client, event_id, f"a@{mail}")).json()
    second = (await api_register(client, event_id, f"b@{mail}")).json()
    assert [first["status"], second["status"]] == ["pending_approval", "pending_approval"]
    assert len(await mails_to(first["id"], "pending_approval")) == 1
    await assert_seats_consistent(event_id, 0)

    approved = await client.post(f"/api/v1/registrations/{first['id']}/approve", headers=auth)
    rejected = await client.post(f"/api/v1/registrations/{second['id']}/reject", headers=auth)

    assert approved.status_code == 200 and approved.json() == {"id": first["id"], "status": "confirmed"}
    assert rejected.status_code == 200 and rejected.json() == {"id": second["id"], "status": "rejected"}
    assert (await registration(first["id"]))["status"] == "confirmed"
    assert (await registration(second["id"]))["status"] == "rejected"
    invites = await mails_to(first["id"], "approved")
    assert len(invites) == 1 and invites[0]["ics_method"] == "REQUEST" and "BEGIN:VEVENT" in invites[0]["ics"]
    assert len(await mails_to(second["id"], "rejected")) == 1
    assert (await mails_to(second["id"], "rejected"))[0]["ics"] == "", "nobody invited, nothing to cancel"
    await assert_seats_consistent(event_id, 1)
    again = await client.post(f"/api/v1/registrations/{first['id']}/approve", headers={**auth, **EN})
    assert again.status_code == 409 and again.json()["detail"]
    assert (await client.get(f"/r/{token_in(second['manage_url'])}")).status_code == 404, "a rejected link is dead"


async def test_double_opt_in_a_get_shows_the_confirm_page_and_changes_nothing_a_post_with_csrf_confirms(client):
    event_id, _ = await new_event(capacity=10, double_opt_in=True)
    mail = domain()
    body = (await api_register(client, event_id, f"d@{mail}")).json()
    assert body["status"] == "pending_email"
    assert len(await mails_to(body["id"], "confirm_email")) == 1
    token = token_in(body["manage_url"])

    page = await client.get(f"/r/{token}/confirm")
    assert page.status_code == 200 and f'action="/r/{token}/confirm"' in page.text
    assert (await registration(body["id"]))["status"] == "pending_email", "a GET (a link scanner) confirms nothing"
    assert await mails_to(body["id"], "invitation") == []

    forged = await client.post(f"/r/{token}/confirm", follow_redirects=False)
    assert forged.status_code == 403, "no CSRF token, no confirmation"
    assert (await registration(body["id"]))["status"] == "pending_email"

    confirmed = await client.post(
        f"/r/{token}/confirm", data={"_csrf_token": csrf_from_html(page.text)}, follow_redirects=False
    )
    assert confirmed.status_code == 303 and confirmed.headers["location"] == f"/r/{token}"
    assert (await registration(body["id"]))["status"] == "confirmed"
    assert len(await mails_to(body["id"], "invitation")) == 1
    await assert_seats_consistent(event_id, 1)


# Refusals ---------------------------------------------------------------------------------------------


async def _draft() -> int:
    return (await new_event(publish=False))[0]


async def _cancelled() -> int:
    from events.services import events as event_service
    from events.services.access import CLI_ACTOR

    event_id, _ = await new_event()
    await event_service.cancel_event(CLI_ACTOR, event_id)
    return event_id


async def _not_open_yet() -> int:
    return (await new_event(registration_opens_at=now() + timedelta(days=2)))[0]


async def _closed() -> int:
    return (await new_event(registration_closes_at=now() - timedelta(hours=1)))[0]


async def _full_without_waitlist() -> int:
    from tests.registrations.helpers import register

    event_id, _ = await new_event(capacity=1, waitlist=False)
    assert (await register(event_id, f"first@{domain()}")).status == "confirmed"
    return event_id


@pytest.mark.parametrize(
    ("make", "status", "detail"),
    [
        (_draft, 404, "This event does not exist."),
        (_cancelled, 409, "This event has been cancelled."),
        (_not_open_yet, 409, "Registration for this event has not opened yet."),
        (_closed, 409, "Registration for this event is closed."),
        (_full_without_waitlist, 409, "This event is full."),
    ],
    ids=["draft", "cancelled", "not-open-yet", "closed", "full-without-waitlist"],
)
async def test_a_registration_the_event_cannot_take_is_refused_with_a_clear_message_and_stores_nothing(
    client, make, status, detail
):
    event_id = await make()
    before = len(await rows_of(event_id))

    response = await api_register(client, event_id, f"late@{domain()}")

    assert response.status_code == status, response.text
    assert response.json()["detail"] == detail
    assert len(await rows_of(event_id)) == before


async def test_registering_for_an_unknown_event_is_404(client):
    response = await api_register(client, 987_654_321, f"x@{domain()}")
    assert response.status_code == 404 and response.json()["detail"]


# Capacity changes -----------------------------------------------------------------------------------


async def test_lowering_capacity_drops_nobody_and_waitlists_newcomers_raising_it_promotes_in_order(client):
    event_id, auth = await organiser_event(capacity=3)
    mail = domain()
    people = [(await api_register(client, event_id, f"p{i}@{mail}")).json() for i in range(5)]
    assert [p["status"] for p in people] == ["confirmed"] * 3 + ["waitlisted"] * 2

    lowered = await client.patch(f"/api/v1/events/{event_id}", json={"capacity": 1}, headers=auth)
    assert lowered.status_code == 200, lowered.text
    assert [(await registration(p["id"]))["status"] for p in people[:3]] == ["confirmed"] * 3, "nobody dropped"
    await assert_seats_consistent(event_id, 3)
    visible = (await client.get(f"/api/v1/events/{event_id}", headers=auth)).json()
    assert (visible["capacity"], visible["seats_taken"]) == (1, 3), "the organiser sees the overbooked state"
    newcomer = (await api_register(client, event_id, f"new@{mail}")).json()
    assert (newcomer["status"], newcomer["waitlist_position"]) == ("waitlisted", 3)
    await assert_seats_consistent(event_id, 3)

    raised = await client.patch(f"/api/v1/events/{event_id}", json={"capacity": 4}, headers=auth)
    assert raised.status_code == 200
    assert (await registration(people[3]["id"]))["status"] == "confirmed", "the first in the queue goes first"
    assert (await registration(people[4]["id"]))["status"] == "waitlisted"
    assert len(await mails_to(people[3]["id"], "promoted")) == 1
    await assert_seats_consistent(event_id, 4)

    await client.patch(f"/api/v1/events/{event_id}", json={"capacity": 10}, headers=auth)
    assert (await registration(people[4]["id"]))["status"] == "confirmed"
    assert (await registration(newcomer["id"]))["status"] == "confirmed"
    assert len(await mails_to(people[3]["id"], "promoted")) == 1, "promoted once, not again"
    await assert_seats_consistent(event_id, 6)


# Organiser operations ---------------------------------------------------------------------------------


async def test_organisers_list_registrations_filtered_by_status_and_paginated_with_next(client):
    event_id, auth = await organiser_event(capacity=3)
    mail = domain()
    people = [(await api_register(client, event_id, f"p{i}@{mail}")).json() for i in range(5)]

    first = await client.get(f"/api/v1/events/{event_id}/registrations?limit=2", headers=auth)
    assert first.status_code == 200
    page = first.json()
    assert [item["id"] for item in page["items"]] == [people[0]["id"], people[1]["id"]]
    assert {"id", "name", "email", "language", "status", "created_at", "answers", "consents"} <= set(page["items"][0])
    seen = [item["id"] for item in page["items"]]
    while page.get("next"):
        page = (await client.get(page["next"], headers=auth)).json()
        seen += [item["id"] for item in page["items"]]
    assert seen == [p["id"] for p in people], "pages follow each other without gaps or repeats"

    waitlisted = (await client.get(f"/api/v1/events/{event_id}/registrations?status=waitlisted", headers=auth)).json()
    assert [(i["id"], i["status"], i["waitlist_position"]) for i in waitlisted["items"]] == [
        (people[3]["id"], "waitlisted", 1),
        (people[4]["id"], "waitlisted", 2),
    ]
    assert not waitlisted.get("next")
    confirmed = (await client.get(f"/api/v1/events/{event_id}/registrations?status=confirmed", headers=auth)).json()
    assert {i["id"] for i in confirmed["items"]} == {p["id"] for p in people[:3]}
    bad = await client.get(f"/api/v1/events/{event_id}/registrations?status=nonsense", headers=auth)
    assert bad.status_code == 400


async def test_an_organiser_cancellation_frees_the_seat_for_waitlist_number_one(client):
    event_id, auth = await organiser_event(capacity=1)
    mail = domain()
    seated, first, second = [(await api_register(client, event_id, f"p{i}@{mail}")).json() for i in range(3)]

    response = await client.post(f"/api/v1/registrations/{seated['id']}/cancel", headers=auth)

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert (await registration(seated["id"]))["status"] == "cancelled"
    cancel = await mails_to(seated["id"], "registration_cancelled")
    assert len(cancel) == 1 and cancel[0]["ics_method"] == "CANCEL"
    assert (await registration(first["id"]))["status"] == "confirmed"
    assert (await registration(second["id"]))["status"] == "waitlisted"
    await assert_seats_consistent(event_id, 1)
    again = await client.post(f"/api/v1/registrations/{seated['id']}/cancel", headers=auth)
    assert again.status_code == 409


async def test_move_up_is_409_without_a_free_seat_and_otherwise_seats_the_chosen_person(client):
    from events.tables import Event

    event_id, auth = await organiser_event(capacity=1)
    mail = domain()
    _, first, second = [(await api_register(client, event_id, f"p{i}@{mail}")).json() for i in range(3)]

    full = await client.post(f"/api/v1/registrations/{second['id']}/move-up", headers={**auth, **EN})
    assert full.status_code == 409 and full.json()["detail"] == "There is no free place; raise the capacity first."
    assert (await registration(second["id"]))["status"] == "waitlisted"

    # A seat that is free without the queue having moved (as after a capacity change elsewhere).
    await Event.update({Event.capacity: 2}).where(Event.id == event_id)
    moved = await client.post(f"/api/v1/registrations/{second['id']}/move-up", headers=auth)

    assert moved.status_code == 200 and moved.json() == {"id": second["id"], "status": "confirmed"}
    assert (await registration(second["id"]))["status"] == "confirmed", "the organiser's choice, ahead of #1"
    assert (await registration(first["id"]))["status"] == "waitlisted"
    assert len(await mails_to(second["id"], "promoted")) == 1
    await assert_seats_consistent(event_id, 2)
    not_waiting = await client.post(f"/api/v1/registrations/{second['id']}/move-up", headers=auth)
    assert not_waiting.status_code == 409


async def test_attendance_is_recorded_for_confirmed_participants_only(client):
    event_id, auth = await organiser_event(capacity=1)
    mail = domain()
    seated, waiting = [(await api_register(client, event_id, f"p{i}@{mail}")).json() for i in range(2)]

    came = await client.post(
        f"/api/v1/registrations/{seated['id']}/attendance", json={"attendance": "attended"}, headers=auth
    )
    assert came.status_code == 200
    assert (await registration(seated["id"]))["attendance"] == "attended"
    noshow = await client.post(
        f"/api/v1/registrations/{seated['id']}/attendance", json={"attendance": "no_show"}, headers=auth
    )
    assert noshow.status_code == 200 and (await registration(seated["id"]))["attendance"] == "no_show"

    refused = await client.post(
        f"/api/v1/registrations/{waiting['id']}/attendance", json={"attendance": "attended"}, headers=auth
    )
    assert refused.status_code == 409
    assert (await registration(waiting["id"]))["attendance"] == ""
    bad = await client.post(
        f"/api/v1/registrations/{seated['id']}/attendance", json={"attendance": "maybe"}, headers=auth
    )
    assert bad.status_code == 422


async def test_a_broadcast_sends_one_mail_to_each_confirmed_participant_and_nobody_else(client):
    event_id, auth = await organiser_event(capacity=3)
    mail = domain()
    people = [(await api_register(client, event_id, f"p{i}@{mail}")).json() for i in range(4)]

    response = await client.post(
        f"/api/v1/events/{event_id}/broadcast",
        json={"subject": "Parking", "message": "Use the back entrance."},
        headers=auth,
    )

    assert response.status_code == 200 and response.json() == {"recipients": 3}
    sent = await event_mails(event_id, "broadcast")
    assert sorted(m["registration"] for m in sent) == sorted(p["id"] for p in people[:3])
    assert all(m["subject"] == "Parking" and "Use the back entrance." in m["text_body"] for m in sent)
    again = await client.post(
        f"/api/v1/events/{event_id}/broadcast", json={"subject": "Coffee", "message": "There is coffee."}, headers=auth
    )
    assert again.json() == {"recipients": 3}
    assert len(await event_mails(event_id, "broadcast")) == 6, "a second broadcast is a new mail, not a duplicate"
    injected = await client.post(
        f"/api/v1/events/{event_id}/broadcast", json={"subject": "Hi\r\nBcc: x@evil.test", "message": "x"}, headers=auth
    )
    assert injected.status_code == 422
    assert len(await event_mails(event_id, "broadcast")) == 6


# Access -----------------------------------------------------------------------------------------------


async def _access_world() -> dict[str, Any]:
    from tests.registrations.helpers import register

    slug, organisation_id = await make_organisation("reg")
    other_slug, _ = await make_organisation("other")
    event_id, _ = await new_event(organisation_id, capacity=1, requires_approval=True)
    mail = domain()
    pending = await register(event_id, f"p@{mail}")
    return {
        "event": event_id,
        "registration": pending.id,
        "editor": bearer(await make_token(slug)),
        "viewer": bearer(await make_token(slug, role="viewer")),
        "other": bearer(await make_token(other_slug)),
    }


WRITES = [
    ("post", "/api/v1/registrations/{registration}/approve", None),
    ("post", "/api/v1/registrations/{registration}/reject", None),
    ("post", "/api/v1/registrations/{registration}/cancel", None),
    ("post", "/api/v1/registrations/{registration}/move-up", None),
    ("post", "/api/v1/registrations/{registration}/attendance", {"attendance": "attended"}),
    ("post", "/api/v1/events/{event}/broadcast", {"subject": "Hello", "message": "Hello all."}),
    ("put", "/api/v1/events/{event}/questions", [{"kind": "yes_no", "label": {"nl": "Vraag?"}}]),
]
READS = [("get", "/api/v1/events/{event}/registrations", None)]


async def _call(client: Any, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return await getattr(client, method)(url, **kwargs)


@pytest.mark.parametrize(("method", "url", "body"), WRITES + READS, ids=lambda v: v if isinstance(v, str) else "")
async def test_organiser_routes_are_401_anonymous_and_404_for_another_organisation(client, method, url, body):
    world = await _access_world()
    target = url.format(**world)
    before = (await registration(world["registration"]))["status"]

    anonymous = await _call(client, method, target, body, {})
    other = await _call(client, method, target, body, world["other"])

    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers.get("www-authenticate", "").startswith("Bearer")
    assert other.status_code == 404, other.text
    assert "p@" not in other.text, "another organisation learns nothing"
    assert (await registration(world["registration"]))["status"] == before


@pytest.mark.parametrize(("method", "url", "body"), WRITES, ids=lambda v: v if isinstance(v, str) else "")
async def test_a_viewer_may_not_change_registrations_403(client, method, url, body):
    world = await _access_world()
    target = url.format(**world)

    response = await _call(client, method, target, body, world["viewer"])

    assert response.status_code == 403, response.text
    assert (await registration(world["registration"]))["status"] == "pending_approval"
    assert await event_mails(world["event"], "broadcast") == []


async def test_a_viewer_may_read_the_registration_list(client):
    world = await _access_world()
    response = await client.get(f"/api/v1/events/{world['event']}/registrations", headers=world["viewer"])
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [world["registration"]]


async def test_a_viewer_may_not_define_consent_purposes_403(client):
    slug, _ = await make_organisation("reg")
    viewer = bearer(await make_token(slug, role="viewer"))
    response = await client.post(
        "/api/v1/consent-purposes", json={"key": "contact", "text": {"nl": "Contacteer mij"}}, headers=viewer
    )
    assert response.status_code == 403, response.text
    assert (await client.post("/api/v1/consent-purposes", json={"key": "x", "text": {"nl": "x"}})).status_code == 401


async def test_the_registration_list_of_an_unknown_event_is_404(client):
    _, auth = await organiser_event()
    response = await client.get("/api/v1/events/987654321/registrations", headers=auth)
    assert response.status_code == 404


async def test_event_row_counts_match_after_the_lifecycle(client):
    """Approve, reject, cancel and promote leave the seat counter equal to the confirmed rows."""
    event_id, auth = await organiser_event(capacity=2, requires_approval=True)
    mail = domain()
    people = [(await api_register(client, event_id, f"p{i}@{mail}")).json() for i in range(4)]
    for person in people:
        await client.post(f"/api/v1/registrations/{person['id']}/approve", headers=auth)
    statuses = [(await registration(p["id"]))["status"] for p in people]
    assert statuses == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    await client.post(f"/api/v1/registrations/{people[0]['id']}/reject", headers=auth)
    assert (await registration(people[2]["id"]))["status"] == "confirmed"
    await client.post(f"/api/v1/registrations/{people[1]['id']}/cancel", headers=auth)
    assert (await registration(people[3]["id"]))["status"] == "confirmed"
    await assert_seats_consistent(event_id, 2)
    assert (await event_row(event_id))["capacity"] == 2
