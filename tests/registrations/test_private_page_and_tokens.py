"""The participant's private page `/r/{token}`, the personal feed `/me/{token}/calendar.ics` and
the tokens behind them (RELIABILITY.md, "Access": participant tokens and personal feeds).

A GET never changes anything (mail scanners follow links); changes are POSTs with a CSRF token.
A token is ≥128 random bits, dies with its registration, never acts on another registration and
never reaches a log.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import pytest

from tests.calendar.parsers import parse_with_icalendar
from tests.integration.helpers import csrf_from_html, make_organisation
from tests.registrations.helpers import (
    domain,
    event_row,
    mails_to,
    new_event,
    register,
    registration,
    serve,
    token_in,
    token_of,
)

URLSAFE_43 = re.compile(r"^[A-Za-z0-9_-]{43}$")


async def feed_path(registration_id: int) -> str:
    """The path of a registration's current personal feed."""
    from events.services.tokens import feed_url

    return "/me/" + token_in(feed_url(await registration(registration_id))) + "/calendar.ics"


async def state(registration_id: int) -> dict[str, Any]:
    """Everything a state change would touch: the row, its consent ledger and its mails."""
    from events.tables import Consent

    row = await registration(registration_id)
    ledger = await Consent.select(Consent.id).where(Consent.registration == registration_id)
    return {**row, "ledger": len(ledger), "mails": len(await mails_to(registration_id))}


async def csrf(client: Any, url: str) -> str:
    page = await client.get(url)
    assert page.status_code == 200, f"{url}: {page.status_code}"
    return csrf_from_html(page.text)


# The page ---------------------------------------------------------------------------------------------


async def test_the_private_page_shows_the_status_the_waitlist_place_and_the_personal_feed_address(client):
    event_id, _ = await new_event(capacity=1)
    mail = domain()
    seated, _, third = [await register(event_id, f"p{i}@{mail}", language="en") for i in range(3)]

    waiting = await client.get(f"/r/{token_of(third)}?lang=en")
    confirmed = await client.get(f"/r/{token_of(seated)}?lang=en")

    assert waiting.status_code == 200
    assert "On the waiting list, place 2" in waiting.text
    assert "Confirmed" in confirmed.text
    feed = await feed_path(third.id)
    assert f"http://testserver.local{feed}" in waiting.text, "the page offers the personal feed address"
    assert "private" in waiting.headers["cache-control"] and "no-store" in waiting.headers["cache-control"]
    assert waiting.headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin")
    assert "noindex" in waiting.headers.get("x-robots-tag", "")
    assert f'action="/r/{token_of(third)}/cancel"' in waiting.text and 'method="post"' in waiting.text


async def test_a_get_to_any_private_url_never_changes_anything(client):
    from events.services import consents
    from events.services.access import CLI_ACTOR
    from events.services.consents import PurposeInput

    _, organisation_id = await make_organisation("reg")
    purpose = await consents.define_purpose(
        CLI_ACTOR, organisation_id, PurposeInput(key="contact", text={"nl": "Contacteer mij"})
    )
    event_id, _ = await new_event(organisation_id, capacity=5, double_opt_in=True)
    pending = await register(event_id, f"g@{domain()}", consents=[purpose.id])
    token = token_of(pending)
    before = await state(pending.id)
    feed_before = await feed_path(pending.id)

    for suffix in ("", "/confirm", "/cancel", "/feed", "/language", f"/consents/{purpose.id}"):
        for method in ("GET", "HEAD"):
            response = await client.request(method, f"/r/{token}{suffix}")
            assert response.status_code in (200, 405), f"{method} /r/…{suffix}: {response.status_code}"
    assert (await client.get(f"/r/{token}/cancel?confirm=yes")).status_code == 405
    assert (await client.get(f"/r/{token}/consents/{purpose.id}?action=withdraw")).status_code == 405

    assert await state(pending.id) == before, "no GET confirmed, cancelled, rotated, withdrew or mailed"
    assert await feed_path(pending.id) == feed_before


async def test_cancelling_is_a_post_with_csrf_and_kills_the_link(client):
    event_id, _ = await new_event(capacity=5)
    mine = await register(event_id, f"c@{domain()}")
    token = token_of(mine)

    forged = await client.post(f"/r/{token}/cancel")
    assert forged.status_code == 403, "no CSRF token, no cancellation"
    assert (await registration(mine.id))["status"] == "confirmed"

    done = await client.post(f"/r/{token}/cancel", data={"_csrf_token": await csrf(client, f"/r/{token}")})

    assert done.status_code == 200
    assert (await registration(mine.id))["status"] == "cancelled"
    cancels = await mails_to(mine.id, "registration_cancelled")
    assert len(cancels) == 1 and cancels[0]["ics_method"] == "CANCEL"
    assert (await client.get(f"/r/{token}")).status_code == 404
    assert (await event_row(event_id))["confirmed_count"] == 0


