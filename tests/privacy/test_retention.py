"""Retention: personal data of past events is anonymised once their period is over — the
organisation's (default 24 months) or an event's own stricter one — by a daily job that runs
once a day whatever the number of workers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from events.services import consents, registrations, retention
from events.services.access import Actor
from events.services.consents import PurposeInput
from events.tables import AuditLog, Consent, DataVersion, Event, Organisation, OutboxMessage, Registration
from tests.conftest import run_cli
from tests.consultations.helpers import new_org
from tests.integration.helpers import csrf_from_html, make_event, make_organiser, sign_in
from tests.privacy.conftest import Person, dump_database, new_person, traces_in


def _owner(organisation_id: int) -> Actor:
    return Actor(kind="organiser", id=0, roles={organisation_id: "owner"})


async def _past_event(organisation_id: int, ends_at: datetime, people: list[Person], purpose: int | None = None) -> int:
    """An info session that ended at `ends_at`, with these people registered (and confirmed)
    a week before it."""
    starts = ends_at - timedelta(hours=2)
    event_id = await make_event(organisation_id, starts_at=starts.isoformat(), ends_at=ends_at.isoformat())
    for person in people:
        result = await registrations.register(
            event_id,
            person.registration(consents=[purpose] if purpose else []),
            now=starts - timedelta(days=7),
        )
        assert result.status == "confirmed"
    return event_id


async def _state(event_id: int) -> list[tuple[str, str, bool]]:
    rows = await Registration.select().where(Registration.event == event_id).order_by(Registration.id)
    return [(row["name"], row["status"], row["anonymised_at"] is not None) for row in rows]


async def test_retention_anonymises_exactly_the_events_whose_period_is_over() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    org = await new_org("retain")
    strict_org = await new_org("retain-12")
    await retention.set_organisation_retention(_owner(strict_org.id), strict_org.id, 12)
    purpose = await consents.define_purpose(
        _owner(org.id), org.id, PurposeInput(key="news", text={"en": "Send me news"})
    )
    people = {key: [new_person(key.title(), "Retained"), new_person(key.title(), "Kept")] for key in "abcdef"}

    def ago(months: int, days: int) -> datetime:
        return now - relativedelta(months=months) + timedelta(days=days)

    expired = await _past_event(org.id, ago(24, -1), people["a"], purpose.id)  # 24 months and a day
    one_day_short = await _past_event(org.id, ago(24, +1), people["b"])  # 24 months less a day
    strict = await _past_event(org.id, ago(6, -1), people["c"])  # its own 6 months, and a day
    strict_short = await _past_event(org.id, ago(6, +1), people["d"])  # its own 6 months less a day
    for event_id in (strict, strict_short):
        await retention.set_event_retention(_owner(org.id), event_id, 6)
    org_12 = await _past_event(strict_org.id, ago(12, -1), people["e"])  # the organisation's 12 months
    org_12_short = await _past_event(strict_org.id, ago(12, +1), people["f"])
    mails_before = await OutboxMessage.count().where(
        OutboxMessage.event.is_in([expired, one_day_short, strict, strict_short, org_12, org_12_short])
    )

    counts = await retention.run_retention(now)

    gone, kept = (expired, strict, org_12), (one_day_short, strict_short, org_12_short)
    for event_id in gone:
        assert await _state(event_id) == [("", "confirmed", True)] * 2, event_id
    kept_people = {one_day_short: people["b"], strict_short: people["d"], org_12_short: people["f"]}
    for event_id in kept:
        assert await _state(event_id) == [(p.name, "confirmed", False) for p in kept_people[event_id]], event_id
    assert counts.registrations >= 6 and counts.events >= 3

    dump = await dump_database()
    for key in "ace":
        for person in people[key]:
            assert traces_in(dump, person) == [], person
    for key in "bdf":
        for person in people[key]:
            assert traces_in(dump, person), person
    # The ledger keeps the consents (purpose, organisation, time), without the address.
    ledger = await Consent.select().where(Consent.organisation == org.id)
    assert len(ledger) == 2 and all(row["email_key"].endswith("@invalid") for row in ledger)
    # No mail is sent because of retention, and the mails that were sent are emptied.
    mails = await OutboxMessage.select().where(
        OutboxMessage.event.is_in([expired, one_day_short, strict, strict_short, org_12, org_12_short])
    )
    assert len(mails) == mails_before
    assert all(m["text_body"] == "" for m in mails if m["event"] in gone)
    assert all(m["text_body"] != "" for m in mails if m["event"] in kept)
    entries = await AuditLog.select().where(
        (AuditLog.action == "event.retention_applied") & (AuditLog.organisation.is_in([org.id, strict_org.id]))
    )
    assert sorted(e["target"] for e in entries) == sorted(f"event:{event_id}" for event_id in gone)
    assert all(json.loads(e["detail"]) == {"registrations": 2} for e in entries)

    # A day later the events that were a day short go too; nothing is done twice.
    later = await retention.run_retention(now + timedelta(days=2))
    assert later.registrations >= 6
    for event_id in (*gone, *kept):
        assert all(anonymised for _, _, anonymised in await _state(event_id)), event_id
    assert (
        await AuditLog.count().where(
            (AuditLog.action == "event.retention_applied") & (AuditLog.target == f"event:{expired}")
        )
        == 1
    )


async def test_the_daily_job_runs_once_a_day_whatever_the_number_of_workers() -> None:
    saved = await DataVersion.select().where(DataVersion.scope == retention.JOB_SCOPE).first()
    future = datetime.now(UTC) + timedelta(days=3650)
    try:
        claims = await asyncio.gather(*(retention.claim_daily_run(future) for _ in range(5)))
        assert sorted(claims) == [False] * 4 + [True]
        assert await retention.claim_daily_run(future + timedelta(hours=22)) is False
        assert await retention.claim_daily_run(future + timedelta(hours=24)) is True
    finally:
        if saved is None:
            await DataVersion.delete().where(DataVersion.scope == retention.JOB_SCOPE)
        else:
            await DataVersion.update({DataVersion.changed_at: saved["changed_at"]}).where(
                DataVersion.scope == retention.JOB_SCOPE
            )


def test_the_retention_command_runs_at_a_given_moment() -> None:
    done = run_cli("retention", "--now", datetime.now(UTC).isoformat())
    assert done.returncode == 0, done.stderr
    assert "registrations of" in done.stdout and "events anonymised" in done.stdout
    naive = run_cli("retention", "--now", "2027-01-01T03:00:00")
    assert naive.returncode != 0 and "offset" in naive.stderr


async def test_owners_set_the_period_and_editors_a_stricter_one_per_event(browser: Any, app: Any) -> None:
    org = await new_org("retain-ui")
    event_id = await make_event(org.id)
    await sign_in(browser, await make_organiser(org.slug, role="owner"))

    page = await browser.get(f"/admin/privacy?organisation={org.id}")
    assert page.status_code == 200 and 'name="retention_months"' in page.text
    csrf = csrf_from_html(page.text)
    wrong = await browser.post(
        f"/admin/privacy?organisation={org.id}", data={"_csrf_token": csrf, "retention_months": "0"}
    )
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
    saved = await browser.post(
        f"/admin/privacy?organisation={org.id}",
        data={"_csrf_token": csrf, "retention_months": "18"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert (await Organisation.select().where(Organisation.id == org.id).first())["retention_months"] == 18

    form = await browser.get(f"/admin/events/{event_id}/retention")
    assert form.status_code == 200
    longer = await browser.post(
        f"/admin/events/{event_id}/retention", data={"_csrf_token": csrf, "retention_months": "19"}
    )
    assert longer.status_code == 422  # an event may only be stricter than its organisation
    stricter = await browser.post(
        f"/admin/events/{event_id}/retention",
        data={"_csrf_token": csrf, "retention_months": "3"},
        follow_redirects=False,
    )
    assert stricter.status_code == 303
    assert (await Event.select().where(Event.id == event_id).first())["retention_months"] == 3
    listed = await browser.get(f"/admin/privacy?organisation={org.id}")
    assert f'href="/admin/events/{event_id}/retention"' in listed.text
    cleared = await browser.post(
        f"/admin/events/{event_id}/retention",
        data={"_csrf_token": csrf, "retention_months": ""},
        follow_redirects=False,
    )
    assert cleared.status_code == 303
    assert (await Event.select().where(Event.id == event_id).first())["retention_months"] is None


async def test_the_worker_runs_the_daily_job_and_logs_its_counts(caplog: Any) -> None:
    from events.mail.worker import WorkerConfig, run_worker

    saved = await DataVersion.select().where(DataVersion.scope == retention.JOB_SCOPE).first()
    await DataVersion.delete().where(DataVersion.scope == retention.JOB_SCOPE)
    stop = asyncio.Event()
    caplog.set_level("INFO", logger="trefpunt.retention")
    try:
        worker = asyncio.create_task(run_worker(stop, WorkerConfig(poll_interval=0.05, schedule_interval=0.05)))
        for _ in range(200):
            if any("retention:" in record.getMessage() for record in caplog.records):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # several more rounds
        stop.set()
        await asyncio.wait_for(worker, timeout=10)
        runs = [record.getMessage() for record in caplog.records if "retention:" in record.getMessage()]
        assert len(runs) == 1  # rounds every 50 ms, one run a day
        assert "registrations of" in runs[0] and "privacy requests cleared" in runs[0]
        row = await DataVersion.select().where(DataVersion.scope == retention.JOB_SCOPE).first()
        assert row is not None and row["version"] == 1
    finally:
        stop.set()
        if saved is not None:
            await DataVersion.update({DataVersion.changed_at: saved["changed_at"]}).where(
                DataVersion.scope == retention.JOB_SCOPE
            )
