"""An organisation's team: members and their roles, invitations by mail, API tokens, and the
audit log of what organisers did.

Owners change the team; every member may look at it. An organisation always keeps at least one
owner: the check and the change run in one write transaction that holds the organisation's lock
(SQLite: BEGIN IMMEDIATE; PostgreSQL: `SELECT … FOR UPDATE` on the organisation row), so two
owners demoting each other at the same moment cannot both succeed.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from piccolo.columns.combination import WhereRaw
from piccolo.engine.postgres import PostgresEngine

from events import i18n
from events.db import engine, is_unique_violation, write_transaction
from events.mail.outbox import OutgoingMail, enqueue
from events.mail.render import language as mail_language
from events.mail.render import render_mail
from events.services import audit, organisers
from events.services.access import ROLES, Actor
from events.services.errors import N_, Conflict, DomainError, Forbidden, InvalidInput, NotFound
from events.settings import LANGUAGES, get_settings
from events.tables import ApiToken, AuditLog, Invitation, Membership, Organisation, Organiser

INVITATION_DAYS = 7
MIN_PASSWORD = 10
AUDIT_PAGE_SIZE = 50
TOKEN_ROLES = ("editor", "viewer")
_ROLE_RANK = {"viewer": 0, "editor": 1, "owner": 2}
_ACTION_PREFIX = re.compile(r"^[a-z0-9_.]{1,50}$")


class InvitationGone(DomainError):
    """The invitation existed but can no longer be used (expired or already accepted)."""

    status_code = 410


# --- what the pages show ---------------------------------------------------------------------


class TeamOrganisation(msgspec.Struct):
    id: int
    slug: str
    names: dict[str, str]
    timezone: str
    role: str


class Member(msgspec.Struct):
    organiser_id: int
    name: str
    email: str
    role: str
    since: datetime


class PendingInvitation(msgspec.Struct):
    id: int
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    invited_by: str


class TokenInfo(msgspec.Struct):
    id: int
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class AuditEntry(msgspec.Struct):
    id: int
    created_at: datetime
    actor: str  # "organiser:3"
    who: str  # what a person reads: "An Peeters", "API token “Website”"
    action: str
    target: str
    target_label: str
    detail: dict[str, Any]


class AuditPage(msgspec.Struct):
    entries: list[AuditEntry]
    page: int
    has_next: bool
    actions: list[str] = msgspec.field(default_factory=list)  # for the filter's suggestions


class InvitationView(msgspec.Struct):
    """What the invitee sees before accepting."""

    email: str
    role: str
    organisation_names: dict[str, str]
    has_account: bool
    expires_at: datetime


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


# --- access ----------------------------------------------------------------------------------


def require_member(actor: Actor, organisation_id: int) -> str:
    """The actor's role in the organisation; someone outside it learns nothing (404)."""
    role = actor.role_in(organisation_id)
    if role is None:
        raise NotFound()
    return role


def require_owner(actor: Actor, organisation_id: int) -> None:
    """Only owners change the team and its tokens; other members get 403, outsiders 404."""
    if require_member(actor, organisation_id) != "owner":
        raise Forbidden()


def require_audit_reader(actor: Actor, organisation_id: int) -> None:
    """Owners and editors read the audit log; its details can hold personal data, so viewers
    may not (403)."""
    if require_member(actor, organisation_id) not in ("owner", "editor"):
        raise Forbidden()


async def organisations_of(actor: Actor) -> list[TeamOrganisation]:
    """The organisations the actor has a role in, by slug."""
    ids = list(actor.roles) or [-1]
    rows = await Organisation.select().where(Organisation.id.is_in(ids)).order_by(Organisation.slug)
    return [
        TeamOrganisation(
            id=row["id"],
            slug=row["slug"],
            names={lang: row[f"name_{lang}"] for lang in LANGUAGES},
            timezone=row["timezone"],
            role=actor.roles[row["id"]],
        )
        for row in rows
    ]