async def test_delete_with_the_token_answers_204_and_then_the_token_is_dead_everywhere(client):
    event_id, _ = await new_event(capacity=5)
    mine = await register(event_id, f"d@{domain()}")
    token = token_of(mine)
    feed = await feed_path(mine.id)
    assert (await client.get(feed)).status_code == 200
    form_token = await csrf(client, f"/r/{token}")

    deleted = await client.delete(f"/api/v1/registrations/{token}")

    assert deleted.status_code == 204 and deleted.content == b""
    assert (await registration(mine.id))["status"] == "cancelled"
    assert (await client.delete(f"/api/v1/registrations/{token}")).status_code == 404
    for path in ("", "/confirm"):
        assert (await client.get(f"/r/{token}{path}")).status_code == 404
    for path in ("/cancel", "/confirm", "/feed"):
        response = await client.post(f"/r/{token}{path}", data={"_csrf_token": form_token})
        assert response.status_code == 404, f"POST /r/…{path}: {response.status_code}"
    assert (await client.get(feed)).status_code == 404, "the personal feed dies with the registration"
    assert len(await mails_to(mine.id, "registration_cancelled")) == 1


WRONG_TOKENS = [
    "A" * 43,
    "short",
    "x" * 44,
    "x" * 42,
    "..%2F..%2Fadmin",
    "%00" + "a" * 40,
    "é" * 43,
]


