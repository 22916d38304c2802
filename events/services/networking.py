"""Networking sessions: opt-in profiles, the attendee directory and matchmaking suggestions.

Nothing of a profile is visible until its owner opts in, and opting out hides it at once.
Only confirmed participants of the same event (through their private token) and that event's
organisers see the directory, and no entry ever carries an email address or phone number.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from events.db import write_transaction
from events.services.access import Actor
from events.services.errors import N_, InvalidInput, NotFound
from events.services.registrations import by_token
from events.tables import Event, EventHost, NetworkProfile, Registration

Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
# The organisers' vocabulary; participants may add free tags too.
VOCABULARY = ("financing", "coaching", "premises", "customers", "suppliers", "co-founder", "mentoring", "legal")
TAG_RE = re.compile(r"^[\w][\w -]{0,38}[\w]$|^[\w]$", re.UNICODE)


class ProfileInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    opt_in: bool
    display_name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    company: Annotated[str, msgspec.Meta(max_length=200)] = ""
    sector: Annotated[str, msgspec.Meta(max_length=100)] = ""
    about: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    offers: Annotated[list[Tag], msgspec.Meta(max_length=15)] = msgspec.field(default_factory=list)
    looking_for: Annotated[list[Tag], msgspec.Meta(max_length=15)] = msgspec.field(default_factory=list)
    languages: Annotated[list[Literal["nl", "fr", "en"]], msgspec.Meta(max_length=3)] = msgspec.field(
        default_factory=list
    )
    link: Annotated[str, msgspec.Meta(max_length=300)] = ""


class ProfileView(msgspec.Struct, kw_only=True):
    """A directory entry (and one's own profile): never an email address or phone number."""

    id: int
    display_name: str
    company: str
    sector: str
    about: str
    offers: list[str]
    looking_for: list[str]
    languages: list[str]
    link: str
    opt_in: bool = True


class Reason(msgspec.Struct):
    kind: Literal["offers", "looks_for", "language"]
    tags: list[str]


class Suggestion(msgspec.Struct):
    profile: ProfileView
    score: int
    reasons: list[Reason]


def _tags(values: list[str]) -> str:
    clean = []
    for value in values:
        tag = " ".join(value.lower().split())
        if not TAG_RE.match(tag):
            raise InvalidInput(N_("A tag is a word or two, without punctuation."), field="offers")
        clean.append(tag)
    return ",".join(dict.fromkeys(clean))


def _split(value: str) -> list[str]:
    return [part for part in value.split(",") if part]


def _view(row: dict[str, Any]) -> ProfileView:
    return ProfileView(
        id=row["id"],
        display_name=row["display_name"],
        company=row["company"],
        sector=row["sector"],
        about=row["about"],
        offers=_split(row["offers"]),
        looking_for=_split(row["looking_for"]),
        languages=_split(row["languages"]),
        link=row["link"],
        opt_in=row["opt_in"],
    )


async def _participant(token: str) -> dict[str, Any]:
    """A confirmed participant of a networking event; 404 for anyone else."""
    registration = await by_token(token)
    event = await Event.select(Event.kind).where(Event.id == registration["event"]).first()
    if registration["status"] != "confirmed" or event is None or event["kind"] != "networking":
        raise NotFound()
    return registration


async def get_profile(token: str) -> ProfileView:
    """One's profile for this event, or a draft from one's latest profile elsewhere (not opted in)."""
    registration = await _participant(token)
    row = await NetworkProfile.select().where(NetworkProfile.registration == registration["id"]).first()
    if row is not None:
        return _view(row)
    earlier = (
        await NetworkProfile.select()
        .where(NetworkProfile.email_key == registration["email_key"])
        .order_by(NetworkProfile.updated_at, ascending=False)
        .first()
    )
    if earlier is not None:
        return msgspec.structs.replace(_view(earlier), id=0, opt_in=False)
    return ProfileView(
        id=0,
        display_name=registration["name"],
        company=registration["company"],
        sector="",
        about="",
        offers=[],
        looking_for=[],
        languages=[registration["language"]],
        link="",
        opt_in=False,
    )


async def put_profile(token: str, data: ProfileInput) -> ProfileView:
    """Save one's profile; `opt_in: false` hides it from the directory at once."""
    registration = await _participant(token)
    if data.link and urlsplit(data.link).scheme not in ("http", "https"):
        raise InvalidInput(N_("The link must be an http(s) address."), field="link")
    if data.opt_in and not data.display_name.strip():
        raise InvalidInput(N_("Give the name others will see."), field="display_name")
    values: dict[str, Any] = {
        "opt_in": data.opt_in,
        "display_name": " ".join(data.display_name.split()),
        "company": " ".join(data.company.split()),
        "sector": " ".join(data.sector.split()).lower(),
        "about": data.about.strip(),
        "offers": _tags(data.offers),
        "looking_for": _tags(data.looking_for),
        "languages": ",".join(dict.fromkeys(data.languages)),
        "link": data.link.strip(),
        "updated_at": datetime.now(UTC),
    }
    async with write_transaction():
        existing = (
            await NetworkProfile.select(NetworkProfile.id)
            .where(NetworkProfile.registration == registration["id"])
            .first()
        )
        if existing is None:
            await NetworkProfile.insert(
                NetworkProfile(
                    event=registration["event"],
                    registration=registration["id"],
                    email_key=registration["email_key"],
                    **values,
                )
            )
        else:
            await NetworkProfile.update(values).where(NetworkProfile.id == existing["id"])  # type: ignore[arg-type]
    return await get_profile(token)


async def _visible(event_id: int) -> list[dict[str, Any]]:
    """Opted-in profiles of participants who are still confirmed."""
    confirmed = Registration.select(Registration.id).where(
        (Registration.event == event_id) & (Registration.status == "confirmed")
    )
    ids = [row["id"] for row in await confirmed]
    return (
        await NetworkProfile.select()
        .where(
            (NetworkProfile.event == event_id)
            & (NetworkProfile.opt_in == True)  # noqa: E712
            & NetworkProfile.registration.is_in(ids or [-1])
        )
        .order_by(NetworkProfile.display_name)
        .order_by(NetworkProfile.id)
    )


def _matches(row: dict[str, Any], tag: str | None, sector: str | None, language: str | None) -> bool:
    return (
        (tag is None or tag in _split(row["offers"]) + _split(row["looking_for"]))
        and (sector is None or row["sector"] == sector.lower())
        and (language is None or language in _split(row["languages"]))
    )


async def directory(
    token: str, *, tag: str | None = None, sector: str | None = None, language: str | None = None
) -> list[ProfileView]:
    """The other opted-in participants of one's event, filtered by tag, sector and language."""
    registration = await _participant(token)
    return [
        _view(row)
        for row in await _visible(registration["event"])
        if row["registration"] != registration["id"] and _matches(row, tag, sector, language)
    ]


async def organiser_directory(actor: Actor, event_id: int) -> list[ProfileView]:
    event = await Event.select(Event.organisation).where(Event.id == event_id).first()
    if event is None:
        raise NotFound()
    hosts = [
        r["organisation"] for r in await EventHost.select(EventHost.organisation).where(EventHost.event == event_id)
    ]
    if not any(actor.role_in(org) for org in (event["organisation"], *hosts)):
        raise NotFound()
    return [_view(row) for row in await _visible(event_id)]


def rank(mine: ProfileView, others: list[ProfileView]) -> list[Suggestion]:
    """Who offers what I look for (counts double), who looks for what I offer, a shared
    language as a tie-breaker; people with no match in tags are not suggested."""
    suggestions = []
    for other in others:
        they_offer = sorted(set(mine.looking_for) & set(other.offers))
        they_need = sorted(set(other.looking_for) & set(mine.offers))
        if not they_offer and not they_need:
            continue
        shared = sorted(set(mine.languages) & set(other.languages))
        reasons = [Reason("offers", they_offer)] if they_offer else []
        if they_need:
            reasons.append(Reason("looks_for", they_need))
        if shared:
            reasons.append(Reason("language", shared))
        suggestions.append(Suggestion(other, 2 * len(they_offer) + len(they_need) + (1 if shared else 0), reasons))
    return sorted(suggestions, key=lambda s: (-s.score, s.profile.display_name.lower(), s.profile.id))


async def suggestions(token: str) -> list[Suggestion]:
    """Ranked people to meet, with the reason shown."""
    mine = await get_profile(token)
    return rank(mine, await directory(token))
