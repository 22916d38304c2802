"""An event's parts in the back office: the questions editor and consent purposes, a consultation
day's advisors and opening hours, a networking event's meeting slots and tables; what the public
pages show afterwards, errors that keep what was typed, and who may see and change what."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import datetime, timedelta

import pytest

from events.tables import AuditLog, ConsentPurpose, MeetingSlot, MeetingTable, Question, Registration, Slot
from tests.consultations.helpers import BRUSSELS, advisor, create_day, day, new_org, person, slots, utc, window
from tests.integration.helpers import (
    csrf_from_html,
    make_event,
    make_organisation,
    make_organiser,
    post_form,
    sign_in,
)


def _field(page: str, name: str) -> str:
    """The value of input `name` (or the text of textarea `name`) as the page shows it."""
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page) or re.search(
        rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, re.S
    )
    assert match, f"no field {name} on the page"
    return html.unescape(match.group(1))


def _invalid(page: str, name: str) -> bool:
    """Whether field `name` is marked invalid and points at its own error message."""
    tag = re.search(rf'<(?:input|textarea|select)[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert tag, f"no field {name} on the page"
    described = re.search(r'aria-describedby="([^"]*)"', tag.group(0))
    return (
        'aria-invalid="true"' in tag.group(0)
        and described is not None
        and f"{name}-error" in described.group(1).split()
        and f'id="{name}-error"' in page
    )


async def _question_rows(event_id: int) -> list[dict]:
    return await Question.select().where(Question.event == event_id).order_by(Question.position)


async def _editor(browser, slug: str) -> None:
    response = await sign_in(browser, await make_organiser(slug, role="editor"))
    assert response.status_code in (302, 303), response.status_code
    await browser.get("/?lang=en")  # the messages below are the English ones


# Questions -----------------------------------------------------------------------------------------


async def test_questions_added_on_the_page_are_asked_by_the_public_registration_form(browser) -> None:
    slug, org_id = await make_organisation("vragen")
    event_id = await make_event(org_id)
    await _editor(browser, slug)
    url = f"/admin/events/{event_id}/questions"

    page = await browser.get(url)
    assert page.status_code == 200 and "This event asks no questions yet." in page.text
    added = await post_form(browser, url, url, action="add")
    assert added.status_code == 200 and 'name="q-0-kind"' in added.text and "Not saved yet" in added.text
    assert await _question_rows(event_id) == [], "adding a row saves nothing"
    added = await browser.post(
        url,
        data={
            "_csrf_token": csrf_from_html(added.text),
            "q-0-kind": "short_text",
            "q-0-label-nl": "Wat is uw bedrijfsnaam?",
            "action": "add",
        },
    )
    assert 'name="q-1-kind"' in added.text and _field(added.text, "q-0-label-nl") == "Wat is uw bedrijfsnaam?"

    saved = await browser.post(
        url,
        data={
            "_csrf_token": csrf_from_html(added.text),
            "q-0-kind": "short_text",
            "q-0-label-nl": "Wat is uw bedrijfsnaam?",
            "q-0-label-fr": "Quel est le nom de votre entreprise ?",
            "q-0-required": "on",
            "q-1-kind": "single",
            "q-1-label-nl": "Hoe kent u ons?",
            "q-1-label-en": "How did you hear of us?",
            "q-1-options-nl": "Via een vriend\r\nOp sociale media\r\n",
            "q-1-options-en": "From a friend\nOn social media",
            "action": "save",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{url}?saved=questions"

    rows = await _question_rows(event_id)
    assert [(r["kind"], r["label_nl"], r["required"]) for r in rows] == [
        ("short_text", "Wat is uw bedrijfsnaam?", True),
        ("single", "Hoe kent u ons?", False),
    ]
    public = await browser.get(f"/events/{event_id}?lang=nl")
    assert public.status_code == 200
    assert "Wat is uw bedrijfsnaam?" in public.text and "Hoe kent u ons?" in public.text
    assert "Op sociale media" in public.text
    english = await browser.get(f"/events/{event_id}?lang=en")
    assert "How did you hear of us?" in english.text and "On social media" in english.text
    assert await AuditLog.exists().where(
        (AuditLog.action == "event.questions_updated") & (AuditLog.target == f"event:{event_id}")
    )


async def test_editing_and_reordering_keeps_each_question_and_the_answers_already_given(browser) -> None:
    slug, org_id = await make_organisation("vragen")
    event_id = await make_event(org_id)
    await _editor(browser, slug)
    url = f"/admin/events/{event_id}/questions"
    first = {
        "q-0-kind": "single",
        "q-0-label-nl": "Sector",
        "q-0-options-nl": "Horeca\nBouw",
        "q-1-kind": "yes_no",
        "q-1-label-nl": "Eerste keer?",
        "action": "save",
    }
    assert (await post_form(browser, url, url, **first)).status_code == 303
    sector, first_time = await _question_rows(event_id)
    registered = await browser.post(
        f"/api/v1/events/{event_id}/registrations",
        json={"name": "Sofie", "email": "sofie@example.org", "language": "nl", "answers": {str(sector["id"]): "o2"}},
    )
    assert registered.status_code == 201, registered.text

    page = await browser.get(url)
    assert _field(page.text, "q-0-id") == str(sector["id"]) and _field(page.text, "q-0-keys") == "o1,o2"
    moved = await browser.post(
        url,
        data={
            "_csrf_token": csrf_from_html(page.text),
            **{k: v for k, v in first.items() if k != "action"},
            "q-0-id": str(sector["id"]),
            "q-0-keys": "o1,o2",
            "q-1-id": str(first_time["id"]),
            "action": "down:0",
        },
    )
    assert moved.status_code == 200
    assert _field(moved.text, "q-0-label-nl") == "Eerste keer?" and _field(moved.text, "q-1-label-nl") == "Sector"
    saved = await browser.post(
        url,
        data={
            "_csrf_token": csrf_from_html(moved.text),
            "q-0-id": _field(moved.text, "q-0-id"),
            "q-0-kind": "yes_no",
            "q-0-label-nl": "Eerste keer?",
            "q-1-id": _field(moved.text, "q-1-id"),
            "q-1-keys": _field(moved.text, "q-1-keys"),
            "q-1-kind": "single",
            "q-1-label-nl": "Sector",
            "q-1-options-nl": "Horeca\nBouwsector\nHandel",  # a typo fixed in place and one option more
            "action": "save",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303

    rows = await _question_rows(event_id)
    assert [r["id"] for r in rows] == [first_time["id"], sector["id"]], "same questions, new order"
    assert [o["key"] for o in json.loads(rows[1]["options"])] == ["o1", "o2", "o3"]
    answers = await Registration.select(Registration.answers).where(Registration.event == event_id).first()
    assert json.loads(answers["answers"]) == {str(sector["id"]): "o2"}
    export = await browser.get(f"/admin/events/{event_id}/attendees.csv")
    table = list(csv.reader(io.StringIO(export.text)))
    assert table[1][table[0].index("Sector")] == "Bouwsector", "the answer keeps its option, in its new wording"

    removed = await post_form(
        browser,
        url,
        url,
        **{"q-0-id": str(first_time["id"]), "q-0-kind": "yes_no", "q-0-label-nl": "Eerste keer?"},
        **{"q-1-id": str(sector["id"]), "q-1-kind": "single", "q-1-label-nl": "Sector"},
        action="remove:1",
    )
    assert removed.status_code == 200 and 'name="q-1-kind"' not in removed.text
    assert len(await _question_rows(event_id)) == 2, "removing a row saves nothing until Save"


async def test_a_choice_question_without_options_is_refused_next_to_the_field_with_the_input_kept(browser) -> None:
    slug, org_id = await make_organisation("vragen")
    event_id = await make_event(org_id)
    await _editor(browser, slug)
    url = f"/admin/events/{event_id}/questions"
    refused = await post_form(
        browser,
        url,
        url,
        **{"q-0-kind": "multiple", "q-0-label-fr": "Vos besoins", "q-0-options-fr": "Un seul"},
        **{"q-1-kind": "short_text", "q-1-label-en": ""},
        action="save",
    )
    assert refused.status_code == 422
    assert "A choice question needs at least two options." in refused.text
    assert "Every question needs a label in at least one language." in refused.text
    assert _invalid(refused.text, "q-0-options-nl") and _invalid(refused.text, "q-1-label-nl")
    assert _field(refused.text, "q-0-label-fr") == "Vos besoins" and _field(refused.text, "q-0-options-fr") == "Un seul"
    assert 'value="multiple" selected' in refused.text
    assert await _question_rows(event_id) == []


# Consent purposes ----------------------------------------------------------------------------------


async def test_a_consent_purpose_defined_on_the_page_is_offered_by_the_registration_form(browser) -> None:
    slug, org_id = await make_organisation("toestemming")
    event_id = await make_event(org_id)
    await _editor(browser, slug)
    url = f"/admin/events/{event_id}/questions"
    purposes_url = f"/admin/events/{event_id}/consent-purposes"

    refused = await post_form(browser, purposes_url, url, key="Bad Key!", **{"text-nl": ""})
    assert refused.status_code == 422 and _invalid(refused.text, "text-nl")
    assert _field(refused.text, "key") == "Bad Key!"

    saved = await post_form(
        browser,
        purposes_url,
        url,
        key="",
        **{"text-nl": "Contacteer mij over een lening", "text-fr": "Contactez-moi pour un prêt"},
        **{"text-en": "Contact me about a loan"},
    )
    assert saved.status_code == 303
    purpose = await ConsentPurpose.select().where(ConsentPurpose.organisation == org_id).first()
    assert purpose["key"] == "contact-me-about-a-loan" and purpose["version"] == 1
    public = await browser.get(f"/events/{event_id}?lang=fr")
    assert "Contactez-moi pour un prêt" in public.text and f'name="consents" value="{purpose["id"]}"' in public.text

    prefilled = await browser.get(f"{url}?purpose={purpose['id']}")
    assert _field(prefilled.text, "key") == "contact-me-about-a-loan"
    assert _field(prefilled.text, "text-en") == "Contact me about a loan"
    reworded = await post_form(
        browser,
        purposes_url,
        url,
        key="contact-me-about-a-loan",
        **{"text-nl": "Bel of mail mij over een lening", "text-en": "Contact me about a loan"},
    )
    assert reworded.status_code == 303
    rows = await ConsentPurpose.select().where(ConsentPurpose.organisation == org_id)
    assert len(rows) == 1 and rows[0]["version"] == 2 and rows[0]["text_nl"] == "Bel of mail mij over een lening"
    assert "Bel of mail mij over een lening" in (await browser.get(f"/events/{event_id}?lang=nl")).text


# Consultation days ---------------------------------------------------------------------------------


def _advisor_form(**fields: str) -> dict[str, str]:
    settings = {
        "slot_minutes": "30",
        "buffer_minutes": "0",
        "min_notice_hours": "0",
        "booking_opens_days": "365",
        "max_bookings_per_person": "1",
    }
    return {**settings, **fields}


def _local_times(items: list[dict], name: str) -> list[str]:
    return [
        utc(item["starts_at"]).astimezone(BRUSSELS).strftime("%H:%M")
        for item in items
        if item["advisor"]["name"] == name
    ]


async def test_an_advisor_added_on_the_page_offers_slots_on_the_public_slot_list(browser) -> None:
    org = await new_org("zitdag")
    event_id = await create_day(
        browser, org, [advisor("Piet Adviseur", "piet@hefboom.example", [window(day().replace(hour=10), 60)])]
    )
    await _editor(browser, org.slug)
    url = f"/admin/events/{event_id}/advisors"

    page = await browser.get(url)
    assert page.status_code == 200
    assert _field(page.text, "a-0-name") == "Piet Adviseur" and _field(page.text, "a-0-w-0-start") == "10:00"
    assert _field(page.text, "a-0-w-0-end") == "11:00" and _field(page.text, "slot_minutes") == "30"

    piet = {
        "a-0-name": "Piet Adviseur",
        "a-0-email": "piet@hefboom.example",
        "a-0-lang-nl": "on",
        "a-0-w-0-start": "10:00",
        "a-0-w-0-end": "11:00",
    }
    more = await post_form(browser, url, url, **_advisor_form(**piet, action="add-advisor"))
    assert more.status_code == 200 and 'name="a-1-name"' in more.text and "Not saved yet" in more.text
    window_more = await browser.post(
        url,
        data={
            "_csrf_token": csrf_from_html(more.text),
            **_advisor_form(**piet, **{"a-1-name": "Anne", "a-1-w-0-start": "13:00", "a-1-w-0-end": "14:00"}),
            "action": "add-window:1",
        },
    )
    assert 'name="a-1-w-1-start"' in window_more.text and _field(window_more.text, "a-1-name") == "Anne"

    saved = await browser.post(
        url,
        data={
            "_csrf_token": csrf_from_html(window_more.text),
            **_advisor_form(
                **piet,
                **{
                    "a-1-name": "Anne Conseillère",
                    "a-1-email": "anne@hefboom.example",
                    "a-1-lang-fr": "on",
                    "a-1-lang-nl": "on",
                    "a-1-topics": "Microcrédit, starten",
                    "a-1-room": "Bureau 2",
                    "a-1-w-0-start": "13:00",
                    "a-1-w-0-end": "14:00",
                    "a-1-w-1-start": "15:30",
                    "a-1-w-1-end": "16:00",
                },
            ),
            "action": "save",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text

    offered = await slots(browser, event_id)
    assert _local_times(offered, "Piet Adviseur") == ["10:00", "10:30"]
    assert _local_times(offered, "Anne Conseillère") == ["13:00", "13:30", "15:30"]
    anne = next(item["advisor"] for item in offered if item["advisor"]["name"] == "Anne Conseillère")
    assert anne["languages"] == ["nl", "fr"] and anne["topics"] == ["microcredit", "starten"]
    french = await slots(browser, event_id, language="fr")
    assert {item["advisor"]["name"] for item in french} == {"Anne Conseillère"}
    assert await AuditLog.exists().where(
        (AuditLog.action == "event.consultation_updated") & (AuditLog.target == f"event:{event_id}")
    )


async def test_new_opening_hours_keep_a_booked_appointment_and_an_advisor_with_bookings_stays(browser) -> None:
    org = await new_org("zitdag")
    event_id = await create_day(
        browser, org, [advisor("Piet Adviseur", "piet@hefboom.example", [window(day().replace(hour=10), 90)])]
    )
    first = (await slots(browser, event_id))[0]
    booked = await browser.post(f"/api/v1/slots/{first['id']}/booking", json=person("sara@example.org"))
    assert booked.status_code == 201, booked.text
    await _editor(browser, org.slug)
    url = f"/admin/events/{event_id}/advisors"
    page = await browser.get(url)
    assert "1 appointment booked" in page.text

    piet = {"a-0-name": "Piet Adviseur", "a-0-email": "piet@hefboom.example", "a-0-lang-nl": "on"}
    later = await post_form(
        browser, url, url, **_advisor_form(**piet, **{"a-0-w-0-start": "14:00", "a-0-w-0-end": "15:00"}, action="save")
    )
    assert later.status_code == 303
    assert (await slot_status(first["id"])) == "booked", "the booked slot stays"
    registration = await Registration.select().where(Registration.id == booked.json()["id"]).first()
    assert registration["status"] == "confirmed" and registration["slot"] == first["id"]
    assert _local_times(await slots(browser, event_id), "Piet Adviseur") == ["14:00", "14:30"]

    removed = await post_form(
        browser,
        url,
        url,
        **_advisor_form(
            **{"a-0-name": "Anne", "a-0-email": "anne@hefboom.example", "a-0-lang-fr": "on"},
            **{"a-0-w-0-start": "10:00", "a-0-w-0-end": "11:00"},
            action="save",
        ),
    )
    assert removed.status_code == 409
    assert "Piet Adviseur has bookings; move or cancel them before removing the advisor." in removed.text
    assert _field(removed.text, "a-0-name") == "Anne", "what was typed stays"
    assert (await slot_status(first["id"])) == "booked"
    assert _local_times(await slots(browser, event_id), "Piet Adviseur") == ["14:00", "14:30"], "nothing changed"


async def slot_status(slot_id: int) -> str:
    row = await Slot.select(Slot.status).where(Slot.id == slot_id).first()
    assert row is not None
    return str(row["status"])


@pytest.mark.parametrize(
    ("fields", "invalid", "message"),
    [
        ({"a-0-email": "not-an-address"}, "a-0-email", "Enter an email address such as name@example.org."),
        ({"a-0-w-0-end": "09:30"}, "a-0-w-0-end", "An availability window must end after it starts."),
        ({"a-0-w-0-start": "07:00"}, "a-0-w-0-start", "Availability windows must lie within the consultation day."),
        ({"slot_minutes": "0"}, "slot_minutes", "Enter a whole number from 5 to 480."),
        ({"a-0-lang-nl": ""}, "a-0-languages", "Choose at least one language."),
    ],
    ids=["email", "window-backwards", "window-outside-the-day", "slot-length", "no-language"],
)
async def test_advisor_form_errors_are_shown_at_the_field_with_the_input_kept(
    browser, fields, invalid, message
) -> None:
    org = await new_org("zitdag")
    event_id = await create_day(
        browser, org, [advisor("Piet Adviseur", "piet@hefboom.example", [window(day().replace(hour=10), 60)])]
    )
    before = [row["id"] for row in await Slot.select(Slot.id).where(Slot.event == event_id)]
    await _editor(browser, org.slug)
    url = f"/admin/events/{event_id}/advisors"
    form = _advisor_form(
        **{"a-0-name": "Piet Adviseur", "a-0-email": "piet@hefboom.example", "a-0-lang-nl": "on"},
        **{"a-0-w-0-start": "10:00", "a-0-w-0-end": "12:00", "a-0-room": "Desk 7"},
    )
    form.update(fields)
    refused = await post_form(browser, url, url, **{k: v for k, v in form.items() if v}, action="save")
    assert refused.status_code == 422
    assert message in refused.text
    if invalid == "a-0-languages":
        assert 'aria-describedby="a-0-languages-error"' in refused.text
    else:
        assert _invalid(refused.text, invalid)
    assert _field(refused.text, "a-0-room") == "Desk 7"
    assert [row["id"] for row in await Slot.select(Slot.id).where(Slot.event == event_id)] == before


# Networking ----------------------------------------------------------------------------------------


async def test_meeting_slots_and_tables_saved_on_the_page_make_the_schedule(browser) -> None:
    slug, org_id = await make_organisation("netwerk")
    event_id = await make_event(org_id, kind="networking")
    event = await browser.get(f"/api/v1/events/{event_id}")
    starts = datetime.fromisoformat(event.json()["starts_at"]).astimezone(BRUSSELS)
    await _editor(browser, slug)
    url = f"/admin/events/{event_id}/networking"

    page = await browser.get(url)
    assert page.status_code == 200 and "No meeting slots yet" in page.text
    assert _field(page.text, "meetings_start") == starts.strftime("%H:%M"), "the event's start as a default"

    def at(minutes: int) -> str:
        return (starts + timedelta(minutes=minutes)).strftime("%H:%M")

    refused = await post_form(
        browser,
        url,
        url,
        meetings_start=at(30),
        meetings_end=at(90),
        meeting_minutes="20",
        tables="Tafel 1\nTafel 1",
        max_pending="3",
        vocabulary="financing, export markets",
    )
    assert refused.status_code == 422 and "Each table has its own name." in refused.text
    assert _invalid(refused.text, "tables")
    assert _field(refused.text, "tables") == "Tafel 1\nTafel 1" and _field(refused.text, "meetings_start") == at(30)
    assert not await MeetingSlot.exists().where(MeetingSlot.event == event_id)

    saved = await post_form(
        browser,
        url,
        url,
        meetings_start=at(30),
        meetings_end=at(90),
        meeting_minutes="20",
        tables="Tafel 1\n  Tafel   2 \n\nBar",
        max_pending="3",
        vocabulary="financing, Export markets",
    )
    assert saved.status_code == 303
    tables = (
        await MeetingTable.select(MeetingTable.name)
        .where(MeetingTable.event == event_id)
        .order_by(MeetingTable.position)
    )
    assert [row["name"] for row in tables] == ["Tafel 1", "Tafel 2", "Bar"]
    shown = await browser.get(url)
    assert [_field(shown.text, "tables")] == ["Tafel 1\nTafel 2\nBar"]
    shown_slots = re.findall(r'<li><time datetime="([^"]+)"', shown.text)
    assert [datetime.fromisoformat(t) for t in shown_slots] == [starts + timedelta(minutes=m) for m in (30, 50, 70)]
    assert _field(shown.text, "vocabulary") == "financing, export markets"
    schedule = await browser.get(f"/admin/events/{event_id}/meetings")
    assert schedule.status_code == 200 and "Tafel 2" in schedule.text and "Bar" in schedule.text
    assert len(await MeetingSlot.select().where(MeetingSlot.event == event_id)) == 3

    outside = await post_form(
        browser, url, url, meetings_start=at(-60), meetings_end=at(30), meeting_minutes="20", tables="Bar"
    )
    assert outside.status_code == 422 and "Meetings must fit within the event." in outside.text
    assert _invalid(outside.text, "meetings_start")


# Who may see and change what -------------------------------------------------------------------


PAGES = [("questions", "info_session"), ("advisors", "consultation_day"), ("networking", "networking")]


async def _event_of_kind(browser, kind: str) -> tuple[str, int, int]:
    if kind == "consultation_day":
        org = await new_org("rechten")
        event_id = await create_day(
            browser, org, [advisor("Piet Adviseur", "piet@hefboom.example", [window(day().replace(hour=10), 60)])]
        )
        return org.slug, org.id, event_id
    slug, org_id = await make_organisation("rechten")
    return slug, org_id, await make_event(org_id, kind=kind)


@pytest.mark.parametrize(("part", "kind"), PAGES, ids=[part for part, _ in PAGES])
async def test_access_anonymous_other_organisation_viewer_and_co_host(browser, part, kind) -> None:
    slug, _, event_id = await _event_of_kind(browser, kind)
    url = f"/admin/events/{event_id}/{part}"
    post_url = url
    await browser.get("/?lang=en")

    anonymous = await browser.get(url, follow_redirects=False)
    assert anonymous.status_code in (302, 303) and anonymous.headers["location"].startswith("/login")

    other, _ = await make_organisation("ander")
    await sign_in(browser, await make_organiser(other, role="owner"))
    assert (await browser.get(url)).status_code == 404
    assert (await post_form(browser, post_url, "/admin", action="save")).status_code == 404
    assert (
        await post_form(browser, f"/admin/events/{event_id}/consent-purposes", "/admin", key="x")
    ).status_code == 404

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    page = await browser.get(url)
    assert page.status_code == 200
    assert "You can view this event but not change it." in page.text
    assert 'value="save"' not in page.text and ">Save<" not in page.text and "Add another" not in page.text
    if part == "advisors":
        assert _field(page.text, "a-0-name") == "Piet Adviseur"
    refused = await post_form(browser, post_url, url, action="add")
    assert refused.status_code == 403
    assert (await post_form(browser, post_url, url, action="save")).status_code == 403
    if part == "questions":
        purpose = await post_form(
            browser, f"/admin/events/{event_id}/consent-purposes", url, key="x", **{"text-nl": "Mag ik u bellen?"}
        )
        assert purpose.status_code == 403
        assert not await ConsentPurpose.exists().where(ConsentPurpose.key == "x")


async def test_a_page_for_another_kind_of_event_does_not_exist(browser) -> None:
    slug, org_id = await make_organisation("soort")
    info = await make_event(org_id)
    await _editor(browser, slug)
    for part in ("advisors", "networking"):
        assert (await browser.get(f"/admin/events/{info}/{part}")).status_code == 404
        assert (await post_form(browser, f"/admin/events/{info}/{part}", "/admin", action="save")).status_code == 404
    assert (await browser.get(f"/admin/events/{info}/questions")).status_code == 200
    assert (await browser.get("/admin/events/999999999/questions")).status_code == 404


async def test_a_co_host_sees_the_questions_and_its_own_purposes_but_cannot_change_them(browser) -> None:
    _, owner_id = await make_organisation("eigenaar")
    host_slug, host_id = await make_organisation("cohost")
    event_id = await make_event(owner_id, hosts=[host_slug])
    from events.services import consents
    from events.services.access import CLI_ACTOR

    await consents.define_purpose(
        CLI_ACTOR, host_id, consents.PurposeInput(key="nieuwsbrief", text={"nl": "Stuur mij de nieuwsbrief"})
    )
    await sign_in(browser, await make_organiser(host_slug, role="owner"))
    await browser.get("/?lang=en")
    url = f"/admin/events/{event_id}/questions"
    page = await browser.get(url)
    assert page.status_code == 200 and "Stuur mij de nieuwsbrief" in page.text
    assert "You can view this event but not change it." in page.text
    assert (await post_form(browser, url, url, **{"q-0-kind": "short_text", "q-0-label-nl": "X"})).status_code == 403
    assert await _question_rows(event_id) == []


async def test_a_cancelled_event_keeps_its_questions_as_they_were(browser) -> None:
    from events.services import events as event_service
    from events.services.access import CLI_ACTOR

    slug, org_id = await make_organisation("geannuleerd")
    event_id = await make_event(org_id)
    await event_service.cancel_event(CLI_ACTOR, event_id)
    await _editor(browser, slug)
    url = f"/admin/events/{event_id}/questions"
    refused = await post_form(browser, url, url, **{"q-0-kind": "short_text", "q-0-label-en": "Company?"})
    assert refused.status_code == 409 and "A cancelled event cannot be changed." in refused.text
    assert _field(refused.text, "q-0-label-en") == "Company?"
    assert await _question_rows(event_id) == []