@pytest.mark.parametrize("token", WRONG_TOKENS, ids=["43-chars", "short", "44", "42", "dots", "nul", "non-ascii"])
async def test_a_wrong_token_is_404_everywhere(client, token):
    for method, path in (
        ("GET", f"/r/{token}"),
        ("GET", f"/r/{token}/confirm"),
        ("DELETE", f"/api/v1/registrations/{token}"),
        ("GET", f"/me/{token}/calendar.ics"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 404, f"{method} {path}: {response.status_code}"
    api = await client.delete(f"/api/v1/registrations/{token}")
    assert api.json()["status_code"] == 404


async def test_a_nearly_right_token_is_404():
    import string

    from events.services import registrations
    from events.services.errors import NotFound

    event_id, _ = await new_event()
    mine = await register(event_id, f"n@{domain()}")
    token = token_of(mine)
    alphabet = string.ascii_letters + string.digits + "-_"
    for index in (0, 21, 42):
        other = alphabet[(alphabet.index(token[index]) + 1) % len(alphabet)]
        near = token[:index] + other + token[index + 1 :]
        with pytest.raises(NotFound):
            await registrations.by_token(near)
    assert (await registrations.by_token(token))["id"] == mine.id


async def test_a_token_for_a_never_acts_on_b(client):
    event_id, _ = await new_event(capacity=5)
    mail = domain()
    a, b = await register(event_id, f"a@{mail}"), await register(event_id, f"b@{mail}")
    b_before = await state(b.id)
    b_feed = await feed_path(b.id)
    a_feed_token = token_in(await feed_path(a.id))

    # A's feed token is no private link, and A's private link is no feed.
    assert (await client.get(f"/r/{a_feed_token}")).status_code == 404
    assert (await client.delete(f"/api/v1/registrations/{a_feed_token}")).status_code == 404
    assert (await client.get(f"/me/{token_of(a)}/calendar.ics")).status_code == 404

    page = await client.get(f"/r/{token_of(a)}")
    assert "b@" not in page.text
    form = {"_csrf_token": csrf_from_html(page.text)}
    assert (await client.post(f"/r/{token_of(a)}/feed", data=form, follow_redirects=False)).status_code == 303
    assert (await client.delete(f"/api/v1/registrations/{token_of(a)}")).status_code == 204

    assert (await registration(a.id))["status"] == "cancelled"
    assert await state(b.id) == b_before, "nothing A's token did touched B"
    assert await feed_path(b.id) == b_feed and (await client.get(b_feed)).status_code == 200
    assert (await client.get(f"/r/{token_of(b)}")).status_code == 200


async def test_rotating_the_feed_kills_the_old_address_and_the_new_one_answers_privately(client):
    event_id, _ = await new_event(capacity=5)
    mine = await register(event_id, f"f@{domain()}")
    token = token_of(mine)
    old = await feed_path(mine.id)
    assert (await client.get(old)).status_code == 200

    rotated = await client.post(
        f"/r/{token}/feed", data={"_csrf_token": await csrf(client, f"/r/{token}")}, follow_redirects=False
    )

    assert rotated.status_code == 303
    new = await feed_path(mine.id)
    assert new != old
    assert (await client.get(old)).status_code == 404
    response = await client.get(new)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    cache_control = [part.strip() for part in response.headers["cache-control"].split(",")]
    assert "private" in cache_control and "public" not in cache_control
    assert "set-cookie" not in response.headers
    page = await client.get(f"/r/{token}")
    assert f"http://testserver.local{new}" in page.text and old not in page.text


async def test_the_personal_feed_lists_only_its_owners_confirmed_events_across_organisations_and_no_other_email(
    client,
):
    mail = domain()
    owner = f"Owner@{mail}"
    event_one, _ = await new_event(capacity=5, title={"nl": "Infosessie een"})
    event_two, _ = await new_event(capacity=5, title={"nl": "Infosessie twee"})  # another organisation
    event_full, _ = await new_event(capacity=1, title={"nl": "Vol"})
    event_left, _ = await new_event(capacity=5, title={"nl": "Afgemeld"})
    other_only, _ = await new_event(capacity=5, title={"nl": "Niet voor mij"})
    assert (await register(event_full, f"first@{mail}")).status == "confirmed"
    mine = await register(event_one, owner)
    assert (await register(event_two, owner.lower())).status == "confirmed"
    assert (await register(event_full, owner)).status == "waitlisted"
    left = await register(event_left, owner)
    from events.services import registrations

    await registrations.cancel_by_participant(token_of(left))
    other = await register(event_one, f"someone.else@{mail}")
    await register(other_only, f"someone.else@{mail}")

    response = await client.get(await feed_path(mine.id))

    assert response.status_code == 200
    body = response.content
    parsed = parse_with_icalendar(body)
    uids = {vevent["uid"] for vevent in parsed["vevents"]}
    assert uids == {(await event_row(event_one))["uid"], (await event_row(event_two))["uid"]}
    assert b"someone.else" not in body.lower(), "another attendee's email never appears"
    assert b"first@" not in body.lower()
    assert b"ATTENDEE" not in body and b"METHOD" not in body
    others = parse_with_icalendar((await client.get(await feed_path(other.id))).content)
    assert {v["uid"] for v in others["vevents"]} == {
        (await event_row(event_one))["uid"],
        (await event_row(other_only))["uid"],
    }


# The tokens themselves ---------------------------------------------------------------------------------


def test_10000_generated_tokens_are_distinct_url_safe_43_characters_from_128_random_bits():
    from events.services import tokens

    nonces = [tokens.new_nonce() for _ in range(10_000)]
    generated = [tokens.derive("manage", nonce) for nonce in nonces]

    assert len(set(nonces)) == len(set(generated)) == 10_000, "no collision"
    assert all(URLSAFE_43.match(token) for token in generated)
    assert all(len(bytes.fromhex(nonce)) * 8 >= 128 for nonce in nonces), "≥128 random bits behind each token"
    assert all(tokens.looks_like_token(token) for token in generated)
    feeds = {tokens.derive("feed", nonce) for nonce in nonces[:100]}
    assert not feeds & set(generated), "a feed token is never also a private link"


async def test_only_hashes_of_tokens_are_stored():
    from events.tables import Registration

    event_id, _ = await new_event()
    mine = await register(event_id, f"h@{domain()}")
    token = token_of(mine)
    row = await registration(mine.id)
    assert row["manage_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(row)
    assert not await Registration.exists().where(Registration.manage_token_hash == token)


@pytest.mark.serve
async def test_tokens_never_appear_in_the_live_servers_log():
    event_id, _ = await new_event(capacity=1)
    mail = domain()

    with serve() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
            body = {"name": "Log Test", "email": f"log@{mail}", "language": "nl"}
            created = await http.post(f"/api/v1/events/{event_id}/registrations", json=body)
            assert created.status_code == 201, created.text
            token = token_in(created.json()["manage_url"])
            waiting = await http.post(f"/api/v1/events/{event_id}/registrations", json={**body, "email": f"w@{mail}"})
            waiting_token = token_in(waiting.json()["manage_url"])
            feed = await feed_path(created.json()["id"])
            page = await http.get(f"/r/{token}")
            assert page.status_code == 200
            assert (await http.get(feed)).status_code == 200
            assert (await http.get(f"/r/{token}/confirm")).status_code == 200
            assert (await http.post(f"/r/{token}/cancel")).status_code == 403
            assert (await http.get(f"/r/{'Z' * 43}")).status_code == 404
            assert (await http.post(f"/r/{waiting_token}/language", data={"language": "xx"})).status_code in (
                400,
                403,
                422,
            )
            assert (await http.delete(f"/api/v1/registrations/{token}")).status_code == 204
            assert (await http.get(f"/r/{token}")).status_code == 404
            assert (await http.get(feed)).status_code == 404

    log = server.log.read_text(errors="replace")
    assert log.strip(), "the server wrote a log"
    for secret in (token, waiting_token, token_in(feed)):
        assert secret not in log, "a private token reached the server log"
