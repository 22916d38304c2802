"""Every table of Trefpunt (DESIGN.md, "Domain model").

Times are `Timestamptz` (UTC); per-language text is one column per language so queries can
filter on "has a Dutch title" without JSON functions that differ between engines. Composite
unique indexes live in raw-SQL migrations (Piccolo cannot add them on SQLite).
"""

from __future__ import annotations

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Organisation(Table):
    slug = Varchar(length=64, unique=True)
    name_nl = Varchar(length=200, default="")
    name_fr = Varchar(length=200, default="")
    name_en = Varchar(length=200, default="")
    # The ORGANIZER of its invites and the reply address of its mails.
    email = Varchar(length=254)
    timezone = Varchar(length=64, default="Europe/Brussels")
    website = Varchar(length=300, default="")
    colour = Varchar(length=7, default="#1d5c7a")
    created_at = Timestamptz(default=TimestamptzNow())


class Organiser(Table):
    """A staff member of one or more partner organisations who signs in to the back office."""

    email = Varchar(length=254, unique=True)
    name = Varchar(length=200, default="")
    password_hash = Varchar(length=200, default="")
    language = Varchar(length=2, default="nl")
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)


class Membership(Table):
    organiser = ForeignKey(references=Organiser, on_delete=OnDelete.cascade)
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade)
    role = Varchar(length=10, default="viewer")  # owner | editor | viewer
    created_at = Timestamptz(default=TimestamptzNow())


class Venue(Table):
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade, null=True)
    name = Varchar(length=200)
    address = Varchar(length=300, default="")
    city = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Room(Table):
    venue = ForeignKey(references=Venue, on_delete=OnDelete.cascade)
    name = Varchar(length=200)
    capacity = Integer(null=True, default=None)


class Series(Table):
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade)
    title_nl = Varchar(length=200, default="")
    title_fr = Varchar(length=200, default="")
    title_en = Varchar(length=200, default="")
    # RFC 5545 RRULE, expanded in the series' timezone; occurrences are ordinary events.
    rrule = Text(default="")
    timezone = Varchar(length=64, default="Europe/Brussels")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Event(Table):
    kind = Varchar(length=20, index=True)  # info_session | consultation_day | networking | workshop
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.restrict, index=True)
    series = ForeignKey(references=Series, on_delete=OnDelete.set_null, null=True)
    title_nl = Varchar(length=200, default="")
    title_fr = Varchar(length=200, default="")
    title_en = Varchar(length=200, default="")
    description_nl = Text(default="")
    description_fr = Text(default="")
    description_en = Text(default="")
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz()
    timezone = Varchar(length=64, default="Europe/Brussels")
    venue = ForeignKey(references=Venue, on_delete=OnDelete.set_null, null=True)
    room = ForeignKey(references=Room, on_delete=OnDelete.set_null, null=True)
    online_url = Varchar(length=500, default="")
    capacity = Integer(null=True, default=None)  # None: no limit
    waitlist = Boolean(default=True)
    requires_approval = Boolean(default=False)
    double_opt_in = Boolean(default=False)
    registration_opens_at = Timestamptz(null=True, default=None)
    registration_closes_at = Timestamptz(null=True, default=None)
    reminder_hours = Varchar(length=100, default="48,2")  # comma-separated offsets
    status = Varchar(length=10, default="draft", index=True)  # draft | published | cancelled
    uid = Varchar(length=200, unique=True)
    sequence = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)


class EventHost(Table):
    """A co-host organisation of an event (the owner is `Event.organisation`)."""

    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade, index=True)


class ApiToken(Table):
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade)
    name = Varchar(length=100, default="")
    # SHA-256 of the token: the token has 256 random bits, so a fast hash cannot be brute-forced.
    token_hash = Varchar(length=64, unique=True)
    prefix = Varchar(length=12, default="")
    role = Varchar(length=10, default="editor")
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class AuditLog(Table):
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade, null=True)
    actor = Varchar(length=100, default="")  # "organiser:<id>", "token:<id>", "cli"
    action = Varchar(length=50)
    target = Varchar(length=100, default="")
    detail = Text(default="{}")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
