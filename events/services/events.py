"""Events: create, edit, publish, cancel, find. All rules about events live here.

SEQUENCE (RFC 5545) rises by one for each change a calendar must act on: start, end, place,
online link, status. Publishing a draft does not count: nobody holds an invite for a draft.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import msgspec
from piccolo.columns import Column
from piccolo.query import WhereRaw

from events.db import write_transaction
from events.services import audit, consultations, networking, notifications, registrations, webhooks
from events.services.access import Actor, require_event_view
from events.services.consultations import ConsultationInput
from events.services.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from events.services.hosts import hosts_of, require_editor
from events.services.networking import NetworkingInput
from events.services.versions import bump_data_version
from events.settings import DEFAULT_TIMEZONE, LANGUAGES, get_settings
from events.tables import Event, EventHost, Organisation, Room, Series, Venue

EventKind = Literal["info_session", "consultation_day", "networking", "workshop"]
EventStatus = Literal["draft", "published", "cancelled"]
KINDS: tuple[str, ...] = ("info_session", "consultation_day", "networking", "workshop")
MATERIAL_FIELDS = ("starts_at", "ends_at", "venue", "room", "online_url", "status")
MAX_DURATION = timedelta(days=31)
PAGE_SIZE = 20

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Title = Annotated[str, msgspec.Meta(max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=20_000)]
Slug = Annotated[str, msgspec.Meta(max_length=64)]


class Texts(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    nl: str = ""
    fr: str = ""
    en: str = ""

    def as_dict(self) -> dict[str, str]:
        return {lang: getattr(self, lang) for lang in LANGUAGES}


class TitleTexts(Texts, forbid_unknown_fields=True, omit_defaults=True):
    nl: Title = ""
    fr: Title = ""
    en: Title = ""


class DescriptionTexts(Texts, forbid_unknown_fields=True, omit_defaults=True):
    nl: Description = ""
    fr: Description = ""
    en: Description = ""


class VenueInput(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""
    city: Annotated[str, msgspec.Meta(max_length=100)] = ""
    room: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class EventInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An event as an organiser describes it (POST /api/v1/events)."""

    kind: EventKind
    title: TitleTexts
    description: DescriptionTexts = msgspec.field(default_factory=DescriptionTexts)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: Annotated[str, msgspec.Meta(max_length=64)] = DEFAULT_TIMEZONE
    venue: VenueInput | None = None
    online_url: Annotated[str, msgspec.Meta(max_length=500)] = ""
    capacity: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None
    waitlist: bool = True
    requires_approval: bool = False
    double_opt_in: bool = False
    registration_opens_at: AwareDatetime | None = None
    registration_closes_at: AwareDatetime | None = None
    reminder_hours: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=720)]], msgspec.Meta(max_length=5)] = (
        msgspec.field(default_factory=lambda: [48, 2])
    )
    hosts: Annotated[list[Slug], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)
    series_id: int | None = None
    consultation: ConsultationInput | None = None
    networking: NetworkingInput | None = None
    follow_up_event_id: int | None = None


class EventPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A partial change (PATCH /api/v1/events/{id}); absent fields stay as they are."""

    kind: EventKind | msgspec.UnsetType = msgspec.UNSET
    title: TitleTexts | msgspec.UnsetType = msgspec.UNSET
    description: DescriptionTexts | msgspec.UnsetType = msgspec.UNSET
    starts_at: AwareDatetime | msgspec.UnsetType = msgspec.UNSET
    ends_at: AwareDatetime | msgspec.UnsetType = msgspec.UNSET
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    venue: VenueInput | msgspec.UnsetType | None = msgspec.UNSET
    online_url: Annotated[str, msgspec.Meta(max_length=500)] | msgspec.UnsetType = msgspec.UNSET
    capacity: Annotated[int, msgspec.Meta(ge=0, le=100000)] | msgspec.UnsetType | None = msgspec.UNSET
    waitlist: bool | msgspec.UnsetType = msgspec.UNSET
    requires_approval: bool | msgspec.UnsetType = msgspec.UNSET
    double_opt_in: bool | msgspec.UnsetType = msgspec.UNSET
    registration_opens_at: AwareDatetime | msgspec.UnsetType | None = msgspec.UNSET
    registration_closes_at: AwareDatetime | msgspec.UnsetType | None = msgspec.UNSET
    reminder_hours: (
        Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=720)]], msgspec.Meta(max_length=5)] | msgspec.UnsetType
    ) = msgspec.UNSET
    hosts: Annotated[list[Slug], msgspec.Meta(max_length=10)] | msgspec.UnsetType = msgspec.UNSET
    series_id: int | msgspec.UnsetType | None = msgspec.UNSET
    consultation: ConsultationInput | msgspec.UnsetType = msgspec.UNSET
    networking: NetworkingInput | msgspec.UnsetType = msgspec.UNSET
    follow_up_event_id: int | msgspec.UnsetType | None = msgspec.UNSET


class OrganisationRef(msgspec.Struct):
    slug: str
    name: dict[str, str]
    colour: str


class VenueView(msgspec.Struct):
    name: str
    address: str
    city: str = ""
    room: str | None = None


class EventView(msgspec.Struct, kw_only=True):
    """An event as pages and the API show it (field names fixed by the contract)."""

    id: int
    kind: str
    title: dict[str, str]
    description: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    timezone: str
    venue: VenueView | None
    online_url: str
    capacity: int | None
    waitlist: bool
    requires_approval: bool
    double_opt_in: bool
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    organisation: str
    hosts: list[str]
    series_id: int | None
    reminder_hours: list[int]
    status: str
    uid: str
    sequence: int
    url: str
    updated_at: datetime
    organisations: list[OrganisationRef]
    seats_taken: int = 0
    follow_up_event_id: int | None = None

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))


class EventFilters(msgspec.Struct, kw_only=True):
    organisation: str | None = None
    kind: str | None = None
    language: str | None = None
    on_or_after: date | None = None


class EventPage(msgspec.Struct):
    items: list[EventView]
    page: int
    has_next: bool


def _now() -> datetime:
    return datetime.now(UTC)


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput(N_("Unknown time zone %(name)s."), field="timezone", name=name[:64]) from None
    return name


def _check_url(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in '\r\n\t <>"'):
        raise InvalidInput(N_("The online link must be an http(s) address."), field="online_url")
    return url


def _check_times(values: dict[str, Any]) -> None:
    starts, ends = values["starts_at"], values["ends_at"]
    if ends <= starts:
        raise InvalidInput(N_("The event must end after it starts."), field="ends_at")
    if ends - starts > MAX_DURATION:
        raise InvalidInput(N_("An event can last at most 31 days."), field="ends_at")
    opens, closes = values.get("registration_opens_at"), values.get("registration_closes_at")
    if opens and closes and closes <= opens:
        raise InvalidInput(N_("Registration must close after it opens."), field="registration_closes_at")
    if closes and closes > ends:
        raise InvalidInput(N_("Registration cannot close after the event has ended."), field="registration_closes_at")


def _check_title(title: dict[str, str]) -> None:
    if not any(text.strip() for text in title.values()):
        raise InvalidInput(N_("Give the event a title in at least one language."), field="title")
    for text in title.values():
        if any(ord(c) < 32 for c in text):
            raise InvalidInput(N_("A title cannot contain line breaks or control characters."), field="title")


def _per_language(title: dict[str, str], description: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {f"title_{lang}": text.strip() for lang, text in title.items()}
    values.update({f"description_{lang}": text for lang, text in description.items()})
    return values


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


async def _organisation_ids(slugs: Iterable[str]) -> dict[str, int]:
    wanted = list(dict.fromkeys(slugs))
    if not wanted:
        return {}
    rows = await Organisation.select(Organisation.id, Organisation.slug).where(Organisation.slug.is_in(wanted))
    found = {row["slug"]: row["id"] for row in rows}
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        raise InvalidInput(N_("Unknown organisation %(slug)s."), field="hosts", slug=missing[0])
    return found


async def _resolve_venue(organisation_id: int, venue: VenueInput | None) -> tuple[int | None, int | None]:
    """Find or create the venue (and room) by name, address and city within the organisation.

    The city is part of the key: reusing a venue must never drop a city typed for this event,
    and changing it in place would silently move other events."""
    if venue is None:
        return None, None
    row = (
        await Venue.select(Venue.id)
        .where(
            (Venue.organisation == organisation_id)
            & (Venue.name == venue.name)
            & (Venue.address == venue.address)
            & (Venue.city == venue.city)
        )
        .first()
    )
    venue_id = (
        row["id"]
        if row
        else (
            await Venue.insert(
                Venue(organisation=organisation_id, name=venue.name, address=venue.address, city=venue.city)
            )
        )[0]["id"]
    )
    if not venue.room:
        return venue_id, None
    room = await Room.select(Room.id).where((Room.venue == venue_id) & (Room.name == venue.room)).first()
    room_id = room["id"] if room else (await Room.insert(Room(venue=venue_id, name=venue.room)))[0]["id"]
    return venue_id, room_id


async def _check_follow_up(organisation_id: int, event_id: int) -> None:
    """A session's follow-up must be a consultation day of the same organisation."""
    exists = await Event.exists().where(
        (Event.id == event_id) & (Event.kind == "consultation_day") & (Event.organisation == organisation_id)
    )
    if not exists:
        raise InvalidInput(
            N_("The follow-up must be a consultation day of the same organisation."), field="follow_up_event_id"
        )


