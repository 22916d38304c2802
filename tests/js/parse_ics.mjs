// Parse an iCalendar text from stdin with ical.js (Thunderbird's parser) and print what it read.
//
//   node tests/js/parse_ics.mjs < invite.ics
//
// Prints one JSON object: {method, calname, name, calendar_uid, refresh_interval,
// published_ttl, vtimezones, vevents: [{uid, sequence, status, summary, description, location,
// url, start_utc, end_utc, start_tzid, end_tzid, organizer, attendees}]}. Start and end are
// converted to UTC by ical.js with the VTIMEZONE of this file (registered as Thunderbird does);
// a TZID without a VTIMEZONE in the file, or any parse error, exits non-zero.
//
//   node tests/js/parse_ics.mjs --batch < texts.json
//
// reads a JSON array of calendar texts and prints a JSON array of {ok: …} or {error: …}.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

class CalendarError extends Error {}

function fail(message) {
  throw new CalendarError(message);
}

function address(prop) {
  if (!prop) return null;
  const param = (name) => prop.getParameter(name) ?? null;
  return {
    value: prop.getFirstValue(),
    cn: param("cn"),
    role: param("role"),
    partstat: param("partstat"),
    rsvp: param("rsvp"),
    cutype: param("cutype"),
  };
}

function instant(vevent, name) {
  const prop = vevent.getFirstProperty(name);
  if (!prop) return [null, null];
  const time = prop.getFirstValue();
  if (time.isDate) return [time.toString(), null];
  const tzid = prop.getParameter("tzid") ?? null;
  if (tzid) {
    if (!ICAL.TimezoneService.has(tzid)) fail(`TZID ${tzid} has no VTIMEZONE in the file`);
    if (!time.zone || time.zone.tzid !== tzid) fail(`${name} was not read in zone ${tzid}`);
  } else if (time.zone !== ICAL.Timezone.utcTimezone) {
    fail(`floating time in ${name}: ${time.toString()}`);
  }
  const utc = time.convertToZone(ICAL.Timezone.utcTimezone);
  return [utc.toString().replace(/Z?$/, "Z"), tzid];
}

function text(component, name) {
  const value = component.getFirstPropertyValue(name);
  return value === null || value === undefined ? null : String(value);
}

function parseCalendar(source) {
  let calendar;
  try {
    const jcal = ICAL.parse(source);
    if (!Array.isArray(jcal) || jcal[0] !== "vcalendar") {
      const found = Array.isArray(jcal?.[0]) ? `${jcal.length} components` : jcal?.[0];
      fail(`expected one VCALENDAR at top level, got ${found}`);
    }
    calendar = new ICAL.Component(jcal);
  } catch (error) {
    if (error instanceof CalendarError) throw error;
    fail(`parse error: ${error.message}`);
  }

  ICAL.TimezoneService.reset();
  const vtimezones = calendar.getAllSubcomponents("vtimezone").map((vtimezone) => {
    const zone = new ICAL.Timezone(vtimezone);
    ICAL.TimezoneService.register(zone, zone.tzid);
    return {
      tzid: zone.tzid,
      subcomponents: vtimezone.getAllSubcomponents().map((sub) => ({
        kind: sub.name.toUpperCase(),
        rrules: sub.getAllProperties("rrule").map((p) => p.getFirstValue().toString()),
        has_rdate: sub.getAllProperties("rdate").length > 0,
      })),
    };
  });

  const vevents = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const [start, startTzid] = instant(vevent, "dtstart");
    const [end, endTzid] = instant(vevent, "dtend");
    return {
      uid: text(vevent, "uid"),
      sequence: vevent.getFirstPropertyValue("sequence"),
      status: text(vevent, "status"),
      summary: text(vevent, "summary"),
      description: text(vevent, "description"),
      location: text(vevent, "location"),
      url: text(vevent, "url"),
      start_utc: start,
      end_utc: end,
      start_tzid: startTzid,
      end_tzid: endTzid,
      organizer: address(vevent.getFirstProperty("organizer")),
      attendees: vevent.getAllProperties("attendee").map(address),
    };
  });

  const duration = (name) => {
    const value = calendar.getFirstPropertyValue(name);
    return value === null || value === undefined ? null : value.toString();
  };

  return {
    method: text(calendar, "method"),
    calname: text(calendar, "x-wr-calname"),
    name: text(calendar, "name"),
    calendar_uid: text(calendar, "uid"),
    refresh_interval: duration("refresh-interval"),
    published_ttl: duration("x-published-ttl"),
    vtimezones,
    vevents,
  };
}

function errorMessage(error) {
  return error instanceof CalendarError ? error.message : `cannot read the calendar: ${error.stack || error}`;
}

const input = readFileSync(0, "utf8");
if (process.argv.includes("--batch")) {
  // A JSON array of calendar texts in, a JSON array of {ok: result} or {error: message} out.
  const results = JSON.parse(input).map((source) => {
    try {
      return { ok: parseCalendar(source) };
    } catch (error) {
      return { error: errorMessage(error) };
    }
  });
  process.stdout.write(JSON.stringify(results) + "\n");
} else {
  try {
    process.stdout.write(JSON.stringify(parseCalendar(input)) + "\n");
  } catch (error) {
    process.stderr.write(`parse_ics: ${errorMessage(error)}\n`);
    process.exit(2);
  }
}
