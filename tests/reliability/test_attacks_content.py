"""Attacks through content: hostile text typed into the app comes out harmless everywhere.

One hostile world is built through the real JSON API and forms: an organisation, an event whose
every free-text field (titles and descriptions per language, venue, room, questions and their
options, a consent purpose) carries HTML, iCalendar and spreadsheet payloads; participants whose
names, companies and answers do too; a consultation day whose advisor's name does. Then:

- every public, private and back-office page renders it escaped, under a Content-Security-Policy
  that allows no inline script;
- every mail, drained by the real worker into a real aiosmtpd server, has exactly one recipient,
  no smuggled header, escaped HTML, and an invite with exactly one VEVENT that icalendar and
  ical.js read back to the text that was typed;
- every feed (public, organisation, event, personal) has one VEVENT per event with that text;
- CSV and XLSX exports neutralise cells a spreadsheet would run as a formula.

Builder-level escaping is proven in tests/calendar/test_invites.py and tests/unit/test_charts.py;
this file proves the same end to end. The package's tables point at a database of this module's
own, so the worker drains only these mails.
"""

from __future__ import annotations

import csv
import email
import email.utils
import io
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.calendar.parsers import parse_with_icalendar, parse_with_icaljs
from tests.conftest import free_port, private_database
from tests.consultations.helpers import advisor, consultation, day, day_payload, window
from tests.integration import conftest as integration_fixtures
from tests.integration.helpers import (
    bearer,
    csrf_from_html,
    event_payload,
    make_organisation,
    make_organiser,
    make_token,
    post_form,
    sign_in,
)
from tests.mail.conftest import Received, ScriptedHandler, SmtpServer, drain_until_idle, worker_config
from tests.registrations.helpers import token_in
from tests.reliability.attack_payloads import (
    ATTRIBUTE,
    FORMULA_STARTS,
    FORMULAS,
    HEADER_BREAK,
    ICS_BREAK,
    ICS_SPECIALS,
    JAVASCRIPT_URL,
    NAME_WITH_PUNCTUATION,
    SCRIPT,
    unescaped,
)

# The per-address in-process client, registered as a fixture of this module.
browser = integration_fixtures.browser

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module", autouse=True)
def attacks_database() -> Iterator[str]:
    """This module's own database: the worker drained here sends only this module's mails."""
    with private_database("attacks") as url:
        yield url


@dataclass
class World:
    slug: str
    org_id: int
    owner: str
    token: str
    event_id: int
    day_id: int
    mail_domain: str
    people: dict[str, str] = field(default_factory=dict)  # name → private token
    registration_ids: list[int] = field(default_factory=list)
    question_ids: list[int] = field(default_factory=list)


def hostile(label: str) -> str:
    """A payload that says where it was typed."""
    return f"{label} {SCRIPT}{ATTRIBUTE}"