async def _check_series(organisation_id: int, series_id: int | None) -> None:
    if series_id is None:
        return
    exists = await Series.exists().where((Series.id == series_id) & (Series.organisation == organisation_id))
    if not exists:
        raise InvalidInput(N_("Unknown series %(id)s."), field="series_id", id=series_id)


def _new_uid() -> str:
    host = urlsplit(get_settings().base_url).hostname or "trefpunt"
    return f"event-{uuid.uuid4()}@{host}"


async def create_event(actor: Actor, organisation_id: int, data: EventInput) -> int:
    """Create a draft event owned by `organisation_id`; returns its id."""
    if actor.kind != "cli" and not actor.can_edit_for(organisation_id):
        raise NotFound() if actor.role_in(organisation_id) is None else Forbidden()
    title = data.title.as_dict()
    _check_title(title)
    values: dict[str, Any] = {
        "starts_at": _utc(data.starts_at),
        "ends_at": _utc(data.ends_at),
        "registration_opens_at": _utc(data.registration_opens_at),
        "registration_closes_at": _utc(data.registration_closes_at),
    }
    _check_times(values)
    timezone = _check_timezone(data.timezone)
    online_url = _check_url(data.online_url)
    async with write_transaction():
        hosts = await _organisation_ids(slug for slug in data.hosts)
        hosts = {slug: oid for slug, oid in hosts.items() if oid != organisation_id}
        await _check_series(organisation_id, data.series_id)
        venue_id, room_id = await _resolve_venue(organisation_id, data.venue)
        row = Event(
            kind=data.kind,
            organisation=organisation_id,
            series=data.series_id,
            **_per_language(title, data.description.as_dict()),
            timezone=timezone,
            venue=venue_id,
            room=room_id,
            online_url=online_url,
            capacity=data.capacity,
            waitlist=data.waitlist,
            requires_approval=data.requires_approval,
            double_opt_in=data.double_opt_in,
            reminder_hours=",".join(str(h) for h in sorted(set(data.reminder_hours), reverse=True)),
            status="draft",
            uid=_new_uid(),
            sequence=0,
            **values,
        )
        event_id: int = (await Event.insert(row))[0]["id"]
        if hosts:
            await EventHost.insert(*[EventHost(event=event_id, organisation=oid) for oid in hosts.values()])
        if data.consultation is not None:
            await consultations.apply_consultation(event_id, data.consultation)
        if data.networking is not None:
            await networking.apply_networking(event_id, data.networking)
        if data.follow_up_event_id is not None:
            await _check_follow_up(organisation_id, data.follow_up_event_id)
            await Event.update({Event.follow_up_event: data.follow_up_event_id}).where(Event.id == event_id)
        await bump_data_version()
        await audit.record(actor, "event.created", organisation_id=organisation_id, target=f"event:{event_id}")
    return event_id