async def choose_organisation(actor: Actor, requested: int | None) -> tuple[TeamOrganisation, list[TeamOrganisation]]:
    """The organisation a team page is about (`requested`, or the actor's first) and all of
    the actor's organisations for the picker; 404 for one they are not in."""
    mine = await organisations_of(actor)
    if not mine:
        raise NotFound()
    if requested is None:
        return mine[0], mine
    for organisation in mine:
        if organisation.id == requested:
            return organisation, mine
    raise NotFound()


async def _lock_organisation(organisation_id: int) -> None:
    """Serialise team changes of one organisation (SQLite's write lock already does)."""
    if isinstance(engine(), PostgresEngine):
        await Organisation.raw("SELECT id FROM organisation WHERE id = {} FOR UPDATE", organisation_id)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _check_role(role: str, allowed: tuple[str, ...] = ROLES) -> str:
    if role not in allowed:
        raise InvalidInput(N_("Unknown role %(role)s."), field="role", role=role[:20])
    return role


# --- members ---------------------------------------------------------------------------------


async def members(actor: Actor, organisation_id: int) -> list[Member]:
    """Everyone with a role in the organisation, owners first, then by name."""
    require_member(actor, organisation_id)
    rows = await Membership.select(
        Membership.organiser,
        Membership.role,
        Membership.created_at,
        Membership.organiser.name.as_alias("name"),
        Membership.organiser.email.as_alias("email"),
    ).where(Membership.organisation == organisation_id)
    found = [
        Member(organiser_id=r["organiser"], name=r["name"], email=r["email"], role=r["role"], since=r["created_at"])
        for r in rows
    ]
    return sorted(found, key=lambda m: (-_ROLE_RANK.get(m.role, -1), m.name.casefold(), m.organiser_id))


async def _owner_count(organisation_id: int) -> int:
    return int(
        await Membership.count().where((Membership.organisation == organisation_id) & (Membership.role == "owner"))
    )


