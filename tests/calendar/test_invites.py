"""The pure builders (events.calendar.ics) read back by real clients' parsers.

Every invite and feed built here goes through ical.js (Thunderbird), libical (Evolution, with
its iTIP `restriction_check()`) and the Python icalendar library, and each must read the same
thing Trefpunt meant: the same UID, SEQUENCE, text and — above all — the same UTC instants as
zoneinfo gives for the input, on the nights clocks change too (CALENDAR.md, "Time").
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from events.calendar.ics import Attendee, CalendarItem, build_feed, build_invite
from tests.calendar.helpers import (
    ORG_EMAIL,
    ORG_NAME,
    STAMP,
    assert_folded,
    calendar_level_lines,
    make_item,
    property_names,
    raw_lines,
    unfolded,
    utc_iso,
)
from tests.calendar.parsers import (
    PARSERS,
    ParseError,
    parse_everywhere,
    parse_with_icaljs,
    parse_with_libical,
    prefetch,
)
from tests.calendar.zones import CASES, KOL, Case

RECIPIENT = Attendee("zoe.dubois@example.org", "Zoë Dubois")
METHODS = ("REQUEST", "CANCEL")


def invite(item: CalendarItem | None = None, attendee: Attendee = RECIPIENT, method: str = "REQUEST") -> bytes:
    return build_invite(item or make_item(), attendee, method=method, stamp=STAMP)  # type: ignore[arg-type]


def only_vevent(parsed: dict) -> dict:
    assert len(parsed["vevents"]) == 1, parsed["vevents"]
    return parsed["vevents"][0]


# Validity: every parser, and libical's iTIP rules ----------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_invite_passes_icaljs_and_libical_restriction_check(method):
    ics = invite(method=method)

    libical = parse_with_libical(ics)
    icaljs = parse_with_icaljs(ics)

    assert libical["parse_errors"] == [], libical["parse_errors"]
    assert libical["restriction_ok"] is True, libical["restriction_errors"]
    assert libical["restriction_errors"] == []
    assert libical["method"] == method
    assert icaljs["method"] == method
    assert len(libical["vevents"]) == len(icaljs["vevents"]) == 1


def test_libical_restriction_check_has_teeth():
    """The checker itself: a REQUEST without ORGANIZER breaks RFC 5546 and libical says so."""
    text = "\r\n".join(line for line in unfolded(invite()) if not line.startswith("ORGANIZER"))

    libical = parse_with_libical(text)

    assert libical["restriction_ok"] is False
    assert any("ORGANIZER" in error for error in libical["restriction_errors"]), libical["restriction_errors"]


def test_parsers_refuse_a_tzid_without_its_vtimezone():
    """The checkers themselves: a TZID with no VTIMEZONE in the file is an error, not a guess."""
    text = re.sub(rb"BEGIN:VTIMEZONE\r\n.*?END:VTIMEZONE\r\n", b"", invite(), flags=re.S)
    assert b"TZID=Europe/Brussels" in text

    for parse in (parse_with_icaljs, parse_with_libical):
        with pytest.raises(ParseError, match="VTIMEZONE"):
            parse(text)


@pytest.mark.parametrize("method", METHODS)
def test_method_is_a_property_of_the_vcalendar_only(method):
    ics = invite(method=method)

    top = [line for line in calendar_level_lines(ics) if property_names(line) == "METHOD"]
    everywhere = [line for line in unfolded(ics) if property_names(line) == "METHOD"]

    assert top == [f"METHOD:{method}"]
    assert everywhere == top, "METHOD appears inside a component"
    for name, parsed in parse_everywhere(ics).items():
        assert parsed["method"] == method, name


@pytest.mark.parametrize("method", METHODS)
def test_organizer_is_the_organisation_and_never_the_attendee(method):
    ics = invite(method=method)

    for name, parsed in parse_everywhere(ics).items():
        event = only_vevent(parsed)
        assert event["organizer"] is not None, f"{name}: no ORGANIZER"
        assert event["organizer"]["value"].lower() == f"mailto:{ORG_EMAIL}", name
        assert event["organizer"]["cn"] == ORG_NAME, name
        attendee_addresses = {a["value"].lower() for a in event["attendees"]}
        assert event["organizer"]["value"].lower() not in attendee_addresses, name
    assert sum(property_names(line) == "ORGANIZER" for line in unfolded(ics)) == 1


@pytest.mark.parametrize("method", METHODS)
def test_the_one_attendee_is_the_recipient(method):
    ics = invite(method=method)

    assert sum(property_names(line) == "ATTENDEE" for line in unfolded(ics)) == 1
    for name, parsed in parse_everywhere(ics).items():
        (attendee,) = only_vevent(parsed)["attendees"]
        assert attendee["value"].lower() == f"mailto:{RECIPIENT.email}", name
        assert attendee["cn"] == RECIPIENT.name, name
        assert attendee["role"] == "REQ-PARTICIPANT", name
        assert attendee["partstat"] == "NEEDS-ACTION", name
        assert attendee["rsvp"] in ("TRUE", "FALSE"), name


def test_uid_is_stable_and_cancel_carries_status_cancelled_and_the_given_sequence():
    item = make_item(sequence=2)
    request = invite(item, method="REQUEST")
    cancel = invite(replace(item, sequence=3), method="CANCEL")

    for name, parse in PARSERS.items():
        requested, cancelled = only_vevent(parse(request)), only_vevent(parse(cancel))
        assert requested["uid"] == cancelled["uid"] == item.uid, name
        assert requested["status"] == "CONFIRMED", name
        assert cancelled["status"] == "CANCELLED", name
        assert requested["sequence"] == 2, name
        assert cancelled["sequence"] == 3, name


def test_the_same_item_gives_the_same_uid_in_every_message():
    item = make_item()
    uids = {
        only_vevent(parse_with_icaljs(invite(replace(item, sequence=n, starts_at=item.starts_at + timedelta(days=n)))))[
            "uid"
        ]
        for n in range(3)
    }
    assert uids == {item.uid}


def test_dtstamp_is_the_stamp_in_utc():
    event = Calendar.from_ical(invite()).walk("VEVENT")[0]

    assert event.decoded("DTSTAMP") == STAMP
    assert "DTSTAMP:20260504T120000Z" in unfolded(invite())


# Text -----------------------------------------------------------------------------------------

AWKWARD = "Café «Ondernemen», met ; puntkomma \\ backslash\nen een tweede regel — 🎉 👩🏽‍💼"


def test_text_with_separators_accents_and_emoji_round_trips_through_every_parser():
    item = make_item(
        summary=AWKWARD,
        description="Beschrijving: a, b; c \\ d\n\nÉtape 2 — « français » 🇧🇪",
        location="Maison de l'Entreprise, Salle « Liège » ; 1er étage",
        organizer_name="Microkrediet Vlaanderen, Bruxelles & Liège",
    )
    attendee = Attendee("jose@example.org", "José Çelik-Müller 😀")

    for method in METHODS:
        ics = invite(item, attendee, method=method)
        for name, parsed in parse_everywhere(ics).items():
            event = only_vevent(parsed)
            assert event["summary"] == item.summary, name
            assert event["description"] == f"{item.description}\n\n{item.url}", name
            assert event["location"] == item.location, name
            assert event["url"] == item.url, name
            assert event["organizer"]["cn"] == item.organizer_name, name
            assert [a["cn"] for a in event["attendees"]] == [attendee.name], name


def test_online_event_puts_its_link_in_location_and_description():
    item = make_item(location="", online_url="https://meet.example/abc?x=1;y=2")
    for name, parsed in parse_everywhere(invite(item)).items():
        event = only_vevent(parsed)
        assert event["location"] == item.online_url, name
        assert item.online_url in event["description"], name


def test_no_line_is_longer_than_75_octets_and_lines_end_with_crlf():
    long_text = "Ondernemen in Gent é 🎉 " * 20
    for shift in range(4):  # move the multi-byte characters across every fold position
        item = make_item(
            summary=("x" * shift + long_text)[:200],
            description="é" * shift + long_text * 3,
            location="Zaal " + "ü" * shift + long_text,
            url="https://trefpunt.example/events/1?" + "a" * 120,
            organizer_name="Organisatie " + "ç" * (shift + 60),
        )
        for method in METHODS:
            ics = invite(item, Attendee("a@example.org", "Ã" * (70 + shift)), method=method)
            assert_folded(ics)
        assert_folded(build_feed("Feed " + "ø" * 80, [item], calendar_uid="feed-all@trefpunt.example"))


def test_a_summary_cannot_inject_a_second_vevent():
    evil = "Infosessie\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil@attacker\r\nSUMMARY:gotcha"
    item = make_item(
        summary=evil,
        description="d\r\nEND:VEVENT\r\nBEGIN:VEVENT",
        location="L\nEND:VCALENDAR",
        organizer_name="Org\r\nATTENDEE:mailto:evil@attacker",
    )
    attendee = Attendee("zoe@example.org", "Zoë\r\nEND:VEVENT\r\nBEGIN:VEVENT")

    texts = [invite(item, attendee, method=m) for m in METHODS]
    texts.append(build_feed("Feed", [item], calendar_uid="feed-all@trefpunt.example"))
    for ics in texts:
        raw_lines(ics)
        assert sum(line == b"BEGIN:VEVENT" for line in raw_lines(ics)) == 1
        assert sum(line == b"END:VCALENDAR" for line in raw_lines(ics)) == 1
        for name, parsed in parse_everywhere(ics).items():
            event = only_vevent(parsed)
            assert event["uid"] == item.uid, name
            assert "END:VEVENT" in event["summary"], name
            assert len(event["attendees"]) <= 1, name


def test_a_feed_name_with_a_line_break_stays_one_line():
    """Feed names come from organisation names and series titles, which nothing stops from
    holding a line break; the feed must still build (not a 500) and not grow new lines."""
    ics = build_feed("Ondernemershuis\r\nBEGIN:VEVENT\nGent", [make_item()], calendar_uid="feed-all@t.example")

    assert sum(line == b"BEGIN:VEVENT" for line in raw_lines(ics)) == 1
    for name, parsed in parse_everywhere(ics).items():
        assert len(parsed["vevents"]) == 1, name
        assert parsed["calname"].startswith("Ondernemershuis"), name
        assert "\n" not in parsed["calname"] and "\r" not in parsed["calname"], name


@pytest.mark.parametrize(
    "display_name",
    ["Dubois, Zoë", "Dubois, Zoë; Peeters: Jan", "Zoë <zoe@evil.example>, Jan"],
)
def test_a_display_name_with_a_comma_stays_one_attendee(display_name):
    attendee = Attendee("zoe@example.org", display_name)

    for method in METHODS:
        ics = invite(attendee=attendee, method=method)
        for name, parsed in parse_everywhere(ics).items():
            (one,) = only_vevent(parsed)["attendees"]
            assert one["value"].lower() == "mailto:zoe@example.org", name
            assert one["cn"] == display_name, name


def test_a_display_name_with_quotes_stays_one_attendee():
    attendee = Attendee("zoe@example.org", 'Zoë "Zo" Dubois')
    for name, parsed in parse_everywhere(invite(attendee=attendee)).items():
        (one,) = only_vevent(parsed)["attendees"]
        assert one["value"].lower() == "mailto:zoe@example.org", name
        if name != "libical":  # libical 3.0 shows RFC 6868's ^' as is; the attendee is still one
            assert one["cn"] == attendee.name, name


# Time zones -----------------------------------------------------------------------------------


def case_item(case: Case, n: int = 0) -> CalendarItem:
    return make_item(
        uid=f"tz-{case.id}@trefpunt.example",
        starts_at=case.starts_at,
        ends_at=case.ends_at,
        timezone=case.tzid,
        summary=f"Case {case.id}",
        sequence=n,
    )


@pytest.fixture(scope="module", autouse=True)
def _parse_the_matrix_in_one_go():
    """Every text of the time-zone matrix through ical.js and libical in one process each."""
    texts = [invite(case_item(case), method=m) for case in CASES for m in METHODS]
    texts += [build_feed("Trefpunt", [case_item(case)], calendar_uid="feed-all@trefpunt.example") for case in CASES]
    texts += [build_feed("T", [case_item(case)], calendar_uid="feed-all@t.example") for case in CASES]
    texts.append(build_feed("Trefpunt", [case_item(case) for case in CASES], calendar_uid="feed-all@trefpunt.example"))
    prefetch(texts)


def test_the_matrix_inputs_are_what_zoneinfo_says():
    """The test's own inputs: zoneinfo gives the literal instants spelled out in the matrix."""
    for case in CASES:
        assert case.starts_at.tzinfo is UTC and case.ends_at.tzinfo is UTC
        assert (utc_iso(case.starts_at), utc_iso(case.ends_at)) == case.expected, case.id


