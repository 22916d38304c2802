"""Reminders and follow-ups with controlled time (DESIGN.md: "idempotent: one reminder per
registration/offset").

The scheduler takes `now` as an argument: the clock is the test's. An event at T with reminders
48 h and 2 h before; the scheduler is run at chosen moments, twice, concurrently, and from a
fresh process (a worker restart), and each reminder is queued once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.helpers import future
from tests.registrations.helpers import domain, new_event, register, registration

# Days apart from the other tests' events (+30 days by default, +12 in the mail tests), so a scan
# at these moments finds only this module's events due.
T = future(9, hour=10)
T_END = T + timedelta(hours=2)


async def reminder_rows(event_id: int) -> list[dict[str, Any]]:
    """The reminder mails queued for this event: (registration, offset) per row."""
    from events.tables import OutboxMessage

    return (
        await OutboxMessage.select(OutboxMessage.registration, OutboxMessage.dedupe_key, OutboxMessage.ics_method)
        .where((OutboxMessage.event == event_id) & (OutboxMessage.kind == "reminder"))
        .order_by(OutboxMessage.id)
    )


def offsets(rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(registration id, "48h"/"2h") per reminder row, from its dedupe key."""
    return sorted((row["registration"], row["dedupe_key"].rsplit(":", 1)[1]) for row in rows)


async def follow_up_rows(event_id: int) -> list[int]:
    from events.tables import OutboxMessage

    rows = await OutboxMessage.select(OutboxMessage.registration).where(
        (OutboxMessage.event == event_id) & (OutboxMessage.kind == "follow_up")
    )
    return sorted(row["registration"] for row in rows)


async def set_created_at(registration_id: int, moment: datetime) -> None:
    from events.tables import Registration

    await Registration.update({Registration.created_at: moment}).where(Registration.id == registration_id)


def queue_in_a_fresh_process(now: datetime) -> None:
    """The scheduler run by a new process, as after a worker restart."""
    code = (
        "import asyncio, datetime, sys\n"
        "from events.services.reminders import queue_due_reminders\n"
        "print(asyncio.run(queue_due_reminders(now=datetime.datetime.fromisoformat(sys.argv[1]))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, now.isoformat()],
        cwd=ROOT,
        env={**os.environ, "PICCOLO_CONF": "piccolo_conf"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.usefixtures("db_pool")
async def test_each_reminder_is_queued_once_at_its_time_even_twice_concurrently_and_after_a_restart():
    from events.services import events as event_service
    from events.services import registrations
    from events.services.access import CLI_ACTOR
    from events.services.events import EventPatch
    from events.services.reminders import queue_due_reminders

    event_id, _ = await new_event(
        starts_at=T, ends_at=T_END, capacity=3, reminder_hours=[48, 2], title={"nl": "Herinneringen"}
    )
    mail = domain()
    seated = [await register(event_id, f"p{i}@{mail}") for i in range(3)]
    waiting = await register(event_id, f"w@{mail}")
    assert waiting.status == "waitlisted"
    ids = [r.id for r in seated]

    await queue_due_reminders(now=T - timedelta(hours=49))
    assert await reminder_rows(event_id) == [], "49 h before: nothing is due yet"
    assert (await registration(waiting.id))["status"] == "waitlisted"

    await queue_due_reminders(now=T - timedelta(hours=47))
    assert offsets(await reminder_rows(event_id)) == sorted((i, "48h") for i in ids), "one 48 h reminder each"

    await queue_due_reminders(now=T - timedelta(hours=47))
    await asyncio.gather(*(queue_due_reminders(now=T - timedelta(hours=46)) for _ in range(2)))
    queue_in_a_fresh_process(T - timedelta(hours=45))
    assert offsets(await reminder_rows(event_id)) == sorted((i, "48h") for i in ids), "still once"

    # Two more seats: the waitlisted person is promoted, and someone registers 3 hours before
    # the start (the clock of their row is set back): only the 2-hour reminder is theirs.
    # Someone else cancels: no more reminders for them.
    await event_service.update_event(CLI_ACTOR, event_id, EventPatch(capacity=5))
    assert (await registration(waiting.id))["status"] == "confirmed"
    late = await register(event_id, f"late@{mail}", language="fr")
    assert late.status == "confirmed"
    await set_created_at(late.id, T - timedelta(hours=3))
    await registrations.cancel_by_organiser(CLI_ACTOR, seated[2].id)

    await asyncio.gather(*(queue_due_reminders(now=T - timedelta(hours=1)) for _ in range(2)))
    queue_in_a_fresh_process(T - timedelta(minutes=30))
    await queue_due_reminders(now=T - timedelta(minutes=5))

    expected = sorted(
        [(i, "48h") for i in ids]  # queued before seated[2] cancelled: what was sent stays sent
        + [(ids[0], "2h"), (ids[1], "2h"), (waiting.id, "2h"), (late.id, "2h")]
    )
    assert offsets(await reminder_rows(event_id)) == expected
    assert {row["ics_method"] for row in await reminder_rows(event_id)} == {"REQUEST"}

    await queue_due_reminders(now=T + timedelta(minutes=1))
    assert offsets(await reminder_rows(event_id)) == expected, "nothing after the start"


async def test_a_scheduler_that_first_runs_1_hour_before_sends_only_the_nearest_reminder():
    from events.services.reminders import queue_due_reminders

    starts = T + timedelta(hours=5)
    event_id, _ = await new_event(starts_at=starts, ends_at=starts + timedelta(hours=1), reminder_hours=[48, 2])
    person = await register(event_id, f"p@{domain()}")

    await queue_due_reminders(now=starts - timedelta(hours=1))

    assert offsets(await reminder_rows(event_id)) == [(person.id, "2h")], "never the 48 h and the 2 h at once"


async def test_someone_registered_after_an_offset_passed_gets_no_reminder_for_it():
    from events.services.reminders import queue_due_reminders

    starts = T + timedelta(hours=7)
    event_id, _ = await new_event(starts_at=starts, ends_at=starts + timedelta(hours=1), reminder_hours=[48, 2])
    person = await register(event_id, f"p@{domain()}")
    await set_created_at(person.id, starts - timedelta(minutes=90))

    await queue_due_reminders(now=starts - timedelta(minutes=60))

    assert await reminder_rows(event_id) == [], "registered 90 min before: the 2 h mark had passed"


@pytest.mark.usefixtures("db_pool")
async def test_the_follow_up_is_queued_once_after_the_event_and_not_for_no_shows_or_the_waitlist():
    from events.services import registrations
    from events.services.access import CLI_ACTOR
    from events.services.reminders import queue_follow_ups

    starts = T + timedelta(hours=9)
    ends = starts + timedelta(hours=2)
    event_id, _ = await new_event(starts_at=starts, ends_at=ends, capacity=3)
    mail = domain()
    came, absent, unmarked = [await register(event_id, f"p{i}@{mail}") for i in range(3)]
    waiting = await register(event_id, f"w@{mail}")
    assert waiting.status == "waitlisted"
    await registrations.mark_attendance(CLI_ACTOR, came.id, "attended")
    await registrations.mark_attendance(CLI_ACTOR, absent.id, "no_show")

    await queue_follow_ups(now=ends + timedelta(hours=1))
    assert await follow_up_rows(event_id) == [], "not before two hours after the end"

    await asyncio.gather(*(queue_follow_ups(now=ends + timedelta(hours=3)) for _ in range(2)))
    await queue_follow_ups(now=ends + timedelta(hours=4))

    assert await follow_up_rows(event_id) == sorted([came.id, unmarked.id]), "once each, no no-show, no waitlist"
