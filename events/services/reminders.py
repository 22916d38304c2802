"""Reminders before an event and a follow-up after it, fired by the worker.

Each (registration, offset) is written to `ReminderSent` in the same transaction as its mail,
under a unique index: a reminder is queued once, whatever the number of workers or restarts.
Only the nearest due offset is sent (nobody gets the 48-hour and the 2-hour reminder at once),
and an offset that had already passed when the person registered is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from events.db import is_unique_violation, write_transaction
from events.i18n import pick_translation
from events.services import notifications
from events.services.notifications import queue_plain_mail
from events.services.tokens import manage_url
from events.settings import LANGUAGES, get_settings
from events.tables import Event, EventHost, Registration, ReminderSent, Slot

FOLLOW_UP = -1  # ReminderSent.hours for the after-event mail
FOLLOW_UP_DELAY = timedelta(hours=2)
FOLLOW_UP_WINDOW = timedelta(days=3)
MAX_OFFSET = timedelta(hours=720)


def due_offset(offsets: list[int], starts_at: datetime, registered_at: datetime, now: datetime) -> int | None:
    """The reminder offset (hours) to send now, if any."""
    due = [
        h
        for h in offsets
        if starts_at - timedelta(hours=h) <= now < starts_at and registered_at < starts_at - timedelta(hours=h)
    ]
    return min(due) if due else None


async def _claim(registration_id: int, hours: int) -> bool:
    try:
        await ReminderSent.insert(ReminderSent(registration=registration_id, hours=hours))
    except Exception as exc:
        if is_unique_violation(exc):
            return False
        raise
    return True


async def _already(registration_id: int, hours: int) -> bool:
    return await ReminderSent.exists().where(
        (ReminderSent.registration == registration_id) & (ReminderSent.hours == hours)
    )


async def queue_due_reminders(now: datetime | None = None) -> int:
    """Queue every reminder that is due; returns how many were queued."""
    now = now or datetime.now(UTC)
    # A consultation day may have begun while its later appointments are still ahead.
    events = await Event.select().where(
        (Event.status == "published") & (Event.ends_at > now) & (Event.starts_at <= now + MAX_OFFSET)
    )
    queued = 0
    for event in events:
        offsets = [int(h) for h in event["reminder_hours"].split(",") if h]
        if not offsets:
            continue
        registrations = await Registration.select().where(
            (Registration.event == event["id"]) & (Registration.status == "confirmed")
        )
        slot_starts = {
            row["id"]: row["starts_at"]
            for row in await Slot.select(Slot.id, Slot.starts_at).where(
                Slot.id.is_in([r["slot"] for r in registrations if r["slot"] is not None] or [-1])
            )
        }
        facts: notifications.EventFacts | None = None
        for registration in registrations:
            starts_at = slot_starts.get(registration["slot"], event["starts_at"])
            hours = due_offset(offsets, starts_at, registration["created_at"], now)
            if hours is None or await _already(registration["id"], hours):
                continue
            try:
                async with write_transaction():
                    if not await _claim(registration["id"], hours):
                        continue
                    if registration["slot"] is not None:  # an appointment: its own time and invite
                        await notifications.queue_booking_reminder(registration, hours)
                    else:
                        facts = facts or await notifications.load_event_facts(event["id"])
                        await notifications.queue_registration_mail(
                            facts,
                            registration,
                            "reminder",
                            "REQUEST",
                            manage_url=manage_url(registration),
                            dedupe_suffix=f":{hours}h",
                        )
                    queued += 1
            except Exception as exc:
                if not is_unique_violation(exc):  # another worker got there first
                    raise
    return queued


async def _next_events(event: dict[str, Any], language: str, now: datetime) -> list[dict[str, Any]]:
    host_ids = [
        event["organisation"],
        *[
            r["organisation"]
            for r in await EventHost.select(EventHost.organisation).where(EventHost.event == event["id"])
        ],
    ]
    rows = (
        await Event.select()
        .where((Event.status == "published") & (Event.starts_at > now) & Event.organisation.is_in(host_ids))
        .order_by(Event.starts_at)
        .limit(3)
    )
    base = get_settings().base_url
    return [
        {
            "title": pick_translation({lang: row[f"title_{lang}"] for lang in LANGUAGES}, language)[0],
            "starts_at": row["starts_at"],
            "timezone": row["timezone"],
            "url": f"{base}/events/{row['id']}",
        }
        for row in rows
    ]


async def queue_follow_ups(now: datetime | None = None) -> int:
    """After an event: a thank-you with the next sessions of the same organisations."""
    now = now or datetime.now(UTC)
    events = await Event.select().where(
        (Event.status == "published")
        & (Event.ends_at <= now - FOLLOW_UP_DELAY)
        & (Event.ends_at > now - FOLLOW_UP_WINDOW)
    )
    queued = 0
    for event in events:
        registrations = await Registration.select().where(
            (Registration.event == event["id"])
            & (Registration.status == "confirmed")
            & (Registration.attendance != "no_show")
        )
        facts: notifications.EventFacts | None = None
        for registration in registrations:
            if await _already(registration["id"], FOLLOW_UP):
                continue
            async with write_transaction():
                if not await _claim(registration["id"], FOLLOW_UP):
                    continue
                facts = facts or await notifications.load_event_facts(event["id"])
                await queue_plain_mail(
                    facts,
                    registration,
                    "follow_up",
                    next_events=await _next_events(event, registration["language"], now),
                )
                queued += 1
    return queued