def assert_instants(ics: bytes, cases: list[Case]) -> None:
    by_uid = {case_item(case).uid: case for case in cases}
    for name, parsed in parse_everywhere(ics).items():
        assert len(parsed["vevents"]) == len(cases), name
        for event in parsed["vevents"]:
            case = by_uid[event["uid"]]
            wanted = (utc_iso(case.starts_at), utc_iso(case.ends_at))
            assert (event["start_utc"], event["end_utc"]) == wanted, f"{name} read {case.id} wrong"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("method", METHODS)
def test_invite_instants_match_zoneinfo_in_every_parser(case, method):
    ics = invite(case_item(case), method=method)

    assert_instants(ics, [case])
    libical = parse_with_libical(ics)
    assert libical["restriction_ok"] is True, libical["restriction_errors"]
    assert libical["parse_errors"] == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_feed_instants_match_zoneinfo_in_every_parser(case):
    ics = build_feed("Trefpunt", [case_item(case)], calendar_uid="feed-all@trefpunt.example")

    assert_instants(ics, [case])
    assert parse_with_libical(ics)["parse_errors"] == []


def test_one_feed_with_every_zone_and_year_reads_right_everywhere():
    ics = build_feed("Trefpunt", [case_item(case) for case in CASES], calendar_uid="feed-all@trefpunt.example")

    assert_instants(ics, CASES)
    tzids = [line.split(":", 1)[1] for line in unfolded(ics) if line.startswith("TZID:")]
    assert len(tzids) == len(set(tzids)), f"a VTIMEZONE is repeated: {tzids}"


