#!/usr/bin/python3
"""Parse an iCalendar text from stdin with libical (Evolution's parser) and print what it read.

Run with Debian's /usr/bin/python3, which has python3-gi and gir1.2-ical-3.0:

    /usr/bin/python3 tests/tools/libical_check.py < invite.ics

Prints one JSON object:

- ``method``: the VCALENDAR's METHOD, or null;
- ``parse_errors``: the X-LIC-ERROR properties libical inserted while parsing (an empty list
  when the text is clean);
- ``restriction_ok`` / ``restriction_errors``: the result of ``restriction_check()`` (the iTIP
  rules of RFC 5546 for the METHOD) and the X-LIC-ERROR properties it added; null / [] when
  there is no METHOD (a feed);
- ``vevents``: uid, sequence, status, summary, description, location, url, organizer,
  attendees, start/end as UTC ISO strings (converted with the VTIMEZONE *of this file*, never
  libical's built-in zones), and the TZIDs used;
- ``vtimezones``: per VTIMEZONE its TZID and sub-components (kind, has RRULE / RDATE).

Exits 2 when libical cannot make a VCALENDAR of the text, or when a TZID has no VTIMEZONE.

With ``--batch``, stdin is a JSON array of calendar texts and the output a JSON array of
``{"ok": result}`` or ``{"error": message}``.
"""

from __future__ import annotations

import json
import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402

UTC = ICalGLib.Timezone.get_utc_timezone()
ANY = ICalGLib.PropertyKind.ANY_PROPERTY
ANY_COMPONENT = ICalGLib.ComponentKind.ANY_COMPONENT


class CalendarError(Exception):
    pass


def fail(message: str) -> None:
    raise CalendarError(message)


def properties(component, kind=ANY):
    prop = component.get_first_property(kind)
    while prop is not None:
        yield prop
        prop = component.get_next_property(kind)


def children(component, kind=ANY_COMPONENT):
    child = component.get_first_component(kind)
    while child is not None:
        yield child
        child = component.get_next_component(kind)


def walk(component):
    yield component
    for child in list(children(component)):
        yield from walk(child)


def lic_errors(root) -> list[str]:
    found = []
    for component in walk(root):
        for prop in properties(component, ICalGLib.PropertyKind.XLICERROR_PROPERTY):
            kind = prop.get_parameter_as_string("X-LIC-ERRORTYPE") or ""
            where = ICalGLib.Component.kind_to_string(component.isa())
            found.append(f"{where}: {kind}: {prop.get_xlicerror()}")
    return found


def x_property(component, name: str) -> str | None:
    """The value of an X- property such as X-WR-CALNAME, as libical reads it."""
    for prop in properties(component, ICalGLib.PropertyKind.X_PROPERTY):
        if (prop.get_x_name() or "").upper() == name:
            return prop.get_x()
    return None


def iso_utc(time) -> str:
    return (
        f"{time.get_year():04d}-{time.get_month():02d}-{time.get_day():02d}"
        f"T{time.get_hour():02d}:{time.get_minute():02d}:{time.get_second():02d}Z"
    )


def instant(calendar, component, kind) -> tuple[str | None, str | None]:
    """(UTC ISO, TZID) of DTSTART/DTEND, converted with the file's own VTIMEZONE."""
    prop = component.get_first_property(kind)
    if prop is None:
        return None, None
    time = prop.get_dtstart() if kind == ICalGLib.PropertyKind.DTSTART_PROPERTY else prop.get_dtend()
    if time.is_date():
        return f"{time.get_year():04d}-{time.get_month():02d}-{time.get_day():02d}", None
    tzid = prop.get_parameter_as_string("TZID")
    if tzid:
        zone = calendar.get_timezone(tzid)
        if zone is None:
            fail(f"TZID {tzid} has no VTIMEZONE in the file")
        time.set_timezone(zone)
    elif not time.is_utc():
        fail(f"floating time in {prop.get_property_name()}: {time.as_ical_string()}")
    return iso_utc(time.convert_to_zone(UTC)), tzid


def address(prop) -> dict[str, str | None]:
    return {
        "value": prop.get_value_as_string(),
        "cn": prop.get_parameter_as_string("CN"),
        "role": prop.get_parameter_as_string("ROLE"),
        "partstat": prop.get_parameter_as_string("PARTSTAT"),
        "rsvp": prop.get_parameter_as_string("RSVP"),
        "cutype": prop.get_parameter_as_string("CUTYPE"),
    }


