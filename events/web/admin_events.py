"""Event create, edit, duplicate and cancel (with a preview of who will be told)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from events.services import event_forms
from events.services import events as event_service
from events.services.access import Actor
from events.services.errors import N_, Conflict, DomainError
from events.services.event_forms import EventForm, FieldError
from events.services.hosts import require_editor, require_host
from events.web.auth import session_organiser
from events.web.errors import localise

# Errors the services report against a field name of their own → the form input to show it at.
SERVICE_FIELDS = {
    "title": "title",
    "timezone": "timezone",
    "online_url": "online_url",
    "starts_at": "starts_at",
    "ends_at": "ends_at",
    "registration_opens_at": "registration_opens_at",
    "registration_closes_at": "registration_closes_at",
    "hosts": "hosts",
    "venue": "venue_name",
    "capacity": "capacity",
    "reminder_hours": "reminder_hours",
    "follow_up_event_id": "follow_up_event_id",
    "kind": "kind",
}
# The material fields by the names the confirmation step shows them under.
CHANGE_LABELS = {
    "starts_at": N_("Start"),
    "ends_at": N_("End"),
    "venue": N_("Venue"),
    "online_url": N_("Online link"),
}


def _messages(errors: dict[str, FieldError]) -> dict[str, str]:
    return {name: localise(error.message, **error.params) for name, error in errors.items()}


def _service_error(exc: DomainError) -> dict[str, str]:
    """A service's refusal as a form error: next to its field when it names one."""
    return {SERVICE_FIELDS.get(exc.field or "", "form"): localise(exc.message, **exc.params)}