async def _world(client: Any) -> World:
    slug, org_id = await make_organisation("xss", name=hostile("Organisation"))
    owner = await make_organiser(slug, role="owner")
    token = await make_token(slug, role="owner")
    api = bearer(token)
    mail_domain = f"{secrets.token_hex(5)}.attack.test"

    body = event_payload(
        title={lang: hostile(f"Title {lang}") + " " + ICS_SPECIALS for lang in ("nl", "fr", "en")},
        description={
            lang: f"{hostile('Description ' + lang)} [link]({JAVASCRIPT_URL})\n{ICS_BREAK}"
            for lang in ("nl", "fr", "en")
        },
        venue={"name": hostile("Venue") + " " + ICS_SPECIALS, "address": ICS_SPECIALS, "room": hostile("Room")},
        capacity=50,
    )
    created = await client.post("/api/v1/events", json=body, headers=api)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    questions = await client.put(
        f"/api/v1/events/{event_id}/questions",
        json=[
            {"kind": "short_text", "label": {"nl": hostile("Question"), "en": hostile("Question")}},
            {
                "kind": "single",
                "label": {"nl": "Keuze", "en": "Choice"},
                "options": [{"key": "a", "nl": hostile("Option"), "en": hostile("Option")}, {"key": "b", "nl": "b"}],
            },
        ],
        headers=api,
    )
    assert questions.status_code == 200, questions.text
    question_ids = [q["id"] for q in questions.json()]
    purpose = await client.post(
        "/api/v1/consent-purposes", json={"key": "xss", "text": {"nl": hostile("Purpose")}}, headers=api
    )
    assert purpose.status_code == 201, purpose.text
    assert (await client.post(f"/api/v1/events/{event_id}/publish", headers=api)).status_code == 200

    start = day(40)
    consult = consultation([advisor(hostile("Advisor"), f"advisor@{mail_domain}", [window(start, 60)])])
    made = await client.post("/api/v1/events", json=day_payload(start, start.replace(hour=17), consult), headers=api)
    assert made.status_code == 201, made.text
    day_id = made.json()["id"]
    assert (await client.post(f"/api/v1/events/{day_id}/publish", headers=api)).status_code == 200

    world = World(slug, org_id, owner, token, event_id, day_id, mail_domain, question_ids=question_ids)
    names = [hostile("Name"), NAME_WITH_PUNCTUATION, *FORMULAS]
    for n, name in enumerate(names):
        answer = await client.post(
            f"/api/v1/events/{event_id}/registrations",
            json={
                "name": name,
                "email": f"p{n}@{mail_domain}",
                "language": "en",
                "company": FORMULAS[n % len(FORMULAS)] if n else hostile("Company"),
                "answers": {str(question_ids[0]): FORMULAS[n % len(FORMULAS)] if n else hostile("Answer")},
            },
        )
        if answer.status_code == 422:  # a control character in a name is refused: nothing to render
            continue
        assert answer.status_code == 201, answer.text
        world.people[name] = token_in(answer.json()["manage_url"])
        world.registration_ids.append(answer.json()["id"])
    slots = await client.get(f"/api/v1/events/{day_id}/slots")
    booked = await client.post(
        f"/api/v1/slots/{slots.json()[0]['id']}/booking",
        json={"name": hostile("Booker"), "email": f"booker@{mail_domain}", "language": "nl"},
    )
    assert booked.status_code == 201, booked.text
    return world


@pytest.fixture(scope="module")
async def world(app: Any, attacks_database: str) -> AsyncIterator[World]:
    from litestar.testing import AsyncTestClient

    from tests.integration.helpers import from_address, unique_address

    async with AsyncTestClient(app=from_address(app, unique_address()), base_url="http://testserver.local") as client:
        yield await _world(client)


def vevent_lines(ics: str) -> int:
    """How many VEVENTs a calendar client sees: lines that are exactly BEGIN:VEVENT."""
    return sum(1 for line in ics.splitlines() if line == "BEGIN:VEVENT")


def assert_safe_page(url: str, response: Any) -> None:
    assert response.status_code == 200, f"{url}: {response.status_code}"
    assert response.headers["content-type"].startswith("text/html"), url
    csp = response.headers.get("content-security-policy", "")
    script_src = re.search(r"script-src([^;]*)", csp)
    assert script_src and "'unsafe-inline'" not in script_src.group(1), f"{url}: CSP {csp!r}"
    assert not unescaped(response.text), f"{url} renders {unescaped(response.text)} unescaped"


# Stored XSS ----------------------------------------------------------------------------------------