async def _load_for_edit(actor: Actor, event_id: int) -> dict[str, Any]:
    await require_editor(actor, event_id)
    row = await Event.select().where(Event.id == event_id).first()
    assert row is not None
    return row


async def update_event(actor: Actor, event_id: int, patch: EventPatch) -> bool:
    """Apply a partial change. Returns True when a material change raised the SEQUENCE."""
    async with write_transaction():
        row = await _load_for_edit(actor, event_id)
        if row["status"] == "cancelled":
            raise Conflict(N_("A cancelled event cannot be changed."))
        changes: dict[str, Any] = {}
        given = {f: getattr(patch, f) for f in patch.__struct_fields__ if getattr(patch, f) is not msgspec.UNSET}
        for lang in LANGUAGES:
            if "title" in given:
                changes[f"title_{lang}"] = getattr(given["title"], lang).strip()
            if "description" in given:
                changes[f"description_{lang}"] = getattr(given["description"], lang)
        if "title" in given:
            _check_title({lang: changes[f"title_{lang}"] for lang in LANGUAGES})
        for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
            if name in given:
                changes[name] = _utc(given[name])
        for name in ("kind", "capacity", "waitlist", "requires_approval", "double_opt_in"):
            if name in given:
                changes[name] = given[name]
        if "timezone" in given:
            changes["timezone"] = _check_timezone(given["timezone"])
        if "online_url" in given:
            changes["online_url"] = _check_url(given["online_url"])
        if "reminder_hours" in given:
            changes["reminder_hours"] = ",".join(str(h) for h in sorted(set(given["reminder_hours"]), reverse=True))
        if "series_id" in given:
            await _check_series(row["organisation"], given["series_id"])
            changes["series"] = given["series_id"]
        if "follow_up_event_id" in given:
            if given["follow_up_event_id"] is not None:
                await _check_follow_up(row["organisation"], given["follow_up_event_id"])
            changes["follow_up_event"] = given["follow_up_event_id"]
        if "venue" in given:
            changes["venue"], changes["room"] = await _resolve_venue(row["organisation"], given["venue"])
        merged = {**row, **changes}
        _check_times(merged)
        if "consultation" in given:
            if merged["kind"] != "consultation_day":
                raise InvalidInput(N_("Only a consultation day has advisors and slots."), field="consultation")
            if any(name in changes for name in ("starts_at", "ends_at")):
                await Event.update({Event.starts_at: merged["starts_at"], Event.ends_at: merged["ends_at"]}).where(
                    Event.id == event_id
                )
            await consultations.apply_consultation(event_id, given["consultation"])
        if "networking" in given:
            if any(name in changes for name in ("starts_at", "ends_at")):
                await Event.update({Event.starts_at: merged["starts_at"], Event.ends_at: merged["ends_at"]}).where(
                    Event.id == event_id
                )
            if merged["kind"] != "networking":
                raise InvalidInput(N_("Only a networking event has meeting slots."), field="networking")
            await networking.apply_networking(event_id, given["networking"])
        if "hosts" in given:
            hosts = await _organisation_ids(given["hosts"])
            await EventHost.delete().where(EventHost.event == event_id)
            wanted = [oid for oid in hosts.values() if oid != row["organisation"]]
            if wanted:
                await EventHost.insert(*[EventHost(event=event_id, organisation=oid) for oid in wanted])
        changed = {k: v for k, v in changes.items() if row.get(k) != v}
        material = bool(material_changes(row, changes))
        if changed or "hosts" in given:
            values: dict[Column | str, Any] = {"updated_at": _now()}
            values.update(changed)
            if material:
                values["sequence"] = row["sequence"] + 1
            await Event.update(values).where(Event.id == event_id)
            await bump_data_version()
            if material and row["status"] == "published":
                await notifications.notify_event_changed(event_id)
            if "capacity" in changed and row["status"] == "published":
                await registrations.after_capacity_change(event_id)
            await webhooks.emit("event.updated", event_id)
            await audit.record(
                actor,
                "event.updated",
                organisation_id=row["organisation"],
                target=f"event:{event_id}",
                fields=sorted(changed) + (["hosts"] if "hosts" in given else []),
            )
    return material


