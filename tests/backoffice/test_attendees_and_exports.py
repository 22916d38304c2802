"""The organiser's attendee list, its CSV and XLSX exports, and the mail log."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from events.tables import OutboxMessage
from tests.integration.helpers import (
    bearer,
    event_payload,
    make_organisation,
    make_organiser,
    make_token,
    post_form,
    sign_in,
)


async def _event_with_people(client, slug: str) -> tuple[int, dict]:
    headers = bearer(await make_token(slug))
    event_id = (await client.post("/api/v1/events", json=event_payload(capacity=1), headers=headers)).json()["id"]
    questions = [{"kind": "short_text", "label": {"nl": "Bedrijfsnaam", "fr": "Entreprise"}, "required": False}]
    qid = (await client.put(f"/api/v1/events/{event_id}/questions", json=questions, headers=headers)).json()[0]["id"]
    await client.post(f"/api/v1/events/{event_id}/publish", headers=headers)
    for name, email, answer in (
        ("=SUM(1+1)", "eve@example.org", "@cmd|calc"),
        ("Sofie", "sofie@example.org", "Bakkerij"),
    ):
        response = await client.post(
            f"/api/v1/events/{event_id}/registrations",
            json={"name": name, "email": email, "language": "nl", "company": "+32 Inc", "answers": {str(qid): answer}},
        )
        assert response.status_code == 201, response.text
    return event_id, headers


async def test_exports_match_each_other_and_never_carry_a_formula(browser) -> None:
    slug, _ = await make_organisation("export")
    event_id, _ = await _event_with_people(browser, slug)
    await sign_in(browser, await make_organiser(slug, role="viewer"))

    csv_response = await browser.get(f"/admin/events/{event_id}/attendees.csv")
    assert csv_response.status_code == 200 and csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_response.text)))
    assert rows[0][-1] == "Bedrijfsnaam" and len(rows) == 3
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    assert {row[1] for row in rows[1:]} == {"'=SUM(1+1)", "Sofie"}

    xlsx_response = await browser.get(f"/admin/events/{event_id}/attendees.xlsx")
    assert xlsx_response.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx_response.content)).active
    values = [["" if cell is None else str(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert values == rows, "the XLSX holds exactly what the CSV holds"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), "no cell is a formula"


async def test_attendee_actions_and_the_mail_log_with_resend(browser) -> None:
    slug, _ = await make_organisation("export")
    event_id, _ = await _event_with_people(browser, slug)
    await sign_in(browser, await make_organiser(slug, role="editor"))
    page = await browser.get(f"/admin/events/{event_id}/attendees?status=waitlisted")
    assert page.status_code == 200 and "Sofie" in page.text and "=SUM" not in page.text.replace("'=SUM", "")
    from events.tables import Registration

    waiting = (
        await Registration.select()
        .where((Registration.event == event_id) & (Registration.status == "waitlisted"))
        .first()
    )
    confirmed = (
        await Registration.select()
        .where((Registration.event == event_id) & (Registration.status == "confirmed"))
        .first()
    )
    back = f"/admin/events/{event_id}/attendees"
    cancelled = await post_form(browser, f"/admin/registrations/{confirmed['id']}/cancel", back, back=back)
    assert cancelled.status_code == 303
    promoted = await Registration.select().where(Registration.id == waiting["id"]).first()
    assert promoted["status"] == "confirmed", "the freed place went to the waiting list"

    log = await browser.get("/admin/mail")
    assert log.status_code == 200 and "sofie@example.org" in log.text
    mail = await OutboxMessage.select().where(OutboxMessage.registration == waiting["id"]).first()
    await OutboxMessage.update({OutboxMessage.status: "failed", OutboxMessage.last_error: "550 no such user"}).where(
        OutboxMessage.id == mail["id"]
    )
    failed = await browser.get("/admin/mail?status=failed")
    assert "550 no such user" in failed.text
    browser.cookies.set("lang", "fr")
    in_french = (await browser.get("/admin/mail?status=failed")).text
    browser.cookies.delete("lang")
    assert ">Échec</span>" in in_french and '<option value="queued" >En file d' in in_french.replace("&#39;", "'")
    assert ">failed<" not in in_french, "the states are words of the organiser's language, not codes"
    resent = await post_form(browser, f"/admin/mail/{mail['id']}/resend", "/admin/mail?status=failed")
    assert resent.status_code == 303
    row = await OutboxMessage.select().where(OutboxMessage.id == mail["id"]).first()
    assert row["status"] == "queued" and row["attempts"] == 0 and row["message_id"] == mail["message_id"]


async def test_exports_and_lists_of_another_organisation_are_impossible(browser) -> None:
    slug, _ = await make_organisation("export")
    event_id, _ = await _event_with_people(browser, slug)
    other, _ = await make_organisation("ander")
    await sign_in(browser, await make_organiser(other, role="owner"))
    for path in ("attendees", "attendees.csv", "attendees.xlsx"):
        assert (await browser.get(f"/admin/events/{event_id}/{path}")).status_code == 404
    assert "sofie@example.org" not in (await browser.get("/admin/mail")).text

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    from events.tables import Registration

    person = await Registration.select().where(Registration.event == event_id).first()
    back = f"/admin/events/{event_id}/attendees"
    refused = await post_form(browser, f"/admin/registrations/{person['id']}/cancel", back, back=back)
    assert refused.status_code == 403


async def test_anonymous_visitors_are_sent_to_sign_in(browser) -> None:
    for path in ("/admin/events/1/attendees", "/admin/events/1/attendees.csv", "/admin/mail"):
        response = await browser.get(path, follow_redirects=False)
        assert response.status_code in (302, 303, 307) and "/login" in response.headers["location"]


async def test_exports_show_choices_in_words_and_yes_no_in_the_organisers_language(browser) -> None:
    slug, _ = await make_organisation("keuzes")
    headers = bearer(await make_token(slug))
    event_id = (await browser.post("/api/v1/events", json=event_payload(), headers=headers)).json()["id"]
    questions = [
        {
            "kind": "single",
            "label": {"nl": "Fase", "fr": "Phase"},
            "options": [
                {"key": "idea", "nl": "Idee", "fr": "Idée"},
                {"key": "running", "nl": "Actief", "fr": "Active"},
            ],
        },
        {
            "kind": "multiple",
            "label": {"nl": "Interesse", "fr": "Intérêt"},
            "options": [{"key": "loan", "nl": "Lening", "fr": "Prêt"}, {"key": "coach", "nl": "Coaching"}],
        },
        {"kind": "yes_no", "label": {"nl": "Eerste keer?", "fr": "Première fois ?"}},
    ]
    saved = (await browser.put(f"/api/v1/events/{event_id}/questions", json=questions, headers=headers)).json()
    ids = [str(q["id"]) for q in saved]
    await browser.post(f"/api/v1/events/{event_id}/publish", headers=headers)
    response = await browser.post(
        f"/api/v1/events/{event_id}/registrations",
        json={
            "name": "Chloé",
            "email": "chloe@example.org",
            "language": "fr",
            "answers": {ids[0]: "running", ids[1]: ["loan", "coach"], ids[2]: True},
        },
    )
    assert response.status_code == 201, response.text
    await sign_in(browser, await make_organiser(slug, role="viewer"))

    for lang, expected in (("fr", ["Active", "Prêt, Coaching", "oui"]), ("nl", ["Actief", "Lening, Coaching", "ja"])):
        exported = await browser.get(f"/admin/events/{event_id}/attendees.csv?lang={lang}")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[1][-3:] == expected, (lang, rows)
