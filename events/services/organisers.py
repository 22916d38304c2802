"""Organisations, organiser accounts, memberships, API tokens and sign-in.

Password hashing (argon2) runs in worker threads behind a small limiter, so a login flood
neither freezes the event loop nor exhausts memory (argon2 uses 64 MiB per hash).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from events.db import is_unique_violation, write_transaction
from events.services import audit
from events.services.access import CLI_ACTOR, ROLES, Actor
from events.services.errors import N_, Conflict, InvalidInput, NotFound
from events.settings import LANGUAGES
from events.tables import ApiToken, Membership, Organisation, Organiser

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
TOKEN_PREFIX = "tp_"  # noqa: S105 - a prefix that lets secret scanners spot our tokens  # nosec B105
_hasher = PasswordHasher()
_hash_limiter = anyio.CapacityLimiter(2)
# Verifying against this when the email is unknown makes both answers take as long.
_DUMMY_HASH = _hasher.hash("not a real password")


def normalise_email(value: str) -> str:
    """A single, syntactically plain address in lower case, or InvalidInput."""
    email = value.strip()
    if not email or len(email) > 254 or any(c in email for c in '\r\n\0,;<> \t"') or email.count("@") != 1:
        raise InvalidInput(N_("Enter a valid email address."), field="email")
    local, _, domain = email.partition("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise InvalidInput(N_("Enter a valid email address."), field="email")
    try:
        Address(addr_spec=email)
    except (HeaderParseError, ValueError, IndexError):
        raise InvalidInput(N_("Enter a valid email address."), field="email") from None
    return email.lower()


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(N_("Unknown role %(role)s."), field="role", role=role[:20])
    return role


async def create_organisation(
    slug: str,
    name: str,
    email: str,
    *,
    timezone: str = "Europe/Brussels",
    names: dict[str, str] | None = None,
    colour: str = "#1d5c7a",
    website: str = "",
    address: str = "",
) -> int:
    """Register a partner organisation; `email` becomes the ORGANIZER of its invites."""
    if not SLUG_RE.match(slug):
        raise InvalidInput(N_("A slug has lower-case letters, digits and dashes only."), field="slug")
    names = {lang: (names or {}).get(lang, "") or name for lang in LANGUAGES}
    if any(ord(c) < 32 or c == "\x7f" for text in names.values() for c in text) or not all(names.values()):
        raise InvalidInput(N_("An organisation name is one line of text."), field="name")
    try:
        async with write_transaction():
            values: dict[str, Any] = {f"name_{lang}": text for lang, text in names.items()}
            values.update(
                slug=slug,
                email=normalise_email(email),
                timezone=timezone,
                colour=colour,
                website=website,
                address=" ".join(address.split()),
            )
            rows = await Organisation.insert(Organisation(**values))
            organisation_id: int = rows[0]["id"]
            await audit.record(
                CLI_ACTOR, "organisation.created", organisation_id=organisation_id, target=f"organisation:{slug}"
            )
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(N_("An organisation with slug %(slug)s already exists."), slug=slug) from None
        raise
    return organisation_id


async def organisation_id(slug: str) -> int:
    row = await Organisation.select(Organisation.id).where(Organisation.slug == slug).first()
    if row is None:
        raise NotFound(N_("Unknown organisation %(slug)s."), slug=slug[:64])
    return int(row["id"])


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password, limiter=_hash_limiter)


async def _verify(hashed: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check, limiter=_hash_limiter)


async def create_organiser(
    email: str,
    organisation_slug: str,
    *,
    role: str = "editor",
    password: str | None = None,
    name: str = "",
    language: str = "nl",
) -> int:
    """Create an organiser (or reuse the account with that email) and give them a role."""
    email = normalise_email(email)
    _check_role(role)
    if password is not None and len(password) < 8:
        raise InvalidInput(N_("A password needs at least 8 characters."), field="password")
    hashed = await hash_password(password) if password else ""
    org_id = await organisation_id(organisation_slug)
    async with write_transaction():
        existing = await Organiser.select(Organiser.id).where(Organiser.email == email).first()
        if existing:
            organiser_id: int = existing["id"]
            if hashed:
                await Organiser.update({Organiser.password_hash: hashed}).where(Organiser.id == organiser_id)
        else:
            rows = await Organiser.insert(
                Organiser(email=email, name=name or email.split("@")[0], password_hash=hashed, language=language)
            )
            organiser_id = rows[0]["id"]
        membership = (
            await Membership.select(Membership.id)
            .where((Membership.organiser == organiser_id) & (Membership.organisation == org_id))
            .first()
        )
        if membership:
            await Membership.update({Membership.role: role}).where(Membership.id == membership["id"])
        else:
            await Membership.insert(Membership(organiser=organiser_id, organisation=org_id, role=role))
        await audit.record(
            CLI_ACTOR, "organiser.added", organisation_id=org_id, target=f"organiser:{organiser_id}", role=role
        )
    return organiser_id


async def authenticate(email: str, password: str) -> int | None:
    """The organiser id when the password matches an active account, else None (same timing)."""
    row = (
        await Organiser.select(Organiser.id, Organiser.password_hash, Organiser.active)
        .where(Organiser.email == email.strip().lower()[:254])
        .first()
    )
    hashed = row["password_hash"] if row and row["password_hash"] and row["active"] else _DUMMY_HASH
    ok = await _verify(hashed, password[:1024])
    if not ok or row is None or hashed is _DUMMY_HASH:
        return None
    await Organiser.update({Organiser.last_login_at: datetime.now(UTC)}).where(Organiser.id == row["id"])
    return int(row["id"])


async def organiser_actor(organiser_id: int) -> Actor | None:
    row = (
        await Organiser.select(Organiser.id, Organiser.name, Organiser.active)
        .where(Organiser.id == organiser_id)
        .first()
    )
    if row is None or not row["active"]:
        return None
    memberships = await Membership.select(Membership.organisation, Membership.role).where(
        Membership.organiser == organiser_id
    )
    return Actor(
        kind="organiser", id=organiser_id, name=row["name"], roles={m["organisation"]: m["role"] for m in memberships}
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: `token` exists only here (the database keeps its hash), so show it once."""

    id: int
    token: str
    prefix: str


