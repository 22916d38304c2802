"""GET /admin/events/{id}/consents: per person and purpose, the state the consent ledger gives
(given / withdrawn / never), when, which wording version, from where; a count per purpose."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from events.services import consents
from events.services.access import CLI_ACTOR
from events.services.consents import PurposeInput
from tests.conftest import unique_slug
from tests.consultations.helpers import new_org
from tests.integration.helpers import csrf_from_html, event_payload, make_organisation, make_organiser, sign_in


async def _register(client: Any, event_id: int, name: str, purposes: list[int]) -> tuple[int, str]:
    email = f"{unique_slug(name.split()[0].lower())}@people.example"
    response = await client.post(
        f"/api/v1/events/{event_id}/registrations",
        json={"name": name, "email": email, "language": "nl", "consents": purposes},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["manage_url"].rsplit("/", 1)[1]


async def _withdraw(client: Any, token: str, purpose: int) -> None:
    page = await client.get(f"/r/{token}")
    response = await client.post(
        f"/r/{token}/consents/{purpose}",
        data={"_csrf_token": csrf_from_html(page.text), "action": "withdraw"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def _states(html: str, registration_id: int) -> list[str]:
    row = re.search(rf'<tr id="person-{registration_id}">(.*?)</tr>', html, re.S)
    assert row, f"no row for registration {registration_id}"
    return re.findall(r'data-state="(\w+)"', row.group(1))


def _cell(html: str, registration_id: int, index: int) -> str:
    row = re.search(rf'<tr id="person-{registration_id}">(.*?)</tr>', html, re.S)
    assert row
    return re.findall(r'<td class="consent-\w+"[^>]*>(.*?)</td>', row.group(1), re.S)[index]


def _counts(html: str, purpose_id: int) -> dict[str, int]:
    row = re.search(rf'<tr id="purpose-{purpose_id}">(.*?)</tr>', html, re.S)
    assert row, f"no row for purpose {purpose_id}"
    return {key: int(value) for key, value in re.findall(r'data-count="(\w+)">(\d+)<', row.group(1))}


async def test_the_overview_shows_each_persons_exact_state_per_purpose_with_counts(browser) -> None:
    owner, cohost = await new_org("owner"), await new_org("cohost")
    newsletter = await consents.define_purpose(
        CLI_ACTOR, owner.id, PurposeInput(key="news", text={"nl": "Nieuwsbrief"})
    )
    loan = await consents.define_purpose(CLI_ACTOR, cohost.id, PurposeInput(key="loan", text={"nl": "Bel mij"}))
    created = await browser.post("/api/v1/events", json=event_payload(hosts=[cohost.slug]), headers=owner.auth)
    event_id = created.json()["id"]
    assert (await browser.post(f"/api/v1/events/{event_id}/publish", headers=owner.auth)).status_code == 200

    ann, _ = await _register(browser, event_id, "Ann", [newsletter.id])
    bert, bert_token = await _register(browser, event_id, "Bert", [loan.id])
    await _withdraw(browser, bert_token, loan.id)
    chris, _ = await _register(browser, event_id, "Chris", [])
    dina, _ = await _register(browser, event_id, "Dina", [newsletter.id, loan.id])
    # A new wording of the newsletter: Eva consents to version 2, Ann's stays version 1.
    await consents.define_purpose(
        CLI_ACTOR, owner.id, PurposeInput(key="news", text={"nl": "Nieuwsbrief, maandelijks"})
    )
    eva, _ = await _register(browser, event_id, "Eva", [newsletter.id])

    await sign_in(browser, await make_organiser(owner.slug, role="viewer"))
    page = await browser.get(f"/admin/events/{event_id}/consents")

    assert page.status_code == 200
    html = page.text
    # Columns: the owner's purpose first, then the co-host's.
    assert html.index(f'id="purpose-{newsletter.id}"') < html.index(f'id="purpose-{loan.id}"')
    assert _states(html, ann) == ["given", "never"]
    assert _states(html, bert) == ["never", "withdrawn"]
    assert _states(html, chris) == ["never", "never"]
    assert _states(html, dina) == ["given", "given"]
    assert _states(html, eva) == ["given", "never"]
    assert _counts(html, newsletter.id) == {"given": 3, "withdrawn": 0, "never": 2}
    assert _counts(html, loan.id) == {"given": 1, "withdrawn": 1, "never": 3}
    assert "versie 1" in _cell(html, ann, 0) or "version 1" in _cell(html, ann, 0)
    assert "2" in _cell(html, eva, 0) and "<time" in _cell(html, eva, 0)
    assert "<time" not in _cell(html, chris, 0), "never: no date, no version"

    export = await browser.get(f"/admin/events/{event_id}/consents.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    by = {(int(row["registration_id"]), row["purpose"]): row for row in rows}
    assert len(rows) == 10
    assert (by[(ann, "news")]["state"], by[(ann, "news")]["wording_version"]) == ("given", "1")
    assert (by[(eva, "news")]["state"], by[(eva, "news")]["wording_version"]) == ("given", "2")
    assert by[(bert, "loan")]["state"] == "withdrawn" and by[(bert, "loan")]["source"] == "private_page"
    assert by[(dina, "loan")]["source"] == "api" and by[(dina, "loan")]["at"]
    assert by[(chris, "loan")]["state"] == "never" and by[(chris, "loan")]["at"] == ""
    assert by[(ann, "news")]["name"] == "Ann" and by[(ann, "news")]["email"].endswith("@people.example")


async def test_a_co_host_reads_the_states_but_sees_only_the_people_who_consented_to_it(browser) -> None:
    owner, cohost = await new_org("owner"), await new_org("cohost")
    newsletter = await consents.define_purpose(
        CLI_ACTOR, owner.id, PurposeInput(key="news", text={"nl": "Nieuwsbrief"})
    )
    loan = await consents.define_purpose(CLI_ACTOR, cohost.id, PurposeInput(key="loan", text={"nl": "Bel mij"}))
    created = await browser.post("/api/v1/events", json=event_payload(hosts=[cohost.slug]), headers=owner.auth)
    event_id = created.json()["id"]
    assert (await browser.post(f"/api/v1/events/{event_id}/publish", headers=owner.auth)).status_code == 200
    ann, _ = await _register(browser, event_id, "Annemarie Owneronly", [newsletter.id])
    dina, _ = await _register(browser, event_id, "Dina Bothways", [newsletter.id, loan.id])

    await sign_in(browser, await make_organiser(cohost.slug, role="viewer"))
    page = await browser.get(f"/admin/events/{event_id}/consents")
    export = await browser.get(f"/admin/events/{event_id}/consents.csv")

    assert page.status_code == 200 and export.status_code == 200
    assert _states(page.text, ann) == ["given", "never"] and _states(page.text, dina) == ["given", "given"]
    for body in (page.text, export.text):
        assert "Annemarie" not in body and "Owneronly" not in body
        assert f"#{ann}" in body and "Dina Bothways" in body


async def test_another_organisation_gets_404_and_learns_nothing(browser) -> None:
    owner = await new_org("owner")
    created = await browser.post("/api/v1/events", json=event_payload(), headers=owner.auth)
    event_id = created.json()["id"]
    stranger, _ = await make_organisation("stranger")
    await sign_in(browser, await make_organiser(stranger, role="owner"))

    for url in (f"/admin/events/{event_id}/consents", f"/admin/events/{event_id}/consents.csv"):
        response = await browser.get(url)
        assert response.status_code == 404, url
