"""Who consented to what, per event, as the consent ledger records it."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Template

from events.services import events as event_service
from events.services.access import Actor
from events.services.consent_overview import CSV_HEADER, consent_overview, overview_rows
from events.web.auth import session_organiser


class AdminConsentController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    @get("/events/{event_id:int}/consents", name="admin-consents")
    async def consents(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template:
        """Per person and purpose: given, withdrawn or never, when, which wording, from where."""
        overview = await consent_overview(organiser, event_id)
        event = await event_service.get_event(event_id, organiser)
        return Template("admin/consents.html", context={"organiser": organiser, "event": event, "overview": overview})

    @get("/events/{event_id:int}/consents.csv", name="admin-consents-csv")
    async def consents_csv(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], event_id: FromPath[int]
    ) -> Response[str]:
        overview = await consent_overview(organiser, event_id)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_HEADER)
        writer.writerows(overview_rows(overview, request.scope["state"].get("language", "nl")))
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="consents-{event_id}.csv"',
                "Cache-Control": "private",
            },
        )
