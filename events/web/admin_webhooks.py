"""Webhooks: subscriptions per organisation, their secret, test ping and delivery log.

Owners manage; editors read (list and log); viewers 403; other organisations 404
(events/services/webhooks.py decides). The secret is in the response that creates or rotates
it, never again.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from events.services import team, webhooks
from events.services.access import Actor
from events.services.errors import N_, DomainError
from events.web.auth import session_organiser
from events.web.errors import localise

NO_STORE = {"Cache-Control": "no-store"}

# Fixed messages after a change (the redirect carries the key, never the text).
NOTICES = {
    "pinged": N_("A test event (ping) is on its way; its delivery shows below within a moment."),
    "enabled": N_("The webhook is enabled."),
    "disabled": N_("The webhook is disabled; nothing is sent to it until it is enabled again."),
    "deleted": N_("The webhook is deleted."),
    "resent": N_("The delivery is queued to be sent again."),
}

EVENT_LABELS = {
    "registration.created": N_("A registration comes in"),
    "registration.cancelled": N_("A registration is cancelled"),
    "registration.promoted": N_("Someone gets a place from the waiting list"),
    "booking.created": N_("An appointment is booked on a consultation day"),
    "event.updated": N_("An event is published or changed"),
    "event.cancelled": N_("An event is cancelled"),
}


def _notice(key: str | None) -> str | None:
    return localise(NOTICES[key]) if key in NOTICES else None


def _user_error(exc: DomainError) -> bool:
    """Errors the page shows next to its form; 403/404 (and 5xx) become an error page."""
    return exc.status_code in (400, 409, 422)


async def _choose(organiser: Actor, organisation_id: int | None) -> tuple[Any, list[Any]]:
    chosen, mine = await team.choose_organisation(organiser, organisation_id)
    if organisation_id is None:  # by default the first organisation whose webhooks they may read
        chosen = next((o for o in mine if o.role in ("owner", "editor")), chosen)
    return chosen, mine


async def _list_context(organiser: Actor, organisation_id: int | None) -> dict[str, Any]:
    organisation, mine = await _choose(organiser, organisation_id)
    return {
        "organiser": organiser,
        "organisation": organisation,
        "organisations": [o for o in mine if o.role in ("owner", "editor")],
        "webhooks": await webhooks.list_webhooks(organiser, organisation.id),
        "is_owner": organisation.role == "owner",
        "event_types": webhooks.EVENT_TYPES,
        "event_labels": {key: localise(label) for key, label in EVENT_LABELS.items()},
        "new_secret": None,  # not a password  # nosec B105
        "form": {},
        "form_error": None,
        "form_field": None,
        "notice": None,
    }


async def _log_context(organiser: Actor, organisation_id: int, webhook_id: int, page: int = 1) -> dict[str, Any]:
    organisation, _ = await team.choose_organisation(organiser, organisation_id)
    result = await webhooks.delivery_log(organiser, organisation.id, webhook_id, page)
    return {
        "organiser": organiser,
        "organisation": organisation,
        "log": result,
        "webhook": result.webhook,
        "is_owner": organisation.role == "owner",
        "event_labels": {key: localise(label) for key, label in EVENT_LABELS.items()},
        "new_secret": None,  # not a password  # nosec B105
        "page_error": None,
        "notice": None,
    }


def _log_url(organisation_id: int, webhook_id: int, done: str | None = None) -> str:
    url = f"/admin/webhooks/{webhook_id}?organisation={organisation_id}"
    return f"{url}&done={done}" if done else url


class AdminWebhookController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    @get("/webhooks", name="admin-webhooks")
    async def list_page(
        self,
        organiser: NamedDependency[Actor],
        organisation: FromQuery[int | None] = None,
        done: Annotated[str | None, QueryParameter(max_length=30)] = None,
    ) -> Template:
        """The organisation's webhooks; owners also get the form to add one."""
        context = await _list_context(organiser, organisation)
        context["notice"] = _notice(done)
        return Template("admin/webhooks.html", context=context)

    @post("/webhooks", name="admin-webhooks-create")
    async def create(
        self, request: Request[Any, Any, Any], organiser: NamedDependency[Actor], organisation: FromQuery[int]
    ) -> Template:
        """The new secret is in this response only."""
        form = await request.form()
        url = str(form.get("url") or "")[:600]
        description = str(form.get("description") or "")[:300]
        chosen = [str(value) for value in form.getall("events", [])][:20]
        try:
            issued = await webhooks.create_webhook(organiser, organisation, url, description, chosen)
        except DomainError as exc:
            if not _user_error(exc):
                raise
            context = await _list_context(organiser, organisation)
            context.update(
                form={"url": url, "description": description, "events": set(chosen)},
                form_error=localise(exc.message, **exc.params),
                form_field=exc.field or "url",
            )
            return Template("admin/webhooks.html", context=context, status_code=exc.status_code)
        context = await _list_context(organiser, organisation)
        context["new_secret"] = {"secret": issued.secret, "webhook": issued.webhook}
        return Template("admin/webhooks.html", context=context, status_code=201, headers=NO_STORE)

    @get("/webhooks/{webhook_id:int}", name="admin-webhook")
    async def log_page(
        self,
        organiser: NamedDependency[Actor],
        webhook_id: FromPath[int],
        organisation: FromQuery[int],
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
        done: Annotated[str | None, QueryParameter(max_length=30)] = None,
    ) -> Template:
        """The webhook and its delivery log, newest first, with each payload."""
        context = await _log_context(organiser, organisation, webhook_id, page)
        context["notice"] = _notice(done)
        return Template("admin/webhooks_log.html", context=context)

    async def _change(
        self, organiser: Actor, organisation: int, webhook_id: int, done: str, action: Any
    ) -> Template | Redirect:
        try:
            await action
        except DomainError as exc:
            if not _user_error(exc):
                raise
            context = await _log_context(organiser, organisation, webhook_id)
            context["page_error"] = localise(exc.message, **exc.params)
            return Template("admin/webhooks_log.html", context=context, status_code=exc.status_code)
        return Redirect(_log_url(organisation, webhook_id, done), status_code=303)

    @post("/webhooks/{webhook_id:int}/test", name="admin-webhook-test")
    async def test(
        self, organiser: NamedDependency[Actor], webhook_id: FromPath[int], organisation: FromQuery[int]
    ) -> Template | Redirect:
        action = webhooks.send_ping(organiser, organisation, webhook_id)
        return await self._change(organiser, organisation, webhook_id, "pinged", action)

    @post("/webhooks/{webhook_id:int}/enable", name="admin-webhook-enable")
    async def enable(
        self, organiser: NamedDependency[Actor], webhook_id: FromPath[int], organisation: FromQuery[int]
    ) -> Template | Redirect:
        action = webhooks.set_active(organiser, organisation, webhook_id, True)
        return await self._change(organiser, organisation, webhook_id, "enabled", action)

    @post("/webhooks/{webhook_id:int}/disable", name="admin-webhook-disable")
    async def disable(
        self, organiser: NamedDependency[Actor], webhook_id: FromPath[int], organisation: FromQuery[int]
    ) -> Template | Redirect:
        action = webhooks.set_active(organiser, organisation, webhook_id, False)
        return await self._change(organiser, organisation, webhook_id, "disabled", action)

    @post("/webhooks/{webhook_id:int}/delete", name="admin-webhook-delete")
    async def delete(
        self, organiser: NamedDependency[Actor], webhook_id: FromPath[int], organisation: FromQuery[int]
    ) -> Redirect:
        await webhooks.delete_webhook(organiser, organisation, webhook_id)
        return Redirect(f"/admin/webhooks?organisation={organisation}&done=deleted", status_code=303)

    @post("/webhooks/{webhook_id:int}/rotate-secret", name="admin-webhook-rotate")
    async def rotate(
        self, organiser: NamedDependency[Actor], webhook_id: FromPath[int], organisation: FromQuery[int]
    ) -> Template:
        """The new secret is in this response only; the old one stops at once."""
        issued = await webhooks.rotate_secret(organiser, organisation, webhook_id)
        context = await _log_context(organiser, organisation, webhook_id)
        context["new_secret"] = {"secret": issued.secret, "webhook": issued.webhook}
        return Template("admin/webhooks_log.html", context=context, headers=NO_STORE)

    @post("/webhooks/{webhook_id:int}/deliveries/{delivery_id:int}/resend", name="admin-webhook-resend")
    async def resend(
        self,
        organiser: NamedDependency[Actor],
        webhook_id: FromPath[int],
        delivery_id: FromPath[int],
        organisation: FromQuery[int],
    ) -> Template | Redirect:
        action = webhooks.resend(organiser, organisation, webhook_id, delivery_id)
        return await self._change(organiser, organisation, webhook_id, "resent", action)