class AdminEventFormController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    async def _form_page(
        self,
        organiser: Actor,
        *,
        mode: str,
        form: EventForm,
        action: str,
        errors: dict[str, str] | None = None,
        event: Any = None,
        status_code: int = 200,
    ) -> Template:
        editable, everyone = await event_forms.organisation_choices(organiser)
        keep = int(form.follow_up_event_id) if form.follow_up_event_id.isdigit() else None
        timezones = list(event_forms.TIMEZONES)
        if form.timezone and form.timezone not in timezones:
            timezones.append(form.timezone)
        return Template(
            "admin/event_form.html",
            context={
                "organiser": organiser,
                "mode": mode,
                "form": form,
                "hosts_checked": set(form.host_slugs),
                "action": action,
                "errors": errors or {},
                "event": event,
                "editable": editable,
                "everyone": everyone,
                "follow_ups": await event_forms.follow_up_choices(organiser, keep),
                "timezones": timezones,
                "kinds": event_service.KINDS,
            },
            status_code=status_code,
        )

    # New ------------------------------------------------------------------------------------

    @get("/events/new", name="admin-event-new")
    async def new_event(
        self,
        organiser: NamedDependency[Actor],
        organisation: FromQuery[int | None] = None,
        kind: FromQuery[str | None] = None,
    ) -> Template:
        event_forms.require_some_edit_role(organiser)
        if organisation is not None:
            event_forms.require_edit_role_in(organiser, organisation)
        else:
            organisation = min(org for org in organiser.roles if organiser.can_edit_for(org))
        form = event_forms.blank_form(organisation, kind)
        return await self._form_page(organiser, mode="new", form=form, action="/admin/events/new")

    @post("/events/new", name="admin-event-create")
    async def create_event(
        self,
        organiser: NamedDependency[Actor],
        data: URLEncodedBody[EventForm],
        organisation: FromQuery[int | None] = None,
    ) -> Template | Redirect:
        event_forms.require_some_edit_role(organiser)
        if not data.organisation and organisation is not None:
            data.organisation = str(organisation)  # named in the query, as the GET page takes it
        parsed, errors = event_forms.parse_event_form(data)
        if parsed.organisation_id is not None:
            event_forms.require_edit_role_in(organiser, parsed.organisation_id)
        elif "organisation" not in errors:
            errors["organisation"] = FieldError(N_("Choose an organisation."))
        if errors:
            return await self._form_page(
                organiser,
                mode="new",
                form=data,
                action="/admin/events/new",
                errors=_messages(errors),
                status_code=400,
            )
        assert parsed.organisation_id is not None
        try:
            event_id = await event_service.create_event(organiser, parsed.organisation_id, parsed.as_input())
        except DomainError as exc:
            if exc.status_code != 422:
                raise
            return await self._form_page(
                organiser,
                mode="new",
                form=data,
                action="/admin/events/new",
                errors=_service_error(exc),
                status_code=400,
            )
        return Redirect(f"/admin/events/{event_id}", status_code=303)

    # Edit -----------------------------------------------------------------------------------

    @get("/events/{event_id:int}/edit", name="admin-event-edit")
    async def edit_event(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template:
        owner = await require_editor(organiser, event_id)
        event = await event_service.get_event(event_id, organiser)
        if event.status == "cancelled":
            raise Conflict(N_("A cancelled event cannot be changed."))
        return await self._form_page(
            organiser,
            mode="edit",
            form=event_forms.form_from_event(event, owner),
            action=f"/admin/events/{event_id}/edit",
            event=event,
        )

    @post("/events/{event_id:int}/edit", name="admin-event-update")
    async def update_event(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], data: URLEncodedBody[EventForm]
    ) -> Template | Redirect:
        owner = await require_editor(organiser, event_id)
        event = await event_service.get_event(event_id, organiser)
        # The owner cannot change here: whatever the form says, the event keeps its organisation.
        data.organisation = str(owner)
        action = f"/admin/events/{event_id}/edit"
        if data.back:
            return await self._form_page(organiser, mode="edit", form=data, action=action, event=event)
        parsed, errors = event_forms.parse_event_form(data)
        if errors:
            return await self._form_page(
                organiser, mode="edit", form=data, action=action, errors=_messages(errors), event=event, status_code=400
            )
        patch = parsed.patch_for(event)
        if data.confirm != "yes":
            told = await event_forms.invite_impact(organiser, event_id, patch)
            if told:
                changed = [label for name, label in CHANGE_LABELS.items() if name in _given(patch)]
                return Template(
                    "admin/event_confirm_change.html",
                    context={
                        "organiser": organiser,
                        "event": event,
                        "count": told,
                        "changed": changed,
                        "fields": data.fields(),
                        "action": action,
                    },
                )
        try:
            await event_service.update_event(organiser, event_id, patch)
        except DomainError as exc:
            if exc.status_code != 422:
                raise
            return await self._form_page(
                organiser,
                mode="edit",
                form=data,
                action=action,
                errors=_service_error(exc),
                event=event,
                status_code=400,
            )
        return Redirect(f"/admin/events/{event_id}", status_code=303)

    # Duplicate ------------------------------------------------------------------------------

    @get("/events/{event_id:int}/duplicate", name="admin-event-duplicate")
    async def duplicate_form(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template:
        owner = await require_host(organiser, event_id)
        event_forms.require_some_edit_role(organiser)
        source = await event_service.get_event(event_id, organiser)
        target = (
            owner if organiser.can_edit_for(owner) else min(o for o in organiser.roles if organiser.can_edit_for(o))
        )
        return await self._form_page(
            organiser,
            mode="duplicate",
            form=event_forms.form_from_event(source, target),
            action=f"/admin/events/{event_id}/duplicate",
            event=source,
        )

    @post("/events/{event_id:int}/duplicate", name="admin-event-duplicate-save")
    async def duplicate_event(
        self, organiser: NamedDependency[Actor], event_id: FromPath[int], data: URLEncodedBody[EventForm]
    ) -> Template | Redirect:
        await require_host(organiser, event_id)
        event_forms.require_some_edit_role(organiser)
        source = await event_service.get_event(event_id, organiser)
        action = f"/admin/events/{event_id}/duplicate"
        parsed, errors = event_forms.parse_event_form(data)
        if parsed.organisation_id is not None:
            event_forms.require_edit_role_in(organiser, parsed.organisation_id)
        elif "organisation" not in errors:
            errors["organisation"] = FieldError(N_("Choose an organisation."))
        if errors:
            return await self._form_page(
                organiser,
                mode="duplicate",
                form=data,
                action=action,
                errors=_messages(errors),
                event=source,
                status_code=400,
            )
        assert parsed.organisation_id is not None
        try:
            new_id = await event_forms.duplicate_event(organiser, event_id, parsed.organisation_id, parsed.as_input())
        except DomainError as exc:
            if exc.status_code != 422:
                raise
            return await self._form_page(
                organiser,
                mode="duplicate",
                form=data,
                action=action,
                errors=_service_error(exc),
                event=source,
                status_code=400,
            )
        return Redirect(f"/admin/events/{new_id}", status_code=303)

    # Cancel (the preview; the POST is AdminController.cancel) ---------------------------------

    @get("/events/{event_id:int}/cancel", name="admin-event-cancel-preview")
    async def cancel_preview(self, organiser: NamedDependency[Actor], event_id: FromPath[int]) -> Template:
        impact = await event_forms.cancel_impact(organiser, event_id)
        event = await event_service.get_event(event_id, organiser)
        return Template(
            "admin/event_cancel.html",
            context={"organiser": organiser, "event": event, "impact": impact},
        )


def _given(patch: Any) -> set[str]:
    return {name for name in patch.__struct_fields__ if getattr(patch, name) is not msgspec.UNSET}
