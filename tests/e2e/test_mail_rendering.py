"""The HTML mails as a participant's phone shows them (issue 11).

A real `trefpunt serve` sends them to a real SMTP server; each one is then opened in the same
headless Chromium at 375 px, the way a mail client does it (inline images resolved from their
`cid:` parts), screenshotted, and must read well: no horizontal scrolling, every image loaded and
scaled to the screen, the title and the participant's name visible.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE, Mailbox, PageFactory, api_client, mail_html, screenshot
from tests.integration.helpers import make_organisation, make_token

pytestmark = pytest.mark.serve

# A long unbroken online link and a long title are what pushes a narrow mail sideways.
ONLINE_URL = "https://meet.example.org/trefpunt/infosessie-microkrediet-voor-starters-en-groeiers?pwd=Zm9vYmFyYmF6cXV4"


def subject(kind: str, language: str, title: str) -> str:
    """The subject line Trefpunt gives mail `kind` in `language` (from the same catalogs)."""
    from events import i18n
    from events.mail.render import SUBJECTS
    from events.mail.render import language as in_language

    with in_language(language):
        return i18n.gettext(SUBJECTS[kind]) % {"title": title}


def as_a_mail_client_shows_it(message: EmailMessage) -> str:
    """The HTML part with its `cid:` images replaced by the attached parts, inline."""
    html = mail_html(message)
    for part in message.walk():
        content_id = str(part.get("Content-ID") or "").strip("<> ")
        if content_id and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_payload(decode=True)).decode("ascii")  # type: ignore[arg-type]
            html = html.replace(f"cid:{content_id}", f"data:{part.get_content_type()};base64,{data}")
    assert "cid:" not in html, "an inline image of the mail has no attached part"
    return html


async def reads_well_on_a_phone(page: Any, message: EmailMessage, name: str, must_show: tuple[str, ...]) -> None:
    await page.set_content(as_a_mail_client_shows_it(message), wait_until="load")
    await screenshot(page, f"mail-{name}-375")
    layout = await page.evaluate(
        """() => ({
            scrollWidth: document.scrollingElement.scrollWidth,
            images: [...document.images].map((img) => ({
                src: img.src.slice(0, 40), loaded: img.complete && img.naturalWidth > 0,
                right: img.getBoundingClientRect().right,
            })),
            text: document.body.innerText,
            wide: [...document.querySelectorAll("body *")]
                .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
                .map((e) => `${e.tagName} "${(e.textContent || "").trim().slice(0, 50)}"`).slice(-5),
        })"""
    )
    assert layout["scrollWidth"] <= PHONE, (
        f"{name}: {layout['scrollWidth']}px wide on a {PHONE}px phone; too wide: {layout['wide']}"
    )
    for image in layout["images"]:
        assert image["loaded"], f"{name}: image {image['src']} did not load"
        assert image["right"] <= PHONE, f"{name}: image {image['src']} sticks out to {image['right']}px"
    for text in must_show:
        assert text in layout["text"], f"{name}: {text!r} is not in the mail"


async def test_every_participant_mail_reads_well_on_a_375_px_phone(
    e2e_server: LiveServer, new_page: PageFactory, mailbox: Mailbox
) -> None:
    from events.services.reminders import queue_due_reminders

    suffix = secrets.token_hex(3)
    domain = f"{suffix}.mails.test"
    slug, _ = await make_organisation("mails", f"Ondernemerscentrum Microkrediet Vlaanderen {suffix}")
    token = await make_token(slug)
    title = {
        "nl": f"Infosessie microkrediet voor starters en bestaande ondernemingen {suffix}",
        "fr": f"Séance d'information sur le microcrédit pour starters et entreprises existantes {suffix}",
    }
    # Starts 48 hours and a minute from now with a 48-hour reminder, so the reminder is due a
    # minute from now (queued below with that moment as "now", as the worker would).
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=48, minutes=1)
    page = await new_page("nl", PHONE)

    async with api_client(e2e_server, token) as api:
        created = await api.post(
            "/api/v1/events",
            json={
                "kind": "info_session",
                "title": title,
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "timezone": "Europe/Brussels",
                "capacity": 1,
                "waitlist": True,
                "reminder_hours": [48],
                "venue": {"name": "Bedrijvencentrum De Punt", "address": "Puntstraat 10, 9000 Gent", "room": "Zaal A"},
                "online_url": ONLINE_URL,
            },
        )
        assert created.status_code == 201, created.text
        event_id = created.json()["id"]
        assert (await api.post(f"/api/v1/events/{event_id}/publish")).status_code == 200

        async def register(email: str, name: str, language: str) -> dict[str, Any]:
            answer = await api.post(
                f"/api/v1/events/{event_id}/registrations",
                json={"name": name, "email": email, "language": language, "company": "Bakkerij Claeys"},
            )
            assert answer.status_code == 201, answer.text
            return dict(answer.json())

        sofie, marie = f"sofie@{domain}", f"marie@{domain}"
        first = await register(sofie, "Sofie Claeys-Vandenberghe", "nl")
        assert first["status"] == "confirmed"
        assert (await register(marie, "Marie-Françoise Dubois", "fr"))["status"] == "waitlisted"

        confirmation = await mailbox.wait_for(sofie, subject=subject("invitation", "nl", title["nl"]))
        await reads_well_on_a_phone(page, confirmation, "confirmation-nl", (title["nl"], "Sofie Claeys-Vandenberghe"))

        # Sofie cancels: Marie gets the place.
        private_token = first["manage_url"].rsplit("/", 1)[1]
        assert (await api.delete(f"/api/v1/registrations/{private_token}")).status_code in (200, 204)
        promoted = await mailbox.wait_for(marie, subject=subject("promoted", "fr", title["fr"]))
        await reads_well_on_a_phone(page, promoted, "waitlist-promotion-fr", (title["fr"], "Marie-Françoise Dubois"))

        # Another room: an updated invitation.
        moved = await api.patch(
            f"/api/v1/events/{event_id}",
            json={
                "venue": {"name": "Bedrijvencentrum De Punt", "address": "Puntstraat 10, 9000 Gent", "room": "Zaal B"}
            },
        )
        assert moved.status_code == 200, moved.text
        update = await mailbox.wait_for(marie, subject=subject("event_updated", "fr", title["fr"]))
        await reads_well_on_a_phone(page, update, "update-fr", (title["fr"], "Zaal B"))

        # The 48-hour reminder.
        assert await queue_due_reminders(now=starts - timedelta(hours=48) + timedelta(seconds=1)) >= 1
        reminder = await mailbox.wait_for(marie, subject=subject("reminder", "fr", title["fr"]))
        await reads_well_on_a_phone(page, reminder, "reminder-fr", (title["fr"],))

        # The organiser cancels the event.
        assert (await api.post(f"/api/v1/events/{event_id}/cancel")).status_code == 200
        cancellation = await mailbox.wait_for(marie, subject=subject("event_cancelled", "fr", title["fr"]))
        await reads_well_on_a_phone(page, cancellation, "cancellation-fr", (title["fr"],))

        # A consultation-day appointment.
        day = (datetime.now(UTC) + timedelta(days=10)).replace(hour=7, minute=0, second=0, microsecond=0)
        consultation_title = {"nl": f"Zitdag Impulskrediet in het Ondernemershuis {suffix}"}
        created = await api.post(
            "/api/v1/events",
            json={
                "kind": "consultation_day",
                "title": consultation_title,
                "starts_at": day.isoformat(),
                "ends_at": (day + timedelta(hours=8)).isoformat(),
                "timezone": "Europe/Brussels",
                "venue": {"name": "Ondernemershuis", "address": "Kerkstraat 1, 9000 Gent", "room": "Bureau 2"},
                "consultation": {
                    "slot_minutes": 30,
                    "buffer_minutes": 0,
                    "min_notice_hours": 1,
                    "booking_opens_days": 60,
                    "advisors": [
                        {
                            "name": "Piet Advisor",
                            "email": f"piet@{domain}",
                            "languages": ["nl", "fr"],
                            "topics": ["microcredit"],
                            "room": "Desk 1",
                            "windows": [
                                {
                                    "starts_at": (day + timedelta(hours=1)).isoformat(),
                                    "ends_at": (day + timedelta(hours=3)).isoformat(),
                                }
                            ],
                        }
                    ],
                },
            },
        )
        assert created.status_code == 201, created.text
        day_id = created.json()["id"]
        assert (await api.post(f"/api/v1/events/{day_id}/publish")).status_code == 200
    async with httpx.AsyncClient(base_url=e2e_server.url, timeout=15) as public:
        slots = (await public.get(f"/api/v1/events/{day_id}/slots")).json()
        slot = (slots["items"] if isinstance(slots, dict) else slots)[0]
        booked = await public.post(
            f"/api/v1/slots/{slot['id']}/booking",
            json={"name": "Jan Vermeulen-Declercq", "email": f"jan@{domain}", "language": "nl"},
        )
        assert booked.status_code == 201, booked.text
    booking = await mailbox.wait_for(
        f"jan@{domain}", subject=subject("booking_confirmed", "nl", consultation_title["nl"])
    )
    await reads_well_on_a_phone(page, booking, "consultation-booking-nl", ("Jan Vermeulen-Declercq", "Piet Advisor"))
