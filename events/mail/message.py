"""Pure: the stored parts of an outbox message → an `EmailMessage` laid out as CALENDAR.md asks.

multipart/mixed
├── multipart/alternative: text/plain, text/html, text/calendar; method=…  (Outlook, Gmail)
└── invite.ics as application/ics                                          (everyone else)

A confirmation that carries a check-in code references its QR code from the HTML as
`cid:check-in.<code>@trefpunt`; the PNG is made here from that reference, and the HTML becomes
multipart/related (text/html + image/png, inline). The outbox stores no image: a resend draws
the same code again.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from functools import lru_cache


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, but each header class made once: CPython's makes a new
    class with type() for every header set, most of the time spent building a message."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        name = name.lower()
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = super().__getitem__(name)
        return made


# email.policy.default in every respect but the speed of its header classes.
POLICY = default_policy.clone(header_factory=_HeaderClasses())


@dataclass(frozen=True)
class MailParts:
    recipient: str
    recipient_name: str
    sender_address: str
    sender_name: str
    reply_to: str
    subject: str
    text_body: str
    html_body: str
    ics: str
    ics_method: str
    message_id: str
    language: str
    created_at: datetime


def one_line(text: str) -> str:
    """Header text without control characters: no CR/LF injection, no NUL."""
    return " ".join("".join(c if ord(c) >= 32 and c != "\x7f" else " " for c in text).split())


def _address(email: str, name: str) -> Address:
    local, _, domain = email.rpartition("@")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    # Address() quotes display names: a comma in a name stays one recipient.
    return Address(display_name=one_line(name), username=local, domain=domain)


CHECK_IN_CID = re.compile(r'src="cid:(check-in\.([0-9]{1,12}-[A-Z2-7]{8})@trefpunt)"')


def check_in_cid(code: str) -> str:
    """The Content-ID (without <>) under which a mail's HTML finds the QR code of `code`."""
    return f"check-in.{code}@trefpunt"


@lru_cache(maxsize=1024)
def qr_png(text: str) -> bytes:
    """A QR code of `text` as a PNG, large enough to scan from a phone screen.

    Drawn once per code and process (~5 ms): a reminder or a resend carries the same code."""
    import segno

    buffer = io.BytesIO()
    # make_qr, not make: a Micro QR code would be smaller, but phone scanners do not read it.
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def build_message(parts: MailParts) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = _address(parts.sender_address, parts.sender_name)
    message["To"] = _address(parts.recipient, parts.recipient_name)
    if parts.reply_to:
        message["Reply-To"] = _address(parts.reply_to, parts.sender_name)
    message["Subject"] = one_line(parts.subject)
    message["Message-ID"] = parts.message_id
    message["Date"] = format_datetime(parts.created_at)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(parts.text_body, subtype="plain", charset="utf-8")
    message.add_alternative(parts.html_body, subtype="html", charset="utf-8")
    qr = CHECK_IN_CID.search(parts.html_body)
    if qr:
        html_part = next(part for part in message.iter_parts() if part.get_content_type() == "text/html")
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(
            qr_png(qr.group(2)),
            maintype="image",
            subtype="png",
            cid=f"<{qr.group(1)}>",
            disposition="inline",
            filename="check-in.png",
        )
    if parts.ics:
        _attach_calendar(message, parts.ics, parts.ics_method)
    # After make_mixed(), which moves Content-* headers into the first part.
    message["Content-Language"] = parts.language
    return message


def _attach_calendar(message: EmailMessage, ics: str, method: str) -> None:
    calendar = EmailMessage(policy=POLICY)
    calendar.set_content(ics.encode("utf-8"), maintype="text", subtype="calendar", cte="base64")
    calendar.set_param("method", method)
    calendar.set_param("charset", "UTF-8")
    message.attach(calendar)
    message.make_mixed()
    message.add_attachment(
        ics.encode("utf-8"),
        maintype="application",
        subtype="ics",
        filename="invite.ics" if method != "CANCEL" else "cancel.ics",
    )
