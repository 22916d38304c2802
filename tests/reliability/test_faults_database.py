"""Database faults under a real `trefpunt serve`.

PostgreSQL (when the run uses it): the app reaches the database through `TcpProxy`, which cuts
every connection at each round trip of a registration's transaction in turn, refuses
connections for a while, or adds latency. A registration commits whole (with its outbox row)
or not at all, the client gets a 503 with `Retry-After` (never a 500 page with a traceback),
and the very next request succeeds without a restart.

SQLite: the database file lives on a small tmpfs that the test fills up (mounting needs root;
the test skips where that is not permitted). A registration then gets a 503 in the person's
language, nothing half-written, and works again once space is freed.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import USING_POSTGRES, LiveServer, run_cli, serving
from tests.integration.helpers import bearer, event_payload, make_event, make_organisation
from tests.reliability.faults import (
    TcpProxy,
    assert_no_traceback,
    assert_whole_or_nothing,
    fill_disk,
    register_over_http,
    small_tmpfs,
    through_proxy,
)

pytestmark = pytest.mark.serve

needs_postgres = pytest.mark.skipif(
    not USING_POSTGRES, reason="the proxy sits between the app and PostgreSQL; this run uses SQLite"
)


def _assert_503_with_retry_after(response: httpx.Response) -> None:
    assert response.status_code == 503, f"{response.status_code}: {response.text[:500]}"
    assert response.headers.get("retry-after", "").isdigit(), response.headers
    assert response.json()["detail"], response.text
    assert_no_traceback(response)


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[TcpProxy, LiveServer]]:
    """A serve whose every database connection passes through the proxy (no inline worker:
    only the requests of the test touch the database). The run's database: these tests look
    at rows, not at what a worker makes of them."""
    database_url = os.environ["DATABASE_URL"]
    upstream = urlsplit(database_url)
    with TcpProxy(upstream.port or 5432, upstream.hostname or "127.0.0.1", postgres=True) as proxy:
        with serving(
            "db-faults",
            DATABASE_URL=through_proxy(database_url, proxy.port),
            TREFPUNT_WORKER="off",
            TREFPUNT_RATE_LIMIT="off",
        ) as server:
            yield proxy, server


def _client(server: LiveServer, language: str = "en") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, timeout=30, headers={"Accept-Language": language})


@needs_postgres
async def test_a_connection_cut_at_any_round_trip_of_a_registration_commits_nothing_and_the_next_request_succeeds(
    proxied: tuple[TcpProxy, LiveServer],
) -> None:
    proxy, server = proxied
    _, org_id = await make_organisation("cut")
    event_id = await make_event(org_id, capacity=500)
    async with _client(server) as client:
        # Round trip 1, 2, … of the transaction in turn, until one armed cut is never reached
        # (the transaction had fewer round trips); the last round trip is its COMMIT.
        step = 0
        while True:
            step += 1
            assert step < 100, "a registration should not take 100 round trips"
            email = f"cut-{step}@cut.test"
            proxy.cut_at_step(step)
            cut = await register_over_http(client, event_id, email)
            if proxy.armed:
                proxy.cut_at_step(None)
                assert cut.status_code == 201, cut.text
                assert await assert_whole_or_nothing(email)
                break
            _assert_503_with_retry_after(cut)
            assert not await assert_whole_or_nothing(email), f"cut before round trip {step} was sent, yet committed"

            # The very next request succeeds: the pool replaced the cut connections by itself.
            started = time.monotonic()
            retried = await register_over_http(client, event_id, email)
            assert time.monotonic() - started < 10
            assert retried.status_code == 201, f"the retry of {email}: {retried.status_code} {retried.text}"
            assert await assert_whole_or_nothing(email)
    assert step > 3, f"a registration took {step - 1} round trips after BEGIN: the proxy does not see them"
    assert proxy.cuts >= step - 1


@needs_postgres
async def test_a_commit_cut_before_or_after_it_reaches_the_server_leaves_all_or_nothing_and_the_retry_tells_the_truth(
    proxied: tuple[TcpProxy, LiveServer],
) -> None:
    proxy, server = proxied
    _, org_id = await make_organisation("commit")
    event_id = await make_event(org_id, capacity=50)
    async with _client(server) as client:
        proxy.cut_at_commit()
        unsent = await register_over_http(client, event_id, "unsent@commit.test")
        assert not proxy.armed
        _assert_503_with_retry_after(unsent)
        assert not await assert_whole_or_nothing("unsent@commit.test")

        proxy.cut_at_commit(after_forwarding=True)  # the COMMIT goes out, its answer never comes back
        lost = await register_over_http(client, event_id, "lost@commit.test")
        assert not proxy.armed
        _assert_503_with_retry_after(lost)
        committed = await assert_whole_or_nothing("lost@commit.test")

        for email in ("unsent@commit.test", "lost@commit.test"):
            retried = await register_over_http(client, event_id, email)
            # Committed: the retry says so (and re-sends the private link); else it registers now.
            expected = 200 if email.startswith("lost") and committed else 201
            assert retried.status_code == expected, f"{email}: {retried.status_code} {retried.text}"
            assert await assert_whole_or_nothing(email)


@needs_postgres
async def test_while_the_database_is_unreachable_requests_get_503_at_once_and_succeed_when_it_is_back(
    proxied: tuple[TcpProxy, LiveServer],
) -> None:
    proxy, server = proxied
    _, org_id = await make_organisation("down")
    event_id = await make_event(org_id, capacity=50)
    async with _client(server) as client, _client(server, "nl") as dutch:
        assert (await client.get(f"/events/{event_id}")).status_code == 200
        proxy.down = True
        proxy.cut_all()
        try:
            started = time.monotonic()
            refused = await register_over_http(client, event_id, "refused@down.test")
            _assert_503_with_retry_after(refused)
            page = await dutch.get(f"/events/{event_id}")
            assert page.status_code == 503, page.status_code
            assert "Probeer het zo dadelijk opnieuw" in page.text, page.text[:1000]
            assert_no_traceback(page)
            assert (await client.get("/health")).status_code == 503
            assert time.monotonic() - started < 10, "an unreachable database must not hold requests"
        finally:
            proxy.down = False

        assert (await client.get("/health")).status_code == 200
        assert (await client.get(f"/events/{event_id}")).status_code == 200
        back = await register_over_http(client, event_id, "refused@down.test")
        assert back.status_code == 201, back.text
        assert await assert_whole_or_nothing("refused@down.test")


@needs_postgres
async def test_with_latency_on_every_database_round_trip_registrations_and_pages_still_succeed(
    proxied: tuple[TcpProxy, LiveServer],
) -> None:
    proxy, server = proxied
    _, org_id = await make_organisation("slow")
    event_id = await make_event(org_id, capacity=50)
    proxy.latency = 0.01
    try:
        async with _client(server) as client:
            answers = await asyncio.gather(
                *(register_over_http(client, event_id, f"p{i}@slow.test") for i in range(3)),
                client.get(f"/events/{event_id}"),
            )
    finally:
        proxy.latency = 0.0
    assert [a.status_code for a in answers] == [201] * 3 + [200], [a.text[:200] for a in answers]
    for i in range(3):
        assert await assert_whole_or_nothing(f"p{i}@slow.test")


# SQLite on a full disk ------------------------------------------------------------------------


def _sqlite_rows(path: Path, email: str) -> tuple[int, int]:
    """(registrations, their outbox rows) with this email, read straight from the file."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        regs = conn.execute("SELECT id FROM registration WHERE email_key = ?", (email,)).fetchall()
        mails = conn.execute(
            "SELECT count(*) FROM outbox_message WHERE registration IN (SELECT id FROM registration "
            "WHERE email_key = ?)",
            (email,),
        ).fetchone()[0]
    return len(regs), int(mails)


