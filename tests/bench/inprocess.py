"""The measurements that run inside one Python process, next to the app's own code.

    python -m tests.bench.inprocess run   --manifest M --out R [--storm-tag T --posted N --booked N ...]
    python -m tests.bench.inprocess scale --manifest M --out R

The environment names the database (as for `trefpunt`). `run` checks the state the HTTP storms
left behind (no overbooking, counters consistent, no double booking), counts SQL queries per
request of the GET scenarios, times the feed builder cold and warm, and delivers the outbox to
the local SMTP sink (batched, then one connection per message), checking that each message
arrived exactly once. `scale` times the list page, event page and feed and counts their queries.

Queries are counted by wrapping the Piccolo engine's `run_querystring`, through which every
query (ORM, raw, inside or outside transactions) passes. Requests go through
`litestar.testing.AsyncTestClient`, one at a time, so each count belongs to one request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.bench.scenarios import http_scenarios, scale_paths


class QueryCounter:
    """Counts every query the Piccolo engine runs (patched on the engine's class: the
    PostgreSQL engine has slots, so an instance attribute cannot be set)."""

    def __init__(self) -> None:
        from events.db import engine

        self.count = 0
        engine_class = type(engine())
        original = engine_class.run_querystring

        async def counting(db: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(db, *args, **kwargs)

        engine_class.run_querystring = counting  # type: ignore[method-assign, assignment]


@asynccontextmanager
async def database_pool() -> AsyncIterator[None]:
    """The PostgreSQL pool on this event loop, for the service calls made here directly."""
    from events.db import close_pool, open_pool

    await open_pool()
    try:
        yield
    finally:
        await close_pool()


@asynccontextmanager
async def app_client() -> AsyncIterator[Any]:
    """The real app in this process. Litestar's test client runs the app and its lifespan (which
    opens the pool, TREFPUNT_DB_POOL=on) on its own event loop in a portal thread; requests are
    sent one at a time, so the query counter still sees one request at a time."""
    from litestar.testing import AsyncTestClient

    from events.app import create_app
    from events.settings import get_settings

    async with AsyncTestClient(app=create_app(), base_url=get_settings().base_url) as client:
        yield client


async def touch_pages() -> None:
    """Move the "pages" data version as a write would, so the next GET builds its page instead of
    serving the cached copy. Straight through the driver: the engine's pool belongs to the app's
    event loop, and the query counter must not see this."""
    from events.settings import get_settings

    settings = get_settings()
    sql = "UPDATE data_version SET version = version + 1 WHERE scope = 'pages'"
    if settings.is_postgres:
        import asyncpg

        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
        return
    import sqlite3

    with sqlite3.connect(settings.sqlite_path, timeout=10) as conn:
        conn.execute(sql)


async def time_requests(
    client: Any, counter: QueryCounter, path: str, runs: int, *, built: bool = False
) -> dict[str, Any]:
    """p50 of `runs` sequential GETs after a warm-up, and the queries of one request. `built`:
    each request builds its response (as the first after a write), else the cache may serve it."""
    for _ in range(3):
        response = await client.get(path)
    status = response.status_code
    timings = []
    queries = []
    for _ in range(runs):
        if built:
            await touch_pages()
        counter.count = 0
        started = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        queries.append(counter.count)
        status = response.status_code if response.status_code != 200 else status
    return {
        "path": path,
        "status": status,
        "p50_ms": statistics.median(timings),
        "queries": max(queries),
        "queries_min": min(queries),
    }


# Correctness after the storms ---------------------------------------------------------------


async def _scalar(sql: str, *args: Any) -> int:
    from events.tables import Event

    rows = await Event.raw(sql, *args)
    return int(next(iter(rows[0].values()))) if rows else 0


async def check_state(manifest: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    from events.tables import Event

    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail})

    over = await _scalar("SELECT count(*) AS n FROM event WHERE capacity IS NOT NULL AND confirmed_count > capacity")
    check("no event over capacity", over == 0, f"{over} events over capacity")
    mismatched = await _scalar(
        "SELECT count(*) AS n FROM event e WHERE e.confirmed_count <> (SELECT count(*) FROM registration r "
        "WHERE r.event = e.id AND r.status = 'confirmed' AND r.slot IS NULL)"
    )
    check("confirmed_count == confirmed rows", mismatched == 0, f"{mismatched} events differ")
    early = await _scalar(
        "SELECT count(*) AS n FROM event e WHERE (e.capacity IS NULL OR e.confirmed_count < e.capacity) "
        "AND EXISTS (SELECT 1 FROM registration r WHERE r.event = e.id AND r.status = 'waitlisted')"
    )
    check("waitlist only when full", early == 0, f"{early} events waitlist with free seats")

    # The registrations storm: every row the emails of this run made, per event.
    open_ids = manifest["open_events"]
    marks = ", ".join("{}" for _ in open_ids)
    per_event = await Event.raw(
        "SELECT event, count(*) AS total, "
        "sum(CASE WHEN status = 'confirmed' THEN 1 ELSE 0 END) AS confirmed, "
        "sum(CASE WHEN status = 'waitlisted' THEN 1 ELSE 0 END) AS waitlisted "
        f"FROM registration WHERE email LIKE {{}} AND event IN ({marks}) GROUP BY event",
        f"{args.storm_tag}-%",
        *open_ids,
    )
    stormed = sum(int(row["total"]) for row in per_event)
    confirmed = sum(int(row["confirmed"]) for row in per_event)
    waitlisted = sum(int(row["waitlisted"]) for row in per_event)
    # wrk stops reading at its deadline: requests then in flight may still have been stored.
    check(
        "registrations POST: every 201 stored, confirmed or waitlisted",
        args.posted <= stormed <= args.posted + args.connections and confirmed + waitlisted == stormed,
        f"{args.posted} × 201, {stormed} rows ({confirmed} confirmed, {waitlisted} waitlisted)",
    )
    capacity = manifest["open_capacity"]
    unfair = [row["event"] for row in per_event if int(row["confirmed"]) != min(int(row["total"]), capacity)]
    check(
        "registrations POST: seats filled before waitlisting",
        not unfair,
        f"{confirmed} confirmed in {len(per_event)} events of {capacity} seats; events at fault: {unfair or 'none'}",
    )

    event = manifest["consultation_event"]
    doubles = await _scalar(
        "SELECT count(*) AS n FROM (SELECT slot FROM registration WHERE slot IS NOT NULL "
        "AND status NOT IN ('cancelled', 'rejected') GROUP BY slot HAVING count(*) > 1) AS d"
    )
    bookings = await _scalar(
        "SELECT count(*) AS n FROM registration WHERE event = {} AND slot IS NOT NULL "
        "AND status NOT IN ('cancelled', 'rejected')",
        event,
    )
    booked = await _scalar("SELECT count(*) AS n FROM slot WHERE event = {} AND status = 'booked'", event)
    check(
        "slot storm: no double booking",
        doubles == 0 and bookings == booked and args.booked <= bookings <= args.booked + args.connections,
        f"{args.booked} × 201, {bookings} bookings, {booked} slots booked, {doubles} slots booked twice",
    )
    return checks


# Feed build ---------------------------------------------------------------------------------


def _clear_caches(*modules: Any) -> None:
    """Every memoised function (functools caches) of these modules."""
    for module in modules:
        for value in vars(module).values():
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()


def _clear_feed_caches() -> None:
    """Cold: nothing of the feed builder's own caches (the serialised VEVENTs) survives, as after
    every event changed; the zone rules, computed once per zone and year, stay."""
    from events.calendar import ics

    _clear_caches(ics)


def _clear_all_calendar_caches() -> None:
    """Fresh: also the zone rules, as in the first build of a new process."""
    from events.calendar import ics, timezones

    _clear_caches(ics, timezones)


async def _median_ms(action: Callable[[], Any], runs: int, clear: Callable[[], None] | None) -> float:
    timings = []
    for _ in range(runs):
        if clear:
            clear()
        started = time.perf_counter()
        result = action()
        if asyncio.iscoroutine(result):
            await result
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def feed_build(manifest: dict[str, Any], runs: int) -> dict[str, Any]:
    """The builder alone (rows already loaded) and the whole service call, cold and warm."""
    from events.calendar.ics import build_feed
    from events.services import feeds
    from events.services.feeds import FeedQuery

    query = FeedQuery(scope="organisation", key=manifest["main_organisation"], lang="nl")
    rows = await feeds.feed_rows(query)
    items = [feeds._item(row, "nl") for row in rows]

    def builder() -> bytes:
        return build_feed("Trefpunt", items, calendar_uid="feed-bench@trefpunt", refresh=feeds.REFRESH)

    return {
        "events": len(items),
        "runs": runs,
        "builder_fresh_ms": await _median_ms(builder, runs, _clear_all_calendar_caches),
        "builder_cold_ms": await _median_ms(builder, runs, _clear_feed_caches),
        "builder_warm_ms": await _median_ms(builder, runs, None),
        "service_cold_ms": await _median_ms(lambda: feeds.build(query), runs, _clear_feed_caches),
        "service_warm_ms": await _median_ms(lambda: feeds.build(query), runs, None),
    }


# Mail delivery ------------------------------------------------------------------------------


class OneConnectionPerMessage:
    """The naive transport the batched one is compared with: connect, send, quit, each time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def send(self, message: EmailMessage, recipient: str) -> None:
        try:
            await self.inner.send(message, recipient)
        finally:
            await self.inner.close()

    async def close(self) -> None:
        await self.inner.close()


