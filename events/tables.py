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
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Organisation(Table):
    id: Serial
    slug = Varchar(length=64, unique=True)
    name_nl = Varchar(length=200, default="")
    name_fr = Varchar(length=200, default="")
    name_en = Varchar(length=200, default="")
    # The ORGANIZER of its invites and the reply address of its mails.
    email = Varchar(length=254)
    timezone = Varchar(length=64, default="Europe/Brussels")
    website = Varchar(length=300, default="")
    address = Varchar(length=300, default="")  # postal address, in the footer of its mails
    colour = Varchar(length=7, default="#1d5c7a")
    # Personal data of past events is anonymised this many months after the event ended.
    retention_months = Integer(default=24)
    created_at = Timestamptz(default=TimestamptzNow())


class Organiser(Table):
    """A staff member of one or more partner organisations who signs in to the back office."""

    id: Serial
    email = Varchar(length=254, unique=True)
    name = Varchar(length=200, default="")
    password_hash = Varchar(length=200, default="")
    language = Varchar(length=2, default="nl")
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)


class Membership(Table):
    id: Serial
    organiser = ForeignKey(references=Organiser, on_delete=OnDelete.cascade)
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade)
    role = Varchar(length=10, default="viewer")  # owner | editor | viewer
    created_at = Timestamptz(default=TimestamptzNow())


class Invitation(Table):
    """An invitation to join an organisation's team; accepted through a link in a mail."""

    id: Serial
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade)
    email = Varchar(length=254)
    role = Varchar(length=10, default="viewer")  # owner | editor | viewer
    # SHA-256 of the link's token (256 random bits), like API tokens.
    token_hash = Varchar(length=64, unique=True)
    invited_by = Integer(null=True, default=None)  # Organiser id
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    accepted_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class Venue(Table):
    id: Serial
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade, null=True)
    name = Varchar(length=200)
    address = Varchar(length=300, default="")
    city = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Room(Table):
    id: Serial
    venue = ForeignKey(references=Venue, on_delete=OnDelete.cascade)
    name = Varchar(length=200)
    capacity = Integer(null=True, default=None)


class Series(Table):
    id: Serial
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade)
    title_nl = Varchar(length=200, default="")
    title_fr = Varchar(length=200, default="")
    title_en = Varchar(length=200, default="")
    # RFC 5545 RRULE, expanded in the series' timezone; occurrences are ordinary events.
    rrule = Text(default="")
    timezone = Varchar(length=64, default="Europe/Brussels")
    # The first occurrence's local start ("2027-01-05T18:00") and every occurrence's length.
    dtstart_local = Varchar(length=16, default="")
    duration_minutes = Integer(default=60)
    # Local dates ("2027-04-06,2027-07-06") the rule skips (RFC 5545 EXDATE).
    exdates = Text(default="")
    # The occurrence whose settings (texts, venue, capacity, questions) new occurrences copy.
    template_event = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Event(Table):
    id: Serial
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
    # Seats held by confirmed registrations; only changed by conditional UPDATEs that keep
    # it ≤ capacity (the database, not Python, guards against overbooking).
    confirmed_count = Integer(default=0)
    waitlist = Boolean(default=True)
    requires_approval = Boolean(default=False)
    double_opt_in = Boolean(default=False)
    registration_opens_at = Timestamptz(null=True, default=None)
    registration_closes_at = Timestamptz(null=True, default=None)
    # An info session can offer follow-up 1:1 slots on a consultation day.
    follow_up_event = Integer(null=True, default=None)
    # For an occurrence of a series: the start the rule gave it (its RECURRENCE-ID), kept when
    # the occurrence itself is moved, so "this and following" still knows where it stands.
    series_original_start = Timestamptz(null=True, default=None)
    # A stricter retention for this event than its organisation's (None: the organisation's).
    retention_months = Integer(null=True, default=None)
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

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade, index=True)


