"""What every participant mail repeats (CALENDAR.md: Outlook shows the body, not DESCRIPTION)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.mail.render import render_mail

CONTEXT = {
    "title": "Infosessie microkrediet",
    "starts_at": datetime(2027, 7, 1, 16, 30, tzinfo=UTC),
    "ends_at": datetime(2027, 7, 1, 18, 0, tzinfo=UTC),
    "timezone": "Europe/Brussels",
    "place": "Bedrijvencentrum De Punt, Zaal Schelde, Puntstraat 10, 9000 Gent",
    "online_url": "https://meet.example/impuls",
    "event_url": "https://trefpunt.example/events/7",
    "organisation_name": "Bedrijvencentrum De Punt",
    "organisation_email": "info@depunt.example",
    "organisation_address": "Puntstraat 10, 9000 Gent",
    "colour": "#1d5c7a",
    "google_url": "https://calendar.google.com/calendar/render?action=TEMPLATE",
    "outlook_url": "https://outlook.live.com/calendar/0/deeplink/compose?rru=addevent",
    "recipient_name": "Sofie",
    "manage_url": "https://trefpunt.example/r/token",
}


@pytest.mark.parametrize(
    ("language", "when", "start", "end"),
    [
        ("nl", "1 juli 2027", "18:30", "20:00"),
        ("fr", "1 juillet 2027", "18:30", "20:00"),
        ("en", "July 1, 2027", "6:30", "8:00"),
    ],
)
def test_an_invitation_repeats_date_time_zone_place_link_and_the_organisation(
    language: str, when: str, start: str, end: str
) -> None:
    mail = render_mail("invitation", language, **CONTEXT)
    for body in (mail.text, mail.html):
        assert when in body
        assert start in body and end in body and "CEST" in body  # local time, with its zone
        assert "Zaal Schelde" in body
        assert "https://meet.example/impuls" in body
        assert "https://trefpunt.example/events/7" in body
        assert "Puntstraat 10, 9000 Gent" in body and "info@depunt.example" in body
        assert "https://trefpunt.example/r/token" in body
    assert "https://calendar.google.com/calendar/render" in mail.html
    assert "https://outlook.live.com/calendar/" in mail.html


@pytest.mark.parametrize("kind", ["invitation", "waitlisted", "event_cancelled", "reminder"])
def test_the_text_part_keeps_paragraphs_apart_and_links_on_their_own(kind: str) -> None:
    text = render_mail(
        kind, "en", **dict(CONTEXT, check_in_code="12-ABCDEFGH", check_in_cid="c@t", position=2, hours=2)
    ).text
    lines = text.splitlines()
    assert "https://trefpunt.example/events/7" in lines, "the event link stands alone, clickable"
    assert "\n\n\n" not in text and lines[1] == "", "one blank line between paragraphs"
    assert "-- " in lines, "the footer starts with the signature delimiter"
    paragraph_after_greeting = lines[2]
    assert lines[lines.index(paragraph_after_greeting) + 1] == "", "the message is its own paragraph"