async def _invite_template(manifest: dict[str, Any], tag: str) -> dict[str, Any]:
    """A real queued invitation (with its ICS), made by the registration service if needed."""
    from events.services.registrations import RegistrationInput, register
    from events.tables import OutboxMessage

    template = await OutboxMessage.select().where(OutboxMessage.ics != "").order_by(OutboxMessage.id).first()
    if template is None:
        person = RegistrationInput(name="Bench Mail", email=f"mail-{tag}@bench.example", language="nl")
        await register(manifest["event_page"], person)
        template = await OutboxMessage.select().where(OutboxMessage.ics != "").order_by(OutboxMessage.id).first()
    assert template is not None, "the registration service queued no invitation"
    return template


async def _queue_copies(template: dict[str, Any], count: int, tag: str) -> None:
    import base64

    from events.mail.message import CHECK_IN_CID
    from events.tables import OutboxMessage

    now = datetime.now(UTC)
    keep = {k: v for k, v in template.items() if k != "id"}
    found = CHECK_IN_CID.search(template["html_body"])
    for start in range(0, count, 250):
        copies = []
        for number in range(start, min(start + 250, count)):
            unique = f"{tag}-{number}-{uuid.uuid4().hex[:8]}"
            bodies = {}
            if found:  # each copy its own check-in code, so each draws its own QR code as in real life
                code = f"{number + 1}-{base64.b32encode(uuid.uuid4().bytes).decode()[:8]}"
                bodies = {key: template[key].replace(found.group(2), code) for key in ("html_body", "text_body")}
            values = {
                **keep,
                **bodies,
                "dedupe_key": f"bench:{unique}",
                "message_id": f"<bench-{unique}@trefpunt.bench>",
                "recipient": f"mail-{unique}@bench.example",
                "status": "queued",
                "attempts": 0,
                "next_attempt_at": now,
                "lease_until": None,
                "last_error": "",
                "created_at": now,
                "sent_at": None,
            }
            copies.append(OutboxMessage(**values))
        await OutboxMessage.insert(*copies)