async def test_every_page_shows_hostile_text_escaped_under_a_csp_without_inline_scripts(
    browser: Any, world: Any
) -> None:
    first_token = world.people[hostile("Name")]
    registration_id = world.registration_ids[0]
    public = [
        "/events",
        f"/events/{world.event_id}",
        f"/events/{world.event_id}?lang=fr",
        f"/events/{world.day_id}?lang=en",
        f"/r/{first_token}",
    ]
    back_office = [
        "/admin",
        f"/admin/events/{world.event_id}",
        f"/admin/events/{world.event_id}/edit",
        f"/admin/events/{world.event_id}/attendees",
        f"/admin/events/{world.event_id}/attendance-sheet",
        f"/admin/events/{world.event_id}/check-in",
        f"/admin/events/{world.event_id}/questions",
        f"/admin/events/{world.event_id}/statistics",
        f"/admin/events/{world.day_id}/day",
        f"/admin/events/{world.day_id}/advisors",
        f"/admin/registrations/{registration_id}",
        "/admin/statistics",
        "/admin/mail",
        "/admin/audit",
        "/admin/team",
    ]
    shown: dict[str, str] = {}
    for url in public:
        response = await browser.get(url, headers={"Accept-Language": "en"})
        assert_safe_page(url, response)
        shown[url] = response.text
    assert (await sign_in(browser, world.owner)).status_code == 303
    for url in back_office:
        response = await browser.get(url, headers={"Accept-Language": "en"})
        assert_safe_page(url, response)
        shown[url] = response.text

    # The payloads were rendered (escaped), not dropped: each field shows up where it belongs.
    expected = {
        f"/events/{world.event_id}": ["Title en", "Description en", "Venue", "Room", "Question", "Option", "Purpose"],
        f"/events/{world.event_id}?lang=fr": ["Title fr", "Description fr"],
        f"/r/{first_token}": ["Title en"],
        f"/admin/events/{world.event_id}/attendees": ["Name", "Company"],
        f"/admin/registrations/{registration_id}": ["Name", "Answer"],
        f"/admin/events/{world.day_id}/day": ["Advisor", "Booker"],
        "/admin": ["Organisation"],
    }
    for url, labels in expected.items():
        for label in labels:
            assert f"{label}" in shown[url] and ESCAPED in shown[url], f"{url} does not show the {label} escaped"
    assert 'href="javascript:' not in "".join(shown.values())


async def test_a_javascript_link_is_refused_in_every_link_field(browser: Any, world: Any) -> None:
    api = bearer(world.token)
    online = await browser.post(
        "/api/v1/events", json=event_payload(venue=None, online_url=JAVASCRIPT_URL), headers=api
    )
    assert online.status_code == 422, online.text
    assert online.json()["extra"]["field"] == "online_url"

    assert (await sign_in(browser, world.owner)).status_code == 303
    page = await browser.get(f"/admin/webhooks?organisation={world.org_id}")
    hook = await browser.post(
        f"/admin/webhooks?organisation={world.org_id}",
        data={
            "_csrf_token": csrf_from_html(page.text),
            "url": JAVASCRIPT_URL,
            "description": hostile("Webhook"),
            "events": "registration.created",
        },
    )
    assert hook.status_code in (400, 422), hook.status_code
    assert not unescaped(hook.text)
    listed = await browser.get(f"/admin/webhooks?organisation={world.org_id}")
    assert JAVASCRIPT_URL not in listed.text

    first = world.people[hostile("Name")]
    profile = await browser.put(
        f"/api/v1/me/{first}/profile", json={"opt_in": True, "display_name": "Ann", "link": JAVASCRIPT_URL}
    )
    assert profile.status_code in (404, 409, 422), profile.text  # not a networking event, or a refused link


# Mails: one recipient, no smuggled header, escaped HTML, one VEVENT --------------------------------


@pytest.fixture(scope="module")
def mailbox() -> Iterator[SmtpServer]:
    """One real SMTP server for the module: every mail the world causes is drained into it."""
    server = SmtpServer(ScriptedHandler(), free_port())
    server.start()
    yield server
    server.stop()


async def _drain(server: SmtpServer) -> list[Received]:
    """Send everything queued; every transaction the server accepted so far."""
    await drain_until_idle(worker_config(server.url))
    return list(server.handler.accepted)