def text(component, kind) -> str | None:
    prop = component.get_first_property(kind)
    if prop is None:
        return None
    kind = prop.isa()
    getters = {
        ICalGLib.PropertyKind.SUMMARY_PROPERTY: prop.get_summary,
        ICalGLib.PropertyKind.DESCRIPTION_PROPERTY: prop.get_description,
        ICalGLib.PropertyKind.LOCATION_PROPERTY: prop.get_location,
        ICalGLib.PropertyKind.URL_PROPERTY: prop.get_url,
        ICalGLib.PropertyKind.UID_PROPERTY: prop.get_uid,
    }
    getter = getters.get(kind)
    return getter() if getter else prop.get_value_as_string()


def vevent(calendar, event) -> dict:
    start, start_tzid = instant(calendar, event, ICalGLib.PropertyKind.DTSTART_PROPERTY)
    end, end_tzid = instant(calendar, event, ICalGLib.PropertyKind.DTEND_PROPERTY)
    sequence = event.get_first_property(ICalGLib.PropertyKind.SEQUENCE_PROPERTY)
    status = event.get_first_property(ICalGLib.PropertyKind.STATUS_PROPERTY)
    organizer = event.get_first_property(ICalGLib.PropertyKind.ORGANIZER_PROPERTY)
    return {
        "uid": text(event, ICalGLib.PropertyKind.UID_PROPERTY),
        "sequence": None if sequence is None else sequence.get_sequence(),
        "status": None if status is None else ICalGLib.Property.status_to_string(status.get_status()),
        "summary": text(event, ICalGLib.PropertyKind.SUMMARY_PROPERTY),
        "description": text(event, ICalGLib.PropertyKind.DESCRIPTION_PROPERTY),
        "location": text(event, ICalGLib.PropertyKind.LOCATION_PROPERTY),
        "url": text(event, ICalGLib.PropertyKind.URL_PROPERTY),
        "start_utc": start,
        "end_utc": end,
        "start_tzid": start_tzid,
        "end_tzid": end_tzid,
        "organizer": None if organizer is None else address(organizer),
        "attendees": [address(p) for p in properties(event, ICalGLib.PropertyKind.ATTENDEE_PROPERTY)],
    }


def vtimezone(component) -> dict:
    subs = []
    for sub in children(component):
        names = [p.get_property_name() for p in properties(sub)]
        subs.append(
            {
                "kind": ICalGLib.Component.kind_to_string(sub.isa()),
                "rrules": [p.get_value_as_string() for p in properties(sub, ICalGLib.PropertyKind.RRULE_PROPERTY)],
                "has_rdate": "RDATE" in names,
            }
        )
    tzid = component.get_first_property(ICalGLib.PropertyKind.TZID_PROPERTY)
    return {"tzid": None if tzid is None else tzid.get_tzid(), "subcomponents": subs}


def check(source: str) -> dict:
    try:
        root = ICalGLib.Component.new_from_string(source)
    except TypeError:  # "constructor returned NULL"
        root = None
    if root is None:
        fail("libical could not parse the text")
    calendars = [root] if root.isa() == ICalGLib.ComponentKind.VCALENDAR_COMPONENT else []
    if not calendars:
        calendars = list(children(root, ICalGLib.ComponentKind.VCALENDAR_COMPONENT))
    if len(calendars) != 1:
        fail(f"expected one VCALENDAR, found {len(calendars)} (top level: {root.isa().value_nick})")
    calendar = calendars[0]
    parse_errors = lic_errors(root)
    method_prop = calendar.get_first_property(ICalGLib.PropertyKind.METHOD_PROPERTY)
    method = None if method_prop is None else method_prop.get_value_as_string()
    restriction_ok = None
    restriction_errors: list[str] = []
    if method is not None:
        restriction_ok = bool(ICalGLib.restriction_check(calendar))
        restriction_errors = [e for e in lic_errors(root) if e not in parse_errors]
    return {
        "method": method,
        "calname": x_property(calendar, "X-WR-CALNAME"),
        "parse_errors": parse_errors,
        "restriction_ok": restriction_ok,
        "restriction_errors": restriction_errors,
        "vevents": [vevent(calendar, e) for e in children(calendar, ICalGLib.ComponentKind.VEVENT_COMPONENT)],
        "vtimezones": [vtimezone(z) for z in children(calendar, ICalGLib.ComponentKind.VTIMEZONE_COMPONENT)],
    }


def main() -> None:
    source = sys.stdin.buffer.read().decode("utf-8")
    if "--batch" in sys.argv[1:]:
        results = []
        for text in json.loads(source):
            try:
                results.append({"ok": check(text)})
            except CalendarError as error:
                results.append({"error": str(error)})
        print(json.dumps(results, ensure_ascii=False))
        return
    try:
        result = check(source)
    except CalendarError as error:
        print(json.dumps({"error": str(error)}))
        sys.exit(2)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