async def _drain(transport_factory: Callable[[], Any] | None) -> int:
    from events.mail.worker import WorkerConfig, drain_once

    config = WorkerConfig()
    handled = 0
    while True:
        transport = transport_factory() if transport_factory else None
        count = await drain_once(config, transport)
        if count == 0:
            return handled
        handled += count


async def mail_delivery(manifest: dict[str, Any], args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from events.mail.worker import make_transport
    from events.settings import get_settings
    from events.tables import OutboxMessage

    template = await _invite_template(manifest, args.storm_tag)
    queued = await OutboxMessage.count().where(OutboxMessage.status == "queued")
    await _queue_copies(template, max(args.mails - queued, 0), f"{args.storm_tag}-b")
    batch_size = await OutboxMessage.count().where(OutboxMessage.status == "queued")
    started = time.perf_counter()
    batched = await _drain(None)
    batched_s = time.perf_counter() - started

    await _queue_copies(template, args.single_mails, f"{args.storm_tag}-s")
    settings = get_settings()
    started = time.perf_counter()
    single = await _drain(lambda: OneConnectionPerMessage(make_transport(settings)))
    single_s = time.perf_counter() - started

    rows = await OutboxMessage.select(OutboxMessage.message_id, OutboxMessage.status)
    by_status = Counter(row["status"] for row in rows)
    sent_ids = Counter(row["message_id"] for row in rows if row["status"] == "sent")
    received = Counter(line.split(" ", 1)[0] for line in Path(args.sink_log).read_text().splitlines() if line)
    twice = sum(1 for count in received.values() if count > 1)
    missing = sum(1 for message_id in sent_ids if message_id not in received)
    unknown = sum(1 for message_id in received if message_id not in sent_ids)
    ok = set(by_status) == {"sent"} and twice == 0 and missing == 0 and unknown == 0
    check = {
        "check": "every queued mail delivered exactly once",
        "ok": ok,
        "detail": f"outbox {dict(by_status)}; sink got {sum(received.values())} messages, "
        f"{twice} twice, {missing} missing, {unknown} unknown",
    }
    result = {
        "batched_messages": batched,
        "batched_queued": batch_size,
        "batched_seconds": batched_s,
        "batched_per_s": batched / batched_s if batched_s else 0.0,
        "single_messages": single,
        "single_seconds": single_s,
        "single_per_s": single / single_s if single_s else 0.0,
    }
    return result, check


# Phases -------------------------------------------------------------------------------------


async def run_phase(args: argparse.Namespace) -> dict[str, Any]:
    manifest = json.loads(args.manifest.read_text())
    counter = QueryCounter()
    async with database_pool():
        checks = await check_state(manifest, args)
        feed = await feed_build(manifest, args.feed_runs)
        mail, mail_check = await mail_delivery(manifest, args)
    queries = {}
    async with app_client() as client:
        for scenario in http_scenarios(manifest):
            if scenario.method == "get" and not scenario.if_none_match:
                cached = await time_requests(client, counter, scenario.path, runs=3)
                built = await time_requests(client, counter, scenario.path, runs=3, built=True)
                queries[scenario.name] = {"built": built["queries"], "cached": cached["queries"]}
    return {"checks": [*checks, mail_check], "queries": queries, "feed_build": feed, "mail": mail}


async def scale_phase(args: argparse.Namespace) -> dict[str, Any]:
    manifest = json.loads(args.manifest.read_text())
    counter = QueryCounter()
    results = {}
    async with app_client() as client:
        for name, path in scale_paths(manifest).items():
            results[name] = await time_requests(client, counter, path, runs=args.runs)
            # The same request when it has to build its response: the query and rendering cost.
            results[f"{name} (built)"] = await time_requests(client, counter, path, runs=args.runs, built=True)
    return {"counts": manifest["counts"], "paths": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["run", "scale"])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--storm-tag", default="bench")
    parser.add_argument("--posted", type=int, default=0, help="201 answers to the registrations storm")
    parser.add_argument("--booked", type=int, default=0, help="201 answers to the slot booking storm")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--mails", type=int, default=2000, help="queued messages for the batched delivery")
    parser.add_argument("--single-mails", type=int, default=200, help="messages sent one connection each")
    parser.add_argument("--sink-log", default="")
    parser.add_argument("--feed-runs", type=int, default=5)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    result = asyncio.run(run_phase(args) if args.phase == "run" else scale_phase(args))
    args.out.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
