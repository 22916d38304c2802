"""The transactional outbox: services enqueue mails inside their own write transaction.

A crash never loses a mail (the row commits with the change) and never sends one for a change
that rolled back (the row rolls back with it). The dedupe key makes enqueueing idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import make_msgid
from urllib.parse import urlsplit

from events.settings import get_settings
from events.tables import OutboxMessage


@dataclass(frozen=True)
class OutgoingMail:
    dedupe_key: str
    kind: str
    recipient: str
    recipient_name: str
    language: str
    subject: str
    text_body: str
    html_body: str
    sender_name: str
    reply_to: str
    ics: str = ""
    ics_method: str = ""
    event_id: int | None = None
    registration_id: int | None = None
    organisation_id: int | None = None


def _message_id() -> str:
    domain = get_settings().mail_from.rpartition("@")[2] or urlsplit(get_settings().base_url).hostname or "trefpunt"
    return make_msgid(idstring="trefpunt", domain=domain)


async def enqueue(*mails: OutgoingMail) -> None:
    """Queue mails in the caller's transaction; a mail whose dedupe key exists is skipped."""
    if not mails:
        return
    rows = [
        OutboxMessage(
            dedupe_key=mail.dedupe_key[:200],
            kind=mail.kind,
            event=mail.event_id,
            registration=mail.registration_id,
            organisation=mail.organisation_id,
            recipient=mail.recipient,
            recipient_name=mail.recipient_name,
            language=mail.language,
            sender_name=mail.sender_name,
            reply_to=mail.reply_to,
            subject=mail.subject,
            text_body=mail.text_body,
            html_body=mail.html_body,
            ics=mail.ics,
            ics_method=mail.ics_method,
            message_id=_message_id(),
        )
        for mail in mails
    ]
    await OutboxMessage.insert(*rows).on_conflict(target=OutboxMessage.dedupe_key, action="DO NOTHING")
