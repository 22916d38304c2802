"""The dashboard: fill rate and waiting list per event, and what needs attention
(over capacity after a change, approvals waiting, failed mails); only one's own events."""

from __future__ import annotations

from events.tables import OutboxMessage
from tests.integration.helpers import bearer, event_payload, make_organisation, make_organiser, make_token, sign_in


async def test_the_dashboard_shows_fill_waitlist_and_what_needs_attention(browser) -> None:
    slug, _ = await make_organisation("dash")
    headers = bearer(await make_token(slug))
    full = (
        await browser.post(
            "/api/v1/events", json=event_payload(capacity=2, title={"nl": "Volle sessie"}), headers=headers
        )
    ).json()["id"]
    approval = (
        await browser.post(
            "/api/v1/events",
            headers=headers,
            json=event_payload(requires_approval=True, title={"nl": "Met goedkeuring"}),
        )
    ).json()["id"]
    for event_id in (full, approval):
        await browser.post(f"/api/v1/events/{event_id}/publish", headers=headers)
    for n in range(3):
        await browser.post(
            f"/api/v1/events/{full}/registrations",
            json={"name": f"P{n}", "email": f"p{n}@dash.example", "language": "nl"},
        )
    await browser.post(
        f"/api/v1/events/{approval}/registrations",
        json={"name": "Wacht", "email": "wacht@dash.example", "language": "nl"},
    )

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    page = (await browser.get("/admin?lang=en")).text
    upcoming = page.split("Upcoming events")[1].split("Recent registrations")[0]
    full_row = next(row for row in upcoming.split("<tr>") if "Volle sessie" in row)
    assert "2 / 2 (100%)" in full_row and "1 waiting" in full_row
    attention = page.split("Needs attention")[1].split("Upcoming events")[0]
    assert "Met goedkeuring" in attention and "Volle sessie" not in attention, "full is not a problem yet"
    recent = page.split("Recent registrations")[1]
    assert "Wacht" in recent and "P2" in recent

    assert (await browser.patch(f"/api/v1/events/{full}", json={"capacity": 1}, headers=headers)).status_code == 200
    mail = await OutboxMessage.select().where(OutboxMessage.event == full).first()
    await OutboxMessage.update({OutboxMessage.status: "failed"}).where(OutboxMessage.id == mail["id"])
    page = (await browser.get("/admin?lang=en")).text
    attention = page.split("Needs attention")[1].split("Upcoming events")[0]
    assert "Volle sessie" in attention and "2 confirmed for 1 places" in attention
    assert "1 mails failed" in attention
    assert "Met goedkeuring" in attention and "1 waiting for approval" in attention

    other, _ = await make_organisation("ander")
    await sign_in(browser, await make_organiser(other, role="owner"))
    assert "Volle sessie" not in (await browser.get("/admin")).text
