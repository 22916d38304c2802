"""Pure: the stored parts of an outbox message → an `EmailMessage` laid out as CALENDAR.md asks.

multipart/mixed
├── multipart/alternative: text/plain, text/html, text/calendar; method=…  (Outlook, Gmail)
└── invite.ics as application/ics                                          (everyone else)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime


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


def build_message(parts: MailParts) -> EmailMessage:
    message = EmailMessage()
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
    if parts.ics:
        _attach_calendar(message, parts.ics, parts.ics_method)
    # After make_mixed(), which moves Content-* headers into the first part.
    message["Content-Language"] = parts.language
    return message


def _attach_calendar(message: EmailMessage, ics: str, method: str) -> None:
    calendar = EmailMessage()
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
