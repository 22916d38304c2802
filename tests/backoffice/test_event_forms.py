"""Creating, editing, duplicating and cancelling an event from the back office: the forms, the
warning before a change that sends updated invites, and the mails each step sends (or not)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import msgspec

from events.services import event_forms, registrations
from events.services import events as event_service
from events.services.access import CLI_ACTOR
from events.services.events import EventPatch
from events.services.questions import QuestionInput, replace_questions
from events.services.registrations import RegistrationInput
from events.tables import EventHost, Organisation, OutboxMessage, Question, Registration, Room, Venue
from tests.integration.helpers import (
    count_events,
    csrf_from_html,
    make_event,
    make_organisation,
    make_organiser,
    post_form,
    sign_in,
    stored_event,
)

NEXT_YEAR = datetime.now(UTC).year + 1


class _FormReader(HTMLParser):
    """The fields a browser would send for the form whose action is `action`."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit",):
            if a.get("type") == "checkbox" and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text))
            self._textarea = None


def form_fields(html: str, action: str) -> dict[str, Any]:
    """The form as a browser would submit it: repeated names (checkboxes) become lists."""
    reader = _FormReader(action)
    reader.feed(html)
    assert reader.fields, f"no form posting to {action}"
    values: dict[str, Any] = {}
    for name, value in reader.fields:
        if name in values:
            values[name] = [*values[name], value] if isinstance(values[name], list) else [values[name], value]
        else:
            values[name] = value
    return values


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="err-{re.escape(name)}">(.*?)</p>', html, re.S)
    assert match, f"no error shown for {name}"
    return match.group(1)


async def _people(event_id: int, *names: str) -> list[dict[str, Any]]:
    for name in names:
        await registrations.register(
            event_id,
            RegistrationInput(name=name, email=f"{name.lower()}@people.example", language="nl"),
        )
    return await Registration.select().where(Registration.event == event_id).order_by(Registration.id)


async def _mails(event_id: int, kind: str) -> list[dict[str, Any]]:
    return await OutboxMessage.select().where((OutboxMessage.event == event_id) & (OutboxMessage.kind == kind))


def _form_for_new(organisation_id: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "info_session",
        "organisation": str(organisation_id),
        "title_nl": "Starten met microkrediet",
        "title_fr": "Démarrer avec le microcrédit",
        "title_en": "",
        "description_nl": "Alles over **microkrediet**.",
        "timezone": "Europe/Brussels",
        "starts_at": f"{NEXT_YEAR}-01-14T18:00",
        "ends_at": f"{NEXT_YEAR}-01-14T20:00",
        "venue_name": "Ondernemershuis",
        "venue_address": "Kerkstraat 1, 9000 Gent",
        "venue_city": "Gent",
        "venue_room": "Zaal B",
        "capacity": "25",
        "requires_approval": "yes",
        "registration_closes_at": f"{NEXT_YEAR}-01-13T12:00",
        "reminder_hours": "24, 2",
    }
    values.update(overrides)
    return values


