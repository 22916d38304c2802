"""Networking: opt-in profiles, a directory without contact data, ranked suggestions."""

from __future__ import annotations

import re

import pytest

from events.services.networking import ProfileView, rank
from tests.integration.helpers import bearer, event_payload, make_organisation, make_token, unique_slug

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


async def _event(client, slug: str, kind: str = "networking") -> int:
    headers = bearer(await make_token(slug))
    created = await client.post("/api/v1/events", json=event_payload(kind=kind), headers=headers)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert (await client.post(f"/api/v1/events/{event_id}/publish", headers=headers)).status_code == 200
    return event_id


async def _join(client, event_id: int, name: str) -> str:
    email = f"{unique_slug(name.lower())}@people.example"
    response = await client.post(
        f"/api/v1/events/{event_id}/registrations",
        json={"name": name, "email": email, "language": "nl", "phone": "+32 470 00 00 00"},
    )
    assert response.status_code == 201, response.text
    return response.json()["manage_url"].rsplit("/", 1)[1]


def _profile(name: str, offers: list[str], looking_for: list[str], **extra) -> dict:
    return {
        "opt_in": True,
        "display_name": name,
        "company": f"{name} BV",
        "sector": "food",
        "offers": offers,
        "looking_for": looking_for,
        "languages": ["nl"],
        **extra,
    }


async def test_only_opted_in_confirmed_people_are_in_the_directory_and_never_with_contact_data(browser) -> None:
    slug, _ = await make_organisation("netwerk")
    event_id = await _event(browser, slug)
    ann, bob, cas = [await _join(browser, event_id, name) for name in ("Ann", "Bob", "Cas")]
    assert (await browser.put(f"/api/v1/me/{ann}/profile", json=_profile("Ann", ["financing"], []))).status_code == 200
    bob_draft = _profile("Bob", ["coaching"], ["financing"])
    assert (await browser.put(f"/api/v1/me/{bob}/profile", json={**bob_draft, "opt_in": False})).status_code == 200

    seen = await browser.get(f"/api/v1/me/{cas}/directory")
    assert seen.status_code == 200
    assert [entry["display_name"] for entry in seen.json()] == ["Ann"]  # Bob has not opted in
    assert not EMAIL.search(seen.text) and "+32" not in seen.text
    assert (await browser.get(f"/api/v1/me/{cas}/suggestions")).json() == []

    await browser.put(f"/api/v1/me/{bob}/profile", json=bob_draft)
    names = [e["display_name"] for e in (await browser.get(f"/api/v1/me/{cas}/directory")).json()]
    assert names == ["Ann", "Bob"]
    await browser.put(f"/api/v1/me/{ann}/profile", json={**_profile("Ann", ["financing"], []), "opt_in": False})
    names = [e["display_name"] for e in (await browser.get(f"/api/v1/me/{cas}/directory")).json()]
    assert names == ["Bob"], "opting out hides at once"
    suggested = (await browser.get(f"/api/v1/me/{bob}/suggestions")).json()
    assert suggested == [], "an opted-out person is never suggested"

    filtered = await browser.get(f"/api/v1/me/{cas}/directory", params={"tag": "coaching"})
    assert [e["display_name"] for e in filtered.json()] == ["Bob"]
    assert (await browser.get(f"/api/v1/me/{cas}/directory", params={"tag": "premises"})).json() == []


async def test_cancelled_unconfirmed_and_other_event_tokens_cannot_reach_the_directory(browser) -> None:
    slug, _ = await make_organisation("netwerk")
    headers = bearer(await make_token(slug))
    event_id = await _event(browser, slug)
    member = await _join(browser, event_id, "Dirk")
    await browser.put(f"/api/v1/me/{member}/profile", json=_profile("Dirk", ["customers"], []))

    session = await _event(browser, slug, kind="info_session")
    outsider = await _join(browser, session, "Eva")
    assert (await browser.get(f"/api/v1/me/{outsider}/directory")).status_code == 404

    approval = (
        await browser.post(
            "/api/v1/events", headers=headers, json={**event_payload(kind="networking"), "requires_approval": True}
        )
    ).json()["id"]
    await browser.post(f"/api/v1/events/{approval}/publish", headers=headers)
    waiting = await _join(browser, approval, "Fien")
    assert (await browser.get(f"/api/v1/me/{waiting}/directory")).status_code == 404

    leaving = await _join(browser, event_id, "Gert")
    assert (await browser.delete(f"/api/v1/registrations/{leaving}")).status_code == 204
    assert (await browser.get(f"/api/v1/me/{leaving}/directory")).status_code == 404
    assert (await browser.get("/api/v1/me/not-a-token/directory")).status_code == 404

    other, _ = await make_organisation("ander")
    assert (
        await browser.get(f"/api/v1/events/{event_id}/directory", headers=bearer(await make_token(other)))
    ).status_code == 404
    own = await browser.get(f"/api/v1/events/{event_id}/directory", headers=headers)
    assert own.status_code == 200 and [e["display_name"] for e in own.json()] == ["Dirk"]
    assert not EMAIL.search(own.text)


@pytest.mark.parametrize(
    "profile",
    [
        {"link": "javascript:alert(1)"},
        {"offers": ["<script>"]},
        {"display_name": ""},
        {"languages": ["de"]},
        {"unknown": 1},
    ],
)
async def test_bad_profiles_are_refused_with_a_clear_4xx(browser, profile: dict) -> None:
    slug, _ = await make_organisation("netwerk")
    token = await _join(browser, await _event(browser, slug), "Hans")
    response = await browser.put(f"/api/v1/me/{token}/profile", json={**_profile("Hans", [], []), **profile})
    assert response.status_code in (400, 422), response.text
    assert response.json()["detail"]
    assert (await browser.get(f"/api/v1/me/{token}/profile")).json()["opt_in"] is False


def _view(pid: int, name: str, offers: list[str], looking_for: list[str], languages: list[str]) -> ProfileView:
    return ProfileView(
        id=pid,
        display_name=name,
        company="",
        sector="",
        about="",
        offers=offers,
        looking_for=looking_for,
        languages=languages,
        link="",
    )


def test_suggestions_rank_what_others_offer_for_my_needs_first_and_say_why() -> None:
    me = _view(0, "Me", offers=["coaching"], looking_for=["financing", "premises"], languages=["nl"])
    population = [
        _view(1, "Lender", offers=["financing"], looking_for=[], languages=["fr"]),
        _view(2, "Landlord", offers=["premises", "financing"], looking_for=[], languages=["nl"]),
        _view(3, "Starter", offers=[], looking_for=["coaching"], languages=["nl"]),
        _view(4, "Stranger", offers=["suppliers"], looking_for=["legal"], languages=["nl"]),
    ]
    ranked = rank(me, population)
    assert [(s.profile.display_name, s.score) for s in ranked] == [("Landlord", 5), ("Lender", 2), ("Starter", 2)]
    landlord = ranked[0]
    assert [(r.kind, r.tags) for r in landlord.reasons] == [("offers", ["financing", "premises"]), ("language", ["nl"])]
    assert [(r.kind, r.tags) for r in ranked[2].reasons] == [("looks_for", ["coaching"]), ("language", ["nl"])]