async def test_every_mail_has_one_recipient_escaped_html_and_one_vevent_that_round_trips(
    browser: Any, world: Any, mailbox: Any
) -> None:
    assert (await sign_in(browser, world.owner)).status_code == 303
    mailed = await post_form(
        browser,
        f"/admin/events/{world.event_id}/attendees/mail",
        f"/admin/events/{world.event_id}/attendees",
        subject=f"Practical info{HEADER_BREAK}",
        message=f"{hostile('Broadcast')}\r\nBcc: y@evil.test",
        to_status="confirmed",
    )
    assert mailed.status_code in (200, 303, 422), mailed.status_code
    api = await browser.post(
        f"/api/v1/events/{world.event_id}/broadcast",
        json={"subject": f'Update, "quoted"{HEADER_BREAK}', "message": hostile("Broadcast")},
        headers=bearer(world.token),
    )
    assert api.status_code in (200, 201, 202, 422), api.text

    everything = await _drain(mailbox)

    for transaction in everything:
        assert len(transaction.rcpt_tos) == 1, transaction.rcpt_tos
        assert "evil.test" not in " ".join(transaction.rcpt_tos)
    received = mailbox.handler.accepted_for(world.mail_domain)
    assert len(received) >= len(world.people), "every participant got at least their confirmation"
    invites = 0
    for transaction in received:
        message = transaction.message
        [rcpt] = transaction.rcpt_tos
        recipients = email.utils.getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        assert [address for _, address in recipients] == [rcpt], (message["To"], rcpt)
        assert message.get_all("Bcc") is None, message["Bcc"]
        assert "\n" not in str(message["Subject"]) and "evil.test" not in str(message["Subject"])
        for part in message.walk():
            if part.get_content_type() == "text/html":
                html = part.get_content()
                assert not unescaped(html), f"{message['Subject']}: {unescaped(html)}"
            if part.get_content_type() == "text/calendar":
                ics = part.get_content()
                invites += 1
                assert vevent_lines(ics) == 1, ics
                parsed = parse_with_icalendar(ics)["vevents"]
                assert len(parsed) == 1 and "forged" not in str(parsed[0]["uid"]), parsed
    assert invites >= len(world.people)


async def test_a_name_with_commas_quotes_and_brackets_is_one_quoted_display_name(world: Any, mailbox: Any) -> None:
    await _drain(mailbox)
    assert NAME_WITH_PUNCTUATION in world.people, "such a name is a valid name"
    address = f"p1@{world.mail_domain}"  # the second person of the world
    theirs = [r for r in mailbox.handler.accepted if r.rcpt_tos == (address,)]
    assert theirs, "the participant with punctuation in their name got mail"
    for transaction in theirs:
        [(display, to)] = email.utils.getaddresses(transaction.message.get_all("To"))
        assert (display, to) == (NAME_WITH_PUNCTUATION, address)


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("name", f"Eve{HEADER_BREAK}"),
        ("name", "Eve\x00Null"),
        ("email", f"eve@example.test{HEADER_BREAK}"),
        ("email", "eve@example.test, boss@evil.test"),
    ],
    ids=["crlf-in-name", "nul-in-name", "crlf-in-email", "two-addresses"],
)
async def test_the_html_form_refuses_header_injection_with_a_422_page_and_queues_no_mail(
    browser: Any, world: Any, field_name: Any, value: Any
) -> None:
    import time

    from events.tables import OutboxMessage
    from events.web.participant import form_stamp

    page = await browser.get(f"/events/{world.event_id}", headers={"Accept-Language": "fr"})
    fields = {
        "_csrf_token": csrf_from_html(page.text),
        "stamp": form_stamp(world.event_id, now=time.time() - 10),
        "name": "Eve",
        "email": f"eve-{secrets.token_hex(3)}@{world.mail_domain}",
        "language": "fr",
        field_name: value,
    }
    before = await OutboxMessage.count()

    answer = await browser.post(f"/events/{world.event_id}/register", data=fields, headers={"Accept-Language": "fr"})

    assert answer.status_code == 422
    assert '<html lang="fr"' in answer.text and 'id="form-error"' in answer.text
    assert await OutboxMessage.count() == before
    assert await OutboxMessage.count().where(OutboxMessage.recipient.like("%evil.test%")) == 0


