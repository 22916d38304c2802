"""Organisers see the meeting schedule per slot and table, print table cards, export the
meetings (formula-looking cells neutralised), and count meetings; others get 404."""

from __future__ import annotations

import csv
import io

from tests.integration.helpers import bearer, event_payload, make_organisation, make_organiser, make_token, sign_in
from tests.networking.test_directory import _join, _profile


async def test_the_schedule_page_cards_export_and_access(browser) -> None:
    slug, _ = await make_organisation("netwerk")
    headers = bearer(await make_token(slug))
    body = event_payload(kind="networking")
    created = (await browser.post("/api/v1/events", json=body, headers=headers)).json()
    event_id = created["id"]
    networking = {
        "meeting_minutes": 15,
        "meetings_start": created["starts_at"],
        "meetings_end": created["ends_at"],
        "tables": ["Zaal 1", "Zaal 2"],
        "vocabulary": ["financing", "export markets"],
    }
    assert (
        await browser.patch(f"/api/v1/events/{event_id}", json={"networking": networking}, headers=headers)
    ).status_code == 200
    await browser.post(f"/api/v1/events/{event_id}/publish", headers=headers)
    ann, bob = await _join(browser, event_id, "Ann"), await _join(browser, event_id, "Bob")
    await browser.put(f"/api/v1/me/{ann}/profile", json=_profile('=HYPERLINK("x")', ["financing"], []))
    await browser.put(f"/api/v1/me/{bob}/profile", json=_profile("Bob", [], ["financing"]))
    bob_id = (await browser.get(f"/api/v1/me/{ann}/directory")).json()[0]["id"]
    slot = (await browser.get(f"/api/v1/me/{ann}/meeting-slots")).json()[0]
    meeting = (await browser.post(f"/api/v1/me/{ann}/meetings", json={"with": bob_id, "slot": slot["id"]})).json()
    accepted = await browser.post(f"/api/v1/me/{bob}/meetings/{meeting['id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["table"] == "Zaal 1"

    private = await browser.get(f"/r/{ann}")
    assert private.status_code == 200, private.status_code
    assert "export markets" in private.text, "the organisers' vocabulary is offered on the profile form"

    schedule = (await browser.get(f"/api/v1/events/{event_id}/meetings", headers=headers)).json()
    assert schedule["accepted"] == 1 and schedule["pending"] == 0 and schedule["tables"] == ["Zaal 1", "Zaal 2"]
    assert schedule["entries"][0]["people"] == ['=HYPERLINK("x")', "Bob"]

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    page = await browser.get(f"/admin/events/{event_id}/meetings")
    assert page.status_code == 200 and "Zaal 1" in page.text and "Bob" in page.text
    cards = await browser.get(f"/admin/events/{event_id}/meetings?cards=true")
    assert cards.status_code == 200 and cards.text.count('class="table-card"') == 2
    export = await browser.get(f"/admin/events/{event_id}/meetings.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[1][2:] == ["Zaal 1", '\'=HYPERLINK("x")', "Bob"]

    other, _ = await make_organisation("ander")
    await sign_in(browser, await make_organiser(other, role="owner"))
    assert (await browser.get(f"/admin/events/{event_id}/meetings")).status_code == 404
    assert (await browser.get(f"/admin/events/{event_id}/meetings.csv")).status_code == 404
    assert (
        await browser.get(f"/api/v1/events/{event_id}/meetings", headers=bearer(await make_token(other)))
    ).status_code == 404