async def publish_event(actor: Actor, event_id: int) -> None:
    """Make a draft visible and open for registration. Publishing twice is harmless."""
    async with write_transaction():
        row = await _load_for_edit(actor, event_id)
        if row["status"] == "cancelled":
            raise Conflict(N_("A cancelled event cannot be published again."))
        if row["status"] == "published":
            return
        now = _now()
        await Event.update({Event.status: "published", Event.published_at: now, Event.updated_at: now}).where(
            Event.id == event_id
        )
        await bump_data_version()
        await webhooks.emit("event.updated", event_id)
        await audit.record(actor, "event.published", organisation_id=row["organisation"], target=f"event:{event_id}")


async def cancel_event(actor: Actor, event_id: int) -> None:
    """Cancel an event: it stays visible as cancelled, and its SEQUENCE rises."""
    async with write_transaction():
        row = await _load_for_edit(actor, event_id)
        if row["status"] == "cancelled":
            return
        now = _now()
        await Event.update(
            {
                Event.status: "cancelled",
                Event.cancelled_at: now,
                Event.updated_at: now,
                Event.sequence: row["sequence"] + 1,
            }
        ).where(Event.id == event_id)
        await bump_data_version()
        told = await notifications.notify_event_cancelled(event_id)
        await webhooks.emit("event.cancelled", event_id)
        await audit.record(
            actor, "event.cancelled", organisation_id=row["organisation"], target=f"event:{event_id}", told=told
        )


# Reading -------------------------------------------------------------------------------------

_ORG_COLUMNS = ("slug", "name_nl", "name_fr", "name_en", "colour")


def event_select() -> Any:
    return Event.select(
        *Event.all_columns(),
        *(getattr(Event.organisation, c).as_alias(f"org_{c}") for c in _ORG_COLUMNS),
        Event.venue.name.as_alias("venue_name"),
        Event.venue.address.as_alias("venue_address"),
        Event.venue.city.as_alias("venue_city"),
        Event.room.name.as_alias("room_name"),
    )


def _org_ref(row: dict[str, Any], prefix: str) -> OrganisationRef:
    return OrganisationRef(
        slug=row[f"{prefix}slug"],
        name={lang: row[f"{prefix}name_{lang}"] for lang in LANGUAGES if row[f"{prefix}name_{lang}"]},
        colour=row[f"{prefix}colour"],
    )


async def _views(rows: list[dict[str, Any]]) -> list[EventView]:
    """Rows → views with their co-hosts, in two queries whatever the number of events."""
    if not rows:
        return []
    host_rows = (
        await EventHost.select(
            EventHost.event, *(getattr(EventHost.organisation, c).as_alias(f"org_{c}") for c in _ORG_COLUMNS)
        )
        .where(EventHost.event.is_in([r["id"] for r in rows]))
        .order_by(EventHost.id)
    )
    hosts: dict[int, list[OrganisationRef]] = {}
    for host in host_rows:
        hosts.setdefault(host["event"], []).append(_org_ref(host, "org_"))
    base_url = get_settings().base_url
    views = []
    for row in rows:
        co_hosts = hosts.get(row["id"], [])
        venue = None
        if row["venue_name"]:
            venue = VenueView(
                name=row["venue_name"],
                address=row["venue_address"] or "",
                city=row["venue_city"] or "",
                room=row["room_name"],
            )
        view = EventView(
            id=row["id"],
            kind=row["kind"],
            title={lang: row[f"title_{lang}"] for lang in LANGUAGES if row[f"title_{lang}"]},
            description={lang: row[f"description_{lang}"] for lang in LANGUAGES if row[f"description_{lang}"]},
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            timezone=row["timezone"],
            venue=venue,
            online_url=row["online_url"],
            capacity=row["capacity"],
            waitlist=row["waitlist"],
            requires_approval=row["requires_approval"],
            double_opt_in=row["double_opt_in"],
            registration_opens_at=row["registration_opens_at"],
            registration_closes_at=row["registration_closes_at"],
            organisation=row["org_slug"],
            hosts=[h.slug for h in co_hosts],
            series_id=row["series"],
            reminder_hours=[int(h) for h in row["reminder_hours"].split(",") if h],
            status=row["status"],
            uid=row["uid"],
            sequence=row["sequence"],
            url=f"{base_url}/events/{row['id']}",
            updated_at=row["updated_at"],
            organisations=[_org_ref(row, "org_"), *co_hosts],
            seats_taken=row["confirmed_count"],
            follow_up_event_id=row["follow_up_event"],
        )
        views.append(view)
    return views


