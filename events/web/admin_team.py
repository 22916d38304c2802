"""The team: invitations, roles, removal; API tokens; the audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from events.services import team
from events.services.access import Actor
from events.services.errors import N_, DomainError
from events.web.auth import rotate_session, session_organiser
from events.web.errors import localise

Role = Literal["owner", "editor", "viewer"]
Language = Literal["nl", "fr", "en"]
NO_STORE = {"Cache-Control": "no-store"}

# Fixed messages after a change (the redirect carries the key, never the text).
NOTICES = {
    "invited": N_("The invitation is on its way."),
    "invitation_revoked": N_("The invitation is revoked; its link no longer works."),
    "role_changed": N_("The role is changed."),
    "removed": N_("The member is removed from the team."),
    "token_revoked": N_("The token is revoked; the API no longer accepts it."),
}


class InviteForm(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=254)] = ""
    role: Role = "editor"
    language: Language = "nl"


class RoleForm(msgspec.Struct):
    role: Role


class TokenForm(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    role: Literal["editor", "viewer"] = "editor"


class AcceptForm(msgspec.Struct):
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    password_confirm: Annotated[str, msgspec.Meta(max_length=1024)] = ""


def _notice(key: str | None) -> str | None:
    return localise(NOTICES[key]) if key in NOTICES else None


def _user_error(exc: DomainError) -> bool:
    """Errors the form shows next to its fields; 403/404 (and 5xx) become an error page."""
    return exc.status_code in (400, 409, 410, 422)


async def _team_context(organiser: Actor, organisation_id: int | None) -> dict[str, Any]:
    organisation, mine = await team.choose_organisation(organiser, organisation_id)
    return {
        "organiser": organiser,
        "organisation": organisation,
        "organisations": mine,
        "members": await team.members(organiser, organisation.id),
        "invitations": await team.pending_invitations(organiser, organisation.id),
        "is_owner": organisation.role == "owner",
        "can_read_audit": organisation.role in ("owner", "editor"),
        "form": {},
        "form_error": None,
        "form_field": None,
        "team_error": None,
        "notice": None,
    }


async def _tokens_context(organiser: Actor, organisation_id: int | None) -> dict[str, Any]:
    organisation, mine = await team.choose_organisation(organiser, organisation_id)
    return {
        "organiser": organiser,
        "organisation": organisation,
        "organisations": mine,
        "tokens": await team.api_tokens(organiser, organisation.id),
        "is_owner": organisation.role == "owner",
        "can_read_audit": organisation.role in ("owner", "editor"),
        "new_token": None,  # not a password  # nosec B105
        "form": {},
        "form_error": None,
        "form_field": None,
        "notice": None,
    }


def _parse_day(value: str) -> date | None:
    if not value.strip():
        return None
    return date.fromisoformat(value.strip())


class AdminTeamController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"organiser": Provide(session_organiser)}

    # --- members and invitations -------------------------------------------------------------

    @get("/team", name="admin-team")
    async def team_page(
        self,
        organiser: NamedDependency[Actor],
        organisation: FromQuery[int | None] = None,
        done: Annotated[str | None, QueryParameter(max_length=30)] = None,
    ) -> Template:
        """Members and pending invitations; owners also get the controls to change them."""
        context = await _team_context(organiser, organisation)
        context["notice"] = _notice(done)
        return Template("admin/team.html", context=context)

    @post("/team/invitations", name="admin-team-invite")
    async def invite(
        self, organiser: NamedDependency[Actor], organisation: FromQuery[int], data: URLEncodedBody[InviteForm]
    ) -> Template | Redirect:
        try:
            await team.invite(organiser, organisation, data.email, data.role, data.language)
        except DomainError as exc:
            if not _user_error(exc):
                raise
            context = await _team_context(organiser, organisation)
            context.update(
                form={"email": data.email, "role": data.role, "language": data.language},
                form_error=localise(exc.message, **exc.params),
                form_field=exc.field or "email",
            )
            return Template("admin/team.html", context=context, status_code=exc.status_code)
        return Redirect(f"/admin/team?organisation={organisation}&done=invited", status_code=303)

    @post("/team/invitations/{invitation_id:int}/revoke", name="admin-team-invitation-revoke")
    async def revoke_invitation(self, organiser: NamedDependency[Actor], invitation_id: FromPath[int]) -> Redirect:
        organisation_id = await team.revoke_invitation(organiser, invitation_id)
        return Redirect(f"/admin/team?organisation={organisation_id}&done=invitation_revoked", status_code=303)

    @post("/team/members/{organiser_id:int}/role", name="admin-team-role")
    async def change_role(
        self,
        organiser: NamedDependency[Actor],
        organiser_id: FromPath[int],
        organisation: FromQuery[int],
        data: URLEncodedBody[RoleForm],
    ) -> Template | Redirect:
        try:
            await team.change_role(organiser, organisation, organiser_id, data.role)
        except DomainError as exc:
            if not _user_error(exc):
                raise
            return await self._team_error(organiser, organisation, exc)
        return Redirect(f"/admin/team?organisation={organisation}&done=role_changed", status_code=303)

    @post("/team/members/{organiser_id:int}/remove", name="admin-team-remove")
    async def remove_member(
        self, organiser: NamedDependency[Actor], organiser_id: FromPath[int], organisation: FromQuery[int]
    ) -> Template | Redirect:
        try:
            await team.remove_member(organiser, organisation, organiser_id)
        except DomainError as exc:
            if not _user_error(exc):
                raise
            return await self._team_error(organiser, organisation, exc)
        if organiser_id == organiser.id:  # they left: this team's pages are no longer theirs
            return Redirect("/admin", status_code=303)
        return Redirect(f"/admin/team?organisation={organisation}&done=removed", status_code=303)

    async def _team_error(self, organiser: Actor, organisation_id: int, exc: DomainError) -> Template:
        context = await _team_context(organiser, organisation_id)
        context["team_error"] = localise(exc.message, **exc.params)
        return Template("admin/team.html", context=context, status_code=exc.status_code)

    # --- API tokens --------------------------------------------------------------------------

    @get("/team/tokens", name="admin-team-tokens")
    async def tokens_page(
        self,
        organiser: NamedDependency[Actor],
        organisation: FromQuery[int | None] = None,
        done: Annotated[str | None, QueryParameter(max_length=30)] = None,
    ) -> Template:
        context = await _tokens_context(organiser, organisation)
        context["notice"] = _notice(done)
        return Template("admin/tokens.html", context=context)

    @post("/team/tokens", name="admin-team-token-create")
    async def create_token(
        self, organiser: NamedDependency[Actor], organisation: FromQuery[int], data: URLEncodedBody[TokenForm]
    ) -> Template:
        """The new token is in this response only; it is never stored nor shown again."""
        try:
            issued = await team.create_token(organiser, organisation, data.name, data.role)
        except DomainError as exc:
            if not _user_error(exc):
                raise
            context = await _tokens_context(organiser, organisation)
            context.update(
                form={"name": data.name, "role": data.role},
                form_error=localise(exc.message, **exc.params),
                form_field=exc.field or "name",
            )
            return Template("admin/tokens.html", context=context, status_code=exc.status_code)
        context = await _tokens_context(organiser, organisation)
        context["new_token"] = {"token": issued.token, "name": " ".join(data.name.split()), "role": data.role}
        return Template("admin/tokens.html", context=context, status_code=201, headers=NO_STORE)

    @post("/team/tokens/{token_id:int}/revoke", name="admin-team-token-revoke")
    async def revoke_token(self, organiser: NamedDependency[Actor], token_id: FromPath[int]) -> Redirect:
        organisation_id = await team.revoke_token(organiser, token_id)
        return Redirect(f"/admin/team/tokens?organisation={organisation_id}&done=token_revoked", status_code=303)

    # --- the audit log -----------------------------------------------------------------------

    @get("/audit", name="admin-audit")
    async def audit_page(
        self,
        organiser: NamedDependency[Actor],
        organisation: FromQuery[int | None] = None,
        action: Annotated[str, QueryParameter(max_length=50)] = "",
        actor: Annotated[str, QueryParameter(max_length=100)] = "",
        date_from: Annotated[str, QueryParameter(name="from", max_length=10)] = "",
        date_to: Annotated[str, QueryParameter(name="to", max_length=10)] = "",
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
    ) -> Template:
        """Who did what, newest first, for owners and editors of the organisation."""
        chosen, mine = await team.choose_organisation(organiser, organisation)
        if organisation is None:  # by default the first organisation whose log they may read
            chosen = next((o for o in mine if o.role in ("owner", "editor")), chosen)
        team.require_audit_reader(organiser, chosen.id)
        filters_form = {"action": action, "actor": actor, "from": date_from, "to": date_to}
        context: dict[str, Any] = {
            "organiser": organiser,
            "organisation": chosen,
            "organisations": mine,
            "filters": filters_form,
            "can_read_audit": True,
            "is_owner": chosen.role == "owner",
            "form_error": None,
            "form_field": None,
        }
        try:
            filters = team.AuditFilters(
                action=action, actor=actor, date_from=_parse_day(date_from), date_to=_parse_day(date_to), page=page
            )
        except ValueError:
            context.update(
                form_error=localise(N_("Enter dates as YYYY-MM-DD.")),
                form_field="from" if date_from and not _valid_day(date_from) else "to",
                result=team.AuditPage(entries=[], page=page, has_next=False),
            )
            return Template("admin/audit.html", context=context, status_code=400)
        context["result"] = await team.audit_log(organiser, chosen.id, filters, chosen.timezone)
        return Template("admin/audit.html", context=context)


def _valid_day(value: str) -> bool:
    try:
        _parse_day(value)
    except ValueError:
        return False
    return True


class InvitationController(Controller):
    """Accepting a team invitation from the link in its mail (signed in or not)."""

    path = "/invitations"
    include_in_schema = False

    @get("/{token:str}", name="invitation")
    async def invitation_page(self, token: FromPath[str]) -> Template:
        """The invitation, with a password field (existing account) or a new-account form."""
        view = await team.invitation_for_token(token)
        return Template(
            "admin/invitation.html",
            context={"invitation": view, "token": token, "form": {}, "form_error": None, "form_field": None},
            headers=NO_STORE,
        )

    @post("/{token:str}", name="invitation-accept")
    async def accept(
        self, request: Request[Any, Any, Any], token: FromPath[str], data: URLEncodedBody[AcceptForm]
    ) -> Template | Redirect:
        language = str(request.scope["state"].get("language", "nl"))
        try:
            organiser_id = await team.accept_invitation(
                token,
                name=data.name,
                password=data.password,
                password_confirm=data.password_confirm,
                language=language,
            )
        except DomainError as exc:
            if exc.status_code not in (409, 422):
                raise
            view = await team.invitation_for_token(token)
            return Template(
                "admin/invitation.html",
                context={
                    "invitation": view,
                    "token": token,
                    "form": {"name": data.name},
                    "form_error": localise(exc.message, **exc.params),
                    "form_field": exc.field,
                },
                status_code=exc.status_code,
                headers=NO_STORE,
            )
        await rotate_session(request, {"organiser_id": organiser_id})
        return Redirect("/admin", status_code=303)