async def test_a_privacy_request_with_a_smuggled_recipient_mails_nobody(browser: Any, world: Any, mailbox: Any) -> None:
    import time

    from events.web.participant import form_stamp
    from events.web.privacy import FORM_ID

    known = f"p0@{world.mail_domain}"
    for address in (f"{known}{HEADER_BREAK}", f"{known}, boss@evil.test", f"{known}\x00"):
        page = await browser.get("/privacy")
        answer = await browser.post(
            "/privacy",
            data={
                "_csrf_token": csrf_from_html(page.text),
                "email": address,
                "stamp": form_stamp(FORM_ID, now=time.time() - 10),
            },
        )
        assert answer.status_code in (200, 422), answer.status_code
    for transaction in await _drain(mailbox):
        assert len(transaction.rcpt_tos) == 1 and "evil.test" not in transaction.rcpt_tos[0], transaction.rcpt_tos


# Feeds: one VEVENT per event, text round-trips -------------------------------------------------------


async def test_every_feed_has_one_vevent_per_event_and_the_typed_text_round_trips(browser: Any, world: Any) -> None:
    first = world.people[hostile("Name")]
    private = await browser.get(f"/r/{first}")
    feed = re.search(r"/me/([A-Za-z0-9_-]{43})/calendar\.ics", private.text)
    assert feed, "the private page links the personal feed"
    from events.tables import OutboxMessage

    advisor_mails = await OutboxMessage.select(OutboxMessage.text_body).where(
        OutboxMessage.recipient == f"advisor@{world.mail_domain}"
    )
    advisor_feed = re.search(
        r"/advisors/[A-Za-z0-9_-]{43}/calendar\.ics", " ".join(m["text_body"] for m in advisor_mails)
    )
    assert advisor_feed, "the advisor was mailed the link of their feed"
    advisor_ics = (await browser.get(advisor_feed.group(0))).text
    assert vevent_lines(advisor_ics) == 1
    [appointment] = parse_with_icaljs(advisor_ics)["vevents"]
    assert "Booker" in str(appointment), "the advisor's feed names the participant, as text"
    feeds = [
        f"/calendar.ics?organisation={world.slug}&lang=en",
        f"/organisations/{world.slug}/calendar.ics?lang=en",
        f"/events/{world.event_id}/calendar.ics?lang=en",
        f"/me/{feed.group(1)}/calendar.ics",
    ]
    for url in feeds:
        response = await browser.get(url)
        assert response.status_code == 200, url
        ics = response.text
        events = vevent_lines(ics)
        assert events >= 1 and "UID:forged@evil.test" not in ics.splitlines(), url
        for parsed in (parse_with_icalendar(ics), parse_with_icaljs(ics)):
            assert len(parsed["vevents"]) == len({v["uid"] for v in parsed["vevents"]}) == events, url
            mine = [v for v in parsed["vevents"] if (v["summary"] or "").startswith("Title en")]
            assert len(mine) == 1, f"{url}: {[v['summary'] for v in parsed['vevents']]}"
            [vevent] = mine
            assert vevent["summary"] == hostile("Title en") + " " + ICS_SPECIALS, vevent["summary"]
            assert ICS_SPECIALS in (vevent["location"] or ""), vevent["location"]
            assert "END:VEVENT" in (vevent["description"] or ""), "the forged lines stay text in DESCRIPTION"
            assert not any((v["summary"] or "").startswith("Forged") for v in parsed["vevents"])


# Spreadsheet exports -------------------------------------------------------------------------------


def _dangerous(cell: str) -> bool:
    return bool(cell) and cell[0] in FORMULA_STARTS


