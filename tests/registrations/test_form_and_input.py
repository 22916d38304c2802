"""The registration form, bad input, questions and consents (RELIABILITY.md, "Input" and "Privacy").

The HTML form has a honeypot (`website`) and a signed time stamp (at least 3 s to fill it in):
bots get a 422 page and nothing is stored. The API answers bad input with a 4xx JSON `detail`
in the caller's language, stores nothing, and never a 500. Questions and consent purposes are
defined through the API; consents go into an append-only ledger with their wording version,
and withdrawing from the private page appends a "withdrawn" row.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.helpers import bearer, csrf_from_html, make_organisation, make_token
from tests.registrations.helpers import domain, mails_to, new_event, registration, rows_of, token_in

FR = {"Accept-Language": "fr"}
QUESTIONS = [
    {"kind": "short_text", "label": {"nl": "Bedrijfsnaam?", "fr": "Nom de l'entreprise ?"}, "required": True},
    {"kind": "long_text", "label": {"nl": "Uw project", "fr": "Votre projet"}},
    {
        "kind": "single",
        "label": {"nl": "Financiering", "fr": "Financement"},
        "options": [{"key": "loan", "nl": "Lening", "fr": "Prêt"}, {"key": "grant", "nl": "Subsidie", "fr": "Subside"}],
    },
    {
        "kind": "multiple",
        "label": {"nl": "Onderwerpen", "fr": "Sujets"},
        "options": [
            {"key": "tax", "nl": "Belastingen", "fr": "Impôts"},
            {"key": "hr", "nl": "Personeel", "fr": "Personnel"},
            {"key": "export", "nl": "Export", "fr": "Export"},
        ],
    },
    {"kind": "yes_no", "label": {"nl": "Al gestart?", "fr": "Déjà lancé ?"}, "required": True},
]


async def event_with_questions(client: Any, **overrides: Any) -> tuple[int, dict[str, str], list[dict[str, Any]]]:
    slug, organisation_id = await make_organisation("reg")
    event_id, _ = await new_event(organisation_id, capacity=10, **overrides)
    auth = bearer(await make_token(slug))
    response = await client.put(f"/api/v1/events/{event_id}/questions", json=QUESTIONS, headers=auth)
    assert response.status_code == 200, response.text
    questions = response.json()
    assert [q["kind"] for q in questions] == [q["kind"] for q in QUESTIONS]
    return event_id, auth, questions


def good_answers(questions: list[dict[str, Any]]) -> dict[str, Any]:
    short, long, single, multiple, yes_no = (str(q["id"]) for q in questions)
    return {short: "Bakkerij Sofie", long: "Een tweede winkel.", single: "loan", multiple: ["tax", "hr"], yes_no: True}


def french(message: str, **params: Any) -> str:
    """The French text of a message id; a missing French translation is a failure of its own."""
    from events.i18n import translate

    text = translate(message, "fr", **params)
    assert text != (message % params if params else message), f"no French translation for {message!r}"
    return text


async def nothing_stored(event_id: int) -> None:
    from events.tables import Consent, OutboxMessage, Registration

    assert await rows_of(event_id) == [], "bad input stored a registration"
    assert await OutboxMessage.count().where(OutboxMessage.event == event_id) == 0
    ids = [r["id"] for r in await Registration.select(Registration.id).where(Registration.event == event_id)]
    assert not ids or await Consent.count().where(Consent.registration.is_in(ids)) == 0


# The HTML form ------------------------------------------------------------------------------------------


async def form_fields(client: Any, event_id: int, **fields: Any) -> dict[str, Any]:
    """The event page's CSRF token and a stamp 10 s old (a human's pace), plus `fields`."""
    from events.web.participant import form_stamp

    page = await client.get(f"/events/{event_id}")
    assert page.status_code == 200
    assert 'name="website"' in page.text and 'name="stamp"' in page.text
    base = {
        "_csrf_token": csrf_from_html(page.text),
        "stamp": form_stamp(event_id, now=time.time() - 10),
        "website": "",
        "name": "Sofie Peeters",
        "email": f"sofie@{domain()}",
        "language": "nl",
    }
    return {**base, **fields}


async def test_the_html_form_registers_a_person_with_answers_and_no_consent_ticked(client):
    event_id, _, questions = await event_with_questions(client)
    short, long, single, multiple, yes_no = (q["id"] for q in questions)
    fields = await form_fields(
        client,
        event_id,
        **{
            f"q{short}": "Bakkerij Sofie",
            f"q{long}": "Een tweede winkel.",
            f"q{single}": "grant",
            f"q{multiple}": ["tax", "export"],
            f"q{yes_no}": "no",
        },
    )

    response = await client.post(f"/events/{event_id}/register", data=fields)

    assert response.status_code == 200, response.text[:500]
    (row,) = await rows_of(event_id)
    assert row["status"] == "confirmed" and row["email_key"] == fields["email"]
    assert json.loads(row["answers"]) == {
        str(short): "Bakkerij Sofie",
        str(long): "Een tweede winkel.",
        str(single): "grant",
        str(multiple): ["export", "tax"],
        str(yes_no): False,
    }
    assert "/r/" in response.text, "the answer page links to the private page"
    assert len(await mails_to(row["id"], "invitation")) == 1


async def test_a_person_who_corrects_a_refused_field_can_send_again_at_once(client):
    """The page that marks a wrong field keeps the form's original stamp: sending the corrected
    form a second later is not "too quick"."""
    event_id, _ = await new_event((await make_organisation("reg"))[1], capacity=10)
    fields = await form_fields(client, event_id, email="sofie-at-example")

    refused = await client.post(f"/events/{event_id}/register", data=fields)

    assert refused.status_code == 422
    assert f'value="{fields["stamp"]}"' in refused.text, "the started-at stamp survives the correction"
    corrected = {**fields, "email": f"sofie@{domain()}", "_csrf_token": csrf_from_html(refused.text)}
    accepted = await client.post(f"/events/{event_id}/register", data=corrected)
    assert accepted.status_code == 200, accepted.text[:300]
    assert [row["email_key"] for row in await rows_of(event_id)] == [corrected["email"]]


async def test_the_html_form_records_a_ticked_consent_in_the_ledger_as_given_through_the_form(client):
    from events.services import consents
    from events.services.access import CLI_ACTOR
    from events.services.consents import PurposeInput
    from events.tables import Consent

    _, organisation_id = await make_organisation("reg")
    purpose = await consents.define_purpose(
        CLI_ACTOR, organisation_id, PurposeInput(key="directory", text={"nl": "Zet mij in de gids"})
    )
    event_id, _ = await new_event(organisation_id, capacity=10)
    fields = await form_fields(client, event_id, consents=str(purpose.id))

    response = await client.post(f"/events/{event_id}/register", data=fields)

    assert response.status_code == 200, response.text[:300]
    (row,) = await rows_of(event_id)
    ledger = await Consent.select().where(Consent.registration == row["id"])
    assert [(r["purpose"], r["action"], r["source"], r["wording_version"]) for r in ledger] == [
        (purpose.id, "given", "form", 1)
    ]


@pytest.mark.parametrize(
    "trap",
    [
        {"website": "http://spam.example"},
        {"stamp": "now"},
        {"stamp": "1700000000.0123456789abcdef0123456789abcdef"},
        {"stamp": "other-event"},
        {"stamp": ""},
    ],
    ids=["honeypot-filled", "too-fast", "forged-stamp", "stamp-of-another-event", "no-stamp"],
)
async def test_a_bot_gets_a_422_page_and_nothing_is_stored(client, trap):
    from events.web.participant import form_stamp

    event_id, _ = await new_event(capacity=10)
    fields = await form_fields(client, event_id)
    if trap.get("stamp") == "now":
        trap = {"stamp": form_stamp(event_id, now=time.time())}
    elif trap.get("stamp") == "other-event":
        trap = {"stamp": form_stamp(event_id + 1, now=time.time() - 10)}

    response = await client.post(f"/events/{event_id}/register", data={**fields, **trap})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="form-error"' in response.text
    await nothing_stored(event_id)


async def test_the_form_without_its_csrf_token_is_refused(client):
    event_id, _ = await new_event(capacity=10)
    fields = await form_fields(client, event_id)
    del fields["_csrf_token"]
    response = await client.post(f"/events/{event_id}/register", data=fields)
    assert response.status_code == 403
    await nothing_stored(event_id)


# Bad input through the API ------------------------------------------------------------------------------


def person_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "Eve Janssens", "email": f"eve@{domain()}", "language": "fr", **overrides}


@pytest.mark.parametrize(
    ("overrides", "message", "field"),
    [
        ({"name": "Eve\r\nBcc: x@evil.test"}, "A name cannot contain line breaks or control characters.", "name"),
        ({"name": "Eve\nTo: x@evil.test"}, "A name cannot contain line breaks or control characters.", "name"),
        ({"email": "a@b.c\r\nBcc: x@evil.test"}, "Enter a valid email address.", "email"),
        ({"email": "a@b.c, d@e.f"}, "Enter a valid email address.", "email"),
        ({"email": "a@b.c\x00"}, "Enter a valid email address.", "email"),
        ({"company": "ACME\r\nBcc: x@evil.test"}, "A company name cannot contain line breaks.", "company"),
        ({"name": "   "}, "Please enter your name.", "name"),
    ],
    ids=[
        "crlf-bcc-in-name",
        "lf-in-name",
        "crlf-bcc-in-email",
        "two-addresses",
        "nul-in-email",
        "crlf-company",
        "blank",
    ],
)
async def test_injection_in_name_email_or_company_is_a_422_in_french_and_stores_nothing(
    client, overrides, message, field
):
    event_id, _ = await new_event(capacity=10)

    response = await client.post(f"/api/v1/events/{event_id}/registrations", json=person_body(**overrides), headers=FR)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status_code"] == 422
    assert body.get("extra", {}).get("field") == field
    await nothing_stored(event_id)
    assert body["detail"] == french(message)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "x" * 1_000_000}, "name"),
        ({"language": "de"}, "language"),
        ({"email": 42}, "email"),
        ({"answers": {"1": {"nested": True}}}, "answers"),
        ({"consents": ["contact"]}, "consents"),
        ({"role": "admin"}, "role"),
    ],
    ids=["1MB-name", "language-de", "email-number", "answer-object", "consent-not-an-id", "unknown-field"],
)
async def test_a_body_that_breaks_the_schema_is_4xx_with_a_french_detail_naming_the_field(client, overrides, field):
    event_id, _ = await new_event(capacity=10)

    response = await client.post(f"/api/v1/events/{event_id}/registrations", json=person_body(**overrides), headers=FR)

    allowed = (413, 422) if field == "name" else (422,)
    assert response.status_code in allowed, response.text[:300]
    body = response.json()
    assert body["detail"] in (french("Some fields are not valid."), french("The request is too large."))
    if response.status_code == 422:
        assert field in str(body.get("extra")), body.get("extra")
    assert len(response.content) < 5_000, "the answer does not echo a huge input back"
    await nothing_stored(event_id)


async def test_answers_are_checked_against_the_events_questions_in_french(client):
    event_id, _, questions = await event_with_questions(client)
    short, long, single, multiple, yes_no = (str(q["id"]) for q in questions)
    good = good_answers(questions)
    cases = [
        ({**good, "999999": "x"}, "Unknown question %(id)s.", {"id": "999999"}, "answers"),
        ({k: v for k, v in good.items() if k != short}, None, None, f"answers.{short}"),
        ({**good, yes_no: "yes"}, "Answer yes or no.", {}, f"answers.{yes_no}"),
        ({**good, single: "lottery"}, "Choose one of the options.", {}, f"answers.{single}"),
        ({**good, multiple: "tax"}, "Choose among the options.", {}, f"answers.{multiple}"),
        ({**good, multiple: ["tax", "crypto"]}, "Choose among the options.", {}, f"answers.{multiple}"),
        ({**good, long: ["not", "text"]}, "This answer is too long or not text.", {}, f"answers.{long}"),
        ({**good, short: "x" * 301}, "This answer is too long or not text.", {}, f"answers.{short}"),
    ]
    for answers, message, params, field in cases:
        response = await client.post(
            f"/api/v1/events/{event_id}/registrations", json=person_body(answers=answers), headers=FR
        )
        assert response.status_code == 422, (field, response.text)
        body = response.json()
        assert body["extra"]["field"] == field
        if message:
            assert body["detail"] == french(message, **params), field
        else:
            assert body["detail"].startswith(french("Please answer the question “%(label)s”.", label="")[:10])
        await nothing_stored(event_id)

    accepted = await client.post(f"/api/v1/events/{event_id}/registrations", json=person_body(answers=good))
    assert accepted.status_code == 201, accepted.text
    stored = json.loads((await registration(accepted.json()["id"]))["answers"])
    assert stored == {**good, multiple: sorted(good[multiple])}


async def test_a_missing_required_answer_names_the_question_in_the_callers_language(client):
    event_id, _, questions = await event_with_questions(client)
    short = str(questions[0]["id"])
    answers = {k: v for k, v in good_answers(questions).items() if k != short}

    response = await client.post(
        f"/api/v1/events/{event_id}/registrations", json=person_body(answers=answers), headers=FR
    )

    assert response.status_code == 422
    assert response.json()["detail"] == french("Please answer the question “%(label)s”.", label="Nom de l'entreprise ?")


async def test_questions_of_every_kind_are_public_and_organisers_see_the_answers(client):
    event_id, auth, questions = await event_with_questions(client)
    public = await client.get(f"/api/v1/events/{event_id}/questions")
    assert public.status_code == 200 and public.json() == questions
    assert [o["key"] for o in questions[2]["options"]] == ["loan", "grant"]
    good = good_answers(questions)
    created = await client.post(f"/api/v1/events/{event_id}/registrations", json=person_body(answers=good))
    assert created.status_code == 201

    listed = (await client.get(f"/api/v1/events/{event_id}/registrations", headers=auth)).json()["items"]

    assert listed[0]["answers"] == {**good, str(questions[3]["id"]): ["hr", "tax"]}
    bad = await client.put(
        f"/api/v1/events/{event_id}/questions",
        json=[{"kind": "single", "label": {"nl": "Eén optie"}, "options": [{"key": "a"}]}],
        headers=auth,
    )
    assert bad.status_code == 422 and bad.json()["detail"]
    unknown_kind = await client.put(
        f"/api/v1/events/{event_id}/questions", json=[{"kind": "rating", "label": {"nl": "?"}}], headers=auth
    )
    assert unknown_kind.status_code == 422


# Consents --------------------------------------------------------------------------------------------------


async def test_consents_are_recorded_with_their_wording_version_and_withdrawing_appends_a_row(client):
    from events.tables import Consent

    slug, organisation_id = await make_organisation("reg")
    auth = bearer(await make_token(slug))
    event_id, _ = await new_event(organisation_id, capacity=10)
    defined = await client.post(
        "/api/v1/consent-purposes",
        json={"key": "financing-contact", "text": {"nl": "Contacteer mij over financiering", "fr": "Contactez-moi"}},
        headers=auth,
    )
    assert defined.status_code == 201, defined.text
    purpose = defined.json()
    assert purpose["version"] == 1 and purpose["key"] == "financing-contact"
    offered = (await client.get(f"/api/v1/events/{event_id}/consent-purposes")).json()
    assert [p["id"] for p in offered] == [purpose["id"]]

    first = await client.post(
        f"/api/v1/events/{event_id}/registrations", json=person_body(consents=[purpose["id"]], language="nl")
    )
    assert first.status_code == 201, first.text
    reworded = await client.post(
        "/api/v1/consent-purposes",
        json={"key": "financing-contact", "text": {"nl": "Bel mij over een lening", "fr": "Appelez-moi"}},
        headers=auth,
    )
    assert reworded.status_code == 201 and reworded.json()["version"] == 2
    assert reworded.json()["id"] == purpose["id"]
    second = await client.post(
        f"/api/v1/events/{event_id}/registrations", json=person_body(consents=[purpose["id"]], language="nl")
    )
    assert second.status_code == 201

    ledger = await Consent.select().where(Consent.purpose == purpose["id"]).order_by(Consent.id)
    assert [(r["registration"], r["wording_version"], r["action"]) for r in ledger] == [
        (first.json()["id"], 1, "given"),
        (second.json()["id"], 2, "given"),
    ]
    assert all(r["organisation"] == organisation_id and r["source"] == "api" and r["wording_hash"] for r in ledger)
    assert ledger[0]["wording_hash"] != ledger[1]["wording_hash"]

    token = token_in(first.json()["manage_url"])
    page = await client.get(f"/r/{token}")
    assert f'action="/r/{token}/consents/{purpose["id"]}"' in page.text
    withdrawn = await client.post(
        f"/r/{token}/consents/{purpose['id']}",
        data={"_csrf_token": csrf_from_html(page.text), "action": "withdraw"},
        follow_redirects=False,
    )

    assert withdrawn.status_code == 303
    rows = await Consent.select().where(Consent.registration == first.json()["id"]).order_by(Consent.id)
    assert [(r["action"], r["wording_version"], r["source"]) for r in rows] == [
        ("given", 1, "api"),
        ("withdrawn", 2, "private_page"),
    ], "append-only: the given row stays, a withdrawn row is added"
    listed = (await client.get(f"/api/v1/events/{event_id}/registrations", headers=auth)).json()["items"]
    assert {item["id"]: item["consents"] for item in listed} == {
        first.json()["id"]: [],
        second.json()["id"]: [purpose["id"]],
    }


async def test_an_unknown_consent_purpose_or_one_of_another_organisation_is_a_422_in_french(client):
    from events.services import consents
    from events.services.access import CLI_ACTOR
    from events.services.consents import PurposeInput

    _, elsewhere = await make_organisation("other")
    foreign = await consents.define_purpose(CLI_ACTOR, elsewhere, PurposeInput(key="spam", text={"nl": "Spam"}))
    event_id, _ = await new_event(capacity=10)

    for purpose_id in (987_654, foreign.id):
        response = await client.post(
            f"/api/v1/events/{event_id}/registrations", json=person_body(consents=[purpose_id]), headers=FR
        )
        assert response.status_code == 422, response.text
        assert response.json()["extra"]["field"] == "consents"
        await nothing_stored(event_id)
        assert response.json()["detail"] == french("Unknown consent purpose.")
