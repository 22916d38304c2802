"""Real calendar parsers, run on what Trefpunt emits (CALENDAR.md, "Real clients you can run here").

- ``parse_with_icaljs``: ical.js, Thunderbird's parser (npm, pinned in tests/js/package-lock.json),
  through ``node tests/js/parse_ics.mjs``. A missing ``tests/js/node_modules`` is installed once
  with ``npm ci`` (so ``make test`` on a fresh machine with node just works).
- ``parse_with_libical``: libical (Evolution and many servers) through Debian's python3-gi and
  gir1.2-ical-3.0, ``/usr/bin/python3 tests/tools/libical_check.py``; includes the iTIP
  ``restriction_check()`` when the text has a METHOD.
- ``parse_with_icalendar``: the Python ``icalendar`` library (the one the builders use, but
  reading: its own strict parse of the bytes).

All three return the same shape: ``{"method", "vevents": [{"uid", "sequence", "status",
"summary", "description", "location", "url", "start_utc", "end_utc", "organizer",
"attendees"}]}`` with UTC instants as ``YYYY-MM-DDTHH:MM:SSZ``.

A missing parser is a failure, not a skip: CI must run them. Only a developer machine without
node or python3-gi may set ``TREFPUNT_SKIP_CALENDAR_PARSERS=1`` to skip the tests that need them.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "js"
PARSE_ICS = JS_DIR / "parse_ics.mjs"
LIBICAL_CHECK = ROOT / "tests" / "tools" / "libical_check.py"
NODE = "/usr/bin/node"
SYSTEM_PYTHON = "/usr/bin/python3"
SKIP_ENV = "TREFPUNT_SKIP_CALENDAR_PARSERS"
TIMEOUT_S = 30

_checked: dict[str, bool] = {}


def _missing(what: str, how: str) -> None:
    message = f"{what} is missing: {how}"
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{message} ({SKIP_ENV}=1)")
    pytest.fail(f"{message}. Install it, or set {SKIP_ENV}=1 on a machine that cannot run it.", pytrace=False)


def _ensure_icaljs() -> None:
    if _checked.get("icaljs"):
        return
    if not Path(NODE).exists():
        _missing(f"node ({NODE})", "the calendar tests run ical.js, Thunderbird's parser, with node")
    if not (JS_DIR / "node_modules" / "ical.js" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            _missing("npm", "tests/js/node_modules is not installed and npm is needed to run `npm ci` there")
        # One installer at a time, even with several pytest workers.
        with (Path(tempfile.gettempdir()) / "trefpunt-npm-ci.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (JS_DIR / "node_modules" / "ical.js" / "package.json").exists():
                done = subprocess.run(
                    [npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if done.returncode != 0:
                    pytest.fail(f"npm ci --prefix tests/js failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    _checked["icaljs"] = True


def _ensure_libical() -> None:
    if _checked.get("libical"):
        return
    if not Path(SYSTEM_PYTHON).exists():
        _missing(SYSTEM_PYTHON, "libical is run through Debian's python3 with python3-gi")
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", 'import gi; gi.require_version("ICalGLib", "3.0"); from gi.repository import ICalGLib'],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    if probe.returncode != 0:
        _missing(
            "libical's GObject bindings",
            f"apt-get install python3-gi gir1.2-ical-3.0 ({probe.stderr.strip().splitlines()[-1:]})",
        )
    _checked["libical"] = True


def _as_text(ics: str | bytes) -> bytes:
    return ics.encode("utf-8") if isinstance(ics, str) else ics


class ParseError(AssertionError):
    """A parser rejected the text."""


# Results per (parser, sha256 of the bytes): `prefetch` fills it with one process per parser for
# many texts (node starts in ~0.1 s; a time-zone matrix has dozens of texts).
_results: dict[tuple[str, str], dict[str, Any]] = {}


def _key(parser: str, ics: bytes) -> tuple[str, str]:
    return parser, hashlib.sha256(ics).hexdigest()


def _run_batch(parser: str, command: list[str], texts: list[bytes]) -> None:
    todo = list({_key(parser, t): t for t in texts if _key(parser, t) not in _results}.items())
    if not todo:
        return
    payload = json.dumps([t.decode("utf-8") for _, t in todo]).encode()
    done = subprocess.run([*command, "--batch"], input=payload, capture_output=True, timeout=TIMEOUT_S * 4)
    if done.returncode != 0:
        pytest.fail(f"{parser} batch run failed: {done.stderr.decode(errors='replace')}", pytrace=False)
    for (key, _), result in zip(todo, json.loads(done.stdout), strict=True):
        _results[key] = result


def _result(parser: str, command: list[str], ics: str | bytes) -> dict[str, Any]:
    data = _as_text(ics)
    _run_batch(parser, command, [data])
    result = _results[_key(parser, data)]
    if "error" in result:
        raise ParseError(f"{parser} rejected the calendar: {result['error']}")
    return copy.deepcopy(result["ok"])


def _icaljs_command() -> list[str]:
    _ensure_icaljs()
    return [NODE, str(PARSE_ICS)]


def _libical_command() -> list[str]:
    _ensure_libical()
    return [SYSTEM_PYTHON, str(LIBICAL_CHECK)]


def prefetch(texts: list[bytes]) -> None:
    """Parse many texts with ical.js and libical in one process each; later calls hit the cache.

    A parser that may be skipped (TREFPUNT_SKIP_CALENDAR_PARSERS=1) is left out here, so a test
    that needs no parser still runs; the tests that call it skip on their own."""
    for parser, command in (("ical.js", _icaljs_command), ("libical", _libical_command)):
        try:
            argv = command()
        except pytest.skip.Exception:
            continue
        _run_batch(parser, argv, texts)


def parse_with_icaljs(ics: str | bytes) -> dict[str, Any]:
    """What ical.js (Thunderbird) reads; raises ParseError when it cannot parse the text."""
    return _result("ical.js", _icaljs_command(), ics)


def parse_with_libical(ics: str | bytes) -> dict[str, Any]:
    """What libical reads, with `restriction_ok` (iTIP rules) and `parse_errors` (X-LIC-ERROR)."""
    return _result("libical", _libical_command(), ics)


def _utc_iso(value: datetime | date) -> str:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"floating time {value!r}"
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def _address(prop: Any) -> dict[str, Any] | None:
    if prop is None:
        return None
    params = prop.params
    return {
        "value": str(prop),
        "cn": params.get("CN"),
        "role": params.get("ROLE"),
        "partstat": params.get("PARTSTAT"),
        "rsvp": params.get("RSVP"),
        "cutype": params.get("CUTYPE"),
    }


def _text(component: Any, name: str) -> str | None:
    value = component.get(name)
    return None if value is None else str(value)


def parse_with_icalendar(ics: str | bytes) -> dict[str, Any]:
    """What the Python `icalendar` library reads from the bytes (TZIDs resolved through zoneinfo)."""
    from icalendar import Calendar

    calendars = Calendar.from_ical(_as_text(ics), multiple=True)
    if len(calendars) != 1:
        raise ParseError(f"expected one VCALENDAR, found {len(calendars)}")
    calendar = calendars[0]
    errors = [(component.name, error) for component in calendar.walk() for error in component.errors]
    if errors:
        raise ParseError(f"icalendar reported errors: {errors}")
    vevents = []
    for event in calendar.walk("VEVENT"):
        attendees = event.get("ATTENDEE", [])
        if not isinstance(attendees, list):
            attendees = [attendees]
        sequence = event.get("SEQUENCE")
        vevents.append(
            {
                "uid": _text(event, "UID"),
                "sequence": None if sequence is None else int(sequence),
                "status": _text(event, "STATUS"),
                "summary": _text(event, "SUMMARY"),
                "description": _text(event, "DESCRIPTION"),
                "location": _text(event, "LOCATION"),
                "url": _text(event, "URL"),
                "start_utc": _utc_iso(event.decoded("DTSTART")) if "DTSTART" in event else None,
                "end_utc": _utc_iso(event.decoded("DTEND")) if "DTEND" in event else None,
                "organizer": _address(event.get("ORGANIZER")),
                "attendees": [_address(a) for a in attendees],
            }
        )
    return {
        "method": _text(calendar, "METHOD"),
        "calname": _text(calendar, "X-WR-CALNAME"),
        "name": _text(calendar, "NAME"),
        "calendar_uid": _text(calendar, "UID"),
        "vevents": vevents,
    }


PARSERS = {"ical.js": parse_with_icaljs, "libical": parse_with_libical, "icalendar": parse_with_icalendar}


def parse_everywhere(ics: str | bytes) -> dict[str, dict[str, Any]]:
    """The text through every parser: {"ical.js": …, "libical": …, "icalendar": …}."""
    return {name: parse(ics) for name, parse in PARSERS.items()}