async def get_event(event_id: int, actor: Actor | None = None) -> EventView:
    """One event as its viewer may see it: drafts only for their hosts."""
    row = await event_select().where(Event.id == event_id).first()
    if row is None:
        raise NotFound(N_("This event does not exist."))
    view = (await _views([row]))[0]
    _, co_hosts = await hosts_of(event_id)
    require_event_view(actor, row["organisation"], co_hosts, row["status"])
    return view


async def hosted_by(organisation_slug: str) -> WhereRaw:
    """Events the organisation owns or co-hosts (no event for an unknown slug)."""
    org = await Organisation.select(Organisation.id).where(Organisation.slug == organisation_slug).first()
    org_id = org["id"] if org else -1
    # EXISTS, not IN (SELECT …): a probe of the (event, organisation) index per candidate row
    # instead of a list of every event the organisation ever co-hosted.
    return WhereRaw(
        "(event.organisation = {} OR EXISTS "
        "(SELECT 1 FROM event_host WHERE event_host.event = event.id AND event_host.organisation = {}))",
        org_id,
        org_id,
    )


def _local_midnight(day: date, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


async def list_events(
    filters: EventFilters,
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    organisation_ids: list[int] | None = None,
    include_drafts: bool = False,
) -> EventPage:
    """Upcoming events, oldest first, one query for the page and one for its co-hosts.

    Public lists show published events that have not ended; `organisation_ids` with
    `include_drafts` gives the back office its own organisations' events in every state.
    """
    page = max(1, min(page, 10_000))
    query = event_select()
    if include_drafts:
        query = query.where(Event.status.is_in(["draft", "published", "cancelled"]))
    else:
        query = query.where(Event.status == "published")
    if filters.on_or_after:
        query = query.where(Event.starts_at >= _local_midnight(filters.on_or_after))
    else:
        now = _now()
        # No event lasts longer than MAX_DURATION (_check_times), so the lower bound on
        # starts_at changes no answer; it lets the (status, starts_at) index skip the past
        # instead of testing ends_at on every event that ever was.
        query = query.where((Event.starts_at >= now - MAX_DURATION) & (Event.ends_at >= now))
    if filters.kind:
        query = query.where(Event.kind == filters.kind)
    if filters.language in LANGUAGES:
        query = query.where(getattr(Event, f"title_{filters.language}") != "")
    if filters.organisation:
        query = query.where(await hosted_by(filters.organisation))
    if organisation_ids is not None:
        ids = organisation_ids or [-1]
        placeholders = ", ".join("{}" for _ in ids)
        query = query.where(
            WhereRaw(
                # Only "{}" placeholders are formatted in; the ids are bound parameters.
                f"(event.organisation IN ({placeholders}) OR event.id IN "  # noqa: S608  # nosec B608
                f"(SELECT event FROM event_host WHERE organisation IN ({placeholders})))",
                *ids,
                *ids,
            )
        )
    rows = await query.order_by(Event.starts_at).order_by(Event.id).offset((page - 1) * page_size).limit(page_size + 1)
    return EventPage(items=await _views(rows[:page_size]), page=page, has_next=len(rows) > page_size)


def material_changes(row: dict[str, Any], changes: dict[str, Any]) -> list[str]:
    """The columns among `changes` (column name → new stored value) that differ from the event's
    `row` and that a calendar must act on: any of them raises the SEQUENCE and, on a published
    event, sends everyone confirmed an updated invite. The back office asks the same question to
    warn before saving."""
    return [name for name in MATERIAL_FIELDS if name in changes and row.get(name) != changes[name]]