class ApiToken(Table):
    id: Serial
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
    id: Serial
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade, null=True)
    actor = Varchar(length=100, default="")  # "organiser:<id>", "token:<id>", "cli"
    action = Varchar(length=50)
    target = Varchar(length=100, default="")
    detail = Text(default="{}")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class Registration(Table):
    """A participant's registration for an event (the registration lifecycle builds on this)."""

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=200)
    email = Varchar(length=254)
    email_key = Varchar(length=254, index=True)  # lower-cased: one active registration per email
    phone = Varchar(length=50, default="")
    company = Varchar(length=200, default="")
    language = Varchar(length=2, default="nl")
    answers = Text(default="{}")
    # pending_email | pending_approval | confirmed | waitlisted | cancelled | rejected
    status = Varchar(length=20, default="confirmed", index=True)
    attendance = Varchar(length=10, default="")  # "" | attended | no_show
    manage_token_hash = Varchar(length=64, null=True, default=None, unique=True)
    # The private link's token is an HMAC of this nonce under SECRET_KEY: mails sent later can
    # carry the link again, while the database alone cannot produce it. A new nonce rotates it.
    token_nonce = Varchar(length=32, default="")
    feed_token_hash = Varchar(length=64, null=True, default=None)  # unique index in a raw migration
    feed_token_nonce = Varchar(length=32, default="")
    consents = Text(default="[]")
    # A consultation-day booking holds exactly one slot and has its own calendar UID.
    slot = Integer(null=True, default=None, index=True)
    booking_uid = Varchar(length=200, null=True, default=None)
    # The SEQUENCE and METHOD of the last invite this person was sent, so a later REQUEST or
    # CANCEL always carries a higher SEQUENCE than what their calendar holds.
    ical_sequence = Integer(default=-1)
    ical_method = Varchar(length=10, default="")
    # How the registration came in: form | api | organiser (added by hand in the back office).
    source = Varchar(length=10, default="form")
    # Facts for statistics: when the person joined the waitlist and when they got a seat from it.
    waitlisted_at = Timestamptz(null=True, default=None)
    promoted_at = Timestamptz(null=True, default=None)
    checked_in_at = Timestamptz(null=True, default=None)
    # Set when the person's data was erased (on request or by retention): the row stays for the
    # statistics, with no name, email, phone, company or answers left.
    anonymised_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    cancelled_at = Timestamptz(null=True, default=None)


class OutboxMessage(Table):
    """A mail waiting to be sent, written in the same transaction as the change that causes it."""

    id: Serial
    dedupe_key = Varchar(length=200, unique=True)
    kind = Varchar(length=40, default="")
    event = ForeignKey(references=Event, on_delete=OnDelete.set_null, null=True, index=True)
    registration = ForeignKey(references=Registration, on_delete=OnDelete.set_null, null=True)
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.set_null, null=True, index=True)
    recipient = Varchar(length=254)
    recipient_name = Varchar(length=200, default="")
    language = Varchar(length=2, default="nl")
    sender_name = Varchar(length=200, default="")
    reply_to = Varchar(length=254, default="")
    subject = Varchar(length=300)
    text_body = Text()
    html_body = Text()
    ics = Text(default="")
    ics_method = Varchar(length=10, default="")
    message_id = Varchar(length=200, unique=True)
    status = Varchar(length=10, default="queued")  # queued | sending | sent | failed
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    lease_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


class DataVersion(Table):
    """A counter that every change to public event data raises, in the same transaction.

    Feeds and cached pages key their ETag on it, and its `changed_at` never moves back, so
    Last-Modified is monotonic even when an event leaves a feed.
    """

    id: Serial
    scope = Varchar(length=40, unique=True)
    version = Integer(default=0)
    changed_at = Timestamptz(default=TimestamptzNow())


class Question(Table):
    """A question on an event's registration form."""

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=0)
    kind = Varchar(length=20, default="short_text")  # short_text | long_text | single | multiple | yes_no
    label_nl = Varchar(length=300, default="")
    label_fr = Varchar(length=300, default="")
    label_en = Varchar(length=300, default="")
    options = Text(default="[]")  # JSON: [{"key": ..., "nl": ..., "fr": ..., "en": ...}]
    required = Boolean(default=False)


class ConsentPurpose(Table):
    """Something an organisation asks permission for, e.g. "contact me about a loan"."""

    id: Serial
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade, index=True)
    key = Varchar(length=64)
    text_nl = Text(default="")
    text_fr = Text(default="")
    text_en = Text(default="")
    version = Integer(default=1)
    active = Boolean(default=True)


class Consent(Table):
    """The consent ledger: append-only, one row per given or withdrawn consent."""

    id: Serial
    registration = ForeignKey(references=Registration, on_delete=OnDelete.set_null, null=True, index=True)
    email_key = Varchar(length=254, index=True)
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade)
    purpose = ForeignKey(references=ConsentPurpose, on_delete=OnDelete.cascade)
    wording_version = Integer(default=1)
    wording_hash = Varchar(length=64, default="")
    action = Varchar(length=10, default="given")  # given | withdrawn
    source = Varchar(length=40, default="registration")
    created_at = Timestamptz(default=TimestamptzNow())


class ReminderSent(Table):
    """One row per (registration, offset): a reminder is queued at most once."""

    id: Serial
    registration = ForeignKey(references=Registration, on_delete=OnDelete.cascade)
    hours = Integer()
    created_at = Timestamptz(default=TimestamptzNow())


class Consultation(Table):
    """The settings of a consultation day (an Event of kind consultation_day)."""

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, unique=True)
    slot_minutes = Integer(default=30)
    buffer_minutes = Integer(default=0)
    min_notice_hours = Integer(default=12)
    booking_opens_days = Integer(default=60)
    max_bookings_per_person = Integer(default=1)