async def _membership(organisation_id: int, organiser_id: int) -> dict[str, Any]:
    row = (
        await Membership.select(Membership.id, Membership.role)
        .where((Membership.organisation == organisation_id) & (Membership.organiser == organiser_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


async def change_role(actor: Actor, organisation_id: int, organiser_id: int, role: str) -> None:
    """An owner gives a member another role; the last owner cannot stop being one (409)."""
    require_owner(actor, organisation_id)
    _check_role(role)
    async with write_transaction():
        await _lock_organisation(organisation_id)
        membership = await _membership(organisation_id, organiser_id)
        if membership["role"] == role:
            return
        if membership["role"] == "owner" and await _owner_count(organisation_id) <= 1:
            raise Conflict(N_("An organisation needs at least one owner. Make someone else owner first."))
        await Membership.update({Membership.role: role}).where(Membership.id == membership["id"])
        await audit.record(
            actor,
            "member.role_changed",
            organisation_id=organisation_id,
            target=f"organiser:{organiser_id}",
            previous=membership["role"],
            role=role,
        )


async def remove_member(actor: Actor, organisation_id: int, organiser_id: int) -> None:
    """An owner takes someone off the team (their account stays for other organisations);
    the last owner cannot be removed (409)."""
    require_owner(actor, organisation_id)
    async with write_transaction():
        await _lock_organisation(organisation_id)
        membership = await _membership(organisation_id, organiser_id)
        if membership["role"] == "owner" and await _owner_count(organisation_id) <= 1:
            raise Conflict(N_("An organisation needs at least one owner. Make someone else owner first."))
        await Membership.delete().where(Membership.id == membership["id"])
        await audit.record(
            actor,
            "member.removed",
            organisation_id=organisation_id,
            target=f"organiser:{organiser_id}",
            role=membership["role"],
        )


# --- invitations -----------------------------------------------------------------------------


async def pending_invitations(actor: Actor, organisation_id: int) -> list[PendingInvitation]:
    """Invitations not yet accepted, revoked or expired, newest first."""
    require_member(actor, organisation_id)
    rows = (
        await Invitation.select()
        .where(
            (Invitation.organisation == organisation_id)
            & Invitation.accepted_at.is_null()
            & Invitation.revoked_at.is_null()
            & (Invitation.expires_at > datetime.now(UTC))
        )
        .order_by(Invitation.id, ascending=False)
    )
    inviter_ids = {r["invited_by"] for r in rows if r["invited_by"]}
    names = {
        o["id"]: o["name"]
        for o in (
            await Organiser.select(Organiser.id, Organiser.name).where(Organiser.id.is_in(list(inviter_ids)))
            if inviter_ids
            else []
        )
    }
    return [
        PendingInvitation(
            id=r["id"],
            email=r["email"],
            role=r["role"],
            created_at=r["created_at"],
            expires_at=r["expires_at"],
            invited_by=names.get(r["invited_by"], ""),
        )
        for r in rows
    ]


async def invite(actor: Actor, organisation_id: int, email: str, role: str, language: str) -> int:
    """An owner invites someone by mail; the mail, in `language`, carries a link that works once
    for seven days. Inviting the same address again replaces the pending invitation; inviting a
    member is a 409. Returns the invitation id."""
    require_owner(actor, organisation_id)
    email = organisers.normalise_email(email)
    _check_role(role)
    if language not in LANGUAGES:
        raise InvalidInput(N_("Choose a language."), field="language")
    token = secrets.token_urlsafe(32)  # 256 random bits; only the hash is stored
    now = datetime.now(UTC)
    async with write_transaction():
        await _lock_organisation(organisation_id)
        member = (
            await Membership.select(Membership.id)
            .where((Membership.organisation == organisation_id) & (Membership.organiser.email == email))
            .first()
        )
        if member is not None:
            raise Conflict(N_("%(email)s is already on the team."), field="email", email=email)
        replaced = await (
            Invitation.update({Invitation.revoked_at: now})
            .where(
                (Invitation.organisation == organisation_id)
                & (Invitation.email == email)
                & Invitation.accepted_at.is_null()
                & Invitation.revoked_at.is_null()
            )
            .returning(Invitation.id)
        )
        rows = await Invitation.insert(
            Invitation(
                organisation=organisation_id,
                email=email,
                role=role,
                token_hash=_token_hash(token),
                invited_by=actor.id if actor.kind == "organiser" else None,
                created_at=now,
                expires_at=now + timedelta(days=INVITATION_DAYS),
            )
        )
        invitation_id = int(rows[0]["id"])
        await _queue_invitation_mail(actor, organisation_id, invitation_id, email, role, language, token, now)
        await audit.record(
            actor,
            "invitation.created",
            organisation_id=organisation_id,
            target=f"invitation:{invitation_id}",
            email=email,
            role=role,
            language=language,
            **({"replaces": [r["id"] for r in replaced]} if replaced else {}),
        )
    return invitation_id


async def _queue_invitation_mail(
    actor: Actor,
    organisation_id: int,
    invitation_id: int,
    email: str,
    role: str,
    language: str,
    token: str,
    now: datetime,
) -> None:
    """The invitation mail, in the language the inviting owner chose, from the organisation."""
    organisation = await Organisation.select().where(Organisation.id == organisation_id).first()
    assert organisation is not None  # locked above
    names = {lang: organisation[f"name_{lang}"] for lang in LANGUAGES}
    organisation_name = i18n.pick_translation(names, language)[0] or organisation["slug"]
    inviter = actor.name or ""
    with mail_language(language):
        subject = i18n.gettext(N_("Invitation to join the team of %(organisation)s on Trefpunt")) % {
            "organisation": organisation_name
        }
    rendered = render_mail(
        "team_invitation",
        language,
        subject_override=subject,
        organisation_name=organisation_name,
        organisation_email=organisation["email"],
        organisation_address=organisation["address"],
        colour=organisation["colour"],
        inviter=inviter,
        role=role,
        email=email,
        link=f"{get_settings().base_url}/invitations/{token}",
        expires_at=now + timedelta(days=INVITATION_DAYS),
        timezone=organisation["timezone"],
    )
    await enqueue(
        OutgoingMail(
            dedupe_key=f"team_invitation:{invitation_id}",
            kind="team_invitation",
            recipient=email,
            recipient_name="",
            language=language,
            subject=rendered.subject,
            text_body=rendered.text,
            html_body=rendered.html,
            sender_name=f"{organisation_name} via Trefpunt",
            reply_to=organisation["email"],
            organisation_id=organisation_id,
        )
    )


async def revoke_invitation(actor: Actor, invitation_id: int) -> int:
    """An owner withdraws a pending invitation; its link stops working. Returns the
    organisation id."""
    row = (
        await Invitation.select(Invitation.organisation, Invitation.email).where(Invitation.id == invitation_id).first()
    )
    if row is None:
        raise NotFound()
    organisation_id = int(row["organisation"])
    require_owner(actor, organisation_id)
    async with write_transaction():
        changed = await (
            Invitation.update({Invitation.revoked_at: datetime.now(UTC)})
            .where(
                (Invitation.id == invitation_id) & Invitation.accepted_at.is_null() & Invitation.revoked_at.is_null()
            )
            .returning(Invitation.id)
        )
        if not changed:
            raise Conflict(N_("This invitation is no longer pending."))
        await audit.record(
            actor,
            "invitation.revoked",
            organisation_id=organisation_id,
            target=f"invitation:{invitation_id}",
            email=row["email"],
        )
    return organisation_id


async def _usable_invitation(token: str) -> dict[str, Any]:
    """The invitation a link's token stands for: 404 when unknown or revoked, 410 when expired
    or already used."""
    if not token or len(token) > 100:
        raise NotFound(N_("This invitation link is not valid. Ask the person who invited you for a new one."))
    row = await Invitation.select().where(Invitation.token_hash == _token_hash(token)).first()
    if row is None or row["revoked_at"] is not None:
        raise NotFound(N_("This invitation link is not valid. Ask the person who invited you for a new one."))
    if row["accepted_at"] is not None:
        raise InvitationGone(N_("This invitation has already been used. Sign in to continue."))
    if row["expires_at"] <= datetime.now(UTC):
        raise InvitationGone(N_("This invitation has expired. Ask the person who invited you for a new one."))
    return row


async def invitation_for_token(token: str) -> InvitationView:
    """What the invitation page shows for a link's token (or a 404/410 domain error)."""
    row = await _usable_invitation(token)
    organisation = await Organisation.select().where(Organisation.id == row["organisation"]).first()
    assert organisation is not None  # the foreign key cascades
    account = await Organiser.select(Organiser.id).where(Organiser.email == row["email"]).first()
    return InvitationView(
        email=row["email"],
        role=row["role"],
        organisation_names={lang: organisation[f"name_{lang}"] or organisation["slug"] for lang in LANGUAGES},
        has_account=account is not None,
        expires_at=row["expires_at"],
    )


async def accept_invitation(
    token: str, *, name: str = "", password: str, password_confirm: str = "", language: str = "nl"
) -> int:
    """The invitee joins the team: with their password when they already have an account,
    otherwise with a new account (name and a password of at least ten characters). The token
    works once. Returns the organiser id to sign in."""
    row = await _usable_invitation(token)
    email = row["email"]
    account = await Organiser.select(Organiser.id, Organiser.active).where(Organiser.email == email).first()
    hashed = ""
    organiser_id = 0
    if account is not None:
        signed_in = await organisers.authenticate(email, password)
        if signed_in is None:
            raise InvalidInput(N_("This password is not correct."), field="password")
        organiser_id = signed_in
    else:
        name = " ".join(name.split())
        if not name or len(name) > 200:
            raise InvalidInput(N_("Enter your name."), field="name")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(
                N_("A password needs at least %(count)s characters."), field="password", count=MIN_PASSWORD
            )
        if password != password_confirm:
            raise InvalidInput(N_("The two passwords are not the same."), field="password_confirm")
        hashed = await organisers.hash_password(password)
    now = datetime.now(UTC)
    try:
        async with write_transaction():
            await _lock_organisation(row["organisation"])
            # The conditional UPDATE is what makes the link work once, even for two clicks at once.
            claimed = await (
                Invitation.update({Invitation.accepted_at: now})
                .where(
                    (Invitation.id == row["id"])
                    & Invitation.accepted_at.is_null()
                    & Invitation.revoked_at.is_null()
                    & (Invitation.expires_at > now)
                )
                .returning(Invitation.id)
            )
            if not claimed:
                raise InvitationGone(N_("This invitation has already been used. Sign in to continue."))
            if account is None:
                created = await Organiser.insert(
                    Organiser(email=email, name=name, password_hash=hashed, language=language)
                )
                organiser_id = int(created[0]["id"])
            membership = (
                await Membership.select(Membership.id, Membership.role)
                .where((Membership.organisation == row["organisation"]) & (Membership.organiser == organiser_id))
                .first()
            )
            if membership is None:
                await Membership.insert(
                    Membership(organiser=organiser_id, organisation=row["organisation"], role=row["role"])
                )
            elif _ROLE_RANK[row["role"]] > _ROLE_RANK.get(membership["role"], -1):
                # Already on the team (added another way meanwhile): an invitation never demotes.
                await Membership.update({Membership.role: row["role"]}).where(Membership.id == membership["id"])
            await audit.record(
                Actor(kind="organiser", id=organiser_id),
                "invitation.accepted",
                organisation_id=row["organisation"],
                target=f"invitation:{row['id']}",
                role=row["role"],
                new_account=account is None,
            )
    except Exception as exc:
        if is_unique_violation(exc):  # an account with this email appeared meanwhile
            raise Conflict(N_("An account with this email address already exists. Open the link again.")) from None
        raise
    return organiser_id


# --- API tokens ------------------------------------------------------------------------------


async def api_tokens(actor: Actor, organisation_id: int) -> list[TokenInfo]:
    """The organisation's API tokens, newest first, revoked ones included (greyed out)."""
    require_member(actor, organisation_id)
    rows = (
        await ApiToken.select(*ApiToken.all_columns(exclude=[ApiToken.token_hash]))
        .where(ApiToken.organisation == organisation_id)
        .order_by(ApiToken.id, ascending=False)
    )
    return [
        TokenInfo(
            id=r["id"],
            name=r["name"],
            prefix=r["prefix"],
            role=r["role"],
            created_at=r["created_at"],
            last_used_at=r["last_used_at"],
            revoked_at=r["revoked_at"],
        )
        for r in rows
    ]


async def create_token(actor: Actor, organisation_id: int, name: str, role: str) -> organisers.IssuedToken:
    """An owner creates a named API token with role editor or viewer; the token itself is in the
    result only."""
    require_owner(actor, organisation_id)
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise InvalidInput(N_("Give the token a name, e.g. the system that will use it."), field="name")
    _check_role(role, TOKEN_ROLES)
    return await organisers.issue_api_token(organisation_id, role=role, name=name, actor=actor)


async def revoke_token(actor: Actor, token_id: int) -> int:
    """An owner revokes a token: from then on the API answers it with 401. Returns the
    organisation id."""
    row = await ApiToken.select(ApiToken.organisation, ApiToken.name).where(ApiToken.id == token_id).first()
    if row is None:
        raise NotFound()
    organisation_id = int(row["organisation"])
    require_owner(actor, organisation_id)
    async with write_transaction():
        changed = await (
            ApiToken.update({ApiToken.revoked_at: datetime.now(UTC)})
            .where((ApiToken.id == token_id) & ApiToken.revoked_at.is_null())
            .returning(ApiToken.id)
        )
        if not changed:
            raise Conflict(N_("This token is already revoked."))
        await audit.record(
            actor, "api_token.revoked", organisation_id=organisation_id, target=f"token:{token_id}", name=row["name"]
        )
    return organisation_id


# --- the audit log ---------------------------------------------------------------------------


async def _labels(organisation_id: int, refs: set[str]) -> dict[str, str]:
    """What a person reads for "organiser:<id>", "token:<id>" and "cli" references."""
    organiser_ids = {int(ref[10:]) for ref in refs if ref.startswith("organiser:") and ref[10:].isdigit()}
    token_ids = {int(ref[6:]) for ref in refs if ref.startswith("token:") and ref[6:].isdigit()}
    labels: dict[str, str] = {}
    if organiser_ids:
        for o in await Organiser.select(Organiser.id, Organiser.name, Organiser.email).where(
            Organiser.id.is_in(list(organiser_ids))
        ):
            labels[f"organiser:{o['id']}"] = f"{o['name']} <{o['email']}>" if o["name"] else o["email"]
    if token_ids:
        # Only this organisation's tokens: another's token name is not ours to show.
        for t in await ApiToken.select(ApiToken.id, ApiToken.name, ApiToken.prefix).where(
            ApiToken.id.is_in(list(token_ids)) & (ApiToken.organisation == organisation_id)
        ):
            labels[f"token:{t['id']}"] = i18n.gettext(N_("API token “%(name)s”")) % {"name": t["name"] or t["prefix"]}
    if "cli" in refs or "cli:0" in refs:
        labels["cli"] = labels["cli:0"] = i18n.gettext(N_("Command line"))
    return labels


async def audit_log(actor: Actor, organisation_id: int, filters: AuditFilters, timezone: str) -> AuditPage:
    """The organisation's audit entries, newest first, 50 a page; `action` is a prefix
    ("invitation." or "member"), `actor` a piece of a name, email or token name, and the dates
    are local days in `timezone`, both included."""
    require_audit_reader(actor, organisation_id)
    where: Any = AuditLog.organisation == organisation_id
    action = filters.action.strip().lower()
    if action:
        if not _ACTION_PREFIX.match(action):
            return AuditPage(entries=[], page=filters.page, has_next=False)
        # substr, not LIKE: "_" in action names is a LIKE wildcard.
        where &= WhereRaw(f"substr(action, 1, {len(action)}) = {{}}", action)
    needle = filters.actor.strip().casefold()
    if needle:
        actors = {r["actor"] for r in await AuditLog.select(AuditLog.actor).where(where).distinct()}
        labels = await _labels(organisation_id, actors)
        matching = [ref for ref in actors if needle in ref.casefold() or needle in labels.get(ref, "").casefold()]
        where &= AuditLog.actor.is_in(matching or [""])
    zone = ZoneInfo(timezone)
    if filters.date_from:
        start = datetime.combine(filters.date_from, datetime.min.time(), zone)
        where &= AuditLog.created_at >= start.astimezone(UTC)
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time(), zone)
        where &= AuditLog.created_at < end.astimezone(UTC)
    page = max(1, filters.page)
    rows = (
        await AuditLog.select()
        .where(where)
        .order_by(AuditLog.created_at, ascending=False)
        .order_by(AuditLog.id, ascending=False)
        .limit(AUDIT_PAGE_SIZE + 1)
        .offset((page - 1) * AUDIT_PAGE_SIZE)
    )
    has_next = len(rows) > AUDIT_PAGE_SIZE
    rows = rows[:AUDIT_PAGE_SIZE]
    labels = await _labels(organisation_id, {r["actor"] for r in rows} | {r["target"] for r in rows})
    entries = []
    for r in rows:
        try:
            detail = json.loads(r["detail"] or "{}")
        except ValueError:
            detail = {"detail": r["detail"]}
        entries.append(
            AuditEntry(
                id=r["id"],
                created_at=r["created_at"],
                actor=r["actor"],
                who=labels.get(r["actor"], r["actor"]),
                action=r["action"],
                target=r["target"],
                target_label=labels.get(r["target"], r["target"]),
                detail=detail if isinstance(detail, dict) else {"detail": detail},
            )
        )
    actions = sorted(
        {
            r["action"]
            for r in await AuditLog.select(AuditLog.action).where(AuditLog.organisation == organisation_id).distinct()
        }
    )
    return AuditPage(entries=entries, page=page, has_next=has_next, actions=actions)
