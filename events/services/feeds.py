"""Public calendar feeds: which events, in which window, under which validators.

The window is computed per UTC day (−30 days … +18 months), and a cancelled event stays in
for 30 days after its cancellation, as STATUS:CANCELLED with its raised SEQUENCE. Everything
else the bytes depend on is covered by the data version, so `(version, day, feed)` is a
strong validator that can be checked without building the body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from events.calendar.ics import CalendarItem, build_feed
from events.i18n import pick_translation, translate
from events.services.errors import N_, NotFound
from events.services.events import event_select, hosted_by
from events.services.versions import current_data_version
from events.settings import LANGUAGES, get_settings
from events.tables import Event, Organisation, Series

PAST = timedelta(days=30)
FUTURE = timedelta(days=548)
CANCELLED_GRACE = timedelta(days=30)
REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class FeedQuery:
    """One feed: the scope (all, organisation, series, event) and its filters."""

    scope: str
    key: str = ""
    kind: str | None = None
    language: str | None = None
    organisation: str | None = None
    lang: str = "nl"

    def cache_key(self) -> str:
        return f"{self.scope}|{self.key}|{self.kind}|{self.language}|{self.organisation}|{self.lang}"


@dataclass(frozen=True)
class Validators:
    etag: str
    last_modified: datetime


def today() -> date:
    return datetime.now(UTC).date()


async def validators(feed: FeedQuery) -> Validators:
    """ETag and Last-Modified from one small query: no body is built for a 304."""
    version, changed_at = await current_data_version()
    day = today()
    digest = hashlib.sha256(f"{version}|{day.isoformat()}|{feed.cache_key()}".encode()).hexdigest()[:40]
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    # The window moves at midnight: never report a change earlier than that.
    return Validators(etag=f'"{digest}"', last_modified=max(changed_at, midnight).replace(microsecond=0))


def _item(row: dict[str, Any], lang: str) -> CalendarItem:
    title = pick_translation({code: row[f"title_{code}"] for code in LANGUAGES}, lang)[0]
    description = pick_translation({code: row[f"description_{code}"] for code in LANGUAGES}, lang)[0]
    parts = [row["venue_name"], row["room_name"], row["venue_address"], row["venue_city"]]
    return CalendarItem(
        uid=row["uid"],
        sequence=row["sequence"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        summary=title,
        description=description,
        location=", ".join(part for part in parts if part),
        url=f"{get_settings().base_url}/events/{row['id']}",
        online_url=row["online_url"],
        cancelled=row["status"] == "cancelled",
        last_modified=row["updated_at"],
        organizer_email="",
        organizer_name="",
    )


async def _name(feed: FeedQuery) -> str:
    if feed.scope == "organisation":
        row = await Organisation.select().where(Organisation.slug == feed.key).first()
        if row is None:
            raise NotFound(N_("Unknown organisation %(slug)s."), slug=feed.key[:64])
        name = pick_translation({code: row[f"name_{code}"] for code in LANGUAGES}, feed.lang)[0]
        return f"{name} · Trefpunt"
    if feed.scope == "series":
        series = await Series.select().where(Series.id == int(feed.key)).first()
        if series is None:
            raise NotFound()
        return pick_translation({code: series[f"title_{code}"] for code in LANGUAGES}, feed.lang)[0] or "Trefpunt"
    return translate(N_("Trefpunt: events of the partner organisations"), feed.lang)


async def feed_rows(feed: FeedQuery) -> list[dict[str, Any]]:
    day = today()
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    query = (
        event_select()
        .where((Event.starts_at >= midnight - PAST) & (Event.starts_at <= midnight + FUTURE))
        .where(
            (Event.status == "published")
            | ((Event.status == "cancelled") & (Event.cancelled_at >= midnight - CANCELLED_GRACE))
        )
    )
    if feed.scope == "event":
        query = event_select().where((Event.id == int(feed.key)) & (Event.status != "draft"))
    elif feed.scope == "series":
        query = query.where(Event.series == int(feed.key))
    organisation = feed.key if feed.scope == "organisation" else feed.organisation
    if organisation:
        query = query.where(await hosted_by(organisation))
    if feed.kind:
        query = query.where(Event.kind == feed.kind)
    if feed.language in LANGUAGES:
        query = query.where(getattr(Event, f"title_{feed.language}") != "")
    return await query.order_by(Event.starts_at).order_by(Event.id)


async def build(feed: FeedQuery) -> bytes:
    """The feed's bytes; the same data version and day always give the same bytes."""
    name = await _name(feed)
    rows = await feed_rows(feed)
    if feed.scope == "event":
        if not rows:
            raise NotFound(N_("This event does not exist."))
        name = _item(rows[0], feed.lang).summary
    host = urlsplit(get_settings().base_url).hostname or "trefpunt"
    return build_feed(
        name,
        [_item(row, feed.lang) for row in rows],
        calendar_uid=f"feed-{feed.scope}-{feed.key or 'all'}@{host}",
        refresh=REFRESH,
    )


async def personal_feed(feed_token: str, lang: str | None = None) -> bytes:
    """A participant's private feed: their confirmed events across all organisations."""
    from events.services.registrations import personal_feed_rows

    owner, confirmed = await personal_feed_rows(feed_token)
    ids = [row["event"] for row in confirmed] or [-1]
    rows = (
        await event_select()
        .where(Event.id.is_in(ids) & (Event.status != "draft"))
        .order_by(Event.starts_at)
        .order_by(Event.id)
    )
    language = lang or owner["language"]
    host = urlsplit(get_settings().base_url).hostname or "trefpunt"
    from events.services.networking import accepted_meeting_ids
    from events.services.notifications import meeting_items

    items = [_item(row, language) for row in rows]
    for meeting_id in await accepted_meeting_ids(owner["email_key"]):
        items.append((await meeting_items(meeting_id, language))[1])
    items.sort(key=lambda item: (item.starts_at, item.uid))
    return build_feed(
        translate(N_("My Trefpunt events"), language),
        items,
        calendar_uid=f"feed-personal-{owner['id']}@{host}",
        refresh=REFRESH,
    )