class Advisor(Table):
    """An advisor who holds appointments on one consultation day."""

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.set_null, null=True)
    position = Integer(default=0)
    name = Varchar(length=200)
    email = Varchar(length=254)
    languages = Varchar(length=20, default="nl")  # comma-separated
    topics = Text(default="")  # comma-separated keys
    room = Varchar(length=200, default="")
    online_url = Varchar(length=500, default="")
    feed_token_nonce = Varchar(length=32, default="")
    feed_token_hash = Varchar(length=64, null=True, default=None)  # unique index in a raw migration


class AvailabilityWindow(Table):
    id: Serial
    advisor = ForeignKey(references=Advisor, on_delete=OnDelete.cascade, index=True)
    starts_at = Timestamptz()
    ends_at = Timestamptz()


class Slot(Table):
    """One bookable appointment; a booking is a Registration whose `slot` is this id."""

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    advisor = ForeignKey(references=Advisor, on_delete=OnDelete.cascade, index=True)
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz()
    status = Varchar(length=10, default="free")  # free | booked | blocked


class NetworkProfile(Table):
    """A participant's networking profile for one event; invisible until they opt in."""

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    registration = ForeignKey(references=Registration, on_delete=OnDelete.cascade, unique=True)
    email_key = Varchar(length=254, index=True)  # to offer last event's profile again
    opt_in = Boolean(default=False)
    display_name = Varchar(length=200, default="")
    company = Varchar(length=200, default="")
    sector = Varchar(length=100, default="")
    about = Text(default="")
    offers = Text(default="")  # comma-separated tags
    looking_for = Text(default="")
    languages = Varchar(length=20, default="")
    link = Varchar(length=300, default="")
    updated_at = Timestamptz(default=TimestamptzNow())


class NetworkingSettings(Table):
    """Meeting slots and tables of a networking event."""

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, unique=True)
    meeting_minutes = Integer(default=15)
    meetings_start = Timestamptz()
    meetings_end = Timestamptz()
    max_pending = Integer(default=5)
    vocabulary = Text(default="")  # the organisers' tags, comma-separated


class MeetingSlot(Table):
    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    starts_at = Timestamptz()
    ends_at = Timestamptz()


class MeetingTable(Table):
    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100)
    position = Integer(default=0)


class Meeting(Table):
    """A 1:1 meeting request between two profiles in a slot; an accepted one has a table."""

    id: Serial
    event = ForeignKey(references=Event, on_delete=OnDelete.cascade, index=True)
    # No `index=True`: Piccolo would name it "meeting_slot", the name of the slot table.
    slot = ForeignKey(references=MeetingSlot, on_delete=OnDelete.cascade)
    requester = ForeignKey(references=NetworkProfile, on_delete=OnDelete.cascade, index=True)
    invitee = ForeignKey(references=NetworkProfile, on_delete=OnDelete.cascade, index=True)
    meeting_table = ForeignKey(references=MeetingTable, on_delete=OnDelete.set_null, null=True)
    status = Varchar(length=10, default="pending")  # pending | accepted | declined | cancelled
    uid = Varchar(length=200, default="")
    sequence = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class MeetingSeat(Table):
    """A person's place in an accepted meeting: unique per (slot, profile), so nobody is in two
    meetings at once."""

    id: Serial
    meeting = ForeignKey(references=Meeting, on_delete=OnDelete.cascade, index=True)
    slot = ForeignKey(references=MeetingSlot, on_delete=OnDelete.cascade)
    profile = ForeignKey(references=NetworkProfile, on_delete=OnDelete.cascade)


class PrivacyRequest(Table):
    """A participant's request at /privacy: a mailed link (24 h) to download or erase what
    Trefpunt holds about one email address."""

    id: Serial
    email_key = Varchar(length=254, index=True)
    # SHA-256 of the link's token (256 random bits).
    token_hash = Varchar(length=64, unique=True)
    language = Varchar(length=2, default="nl")
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    exported_at = Timestamptz(null=True, default=None)
    erased_at = Timestamptz(null=True, default=None)


class Webhook(Table):
    """An organisation's subscription of a URL to events (registration.created, …)."""

    id: Serial
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.cascade, index=True)
    url = Varchar(length=500)
    # The HMAC-SHA256 key of the signature header; shown to the organiser when created.
    secret = Varchar(length=100)
    events = Text(default="")  # comma-separated event types
    description = Varchar(length=200, default="")
    active = Boolean(default=True)
    consecutive_failures = Integer(default=0)
    disabled_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    last_success_at = Timestamptz(null=True, default=None)
    last_failure_at = Timestamptz(null=True, default=None)


class WebhookDelivery(Table):
    """One event for one webhook, written in the transaction of the change (an outbox), sent by
    the worker with retries; also the delivery log."""

    id: Serial
    webhook = ForeignKey(references=Webhook, on_delete=OnDelete.cascade, index=True)
    event_type = Varchar(length=40)
    dedupe_key = Varchar(length=200, unique=True)
    payload = Text()
    status = Varchar(length=10, default="queued", index=True)  # queued | sending | delivered | failed
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    lease_until = Timestamptz(null=True, default=None)
    last_status_code = Integer(null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)
