"""/dev/mail: while mail goes to files (no SMTP_URL), organisers read what participants get."""

from __future__ import annotations

import base64
import re
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Template

from events.mail.message import CHECK_IN_CID, qr_png
from events.services.access import Actor
from events.services.errors import NotFound
from events.settings import get_settings
from events.tables import OutboxMessage
from events.web.auth import session_organiser


async def _visible_message(organiser: Actor, message_id: int) -> dict[str, Any]:
    row = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
    if row is None or row["organisation"] not in organiser.roles:
        raise NotFound()
    return row


def _inline_images(html: str) -> str:
    """The preview has no MIME parts to resolve `cid:` against: draw the check-in QR code the
    delivered mail would carry as a data: URL (the page's CSP allows data: images)."""

    def data_url(match: re.Match[str]) -> str:
        return f'src="data:image/png;base64,{base64.b64encode(qr_png(match.group(2))).decode()}"'

    return CHECK_IN_CID.sub(data_url, html)


def _require_file_delivery() -> None:
    if get_settings().smtp_url:
        raise NotFound()


class DevMailController(Controller):
    path = "/dev/mail"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    @get("/", name="dev-mail")
    async def mailbox(self, organiser: NamedDependency[Actor]) -> Template:
        _require_file_delivery()
        rows = (
            await OutboxMessage.select(
                OutboxMessage.id,
                OutboxMessage.recipient,
                OutboxMessage.subject,
                OutboxMessage.status,
                OutboxMessage.created_at,
                OutboxMessage.ics_method,
                OutboxMessage.kind,
            )
            .where(OutboxMessage.organisation.is_in(list(organiser.roles) or [-1]))
            .order_by(OutboxMessage.id, ascending=False)
            .limit(200)
        )
        return Template("admin/dev_mail.html", context={"organiser": organiser, "messages": rows})

    @get("/{message_id:int}", name="dev-mail-message")
    async def message(self, organiser: NamedDependency[Actor], message_id: FromPath[int]) -> Template:
        _require_file_delivery()
        row = await _visible_message(organiser, message_id)
        return Template(
            "admin/dev_mail_message.html",
            context={"organiser": organiser, "message": row, "preview_html": _inline_images(row["html_body"])},
        )

    @get("/{message_id:int}/invite.ics", name="dev-mail-invite")
    async def invite(self, organiser: NamedDependency[Actor], message_id: FromPath[int]) -> Response[str]:
        _require_file_delivery()
        row = await _visible_message(organiser, message_id)
        if not row["ics"]:
            raise NotFound()
        return Response(
            row["ics"], media_type="text/calendar", headers={"Content-Disposition": 'attachment; filename="invite.ics"'}
        )
