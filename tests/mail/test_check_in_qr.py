"""The check-in code in the mails that give someone a seat: as text, and as a QR code that travels
inline (multipart/related, Content-ID referenced from the HTML), and it checks the person in."""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import msgspec

from events.mail.message import build_message
from events.mail.worker import _parts
from events.settings import get_settings
from events.tables import OutboxMessage, Registration
from tests.integration.helpers import csrf_from_html, sign_in
from tests.mail.conftest import (
    PASSWORD,
    drain_until_idle,
    make_event,
    make_organisation,
    make_organiser,
    unique_domain,
    worker_config,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _part(message: EmailMessage, content_type: str) -> EmailMessage:
    parts = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(parts) == 1, f"{content_type}: {len(parts)} parts"
    return parts[0]  # type: ignore[return-value]


def _inline_image(message: EmailMessage) -> tuple[EmailMessage, str]:
    """The image the HTML references with cid:, and the alt text of its <img>."""
    html = _part(message, "text/html").get_content()
    match = re.search(r'<img src="cid:([^"]+)" alt="([^"]*)"', html)
    assert match, "the HTML references no inline image"
    cid, alt = match.groups()
    images = [p for p in message.walk() if p.get("Content-ID") == f"<{cid}>"]
    assert len(images) == 1, "exactly one part carries the referenced Content-ID"
    return images[0], alt  # type: ignore[return-value]


def _code_in_text(message: EmailMessage) -> str:
    text = _part(message, "text/plain").get_content()
    match = re.search(r"check-in code: (\S+)", text)
    assert match, "the text part shows the check-in code"
    return match.group(1)


async def _register(browser: Any, event_id: int, email: str, name: str = "Sofie Peeters") -> int:
    response = await browser.post(
        f"/api/v1/events/{event_id}/registrations", json={"name": name, "email": email, "language": "en"}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _built(registration_id: int, kind: str) -> EmailMessage:
    """The MIME message the worker would send for this registration's mail of `kind`."""
    row = (
        await OutboxMessage.select()
        .where((OutboxMessage.registration == registration_id) & (OutboxMessage.kind == kind))
        .first()
    )
    assert row is not None, f"no {kind} mail"
    return build_message(_parts(row, get_settings()))


async def _check_in(browser: Any, event_id: int, code: str) -> Any:
    page = await browser.get(f"/admin/events/{event_id}/check-in")
    assert page.status_code == 200
    return await browser.post(
        f"/admin/events/{event_id}/check-in/code",
        data={"_csrf_token": csrf_from_html(page.text), "code": code},
        follow_redirects=False,
    )


async def test_the_confirmation_carries_the_code_as_text_and_inline_qr_and_the_code_checks_in(browser, smtp) -> None:
    slug, org_id = await make_organisation("qr")
    event_id = await make_event(org_id)
    domain = unique_domain()
    registration_id = await _register(browser, event_id, f"sofie@{domain}")

    server = smtp()
    await drain_until_idle(worker_config(server.url))
    [received] = server.handler.accepted_for(domain)
    message = received.message

    image, alt = _inline_image(message)
    assert image.get_content_type() == "image/png"
    assert image.get_content_disposition() == "inline"
    width, height = _png_size(image.get_content())
    assert width == height and width >= 150, "a QR code big enough to scan from a phone"
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1 and [p.get_content_type() for p in related[0].iter_parts()] == ["text/html", "image/png"]
    assert _part(message, "text/calendar").get_param("method") == "REQUEST", "the invite is still there"

    code = _code_in_text(message)
    assert code.startswith(f"{registration_id}-") and code in alt, "the alt text names the code"
    assert code in _part(message, "text/html").get_content()

    await sign_in(browser, await make_organiser(slug, role="editor"), PASSWORD)
    done = await _check_in(browser, event_id, code)
    assert done.status_code == 303, done.text
    row = await Registration.select().where(Registration.id == registration_id).first()
    assert row is not None and row["attendance"] == "attended" and row["checked_in_at"] is not None


async def test_a_code_from_another_events_mail_is_refused(browser) -> None:
    slug, org_id = await make_organisation("qr")
    here = await make_event(org_id, "Here")
    there = await make_event(org_id, "There")
    domain = unique_domain()
    mine = await _register(browser, here, f"mine@{domain}")
    theirs = await _register(browser, there, f"theirs@{domain}")
    other_code = _code_in_text(await _built(theirs, "invitation"))

    await sign_in(browser, await make_organiser(slug, role="owner"), PASSWORD)
    refused = await _check_in(browser, here, other_code)
    assert refused.status_code == 409
    assert (
        await Registration.count().where(
            Registration.id.is_in([mine, theirs]) & (Registration.attendance == "attended")
        )
        == 0
    )
    assert (await _check_in(browser, here, _code_in_text(await _built(mine, "invitation")))).status_code == 303


async def test_approved_and_promoted_mails_carry_the_code_while_waitlist_mails_do_not(browser) -> None:
    from events.services import events as event_service
    from events.services import registrations
    from events.services.access import CLI_ACTOR
    from events.services.events import EventInput

    _, org_id = await make_organisation("qr")
    starts = datetime.now(UTC).replace(hour=16, minute=0, second=0, microsecond=0) + timedelta(days=20)
    data = msgspec.convert(
        {
            "kind": "workshop",
            "title": {"en": "Pitching workshop"},
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "timezone": "Europe/Brussels",
            "capacity": 1,
            "requires_approval": True,
        },
        EventInput,
    )
    event_id = await event_service.create_event(CLI_ACTOR, org_id, data)
    await event_service.publish_event(CLI_ACTOR, event_id)
    domain = unique_domain()
    first = await _register(browser, event_id, f"first@{domain}", "First")
    second = await _register(browser, event_id, f"second@{domain}", "Second")
    assert await registrations.approve(CLI_ACTOR, first) == "confirmed"
    assert await registrations.approve(CLI_ACTOR, second) == "waitlisted"
    await registrations.cancel_by_organiser(CLI_ACTOR, first)

    for registration_id, kind in ((first, "approved"), (second, "promoted")):
        message = await _built(registration_id, kind)
        image, _ = _inline_image(message)
        assert image.get_content().startswith(PNG_SIGNATURE)
        assert _code_in_text(message).startswith(f"{registration_id}-")
    for registration_id, kind in (
        (second, "waitlisted"),
        (first, "pending_approval"),
        (first, "registration_cancelled"),
    ):
        message = await _built(registration_id, kind)
        assert not any(p.get_content_maintype() == "image" for p in message.walk()), kind
        assert "check-in code" not in _part(message, "text/plain").get_content(), kind


async def test_a_resent_confirmation_draws_the_same_code_again(browser) -> None:
    _, org_id = await make_organisation("qr")
    event_id = await make_event(org_id)
    registration_id = await _register(browser, event_id, f"again@{unique_domain()}")
    first = await _built(registration_id, "invitation")
    second = await _built(registration_id, "invitation")
    assert _code_in_text(first) == _code_in_text(second)
    assert _inline_image(first)[0].get_content() == _inline_image(second)[0].get_content()
