"""Several processes, one truth (RELIABILITY.md, "Capacity and concurrency"; README, "Running in
production").

On PostgreSQL with Redis: two real `trefpunt serve` processes (TREFPUNT_WORKER=off, each with a
var directory of its own, as on two machines) and two real `trefpunt worker` processes sending to
a real aiosmtpd server. A stampede split across both app processes — registrations for the last
seats with a waiting list, double submissions, cancellations, slot bookings, meeting requests and
accepts — must keep every invariant in the database, deliver each mail exactly once and never
answer 5xx. Rate limits, organiser sessions and cached pages are shared through Redis and the
database, so no process enforces a limit alone, forgets a sign-in or serves a stale page.

On SQLite: the same stampede, smaller, against one `trefpunt serve --workers 2` (two uvicorn
worker processes on one file, each with its inline outbox worker).

The app processes trust 127.0.0.1 as their reverse proxy (TREFPUNT_TRUSTED_PROXIES), and every
simulated person sends an X-Forwarded-For of their own, as nginx would add it: the per-client
registration limit then counts people, not the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

import httpx
import pytest

from events.web.auth import SESSION_COOKIE
from tests.conftest import VAR_DIR, free_port
from tests.consultations.helpers import Org, advisor, create_day, new_org, slot_rows, window
from tests.consultations.helpers import day as consultation_start
from tests.integration.helpers import csrf_from_html, event_payload, make_organiser, sign_in, unique_address
from tests.mail.conftest import ScriptedHandler, SmtpServer
from tests.networking.meetings_helpers import act, ask, member, networking_event, profile_ids
from tests.registrations.helpers import domain, rows_of, token_in
from tests.reliability.conftest import (
    Running,
    database_of_kind,
    redis_database,
    running,
    running_worker,
    wait_until_healthy,
)

pytestmark = pytest.mark.serve

CAPACITY = 5
TRUSTED_PROXY = "127.0.0.1"
# Registrations a client may send a minute (events/app.py, registration_rate_limits).
PER_CLIENT_LIMIT = 30
# The PostgreSQL stampede: distinct registrants, clicks of one person, people racing for four slots.
NEWCOMERS, DOUBLE_CLICKS, BOOKERS = 120, 10, 24


# Set-up -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Two app processes (`a`, `b`: base URLs), two workers and the SMTP server they send to."""

    a: str
    b: str
    smtp: SmtpServer


def _smtp_server() -> SmtpServer:
    server = SmtpServer(ScriptedHandler(), free_port())
    server.start()
    return server