async def test_csv_and_xlsx_exports_neutralise_every_formula_looking_cell(browser: Any, world: Any) -> None:
    from openpyxl import load_workbook

    assert (await sign_in(browser, world.owner)).status_code == 303
    exported = await browser.get(f"/admin/events/{world.event_id}/attendees.csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert any("HYPERLINK" in cell for cell in cells), "the hostile names reached the export"
    assert [cell for cell in cells if _dangerous(cell)] == []

    workbook = await browser.get(f"/admin/events/{world.event_id}/attendees.xlsx")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    values = [cell for row in sheet.iter_rows() for cell in row]
    assert any("HYPERLINK" in str(cell.value or "") for cell in values)
    assert [c.value for c in values if c.data_type == "f" or _dangerous(str(c.value or ""))] == []

    meetings = await browser.get(f"/admin/events/{world.event_id}/attendance-sheet")
    assert meetings.status_code == 200 and not unescaped(meetings.text)


async def test_networking_profiles_render_escaped_in_the_directory_and_refuse_javascript_links(
    browser: Any, world: Any
) -> None:
    api = bearer(world.token)
    created = await browser.post("/api/v1/events", json=event_payload(kind="networking"), headers=api)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert (await browser.post(f"/api/v1/events/{event_id}/publish", headers=api)).status_code == 200
    tokens = []
    for n in range(2):
        joined = await browser.post(
            f"/api/v1/events/{event_id}/registrations",
            json={"name": f"Net {n}", "email": f"net{n}@{world.mail_domain}", "language": "en"},
        )
        assert joined.status_code == 201, joined.text
        tokens.append(token_in(joined.json()["manage_url"]))
    ann, bob = tokens
    profile = {
        "opt_in": True,
        "display_name": hostile("Display"),
        "company": hostile("Firm"),
        "sector": hostile("Sector")[:100],
        "about": hostile("About"),
        "languages": ["en"],
    }
    refused = await browser.put(f"/api/v1/me/{ann}/profile", json={**profile, "link": JAVASCRIPT_URL})
    assert refused.status_code == 422, refused.text
    saved = await browser.put(f"/api/v1/me/{ann}/profile", json={**profile, "link": "https://ann.example"})
    assert saved.status_code == 200, saved.text
    bob_profile = {"opt_in": True, "display_name": "Bob", "languages": ["en"]}
    assert (await browser.put(f"/api/v1/me/{bob}/profile", json=bob_profile)).status_code == 200

    for url in (f"/r/{bob}", f"/r/{ann}"):
        page = await browser.get(url, headers={"Accept-Language": "en"})
        assert_safe_page(url, page)
    directory = await browser.get(f"/r/{bob}", headers={"Accept-Language": "en"})
    assert "Display" in directory.text and ESCAPED in directory.text, "the directory shows the profile, escaped"
    assert (await sign_in(browser, world.owner)).status_code == 303
    assert_safe_page("meetings", await browser.get(f"/admin/events/{event_id}/meetings"))


async def test_a_series_with_hostile_titles_renders_escaped_and_its_feed_has_one_vevent_per_date(
    browser: Any, world: World
) -> None:
    from datetime import date, timedelta

    from tests.backoffice.test_series import create_series

    assert (await sign_in(browser, world.owner)).status_code == 303
    title = hostile("Series") + " " + ICS_SPECIALS
    start = date.today() + timedelta(days=60)
    series_id = await create_series(
        browser,
        start,
        title_nl=title,
        title_fr=title,
        venue_name=hostile("Hall"),
        count="3",
        weekdays="",
        frequency="weekly",
    )
    published = await post_form(browser, f"/admin/series/{series_id}/publish", f"/admin/series/{series_id}")
    assert published.status_code == 303, published.status_code

    for url in ("/admin/series", f"/admin/series/{series_id}", f"/admin/series/{series_id}/statistics"):
        page = await browser.get(url)
        assert_safe_page(url, page)
        assert "Series" in page.text and ESCAPED in page.text, url
    ics = (await browser.get(f"/series/{series_id}/calendar.ics?lang=nl")).text
    assert vevent_lines(ics) == 3, ics[:500]
    for parsed in (parse_with_icalendar(ics), parse_with_icaljs(ics)):
        assert [v["summary"] for v in parsed["vevents"]] == [title] * 3