def vtimezones(ics: bytes) -> dict[str, list]:
    calendar = Calendar.from_ical(ics)
    return {str(tz["TZID"]): tz.subcomponents for tz in calendar.walk("VTIMEZONE")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_vtimezone_has_yearly_rrules_and_no_rdate(case):
    for ics in (invite(case_item(case)), build_feed("T", [case_item(case)], calendar_uid="feed-all@t.example")):
        lines = unfolded(ics)
        assert not any(property_names(line) == "RDATE" for line in lines), "VTIMEZONE lists dated transitions"
        assert not any(property_names(line) == "X-WR-TIMEZONE" for line in lines)
        used = {m for line in lines for m in re.findall(r";TZID=([^;:]+)", line)}
        zones = vtimezones(ics)
        assert used <= set(zones), f"TZID without VTIMEZONE: {used - set(zones)}"
        for tzid, subs in zones.items():
            kinds = sorted(sub.name for sub in subs)
            if tzid == KOL:
                assert kinds == ["STANDARD"], kinds
                continue
            assert kinds == ["DAYLIGHT", "STANDARD"], f"{tzid}: {kinds}"
            for sub in subs:
                rrules = sub.get("RRULE")
                assert rrules is not None and not isinstance(rrules, list), f"{tzid} {sub.name}: one RRULE"
                assert rrules["FREQ"] == ["YEARLY"], rrules
                assert "UNTIL" not in rrules and "COUNT" not in rrules, f"{tzid}: the rule must not stop"
        for name, parse in (("ical.js", parse_with_icaljs), ("libical", parse_with_libical)):
            for zone in parse(ics)["vtimezones"]:
                for sub in zone["subcomponents"]:
                    assert not sub["has_rdate"], name
                    if zone["tzid"] != KOL:
                        assert len(sub["rrules"]) == 1 and "FREQ=YEARLY" in sub["rrules"][0], (name, sub)


# Feeds (pure) ---------------------------------------------------------------------------------


def feed(items: list[CalendarItem] | None = None) -> bytes:
    return build_feed("Trefpunt · Gent", items or [make_item()], calendar_uid="feed-all@trefpunt.example")


def test_feed_has_no_method_organizer_attendee_or_email():
    ics = feed([make_item(), make_item(uid="other@trefpunt.example", cancelled=True, sequence=1)])

    names = {property_names(line) for line in unfolded(ics)}
    assert not names & {"METHOD", "ORGANIZER", "ATTENDEE", "X-WR-TIMEZONE"}
    assert ORG_EMAIL not in ics.decode()
    assert "mailto:" not in ics.decode()
    for name, parsed in parse_everywhere(ics).items():
        assert parsed["method"] is None, name
        for event in parsed["vevents"]:
            assert event["organizer"] is None and event["attendees"] == [], name
    assert parse_with_libical(ics)["restriction_ok"] is None


def test_feed_names_itself_once_with_refresh_interval_and_a_fixed_uid():
    ics = feed()
    top = calendar_level_lines(ics)
    names = [property_names(line) for line in top]

    assert names.count("NAME") == 1 and names.count("X-WR-CALNAME") == 1, names
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in top
    assert "X-PUBLISHED-TTL:PT1H" in top
    assert "UID:feed-all@trefpunt.example" in top
    parsed = parse_with_icaljs(ics)
    assert parsed["name"] == parsed["calname"] == "Trefpunt · Gent"
    assert parsed["calendar_uid"] == "feed-all@trefpunt.example"
    assert parsed["refresh_interval"] == "PT1H"


def test_feed_bytes_are_deterministic_and_dtstamp_is_the_last_change():
    items = [make_item(), make_item(uid="b@trefpunt.example", last_modified=datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC))]

    assert feed(items) == feed(items)
    stamps = [e.decoded("DTSTAMP") for e in Calendar.from_ical(feed(items)).walk("VEVENT")]
    assert stamps == [item.last_modified for item in items]


def test_a_cancelled_item_stays_in_the_feed_as_cancelled():
    ics = feed([make_item(cancelled=True, sequence=4)])
    for name, parsed in parse_everywhere(ics).items():
        event = only_vevent(parsed)
        assert event["status"] == "CANCELLED", name
        assert event["sequence"] == 4, name
