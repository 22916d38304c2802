"""Hostile inputs of the attack tests (test_attacks_web.py, test_attacks_content.py), in one place.

Each constant names what it attacks: HTML (XSS), mail headers (SMTP), iCalendar lines, CSV
cells, request bodies. The helpers say how to recognise that an attack got through.
"""

from __future__ import annotations

import json
import re

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# HTML: a tag, an attribute break-out, and a link scheme that runs script.
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
XSS = f"X{SCRIPT}{ATTRIBUTE}"
JAVASCRIPT_URL = "javascript:alert(1)"

# Mail headers: a second recipient smuggled through a line break, a comma or a NUL.
HEADER_BREAK = "\r\nBcc: x@evil.test"
NAME_WITH_PUNCTUATION = 'Dupont, "Jean" <ceo@evil.test>'

# iCalendar: a line break that closes the event and opens a forged one, plus TEXT specials.
ICS_BREAK = "Talk\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Forged\r\nUID:forged@evil.test"
ICS_SPECIALS = "Koffie; thee, water \\ melk"

# CSV/XLSX: cells a spreadsheet would run as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULAS = tuple(f'{start}HYPERLINK("http://evil.test","x")' for start in FORMULA_STARTS)


def unescaped(html: str) -> list[str]:
    """The parts of the XSS payloads that reached `html` as live markup."""
    found = []
    for needle in ("<script>alert(1)", "<img src=x onerror", 'href="javascript:', "href='javascript:"):
        if needle in html.lower():
            found.append(needle)
    return found


def fill_path(template: str, *, event_id: int, registration_id: int, token: str) -> str:
    """A concrete path for a route template ("/admin/events/{event_id:int}/edit")."""
    values = {"event_id": str(event_id), "registration_id": str(registration_id), "token": token, "action": "cancel"}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return values.get(name, "1")

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, template)


def _nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


# Bodies posted to the registration API: (content type, body, acceptable statuses).
HOSTILE_BODIES: dict[str, tuple[str, bytes, tuple[int, ...]]] = {
    "20MB": ("application/json", b'{"name": "' + b"x" * (20 * 1024 * 1024) + b'"}', (413,)),
    "nested-100000-deep": ("application/json", _nested(100_000), (400, 413, 422)),
    "invalid-utf8": ("application/json", b'{"name": "\xff\xfe\xfa", "email": "a@b.test", "language": "nl"}', (400,)),
    "truncated-json": ("application/json", b'{"name": "Ann", "email": ', (400,)),
    "json-array": ("application/json", b"[1, 2, 3]", (400, 422)),
    "wrong-types": (
        "application/json",
        json.dumps({"name": ["a"], "email": {"x": 1}, "language": 7, "unknown": {"deep": [None]}}).encode(),
        (400, 422),
    ),
    "form-encoded": ("application/x-www-form-urlencoded", b"name=Ann&email=a%40b.test&language=nl", (400, 415, 422)),
    "text-plain": ("text/plain", b"name=Ann", (400, 415, 422)),
    "multipart-junk": (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: junk\r\n\r\n--",
        (400, 415, 422),
    ),
    "nul-bytes": ("application/json", b'{"name": "A\\u0000nn", "email": "a\\u0000@b.test", "language": "nl"}', (422,)),
}

# Words of the error pages a browser gets for a broken form, per language (any of them).
FORM_LANGUAGE_ERRORS = {
    "nl": ("Het verzoek", "niet geldig", "Je rol", "te groot", "Dat ging snel"),
    "fr": ("La requête", "ne sont pas valides", "Votre rôle", "trop volumineuse", "rapide"),
}