@contextlib.contextmanager
def _app_process(name: str, *options: str, **env: str | None) -> Iterator[tuple[str, Running]]:
    """`trefpunt serve [options]` on a free loopback port with production settings (pool on) and `env`:
    (its URL, the process). Not waited for, so that several start at once (`wait_until_healthy`)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = {"BASE_URL": url, "TREFPUNT_DB_POOL": "on", "TREFPUNT_ALLOWED_HOSTS": None, **env}
    with running(name, "serve", "--host", "127.0.0.1", "--port", str(port), *options, **settings) as server:
        yield url, server


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """PostgreSQL, Redis, an SMTP server, two app processes and two workers, for this module."""
    with database_of_kind("postgresql", "multiprocess"), redis_database() as redis_url:
        smtp = _smtp_server()
        shared = {"SMTP_URL": smtp.url, "SMTP_TIMEOUT": "10"}
        app_env = {
            **shared,
            "REDIS_URL": redis_url,
            "TREFPUNT_WORKER": "off",
            "TREFPUNT_TRUSTED_PROXIES": TRUSTED_PROXY,
        }
        try:
            with (
                # A var directory each, as on two machines: nothing is shared through files.
                _app_process("multi-a", TREFPUNT_VAR_DIR=str(VAR_DIR / "machine-a"), **app_env) as a,
                _app_process("multi-b", TREFPUNT_VAR_DIR=str(VAR_DIR / "machine-b"), **app_env) as b,
                running_worker("multi-worker-1", **shared),
                running_worker("multi-worker-2", **shared),
            ):
                for url, server in (a, b):
                    wait_until_healthy(url, server)
                yield Cluster(a[0], b[0], smtp)
        finally:
            smtp.stop()


def from_client(address: str | None = None) -> dict[str, str]:
    """The header nginx adds for a request of the person at `address` (a fresh one by default)."""
    return {"X-Forwarded-For": address or unique_address()}


async def _info_session(client: httpx.AsyncClient, org: Org, capacity: int = CAPACITY) -> int:
    """A published info session with a waiting list, through the JSON API."""
    created = await client.post("/api/v1/events", json=event_payload(capacity=capacity), headers=org.auth)
    assert created.status_code == 201, created.text
    event_id = int(created.json()["id"])
    published = await client.post(f"/api/v1/events/{event_id}/publish", headers=org.auth)
    assert published.status_code == 200, published.text
    return event_id


async def _register(client: httpx.AsyncClient, event_id: int, email: str, address: str | None = None) -> httpx.Response:
    return await client.post(
        f"/api/v1/events/{event_id}/registrations",
        json={"name": f"Deelnemer {email.split('@')[0]}", "email": email, "language": "nl"},
        headers=from_client(address),
    )


Person = tuple[int, str]  # registration id, private token


async def _seated_and_waiting(
    clients: tuple[httpx.AsyncClient, ...], event_id: int, mail: str
) -> tuple[list[Person], list[Person]]:
    """Fill the event one by one: CAPACITY confirmed people (c0…) and three waiting (w0, w1, w2);
    returns (registration id, private token) pairs of each group."""
    people: dict[str, list[Person]] = {"c": [], "w": []}
    for prefix, count, status in (("c", CAPACITY, "confirmed"), ("w", 3, "waitlisted")):
        for i in range(count):
            answer = await _register(clients[i % len(clients)], event_id, f"{prefix}{i}@{mail}")
            assert answer.status_code == 201 and answer.json()["status"] == status, answer.text
            people[prefix].append((int(answer.json()["id"]), token_in(answer.json()["manage_url"])))
    return people["c"], people["w"]


@dataclasses.dataclass
class Answers:
    """Every response of a stampede, by what was asked."""

    by_kind: dict[str, list[httpx.Response]] = dataclasses.field(default_factory=dict)

    async def collect(self, kind: str, calls: Sequence[Awaitable[httpx.Response]]) -> list[httpx.Response]:
        responses = list(await asyncio.gather(*calls))
        self.by_kind.setdefault(kind, []).extend(responses)
        return responses

    def statuses(self, kind: str) -> Counter[int]:
        return Counter(r.status_code for r in self.by_kind.get(kind, []))

    def assert_no_server_error(self, busy_allowed: bool = False) -> None:
        """No 5xx; on SQLite a 503 "busy, retry" with Retry-After is allowed when `busy_allowed`."""
        for kind, responses in self.by_kind.items():
            for response in responses:
                if busy_allowed and response.status_code == 503:
                    assert response.headers.get("retry-after"), f"{kind}: a 503 without Retry-After"
                    continue
                assert response.status_code < 500, f"{kind}: {response.status_code} {response.text[:300]}"


# Invariants, read from the database ---------------------------------------------------------------


async def assert_capacity_and_waitlist_order(event_id: int) -> None:
    """Never over capacity (rows and counter agree), one active registration per email, and the
    waiting list promoted first come first served."""
    from events.tables import Event, Registration

    event = await Event.select(Event.capacity, Event.confirmed_count).where(Event.id == event_id).first()
    assert event is not None
    confirmed = await rows_of(event_id, "confirmed")
    assert len(confirmed) == event["confirmed_count"] <= event["capacity"], (len(confirmed), event)
    active = [r for r in await rows_of(event_id) if r["status"] in ("confirmed", "waitlisted")]
    emails = Counter(r["email_key"] for r in active)
    assert max(emails.values()) == 1, [e for e, n in emails.items() if n > 1]
    promoted = (
        await Registration.select(Registration.id, Registration.promoted_at)
        .where((Registration.event == event_id) & Registration.promoted_at.is_not_null())
        .order_by(Registration.id)
    )
    waiting = [r["id"] for r in await rows_of(event_id, "waitlisted")]
    assert all(p["id"] < min(waiting) for p in promoted) if waiting else True, "someone was promoted out of turn"
    times = [p["promoted_at"] for p in promoted]
    assert times == sorted(times), "the first waiting was the first promoted"


async def assert_one_booking_per_slot(event_id: int, slots: int) -> None:
    from events.tables import Registration, Slot

    bookings = await Registration.select(Registration.slot).where(
        (Registration.event == event_id) & (Registration.status == "confirmed")
    )
    per_slot = Counter(b["slot"] for b in bookings)
    assert None not in per_slot and max(per_slot.values()) == 1, per_slot
    booked = {s["id"] for s in await Slot.select(Slot.id).where((Slot.event == event_id) & (Slot.status == "booked"))}
    assert booked == set(per_slot), "a slot is booked exactly when it holds a confirmed booking"
    assert len(booked) == slots, f"all {slots} slots were taken, once each"


async def assert_nobody_in_two_meetings_at_once(event_id: int) -> int:
    """Accepted meetings: no profile in two that overlap in time, no table twice in a slot, and a
    seat for each of the two people; returns how many were accepted."""
    from events.tables import Meeting, MeetingSeat, MeetingSlot

    slots = {s["id"]: s for s in await MeetingSlot.select().where(MeetingSlot.event == event_id)}
    accepted = await Meeting.select().where((Meeting.event == event_id) & (Meeting.status == "accepted"))
    for i, first in enumerate(accepted):
        for second in accepted[i + 1 :]:
            one, other = slots[first["slot"]], slots[second["slot"]]
            if one["starts_at"] < other["ends_at"] and other["starts_at"] < one["ends_at"]:
                shared = {first["requester"], first["invitee"]} & {second["requester"], second["invitee"]}
                assert not shared, f"profiles {shared} are in meetings {first['id']} and {second['id']} at once"
                assert first["meeting_table"] != second["meeting_table"], "one table, two meetings at once"
    assert all(m["meeting_table"] is not None for m in accepted), "an accepted meeting has a table"
    seats = await MeetingSeat.select().where(MeetingSeat.meeting.is_in([m["id"] for m in accepted] or [0]))
    assert len(seats) == 2 * len(accepted)
    return len(accepted)


async def assert_every_mail_delivered_once(smtp: SmtpServer, timeout: float = 60) -> int:
    """Wait until the outbox is drained, then every outbox message reached the SMTP server exactly
    once (counted by Message-ID) and nothing else did; returns how many."""
    from events.tables import OutboxMessage

    deadline = time.monotonic() + timeout
    while True:
        pending = await OutboxMessage.count().where(OutboxMessage.status.is_in(["queued", "sending"]))
        if not pending:
            break
        assert time.monotonic() < deadline, f"{pending} mails still unsent after {timeout}s"
        await asyncio.sleep(0.25)
    rows = await OutboxMessage.select(OutboxMessage.message_id, OutboxMessage.status, OutboxMessage.last_error)
    failed = [r for r in rows if r["status"] != "sent"]
    assert not failed, failed[:3]
    await asyncio.sleep(0.5)  # a duplicate would arrive after its row was marked sent
    handler: ScriptedHandler = smtp.handler
    received = Counter(m.message_id for m in handler.accepted)
    expected = Counter(r["message_id"] for r in rows)
    assert received == expected, {
        "sent twice": [m for m, n in received.items() if n > 1][:5],
        "never arrived": list(expected - received)[:5],
        "unknown": list(received - expected)[:5],
    }
    return len(rows)


async def assert_registration_outcome(answers: Answers, event_id: int, people: dict[str, Any], newcomers: int) -> None:
    """After `stampede_with_cancellations`: the cancelled seats went to the first people waiting,
    in order; every newcomer waits; the double submission made one row and one mail."""
    from events.tables import OutboxMessage, Registration

    cancelled = [
        registration_id
        for (registration_id, _), response in zip(people["cancelling"], answers.by_kind["cancel"], strict=True)
        if response.status_code == 204
    ]
    statuses = await Registration.select(Registration.id, Registration.status).where(Registration.event == event_id)
    status_of = {r["id"]: r["status"] for r in statuses}
    assert [status_of[i] for i in cancelled] == ["cancelled"] * len(cancelled)
    # Each freed seat went to the waiting list in order; no newcomer overtook it.
    expected = [i for i, _ in people["seated"] if i not in cancelled] + [i for i, _ in people["waiting"]][
        : len(cancelled)
    ]
    assert sorted(i for i, s in status_of.items() if s == "confirmed") == sorted(expected)
    mail = people["mail"]
    rows = await rows_of(event_id)
    doubles = [r for r in rows if r["email_key"] == f"double@{mail}"]
    assert len(doubles) == 1, "identical submissions make one registration"
    registered_newcomers = {r["email_key"] for r in rows if r["email_key"].startswith("n")}
    created = answers.statuses("register")[201]
    assert len(registered_newcomers) + 1 == created, "every 201 is one row, and only they are"
    assert all(status_of[r["id"]] == "waitlisted" for r in rows if r["email_key"].startswith("n"))
    if not answers.statuses("register")[503]:
        assert len(registered_newcomers) == newcomers
    await assert_capacity_and_waitlist_order(event_id)
    first_mails = await OutboxMessage.count().where(
        (OutboxMessage.registration == doubles[0]["id"]) & OutboxMessage.kind.is_in(["invitation", "waitlisted"])
    )
    assert first_mails == 1, "one confirmation (here: waiting-list) mail for the double submission"


# The stampede ---------------------------------------------------------------------------------------


async def _cancel(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.delete(f"/api/v1/registrations/{token}")


async def stampede_with_cancellations(
    answers: Answers, clients: tuple[httpx.AsyncClient, ...], event_id: int, newcomers: int, doubles: int
) -> dict[str, Any]:
    """CAPACITY people confirmed and three waiting, one after the other; then at the same moment
    across `clients`: `newcomers` distinct people register, one person submits `doubles` times
    and two confirmed people cancel. Returns who was who."""
    mail = domain()
    seated, waiting = await _seated_and_waiting(clients, event_id, mail)
    cancelling = seated[:2]
    double_address = unique_address()
    await asyncio.gather(
        answers.collect(
            "register",
            [_register(clients[i % len(clients)], event_id, f"n{i}@{mail}") for i in range(newcomers)]
            + [
                _register(clients[i % len(clients)], event_id, f"double@{mail}", double_address) for i in range(doubles)
            ],
        ),
        answers.collect("cancel", [_cancel(clients[i % len(clients)], t) for i, (_, t) in enumerate(cancelling)]),
    )
    return {"mail": mail, "seated": seated, "waiting": waiting, "cancelling": cancelling}


async def _consultation_day(client: httpx.AsyncClient, org: Org) -> tuple[int, list[int]]:
    """A published day with two advisors of one hour each: four slots of 30 minutes."""
    start, mail = consultation_start(), domain()
    advisors = [advisor(f"Adviseur {i}", f"a{i}@{mail}", [window(start, 60)]) for i in range(2)]
    event_id = await create_day(client, org, advisors)
    return event_id, [s["id"] for s in await slot_rows(event_id)]


async def _networking(client: httpx.AsyncClient, org: Org, people: int) -> tuple[int, list[str], dict[str, int]]:
    """A networking event with two tables and four 15-minute slots, and `people` opted-in
    participants: (event, their tokens, profile ids by token)."""
    event_id, _ = await networking_event(client, org.slug, tables=["T1", "T2"], max_pending=50)
    tokens = [await member(client, event_id, f"Netwerker{i}") for i in range(people)]
    ids = await profile_ids(client, tokens[0])
    own = (await client.get(f"/api/v1/me/{tokens[0]}/profile")).json()
    ids[own["display_name"]] = own["id"]
    return event_id, tokens, {t: ids[f"Netwerker{i}"] for i, t in enumerate(tokens)}


# Tests ------------------------------------------------------------------------------------------------


async def test_one_sqlite_app_with_two_worker_processes_keeps_invariants_mails_and_sign_ins_under_a_stampede() -> None:
    """`trefpunt serve --workers 2` on SQLite without Redis, with a var directory that does not
    exist yet (SECRET_KEY comes from the environment): registrations racing with cancellations,
    and an organiser who stays signed in whichever process answers (sessions in var/sessions)."""
    with database_of_kind("sqlite", "serve-workers"):
        smtp = _smtp_server()
        env = {
            "SMTP_URL": smtp.url,
            "TREFPUNT_WORKER": "inline",  # an outbox worker in each of the two processes
            "TREFPUNT_TRUSTED_PROXIES": TRUSTED_PROXY,
            "TREFPUNT_VAR_DIR": str(VAR_DIR / f"fresh-{secrets.token_hex(3)}" / "var"),
            "REDIS_URL": None,
        }
        try:
            with _app_process("sqlite-workers", "--workers", "2", **env) as (url, server):
                wait_until_healthy(url, server)
                org = await new_org("sqlite-workers")
                organiser = await make_organiser(org.slug, "owner")
                answers = Answers()
                async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                    event_id = await _info_session(client, org)
                    people = await stampede_with_cancellations(answers, (client,), event_id, newcomers=30, doubles=5)
                async with httpx.AsyncClient(base_url=url, timeout=30, headers=from_client()) as browser:
                    signed_in = await sign_in(browser, organiser)
                    assert signed_in.status_code == 303, signed_in.text
                    back_office = [(await browser.get("/admin")).status_code for _ in range(6)]
                answers.assert_no_server_error(busy_allowed=True)
                assert set(answers.statuses("register")) <= {200, 201, 503}, answers.statuses("register")
                assert set(answers.statuses("cancel")) <= {204, 503}, answers.statuses("cancel")
                await assert_registration_outcome(answers, event_id, people, newcomers=30)
                await assert_every_mail_delivered_once(smtp)
                assert back_office == [200] * 6, "signed in on every request, whichever process answers"
                started = [line for line in server.output().splitlines() if "Started server process" in line]
                assert len(started) == 2, f"two app processes served:\n{server.output()}"
        finally:
            smtp.stop()


async def test_two_app_processes_and_two_workers_on_postgresql_keep_every_invariant_under_a_stampede(
    cluster: Cluster,
) -> None:
    org = await new_org("stampede")
    answers = Answers()
    async with (
        httpx.AsyncClient(base_url=cluster.a, timeout=60) as a,
        httpx.AsyncClient(base_url=cluster.b, timeout=60) as b,
    ):
        clients = (a, b)
        info_id = await _info_session(a, org)
        day_id, slots = await _consultation_day(b, org)
        network_id, tokens, profile = await _networking(a, org, people=8)
        meeting_slot = (await a.get(f"/api/v1/me/{tokens[0]}/meeting-slots")).json()[0]["id"]
        mail = domain()

        async def book(i: int) -> httpx.Response:
            return await clients[i % 2].post(
                f"/api/v1/slots/{slots[i % len(slots)]}/booking",
                json={"name": f"Ondernemer {i}", "email": f"b{i}@{mail}", "language": "nl"},
                headers=from_client(),
            )

        # Everyone asks the next three people for a meeting in the first slot.
        asks = [(i, (i + k) % 8) for i in range(8) for k in (1, 2, 3)]
        people, requested, _ = await asyncio.gather(
            stampede_with_cancellations(answers, clients, info_id, newcomers=NEWCOMERS, doubles=DOUBLE_CLICKS),
            answers.collect(
                "request meeting",
                [ask(clients[n % 2], tokens[i], profile[tokens[j]], meeting_slot) for n, (i, j) in enumerate(asks)],
            ),
            answers.collect("book", [book(i) for i in range(BOOKERS)]),
        )
        # Then every invitee accepts every request at once: overlapping people, two tables.
        invitee_of = {
            r.json()["id"]: tokens[j] for r, (_, j) in zip(requested, asks, strict=True) if r.status_code == 201
        }
        await answers.collect(
            "accept",
            [act(clients[n % 2], token, meeting, "accept") for n, (meeting, token) in enumerate(invitee_of.items())],
        )

    answers.assert_no_server_error()
    assert answers.statuses("register") == Counter({201: NEWCOMERS + 1, 200: DOUBLE_CLICKS - 1}), answers.statuses(
        "register"
    )
    assert answers.statuses("cancel") == Counter({204: 2})
    assert answers.statuses("book") == Counter({201: len(slots), 409: BOOKERS - len(slots)})
    assert answers.statuses("request meeting") == Counter({201: len(asks)}), answers.statuses("request meeting")
    assert set(answers.statuses("accept")) <= {200, 409}
    await assert_registration_outcome(answers, info_id, people, newcomers=NEWCOMERS)
    await assert_one_booking_per_slot(day_id, len(slots))
    accepted = await assert_nobody_in_two_meetings_at_once(network_id)
    assert accepted == answers.statuses("accept")[200] == 2, "both tables used, each once"
    await assert_every_mail_delivered_once(cluster.smtp)


# Shared stores ------------------------------------------------------------------------------------


async def test_the_per_client_registration_limit_of_30_a_minute_holds_across_both_app_processes(
    cluster: Cluster,
) -> None:
    """20 registrations to each process from one person: with per-process stores each would
    allow all 20; shared through Redis, the 31st and later are refused wherever they arrive."""
    org = await new_org("limit")
    address, mail = unique_address(), domain()
    async with (
        httpx.AsyncClient(base_url=cluster.a, timeout=30) as a,
        httpx.AsyncClient(base_url=cluster.b, timeout=30) as b,
    ):
        event_id = await _info_session(a, org, capacity=100)
        # 20 at once to A, then 20 at once to B. (Within one process the limit is checked under a
        # lock; two processes racing on one client's counter could both read it before either
        # writes it, so the exact count needs the two bursts one after the other.)
        first = await asyncio.gather(*(_register(a, event_id, f"a{i}@{mail}", address) for i in range(20)))
        second = await asyncio.gather(*(_register(b, event_id, f"b{i}@{mail}", address) for i in range(20)))

    assert Counter(r.status_code for r in first) == Counter({201: 20})
    assert Counter(r.status_code for r in second) == Counter({201: 10, 429: 10}), "B counts what A let through"
    refused = [r for r in second if r.status_code == 429]
    assert all(0 < int(r.headers["Retry-After"]) <= 60 for r in refused), "a 429 says when to come back"
    assert len(await rows_of(event_id)) == PER_CLIENT_LIMIT


async def test_x_forwarded_for_counts_only_from_the_trusted_proxy_address(cluster: Cluster) -> None:
    """The app processes trust 127.0.0.1 only. From 127.0.0.2, a client that invents a new
    X-Forwarded-For for every request is still one client, limited as one. (Through 127.0.0.1,
    the stampede's 130 registrations pass as the people its header names.)"""
    org = await new_org("spoof")
    mail = domain()
    untrusted = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with (
        httpx.AsyncClient(base_url=cluster.a, timeout=30) as proxy,
        httpx.AsyncClient(base_url=cluster.b, timeout=30, transport=untrusted) as spoofer,
    ):
        event_id = await _info_session(proxy, org, capacity=100)
        spoofed = await asyncio.gather(
            *(_register(spoofer, event_id, f"s{i}@{mail}") for i in range(PER_CLIENT_LIMIT + 5))
        )

    assert Counter(r.status_code for r in spoofed) == Counter({201: PER_CLIENT_LIMIT, 429: 5})


async def test_an_organiser_signed_in_on_one_app_process_is_signed_in_on_the_other_and_signs_out_everywhere(
    cluster: Cluster,
) -> None:
    slug = (await new_org("session")).slug
    email = await make_organiser(slug, "owner")
    address = unique_address()
    async with (
        httpx.AsyncClient(base_url=cluster.a, timeout=30, headers=from_client(address)) as a,
        httpx.AsyncClient(base_url=cluster.b, timeout=30, headers=from_client(address)) as b,
    ):
        signed_in = await sign_in(a, email)
        assert signed_in.status_code == 303, signed_in.text
        session = a.cookies.get(SESSION_COOKIE)
        assert session, "signing in sets the session cookie"
        assert (await b.get("/admin")).status_code in (302, 303, 401), "no session, no back office"

        b.cookies.set(SESSION_COOKIE, session)
        on_b = await b.get("/admin")
        assert on_b.status_code == 200, (on_b.status_code, on_b.headers.get("location"))
        assert slug in on_b.text, "process B shows the organisation of the organiser who signed in on A"

        page = await b.get("/admin")
        signed_out = await b.post("/logout", data={"_csrf_token": csrf_from_html(page.text)})
        assert signed_out.status_code == 303
        after = await a.get("/admin")
        assert after.status_code in (302, 303, 401), "signing out on B ends the session on A too"


async def test_no_app_process_serves_a_stale_page_feed_or_list_after_another_process_changed_the_event(
    cluster: Cluster,
) -> None:
    org = await new_org("cache")
    old, new = f"Microkrediet {secrets.token_hex(3)}", f"Groeikrediet {secrets.token_hex(3)}"
    english = {"Accept-Language": "en"}
    async with (
        httpx.AsyncClient(base_url=cluster.a, timeout=30, headers=english) as a,
        httpx.AsyncClient(base_url=cluster.b, timeout=30, headers=english) as b,
    ):
        created = await a.post(
            "/api/v1/events", json=event_payload(title={"nl": old, "fr": old, "en": old}), headers=org.auth
        )
        event_id = created.json()["id"]
        assert (await a.post(f"/api/v1/events/{event_id}/publish", headers=org.auth)).status_code == 200
        views = [
            f"/events/{event_id}",
            "/events",
            f"/api/v1/events/{event_id}",
            f"/events/{event_id}/calendar.ics?lang=en",
            f"/organisations/{org.slug}/calendar.ics?lang=en",
        ]
        for client in (a, b, a, b):  # twice on each: the second answer comes from the cache
            for view in views:
                seen = await client.get(view)
                assert seen.status_code == 200 and old in seen.text, (view, seen.status_code)

        changed = await b.patch(
            f"/api/v1/events/{event_id}", json={"title": {"nl": new, "fr": new, "en": new}}, headers=org.auth
        )
        assert changed.status_code == 200, changed.text

        for client in (a, b):
            for view in views:
                seen = await client.get(view)
                assert seen.status_code == 200, (view, seen.status_code)
                assert new in seen.text and old not in seen.text, f"{client.base_url}{view} is stale"
