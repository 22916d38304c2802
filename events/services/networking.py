"""Networking sessions: opt-in profiles, the attendee directory and matchmaking suggestions.

Nothing of a profile is visible until its owner opts in, and opting out hides it at once.
Only confirmed participants of the same event (through their private token) and that event's
organisers see the directory, and no entry ever carries an email address or phone number.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from events.db import is_unique_violation, write_transaction
from events.services import notifications
from events.services.access import Actor
from events.services.errors import N_, Conflict, InvalidInput, NotFound
from events.services.host_view import host_view, shown_profiles
from events.services.registrations import by_token, lock_event
from events.settings import get_settings
from events.tables import (
    Event,
    Meeting,
    MeetingSeat,
    MeetingSlot,
    MeetingTable,
    NetworkingSettings,
    NetworkProfile,
    Registration,
)

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
    """The directory as the event's hosts see it; a co-host sees people who did not consent to
    it under a pseudonym (host_view.shown_profiles)."""
    view = await host_view(actor, event_id)
    return [_view(row) for row in await shown_profiles(view, await _visible(event_id))]


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


# Meetings -----------------------------------------------------------------------------------------


class NetworkingInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Meeting slots and tables of a networking event (the `networking` object of an event)."""

    meeting_minutes: Annotated[int, msgspec.Meta(ge=5, le=120)] = 15
    meetings_start: Annotated[datetime, msgspec.Meta(tz=True)]
    meetings_end: Annotated[datetime, msgspec.Meta(tz=True)]
    tables: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]], msgspec.Meta(min_length=1, max_length=200)
    ]
    max_pending: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    vocabulary: Annotated[list[Tag], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)


class MeetingSlotView(msgspec.Struct):
    id: int
    starts_at: datetime
    ends_at: datetime


class MeetingView(msgspec.Struct, omit_defaults=True, rename={"with_profile": "with"}):
    id: int
    slot: MeetingSlotView
    with_profile: ProfileView
    direction: Literal["sent", "received"]
    status: str
    table: str | None = None


class MeetingRequest(msgspec.Struct, forbid_unknown_fields=True, rename={"with_profile": "with"}):
    with_profile: int
    slot: int


async def apply_networking(event_id: int, data: NetworkingInput) -> None:
    """Store the settings and (re)generate slots and tables; slots and tables in use stay."""
    event = await Event.select(Event.kind, Event.starts_at, Event.ends_at).where(Event.id == event_id).first()
    assert event is not None
    if event["kind"] != "networking":
        raise InvalidInput(N_("Only a networking event has meeting slots."), field="networking")
    start, end = data.meetings_start.astimezone(UTC), data.meetings_end.astimezone(UTC)
    if end <= start or start < event["starts_at"] or end > event["ends_at"]:
        raise InvalidInput(N_("Meetings must fit within the event."), field="networking")
    names = [" ".join(name.split()) for name in data.tables]
    if len(set(names)) != len(names):
        raise InvalidInput(N_("Each table has its own name."), field="tables")
    values: dict[str, Any] = {
        "meeting_minutes": data.meeting_minutes,
        "meetings_start": start,
        "meetings_end": end,
        "max_pending": data.max_pending,
        "vocabulary": _tags(data.vocabulary),
    }
    if await NetworkingSettings.exists().where(NetworkingSettings.event == event_id):
        await NetworkingSettings.update(values).where(NetworkingSettings.event == event_id)  # type: ignore[arg-type]
    else:
        await NetworkingSettings.insert(NetworkingSettings(event=event_id, **values))
    used = {
        row["slot"]
        for row in await Meeting.select(Meeting.slot).where(
            (Meeting.event == event_id) & Meeting.status.is_in(["pending", "accepted"])
        )
    }
    existing = {row["starts_at"]: row for row in await MeetingSlot.select().where(MeetingSlot.event == event_id)}
    wanted = []
    moment, length = start, timedelta(minutes=data.meeting_minutes)
    while moment + length <= end:
        wanted.append((moment, moment + length))
        moment += length
    for starts_at, row in existing.items():
        if row["id"] not in used and (starts_at, row["ends_at"]) not in wanted:
            await MeetingSlot.delete().where(MeetingSlot.id == row["id"])
    new = [MeetingSlot(event=event_id, starts_at=s, ends_at=e) for s, e in wanted if s not in existing]
    if new:
        await MeetingSlot.insert(*new)
    tables = {row["name"]: row for row in await MeetingTable.select().where(MeetingTable.event == event_id)}
    in_use = {
        row["meeting_table"]
        for row in await Meeting.select(Meeting.meeting_table).where(
            (Meeting.event == event_id) & (Meeting.status == "accepted")
        )
    }
    for name, row in tables.items():
        if name not in names and row["id"] not in in_use:
            await MeetingTable.delete().where(MeetingTable.id == row["id"])
    for position, name in enumerate(names):
        if name in tables:
            await MeetingTable.update({MeetingTable.position: position}).where(MeetingTable.id == tables[name]["id"])
        else:
            await MeetingTable.insert(MeetingTable(event=event_id, name=name, position=position))