async def test_creating_an_event_stores_a_draft_with_co_hosts_and_local_times_in_utc(browser) -> None:
    slug, org_id = await make_organisation("maak")
    partner, partner_id = await make_organisation("partner")
    third, third_id = await make_organisation("derde")
    day_id = await make_event(
        org_id, kind="consultation_day", publish=False, title={"nl": "Zitdag"}, venue={"name": "Zitdagzaal"}
    )
    # An earlier event at the same name and address, entered without a city.
    earlier = await make_event(org_id, venue={"name": "Ondernemershuis", "address": "Kerkstraat 1, 9000 Gent"})
    await sign_in(browser, await make_organiser(slug, role="editor"))

    dashboard = await browser.get("/admin?lang=en")
    assert 'href="/admin/events/new"' in dashboard.text
    page = await browser.get(f"/admin/events/new?organisation={org_id}&kind=workshop&lang=en")
    assert page.status_code == 200 and "New event" in page.text
    assert '<option value="workshop" selected>' in page.text
    assert f'value="{partner}"' in page.text, "every other organisation is offered as co-host"
    for lang in ("nl", "fr", "en"):
        assert f'name="title_{lang}"' in page.text and f'name="description_{lang}"' in page.text

    assert f'<option value="{day_id}" >Zitdag' in page.text, "a follow-up consultation day can be chosen"
    form = _form_for_new(org_id, hosts=[partner, third], follow_up_event_id=str(day_id))
    response = await browser.post(
        "/admin/events/new", data={**form, "_csrf_token": csrf_from_html(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    event_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert response.headers["location"] == f"/admin/events/{event_id}"

    row = await stored_event(event_id)
    assert row["status"] == "draft" and row["organisation"] == org_id
    assert row["starts_at"] == datetime(NEXT_YEAR, 1, 14, 17, 0, tzinfo=UTC), "18:00 in Brussels in winter is 17:00Z"
    assert row["ends_at"] == datetime(NEXT_YEAR, 1, 14, 19, 0, tzinfo=UTC)
    assert row["registration_closes_at"] == datetime(NEXT_YEAR, 1, 13, 11, 0, tzinfo=UTC)
    assert row["registration_opens_at"] is None
    assert (row["title_nl"], row["title_fr"], row["title_en"]) == (form["title_nl"], form["title_fr"], "")
    assert row["description_nl"] == "Alles over **microkrediet**."
    assert row["capacity"] == 25 and row["reminder_hours"] == "24,2"
    assert row["requires_approval"] is True and row["waitlist"] is False and row["double_opt_in"] is False
    assert row["timezone"] == "Europe/Brussels"
    hosts = await EventHost.select(EventHost.organisation).where(EventHost.event == event_id)
    assert sorted(h["organisation"] for h in hosts) == sorted([partner_id, third_id])
    assert row["follow_up_event"] == day_id
    venue = await Venue.select().where(Venue.id == row["venue"]).first()
    room = await Room.select().where(Room.id == row["room"]).first()
    assert (venue["name"], venue["address"], venue["city"]) == ("Ondernemershuis", "Kerkstraat 1, 9000 Gent", "Gent")
    earlier_venue = await Venue.select().where(Venue.id == (await stored_event(earlier))["venue"]).first()
    assert earlier_venue["city"] == "", "the city typed now is kept, and the earlier event is not moved"
    assert room["name"] == "Zaal B"
    assert await OutboxMessage.count().where(OutboxMessage.event == event_id) == 0, "a draft tells nobody"

    detail = await browser.get(f"/admin/events/{event_id}?lang=en")
    assert detail.status_code == 200 and "Starten met microkrediet" in detail.text


async def test_a_form_with_mistakes_comes_back_with_each_message_at_its_field_and_the_values_kept(browser) -> None:
    slug, org_id = await make_organisation("fout")
    await sign_in(browser, await make_organiser(slug, role="owner"))
    page = await browser.get("/admin/events/new?lang=en")
    form = _form_for_new(
        org_id,
        title_nl="",
        title_fr="",
        description_nl="Mijn tekst blijft staan",
        ends_at=f"{NEXT_YEAR}-01-14T17:00",
        capacity="-3",
        reminder_hours="twee dagen",
        online_url="javascript:alert(1)",
    )
    response = await browser.post(
        "/admin/events/new?lang=en", data={**form, "_csrf_token": csrf_from_html(page.text)}, follow_redirects=False
    )
    assert response.status_code == 400
    html = response.text
    assert "Give the event a title in at least one language." in field_error(html, "title")
    assert "end after it starts" in field_error(html, "ends_at")
    assert "leave empty for no limit" in field_error(html, "capacity")
    assert "separated by commas" in field_error(html, "reminder_hours")
    assert "http(s)" in field_error(html, "online_url")
    assert re.search(r'id="ev-capacity"[^>]*aria-invalid="true" aria-describedby="err-capacity', html)
    assert re.search(r'id="ev-ends"[^>]*aria-describedby="err-ends_at', html)
    assert "Mijn tekst blijft staan</textarea>" in html
    assert 'value="Ondernemershuis"' in html and f'value="{NEXT_YEAR}-01-14T18:00"' in html
    assert 'value="twee dagen"' in html and 'value="-3"' in html
    assert '<a href="#ev-capacity">Places</a>' in html, "the summary links to each field"

    # What only the service can know (no such co-host) comes back the same way.
    unknown = _form_for_new(org_id, hosts="no-such-organisation", description_nl="Blijft ook staan")
    response = await browser.post(
        "/admin/events/new?lang=en", data={**unknown, "_csrf_token": csrf_from_html(page.text)}, follow_redirects=False
    )
    assert response.status_code == 400
    assert "Unknown organisation no-such-organisation." in field_error(response.text, "hosts")
    assert "Blijft ook staan</textarea>" in response.text
    assert await count_events(org_id) == 0


def test_a_wall_clock_time_the_clocks_skip_is_refused_and_summer_time_is_two_hours_ahead() -> None:
    # Clocks in Brussels jump from 02:00 to 03:00 on the last Sunday of March.
    last_sunday = max(day for day in range(25, 32) if date(NEXT_YEAR, 3, day).weekday() == 6)
    day = f"{NEXT_YEAR}-03-{last_sunday}"
    _, errors = event_forms.parse_event_form(
        event_forms.EventForm(title_nl="Zomeruur", starts_at=f"{day}T02:30", ends_at=f"{day}T04:00")
    )
    assert "does not exist" in errors["starts_at"].message and set(errors) == {"starts_at"}
    summer, errors = event_forms.parse_event_form(
        event_forms.EventForm(
            title_nl="Zomer", starts_at=f"{NEXT_YEAR}-07-01T18:00", ends_at=f"{NEXT_YEAR}-07-01T19:30"
        )
    )
    assert errors == {}
    assert summer.starts_at == datetime(NEXT_YEAR, 7, 1, 16, 0, tzinfo=UTC), "18:00 CEST is 16:00Z"


async def test_moving_a_published_event_warns_with_the_count_and_sends_nothing_until_confirmed(browser) -> None:
    slug, org_id = await make_organisation("wijzig")
    event_id = await make_event(org_id, capacity=2)
    people = await _people(event_id, "Anna", "Bert", "Cor")
    confirmed = {p["email"] for p in people if p["status"] == "confirmed"}
    assert len(confirmed) == 2 and any(p["status"] == "waitlisted" for p in people)
    before = await stored_event(event_id)
    await sign_in(browser, await make_organiser(slug, role="editor"))

    action = f"/admin/events/{event_id}/edit"
    page = await browser.get(f"{action}?lang=en")
    assert page.status_code == 200
    form = form_fields(page.text, action)
    assert form["title_nl"] == "Infosessie microkrediet" and form["capacity"] == "2"
    local_start = datetime.strptime(form["starts_at"], "%Y-%m-%dT%H:%M")
    moved = (local_start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    moved_end = (datetime.strptime(form["ends_at"], "%Y-%m-%dT%H:%M") + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    form.update(starts_at=moved, ends_at=moved_end)

    warning = await browser.post(f"{action}?lang=en", data=form, follow_redirects=False)
    assert warning.status_code == 200
    assert "Saving this change sends an updated invitation to 2 people." in warning.text
    assert "Save and notify" in warning.text
    assert await _mails(event_id, "event_updated") == [], "nothing is sent before the organiser confirms"
    unchanged = await stored_event(event_id)
    assert unchanged["starts_at"] == before["starts_at"] and unchanged["sequence"] == before["sequence"]

    back = await browser.post(action, data={**form_fields(warning.text, action), "back": "yes"}, follow_redirects=False)
    assert back.status_code == 200 and f'value="{moved}"' in back.text, "Back keeps what was entered"
    assert await _mails(event_id, "event_updated") == []

    confirmed_step = form_fields(warning.text, action)
    assert confirmed_step["starts_at"] == moved, "the confirmation step carries every value"
    saved = await browser.post(action, data={**confirmed_step, "confirm": "yes"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/events/{event_id}"

    after = await stored_event(event_id)
    assert after["starts_at"] == before["starts_at"] + timedelta(hours=1)
    assert after["sequence"] == before["sequence"] + 1
    mails = await _mails(event_id, "event_updated")
    assert sorted(m["recipient"] for m in mails) == sorted(confirmed), "exactly one update per confirmed person"
    for mail in mails:
        assert mail["ics_method"] == "REQUEST"
        assert "METHOD:REQUEST" in mail["ics"] and f"SEQUENCE:{after['sequence']}" in mail["ics"]
        assert f"UID:{after['uid']}" in mail["ics"].replace("\r\n ", "")


async def test_a_description_only_edit_saves_at_once_and_tells_nobody(browser) -> None:
    slug, org_id = await make_organisation("tekst")
    event_id = await make_event(org_id, capacity=5)
    await _people(event_id, "Anna", "Bert")
    before = await stored_event(event_id)
    await sign_in(browser, await make_organiser(slug, role="owner"))
    action = f"/admin/events/{event_id}/edit"
    form = form_fields((await browser.get(action)).text, action)
    form["description_fr"] = "Tout sur le *microcrédit*."
    form["title_en"] = "Microcredit, the basics"

    saved = await browser.post(action, data=form, follow_redirects=False)
    assert saved.status_code == 303, "no warning for a change calendars need not act on"
    after = await stored_event(event_id)
    assert after["description_fr"] == "Tout sur le *microcrédit*." and after["title_en"] == "Microcredit, the basics"
    assert after["sequence"] == before["sequence"] and after["starts_at"] == before["starts_at"]
    assert await _mails(event_id, "event_updated") == []


async def test_editing_a_draft_never_warns_even_when_the_time_changes(browser) -> None:
    slug, org_id = await make_organisation("klad")
    event_id = await make_event(org_id, publish=False)
    await sign_in(browser, await make_organiser(slug, role="editor"))
    action = f"/admin/events/{event_id}/edit"
    form = form_fields((await browser.get(action)).text, action)
    form["starts_at"] = form["starts_at"][:11] + "09:00"
    saved = await browser.post(action, data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert await OutboxMessage.count().where(OutboxMessage.event == event_id) == 0


async def test_invite_impact_follows_the_rule_that_raises_the_sequence() -> None:
    _, org_id = await make_organisation("regel")
    event_id = await make_event(org_id, capacity=5)
    await _people(event_id, "Anna", "Bert", "Cor")
    row = await stored_event(event_id)
    same_place = msgspec.convert(
        {"name": "Ondernemershuis", "address": "Kerkstraat 1, 9000 Gent", "room": "Zaal A"},
        event_service.VenueInput,
    )
    other_room = msgspec.structs.replace(same_place, room="Zaal C")
    cases = [
        (EventPatch(description=event_service.DescriptionTexts(nl="Nieuw")), 0),
        (EventPatch(capacity=10), 0),
        (EventPatch(starts_at=row["starts_at"]), 0),
        (EventPatch(venue=same_place), 0),
        (EventPatch(venue=other_room), 3),
        (EventPatch(starts_at=row["starts_at"] - timedelta(minutes=30)), 3),
        (EventPatch(online_url="https://meet.example/x"), 3),
    ]
    for patch, expected in cases:
        assert await event_forms.invite_impact(CLI_ACTOR, event_id, patch) == expected, patch
    # And saving agrees: the room change raises the SEQUENCE and tells those three people.
    assert await event_service.update_event(CLI_ACTOR, event_id, EventPatch(venue=other_room)) is True
    assert len(await _mails(event_id, "event_updated")) == 3


async def test_duplicating_makes_a_draft_with_its_own_uid_and_the_same_questions(browser) -> None:
    slug, org_id = await make_organisation("kopie")
    partner, partner_id = await make_organisation("partner")
    event_id = await make_event(org_id, hosts=[partner], requires_approval=True, reminder_hours=[72])
    await replace_questions(
        CLI_ACTOR,
        event_id,
        [
            QuestionInput(kind="short_text", label={"nl": "Bedrijfsnaam", "fr": "Entreprise"}, required=True),
            msgspec.convert(
                {
                    "kind": "single",
                    "label": {"nl": "Fase"},
                    "options": [{"key": "idee", "nl": "Idee"}, {"key": "start", "nl": "Gestart"}],
                },
                QuestionInput,
            ),
        ],
    )
    source = await stored_event(event_id)
    await sign_in(browser, await make_organiser(slug, role="editor"))

    action = f"/admin/events/{event_id}/duplicate"
    page = await browser.get(f"{action}?lang=en")
    assert page.status_code == 200 and "Duplicate event" in page.text
    form = form_fields(page.text, action)
    assert form["title_nl"] == "Infosessie microkrediet" and form["hosts"] == partner
    assert form["requires_approval"] == "yes" and form["reminder_hours"] == "72"
    form.update(starts_at=f"{NEXT_YEAR}-02-03T10:00", ends_at=f"{NEXT_YEAR}-02-03T12:00")
    created = await browser.post(action, data=form, follow_redirects=False)
    assert created.status_code == 303
    copy_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert copy_id != event_id

    copy = await stored_event(copy_id)
    assert copy["status"] == "draft" and copy["uid"] != source["uid"] and copy["sequence"] == 0
    assert copy["starts_at"] == datetime(NEXT_YEAR, 2, 3, 9, 0, tzinfo=UTC)
    for column in ("title_nl", "title_fr", "title_en", "description_nl", "capacity", "venue", "room", "kind"):
        assert copy[column] == source[column], column
    assert copy["requires_approval"] is True and copy["reminder_hours"] == "72"
    hosts = await EventHost.select(EventHost.organisation).where(EventHost.event == copy_id)
    assert [h["organisation"] for h in hosts] == [partner_id]

    def shape(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["position"], r["kind"], r["label_nl"], r["label_fr"], r["options"], r["required"]) for r in rows]

    original_q = await Question.select().where(Question.event == event_id).order_by(Question.position)
    copied_q = await Question.select().where(Question.event == copy_id).order_by(Question.position)
    assert len(copied_q) == 2 and shape(copied_q) == shape(original_q)
    assert {q["id"] for q in copied_q}.isdisjoint(q["id"] for q in original_q)
    assert (await stored_event(event_id))["status"] == "published", "the original is untouched"
    assert await OutboxMessage.count().where(OutboxMessage.event == copy_id) == 0


async def test_the_cancel_preview_lists_who_will_be_told_and_cancelling_sends_each_a_cancel(browser) -> None:
    slug, org_id = await make_organisation("annuleer")
    event_id = await make_event(org_id, capacity=2)
    await _people(event_id, "Anna", "Bert", "Cor")
    await event_service.update_event(CLI_ACTOR, event_id, EventPatch(requires_approval=True))
    await _people(event_id, "Dirk")
    await event_service.update_event(CLI_ACTOR, event_id, EventPatch(requires_approval=False, double_opt_in=True))
    people = await _people(event_id, "Eva")
    by_status = {p["name"]: p["status"] for p in people}
    assert by_status == {
        "Anna": "confirmed",
        "Bert": "confirmed",
        "Cor": "waitlisted",
        "Dirk": "pending_approval",
        "Eva": "pending_email",
    }
    await sign_in(browser, await make_organiser(slug, role="editor"))

    detail = await browser.get(f"/admin/events/{event_id}")
    assert f'href="/admin/events/{event_id}/cancel"' in detail.text
    preview = await browser.get(f"/admin/events/{event_id}/cancel?lang=en")
    assert preview.status_code == 200
    html = preview.text
    assert "4 people get a cancellation by mail" in html
    told = html.split("People who get the cancellation")[1].split("</table>")[0]
    assert "Anna" in told and "anna@people.example" in told and "bert@people.example" in told
    assert "cor@people.example" in told and "dirk@people.example" in told and "Eva" not in told
    not_told = html.split("People who are not told")[1].split("</table>")[0]
    assert "eva@people.example" in not_told, "an address never confirmed is not mailed again"
    assert f'action="/admin/events/{event_id}/cancel"' in html
    assert await _mails(event_id, "event_cancelled") == [], "the preview sends nothing"

    response = await post_form(browser, f"/admin/events/{event_id}/cancel", f"/admin/events/{event_id}/cancel")
    assert response.status_code == 303
    assert (await stored_event(event_id))["status"] == "cancelled"
    mails = await _mails(event_id, "event_cancelled")
    assert sorted(m["recipient"] for m in mails) == ["anna@people.example", "bert@people.example"]
    for mail in mails:
        assert mail["ics_method"] == "CANCEL" and "METHOD:CANCEL" in mail["ics"]
    waiting = await _mails(event_id, "event_cancelled_plain")
    assert sorted(m["recipient"] for m in waiting) == ["cor@people.example", "dirk@people.example"]
    assert all(m["ics"] == "" for m in waiting), "their calendars hold nothing to remove"
    assert await OutboxMessage.count().where(OutboxMessage.recipient == "eva@people.example") == 1, "only her confirm"

    again = await browser.get(f"/admin/events/{event_id}/cancel?lang=en")
    assert again.status_code == 200 and "already cancelled" in again.text
    assert f'action="/admin/events/{event_id}/cancel"' not in again.text


async def test_viewers_read_but_cannot_change_and_others_learn_nothing(browser) -> None:
    slug, org_id = await make_organisation("rechten")
    event_id = await make_event(org_id)
    await _people(event_id, "Anna")
    before = await stored_event(event_id)
    detail_url = f"/admin/events/{event_id}"

    await sign_in(browser, await make_organiser(slug, role="viewer"))
    detail = await browser.get(detail_url)
    assert detail.status_code == 200
    assert f"{detail_url}/edit" not in detail.text and f"{detail_url}/cancel" not in detail.text
    assert 'href="/admin/events/new"' not in (await browser.get("/admin")).text
    for path in ("/edit", "/duplicate", "/cancel"):
        assert (await browser.get(detail_url + path)).status_code == 403, path
    assert (await browser.get("/admin/events/new")).status_code == 403
    edit = await post_form(
        browser, f"{detail_url}/edit", detail_url, title_nl="Gekaapt", starts_at="2030-01-01T10:00", confirm="yes"
    )
    assert edit.status_code == 403
    created = await post_form(browser, "/admin/events/new", detail_url, **_form_for_new(org_id))
    assert created.status_code == 403
    copied = await post_form(browser, f"{detail_url}/duplicate", detail_url, **_form_for_new(org_id))
    assert copied.status_code == 403
    assert (await post_form(browser, f"{detail_url}/cancel", detail_url)).status_code == 403
    assert await stored_event(event_id) == before and await count_events(org_id) == 1

    other, other_id = await make_organisation("ander")
    await sign_in(browser, await make_organiser(other, role="owner"))
    for path in ("/edit", "/duplicate", "/cancel"):
        assert (await browser.get(detail_url + path)).status_code == 404, path
    edit = await post_form(browser, f"{detail_url}/edit", "/admin", title_nl="Gekaapt", confirm="yes")
    assert edit.status_code == 404
    elsewhere = await post_form(browser, "/admin/events/new", "/admin", **_form_for_new(org_id))
    assert elsewhere.status_code == 404, "creating for an organisation one has no role in"
    assert (await browser.get(f"/admin/events/new?organisation={org_id}")).status_code == 404
    assert await stored_event(event_id) == before and await count_events(org_id) == 1
    assert await count_events(other_id) == 0


async def test_a_co_host_sees_the_event_but_may_not_change_it(browser) -> None:
    _, owner_id = await make_organisation("eigen")
    partner, _ = await make_organisation("partner")
    event_id = await make_event(owner_id, hosts=[partner])
    await sign_in(browser, await make_organiser(partner, role="owner"))
    assert (await browser.get(f"/admin/events/{event_id}")).status_code == 200
    assert (await browser.get(f"/admin/events/{event_id}/edit")).status_code == 403
    assert (await browser.get(f"/admin/events/{event_id}/cancel")).status_code == 403
    duplicate = await browser.get(f"/admin/events/{event_id}/duplicate")
    assert duplicate.status_code == 200, "a co-host may copy the event into its own organisation"
    org = await Organisation.select(Organisation.id).where(Organisation.slug == partner).first()
    assert f'<option value="{org["id"]}" selected>' in duplicate.text


async def test_anonymous_visitors_are_sent_to_sign_in(browser) -> None:
    for path in ("/admin/events/new", "/admin/events/1/edit", "/admin/events/1/duplicate", "/admin/events/1/cancel"):
        response = await browser.get(path, follow_redirects=False)
        assert response.status_code in (302, 303, 307) and "/login" in response.headers["location"], path


async def test_a_copied_consultation_day_keeps_its_advisors_at_the_same_local_hours_across_dst(browser) -> None:
    from zoneinfo import ZoneInfo

    from events.tables import Advisor, AvailabilityWindow, Slot

    brussels = ZoneInfo("Europe/Brussels")
    slug, org_id = await make_organisation("zitdag-kopie")
    day = datetime(NEXT_YEAR, 3, 23, 9, 0, tzinfo=brussels)  # winter time; the copy falls in summer time
    windows = [{"starts_at": day.isoformat(), "ends_at": day.replace(hour=12).isoformat()}]
    event_id = await make_event(
        org_id,
        kind="consultation_day",
        starts_at=day.isoformat(),
        ends_at=day.replace(hour=17).isoformat(),
        consultation={
            "slot_minutes": 30,
            "advisors": [
                {"name": "Ilse", "email": "ilse@adviseur.example", "languages": ["nl", "fr"], "windows": windows},
                {
                    "name": "Omar",
                    "email": "omar@adviseur.example",
                    "languages": ["fr"],
                    "topics": ["microcredit"],
                    "windows": [
                        {"starts_at": day.replace(hour=14).isoformat(), "ends_at": day.replace(hour=17).isoformat()}
                    ],
                },
            ],
        },
    )
    await sign_in(browser, await make_organiser(slug, role="editor"))
    action = f"/admin/events/{event_id}/duplicate"
    form = form_fields((await browser.get(action)).text, action)
    # A week later, and only in the morning: Omar's afternoon no longer fits and is left out.
    form.update(starts_at=f"{NEXT_YEAR}-03-30T09:00", ends_at=f"{NEXT_YEAR}-03-30T13:00")
    created = await browser.post(action, data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    copy_id = int(created.headers["location"].rsplit("/", 1)[1])

    advisors = await Advisor.select().where(Advisor.event == copy_id)
    assert [(a["name"], a["languages"]) for a in advisors] == [("Ilse", "nl,fr")]
    [window] = await AvailabilityWindow.select().where(AvailabilityWindow.advisor == advisors[0]["id"])
    assert window["starts_at"].astimezone(brussels).strftime("%Y-%m-%d %H:%M") == f"{NEXT_YEAR}-03-30 09:00"
    assert window["ends_at"].astimezone(brussels).strftime("%H:%M") == "12:00", "same local hours after DST"
    slots = await Slot.select().where(Slot.event == copy_id)
    assert len(slots) == 6, "three hours of 30-minute slots, generated for the copy"
    assert len(await Slot.select().where(Slot.event == event_id)) == 12, "the original keeps its own"


async def test_a_copied_networking_event_keeps_its_tables_and_meeting_hours(browser) -> None:
    from zoneinfo import ZoneInfo

    from events.tables import MeetingSlot, MeetingTable, NetworkingSettings

    brussels = ZoneInfo("Europe/Brussels")
    slug, org_id = await make_organisation("netwerk-kopie")
    evening = datetime(NEXT_YEAR, 5, 6, 18, 0, tzinfo=brussels)
    event_id = await make_event(
        org_id,
        kind="networking",
        starts_at=evening.isoformat(),
        ends_at=evening.replace(hour=21).isoformat(),
        networking={
            "meeting_minutes": 20,
            "meetings_start": evening.replace(hour=19).isoformat(),
            "meetings_end": evening.replace(hour=20).isoformat(),
            "tables": ["Tafel 1", "Tafel 2"],
            "vocabulary": ["financing"],
        },
    )
    await sign_in(browser, await make_organiser(slug, role="editor"))
    action = f"/admin/events/{event_id}/duplicate"
    form = form_fields((await browser.get(action)).text, action)
    form.update(starts_at=f"{NEXT_YEAR}-06-03T18:00", ends_at=f"{NEXT_YEAR}-06-03T21:00")
    created = await browser.post(action, data=form, follow_redirects=False)
    copy_id = int(created.headers["location"].rsplit("/", 1)[1])

    settings = await NetworkingSettings.select().where(NetworkingSettings.event == copy_id).first()
    assert settings is not None and settings["meeting_minutes"] == 20 and settings["vocabulary"] == "financing"
    assert settings["meetings_start"].astimezone(brussels) == datetime(NEXT_YEAR, 6, 3, 19, 0, tzinfo=brussels)
    tables = await MeetingTable.select().where(MeetingTable.event == copy_id).order_by(MeetingTable.position)
    assert [t["name"] for t in tables] == ["Tafel 1", "Tafel 2"]
    assert len(await MeetingSlot.select().where(MeetingSlot.event == copy_id)) == 3