async def issue_api_token(organisation_id: int, *, role: str, name: str = "", actor: Actor = CLI_ACTOR) -> IssuedToken:
    """Store a new token's hash for the organisation and audit it; call inside a write transaction
    or on its own (it opens one)."""
    _check_role(role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with write_transaction():
        rows = await ApiToken.insert(
            ApiToken(
                organisation=organisation_id, name=name, token_hash=_token_hash(token), prefix=token[:10], role=role
            )
        )
        token_id = int(rows[0]["id"])
        await audit.record(
            actor,
            "api_token.created",
            organisation_id=organisation_id,
            target=f"token:{token_id}",
            role=role,
            name=name,
        )
    return IssuedToken(id=token_id, token=token, prefix=token[:10])


async def create_api_token(organisation_slug: str, *, role: str = "editor", name: str = "") -> str:
    """A new API token for the organisation; only its hash is stored, so show it once."""
    _check_role(role)
    org_id = await organisation_id(organisation_slug)
    return (await issue_api_token(org_id, role=role, name=name)).token


async def token_actor(token: str) -> Actor | None:
    """The actor an `Authorization: Bearer` token stands for, or None when unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = (
        await ApiToken.select(ApiToken.id, ApiToken.organisation, ApiToken.role, ApiToken.last_used_at)
        .where((ApiToken.token_hash == _token_hash(token)) & ApiToken.revoked_at.is_null())
        .first()
    )
    if row is None:
        return None
    now = datetime.now(UTC)
    # One write a minute at most: a busy integration must not turn every read into a write.
    if row["last_used_at"] is None or now - row["last_used_at"] > timedelta(minutes=1):
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    return Actor(kind="token", id=row["id"], roles={row["organisation"]: row["role"]})