async def vocabulary(event_id: int) -> list[str]:
    """The tags organisers suggest for this event (a default set until they choose)."""
    row = (
        await NetworkingSettings.select(NetworkingSettings.vocabulary)
        .where(NetworkingSettings.event == event_id)
        .first()
    )
    return _split(row["vocabulary"]) if row and row["vocabulary"] else list(VOCABULARY)


async def _my_profile(token: str, *, listed: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """One's profile; planning new meetings needs it listed, handling existing ones does not
    (someone who opted out can still see and cancel what they agreed to)."""
    registration = await _participant(token)
    profile = await NetworkProfile.select().where(NetworkProfile.registration == registration["id"]).first()
    if profile is None or (listed and not profile["opt_in"]):
        raise Conflict(N_("Join the directory (opt in) before planning meetings."))
    return registration, profile


async def _busy(profile_id: int) -> set[int]:
    return {row["slot"] for row in await MeetingSeat.select(MeetingSeat.slot).where(MeetingSeat.profile == profile_id)}


async def free_meeting_slots(token: str) -> list[MeetingSlotView]:
    """The meeting slots in which one has no accepted meeting."""
    registration = await _participant(token)
    profile = (
        await NetworkProfile.select(NetworkProfile.id).where(NetworkProfile.registration == registration["id"]).first()
    )
    busy = await _busy(profile["id"]) if profile else set()
    rows = await MeetingSlot.select().where(MeetingSlot.event == registration["event"]).order_by(MeetingSlot.starts_at)
    return [MeetingSlotView(r["id"], r["starts_at"], r["ends_at"]) for r in rows if r["id"] not in busy]


async def request_meeting(token: str, data: MeetingRequest) -> int:
    """Ask another opted-in participant for a meeting in a slot where both are free."""
    registration, me = await _my_profile(token)
    async with write_transaction():
        await lock_event(registration["event"])
        other = await NetworkProfile.select().where(NetworkProfile.id == data.with_profile).first()
        visible = {row["id"] for row in await _visible(registration["event"])}
        if other is None or other["id"] not in visible or other["id"] == me["id"]:
            raise NotFound(N_("This person is not in the directory."))
        slot = await MeetingSlot.select().where(MeetingSlot.id == data.slot).first()
        if slot is None or slot["event"] != registration["event"]:
            raise NotFound(N_("This meeting slot does not exist."))
        if data.slot in await _busy(me["id"]) or data.slot in await _busy(other["id"]):
            raise Conflict(N_("One of you already has a meeting at that time."))
        pair = ((Meeting.requester == me["id"]) & (Meeting.invitee == other["id"])) | (
            (Meeting.requester == other["id"]) & (Meeting.invitee == me["id"])
        )
        if await Meeting.exists().where(pair & (Meeting.status == "declined") & (Meeting.requester == me["id"])):
            raise Conflict(N_("This person declined your earlier request; it cannot be repeated."))
        if await Meeting.exists().where(
            pair & (Meeting.slot == data.slot) & Meeting.status.is_in(["pending", "accepted"])
        ):
            raise Conflict(N_("You already asked for a meeting at that time."))
        settings = await NetworkingSettings.select().where(NetworkingSettings.event == registration["event"]).first()
        pending = await Meeting.count().where((Meeting.requester == me["id"]) & (Meeting.status == "pending"))
        if settings is not None and pending >= settings["max_pending"]:
            raise Conflict(N_("You have too many open requests; wait for answers first."))
        host = urlsplit(get_settings().base_url).hostname or "trefpunt"
        rows = await Meeting.insert(
            Meeting(
                event=registration["event"],
                slot=data.slot,
                requester=me["id"],
                invitee=other["id"],
                status="pending",
                uid=f"meeting-{uuid.uuid4()}@{host}",
            )
        )
        meeting_id: int = rows[0]["id"]
        await notifications.notify_meeting(meeting_id, "meeting_request")
    return meeting_id


async def _meeting_for(token: str, meeting_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    registration, me = await _my_profile(token, listed=False)
    meeting = await Meeting.select().where(Meeting.id == meeting_id).first()
    if meeting is None or me["id"] not in (meeting["requester"], meeting["invitee"]):
        raise NotFound()
    return registration, me


async def accept_meeting(token: str, meeting_id: int) -> MeetingView:
    """The invitee accepts: both get a seat in the slot and the meeting the first free table,
    under unique indexes, so nobody is in two meetings at once and no table is used twice."""
    registration, me = await _meeting_for(token, meeting_id)
    try:
        async with write_transaction():
            await lock_event(registration["event"])
            meeting = await Meeting.select().where(Meeting.id == meeting_id).first()
            assert meeting is not None
            if meeting["invitee"] != me["id"] or meeting["status"] != "pending":
                raise Conflict(N_("Only a pending request sent to you can be accepted."))
            listed = {row["id"] for row in await _visible(meeting["event"])}
            if not {meeting["requester"], meeting["invitee"]} <= listed:
                raise Conflict(N_("One of you is no longer in the directory."))
            used = {
                row["meeting_table"]
                for row in await Meeting.select(Meeting.meeting_table).where(
                    (Meeting.slot == meeting["slot"]) & (Meeting.status == "accepted")
                )
            }
            tables = (
                await MeetingTable.select()
                .where(MeetingTable.event == meeting["event"])
                .order_by(MeetingTable.position)
            )
            table = next((t for t in tables if t["id"] not in used), None)
            if table is None:
                raise Conflict(N_("Every table is taken at that time; choose another slot."))
            await MeetingSeat.insert(
                MeetingSeat(meeting=meeting_id, slot=meeting["slot"], profile=meeting["requester"]),
                MeetingSeat(meeting=meeting_id, slot=meeting["slot"], profile=meeting["invitee"]),
            )
            await Meeting.update(
                {Meeting.status: "accepted", Meeting.meeting_table: table["id"], Meeting.updated_at: datetime.now(UTC)}
            ).where(Meeting.id == meeting_id)
            await notifications.notify_meeting(meeting_id, "meeting_accepted")
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(N_("One of you already has a meeting at that time.")) from None
        raise
    return await _meeting_view(meeting_id, me["id"])


async def decline_meeting(token: str, meeting_id: int) -> MeetingView:
    _, me = await _meeting_for(token, meeting_id)
    async with write_transaction():
        changed = await Meeting.raw(
            "UPDATE meeting SET status = 'declined' WHERE id = {} AND invitee = {} AND status = 'pending' RETURNING id",
            meeting_id,
            me["id"],
        )
        if not changed:
            raise Conflict(N_("Only a pending request sent to you can be declined."))
    return await _meeting_view(meeting_id, me["id"])


async def cancel_meeting(token: str, meeting_id: int) -> MeetingView:
    """Either party cancels; an accepted meeting's invites are cancelled for both."""
    registration, me = await _meeting_for(token, meeting_id)
    async with write_transaction():
        await lock_event(registration["event"])
        meeting = await Meeting.select().where(Meeting.id == meeting_id).first()
        assert meeting is not None
        if meeting["status"] not in ("pending", "accepted"):
            raise Conflict(N_("This meeting is no longer planned."))
        await MeetingSeat.delete().where(MeetingSeat.meeting == meeting_id)
        await Meeting.update(
            {
                Meeting.status: "cancelled",
                Meeting.sequence: meeting["sequence"] + 1,
                Meeting.updated_at: datetime.now(UTC),
            }
        ).where(Meeting.id == meeting_id)
        if meeting["status"] == "accepted":
            await notifications.notify_meeting(meeting_id, "meeting_cancelled")
    return await _meeting_view(meeting_id, me["id"])


async def _meeting_view(meeting_id: int, me: int) -> MeetingView:
    meeting = await Meeting.select().where(Meeting.id == meeting_id).first()
    assert meeting is not None
    slot = await MeetingSlot.select().where(MeetingSlot.id == meeting["slot"]).first()
    assert slot is not None
    other_id = meeting["invitee"] if meeting["requester"] == me else meeting["requester"]
    other = await NetworkProfile.select().where(NetworkProfile.id == other_id).first()
    assert other is not None
    table = None
    if meeting["meeting_table"]:
        row = await MeetingTable.select(MeetingTable.name).where(MeetingTable.id == meeting["meeting_table"]).first()
        table = row["name"] if row else None
    return MeetingView(
        id=meeting_id,
        slot=MeetingSlotView(slot["id"], slot["starts_at"], slot["ends_at"]),
        with_profile=_view(other),
        direction="sent" if meeting["requester"] == me else "received",
        status=meeting["status"],
        table=table,
    )


async def my_meetings(token: str) -> list[MeetingView]:
    _, me = await _my_profile(token, listed=False)
    rows = (
        await Meeting.select(Meeting.id)
        .where((Meeting.requester == me["id"]) | (Meeting.invitee == me["id"]))
        .order_by(Meeting.id)
    )
    return [await _meeting_view(row["id"], me["id"]) for row in rows]


async def meetings_by_id(token: str, meeting_id: int) -> MeetingView:
    _, me = await _meeting_for(token, meeting_id)
    return await _meeting_view(meeting_id, me["id"])


async def accepted_meeting_ids(email_key: str) -> list[int]:
    """Accepted meetings of everyone with this email (for their personal feed)."""
    profiles = [
        row["id"] for row in await NetworkProfile.select(NetworkProfile.id).where(NetworkProfile.email_key == email_key)
    ]
    rows = await Meeting.select(Meeting.id).where(
        ((Meeting.requester.is_in(profiles or [-1])) | (Meeting.invitee.is_in(profiles or [-1])))
        & (Meeting.status == "accepted")
    )
    return [row["id"] for row in rows]


class ScheduleEntry(msgspec.Struct):
    meeting_id: int
    slot: MeetingSlotView
    table: str
    people: list[str]
    status: str


class Schedule(msgspec.Struct):
    tables: list[str]
    slots: list[MeetingSlotView]
    entries: list[ScheduleEntry]
    accepted: int
    held: int  # accepted meetings whose time has passed
    pending: int


async def meeting_schedule(actor: Actor, event_id: int) -> Schedule:
    """The organisers' view: accepted meetings per slot and table, and the numbers; people as
    the viewer may see them (host_view.shown_profiles)."""
    view = await host_view(actor, event_id)
    slots = {
        row["id"]: MeetingSlotView(row["id"], row["starts_at"], row["ends_at"])
        for row in await MeetingSlot.select().where(MeetingSlot.event == event_id).order_by(MeetingSlot.starts_at)
    }
    tables = {
        row["id"]: row["name"]
        for row in await MeetingTable.select().where(MeetingTable.event == event_id).order_by(MeetingTable.position)
    }
    profiles = {
        row["id"]: row["display_name"]
        for row in await shown_profiles(
            view,
            await NetworkProfile.select(
                NetworkProfile.id, NetworkProfile.registration, NetworkProfile.display_name
            ).where(NetworkProfile.event == event_id),
        )
    }
    meetings = await Meeting.select().where(Meeting.event == event_id).order_by(Meeting.id)
    now = datetime.now(UTC)
    accepted = [m for m in meetings if m["status"] == "accepted"]
    entries = sorted(
        (
            ScheduleEntry(
                meeting_id=m["id"],
                slot=slots[m["slot"]],
                table=tables.get(m["meeting_table"], ""),
                people=[profiles.get(m["requester"], "?"), profiles.get(m["invitee"], "?")],
                status=m["status"],
            )
            for m in accepted
        ),
        key=lambda e: (e.slot.starts_at, e.table),
    )
    return Schedule(
        tables=list(tables.values()),
        slots=list(slots.values()),
        entries=entries,
        accepted=len(accepted),
        held=sum(1 for m in accepted if slots[m["slot"]].ends_at <= now),
        pending=sum(1 for m in meetings if m["status"] == "pending"),
    )


async def cancel_meetings_of(registration_id: int) -> int:
    """A participant who cancels their registration leaves their meetings: the pending ones
    lapse and the accepted ones are cancelled for both (CANCEL). Call inside the caller's
    transaction. Returns how many accepted meetings were cancelled."""
    profile = (
        await NetworkProfile.select(NetworkProfile.id).where(NetworkProfile.registration == registration_id).first()
    )
    if profile is None:
        return 0
    mine = (Meeting.requester == profile["id"]) | (Meeting.invitee == profile["id"])
    accepted = await Meeting.select().where(mine & (Meeting.status == "accepted"))
    await Meeting.update({Meeting.status: "cancelled", Meeting.updated_at: datetime.now(UTC)}).where(
        mine & (Meeting.status == "pending")
    )
    for meeting in accepted:
        await MeetingSeat.delete().where(MeetingSeat.meeting == meeting["id"])
        await Meeting.update(
            {
                Meeting.status: "cancelled",
                Meeting.sequence: meeting["sequence"] + 1,
                Meeting.updated_at: datetime.now(UTC),
            }
        ).where(Meeting.id == meeting["id"])
        await notifications.notify_meeting(meeting["id"], "meeting_cancelled")
    return len(accepted)