def _cli(database_url: str, *args: str) -> str:
    done = run_cli(*args, database_url=database_url, timeout=120)
    assert done.returncode == 0, f"trefpunt {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.skipif(USING_POSTGRES, reason="the disk of the SQLite file; PostgreSQL's disk is the server's")
async def test_on_a_full_disk_a_registration_gets_a_503_in_its_language_saves_nothing_and_works_again_later() -> None:
    with small_tmpfs("8m") as disk:
        path = disk / "trefpunt.sqlite3"
        url = f"sqlite:///{path}"
        _cli(url, "migrate")
        _cli(url, "create-organisation", "full-disk", "--name", "Full disk", "--email", "info@full-disk.example")
        token = _cli(url, "api-token", "--organisation", "full-disk").strip().splitlines()[-1]
        with serving("full-disk", DATABASE_URL=url, TREFPUNT_WORKER="off", TREFPUNT_RATE_LIMIT="off") as server:
            async with _client(server, "fr") as client:
                created = await client.post("/api/v1/events", json=event_payload(capacity=500), headers=bearer(token))
                assert created.status_code == 201, created.text
                event_id = created.json()["id"]
                published = await client.post(f"/api/v1/events/{event_id}/publish", headers=bearer(token))
                assert published.status_code == 200, published.text
                assert (await register_over_http(client, event_id, "before@full.test")).status_code == 201

                filler = fill_disk(disk)
                confirmed: list[str] = []
                refused: httpx.Response | None = None
                # The WAL file reuses its own space for a while: the first writes may still fit.
                for i in range(60):
                    email = f"p{i}@full.test"
                    answer = await register_over_http(client, event_id, email, language="fr")
                    if answer.status_code != 201:
                        refused = answer
                        break
                    confirmed.append(email)
                assert refused is not None, f"{len(confirmed)} registrations fitted on a full disk"
                _assert_503_with_retry_after(refused)
                assert "Rien n'a été enregistré" in refused.json()["detail"], refused.text
                assert _sqlite_rows(path, email) == (0, 0), "the refused registration left something behind"
                for done in ["before@full.test", *confirmed]:
                    assert _sqlite_rows(path, done) == (1, 1)
                page = await client.get(f"/events/{event_id}")
                assert page.status_code == 200, "reading goes on while the disk is full"

                filler.unlink()
                again = await register_over_http(client, event_id, email, language="fr")
                assert again.status_code == 201, again.text
                assert _sqlite_rows(path, email) == (1, 1)
