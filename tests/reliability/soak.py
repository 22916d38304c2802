"""`make soak` (`python -m tests.reliability.soak`): the soak test of issue 10.

Loads the benchmark's data set (tests/bench/dataset.py, a small scale) into a fresh database of
the run's kind (SQLite by default; a PostgreSQL DATABASE_URL selects a throw-away database on
that server), starts one real `trefpunt serve` with the inline worker and the benchmark's SMTP
sink (tests/bench/smtp_sink.py) as its mail server, and drives it for SOAK_MINUTES (default 30)
with several client threads of mixed traffic: public pages, feeds, JSON reads, registrations
and their cancellations, slot bookings and their cancellations, organiser API reads and
back-office pages of a signed-in organiser.

Every 10 s it samples the server process's RSS (/proc/<pid>/status) and open file descriptors
(/proc/<pid>/fd); every request's latency is kept per minute. It prints one row per minute and
a verdict, writes everything to var/soak.json (SOAK_OUT to change), and exits 1 when a
criterion fails:

- memory flat: the average RSS of the last 5 minutes is within +10 % of the baseline's, the
  5 minutes after the first third of the run (minutes 10–15 of 30: the bounded caches are full);
- open files flat: the average fd count of the last 5 minutes is within +20 of the baseline's;
- latency flat: the p99 of every minute after the first is within 2× the first minute's;
- no 500 answers and no transport errors (503 with Retry-After is allowed and counted).

For runs of 10–20 minutes the baseline is minutes 3–5; shorter than 10 minutes, the windows
shrink proportionally (baseline: 20–50 % of the
run, last: the second half) so a trial run still gives a verdict.

Environment: SOAK_MINUTES (default 30), SOAK_CLIENTS (default 8), SOAK_THINK_MS (pause of each
client between requests, default 40), SOAK_OUT, DATABASE_URL.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.bench.__main__ import (
    DEFAULT_POSTGRES,
    Config,
    bench_env,
    database,
    free_port,
    load_data,
    postgres_reachable,
    serving,
    smtp_sink,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLE_SECONDS = 10.0
ORGANISER_EMAIL = "soak@depunt.example"
ORGANISER_PASSWORD = "soak-test-password-" + "x" * 8
# Data set size: big enough that lists and feeds do real work, small enough to load in seconds.
EVENTS, REGISTRATIONS, IN_WINDOW = 600, 12_000, 120


# Measurements ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    at: float  # seconds since the start of the traffic
    action: str
    status: int  # 0: transport error
    ms: float


@dataclass
class Sample:
    at: float
    rss_mb: float
    fds: int


@dataclass
class Traffic:
    """What every client thread appends to (list.append is atomic under the GIL)."""

    started: float
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def process_sample(pid: int, at: float) -> Sample:
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return Sample(at, rss, len(os.listdir(f"/proc/{pid}/fd")))


def sample_loop(pid: int, traffic: Traffic, samples: list[Sample], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            samples.append(process_sample(pid, time.monotonic() - traffic.started))
        except OSError as exc:
            traffic.problems.append(f"sampling failed: {exc}")
            return
        stop.wait(SAMPLE_SECONDS)


# Traffic --------------------------------------------------------------------------------------


class Client:
    """One simulated user agent: picks a weighted random action, times it, pauses, repeats."""

    def __init__(self, base: str, manifest: dict[str, Any], traffic: Traffic, seed: int, think: float) -> None:
        self.http = httpx.Client(base_url=base, timeout=30, headers={"Accept-Language": "nl"})
        self.manifest = manifest
        self.traffic = traffic
        self.rng = random.Random(seed)
        self.think = think
        self.registrations: list[str] = []  # private tokens to cancel later
        self.bookings: list[str] = []
        self.signed_in = False
        bearer = {"Authorization": f"Bearer {manifest['api_token']}"}
        event_page = manifest["event_page"]
        consultation = manifest["consultation_event"]
        org = manifest["main_organisation"]
        self.actions: list[tuple[str, int, Callable[[], httpx.Response | None]]] = [
            ("page /events", 10, lambda: self.http.get("/events")),
            ("page /events filtered", 4, lambda: self.http.get(manifest["filtered_events"])),
            ("page event", 8, lambda: self.http.get(f"/events/{event_page}")),
            ("page open event", 4, lambda: self.http.get(f"/events/{self.open_event()}")),
            ("page consultation day", 3, lambda: self.http.get(f"/events/{consultation}")),
            ("feed all", 5, lambda: self.http.get("/calendar.ics")),
            ("feed organisation", 4, lambda: self.http.get(f"/organisations/{org}/calendar.ics")),
            ("feed event", 3, lambda: self.http.get(f"/events/{event_page}/calendar.ics")),
            ("feed personal", 2, lambda: self.http.get(f"/me/{manifest['feed_token']}/calendar.ics")),
            ("api events", 6, lambda: self.http.get("/api/v1/events")),
            ("api event", 4, lambda: self.http.get(f"/api/v1/events/{self.open_event()}")),
            ("api slots", 3, lambda: self.http.get(f"/api/v1/events/{consultation}/slots")),
            (
                "api registrations (organiser)",
                2,
                lambda: self.http.get(f"/api/v1/events/{self.open_event()}/registrations", headers=bearer),
            ),
            ("register", 6, self.register),
            ("cancel registration", 5, self.cancel_registration),
            ("book slot", 3, self.book),
            ("cancel booking", 3, self.cancel_booking),
            ("admin dashboard", 2, lambda: self.admin("/admin")),
            ("admin attendees", 2, lambda: self.admin(f"/admin/events/{self.open_event()}/attendees")),
            ("admin day", 1, lambda: self.admin(f"/admin/events/{consultation}/day")),
            ("admin mail log", 1, lambda: self.admin("/admin/mail")),
            ("health", 1, lambda: self.http.get("/health")),
        ]
        self.weights = [weight for _, weight, _ in self.actions]

    def open_event(self) -> int:
        return int(self.rng.choice(self.manifest["open_events"]))

    def person(self) -> dict[str, str]:
        tag = uuid.uuid4().hex[:12]
        return {"name": f"Soak {tag}", "email": f"soak-{tag}@people.example", "language": "nl"}

    @staticmethod
    def token_of(response: httpx.Response) -> str | None:
        if response.status_code != 201:
            return None
        url = str(response.json().get("manage_url", ""))
        return url.rstrip("/").rsplit("/", 1)[-1] or None

    def register(self) -> httpx.Response:
        response = self.http.post(f"/api/v1/events/{self.open_event()}/registrations", json=self.person())
        token = self.token_of(response)
        if token:
            self.registrations.append(token)
        return response

    def cancel_registration(self) -> httpx.Response | None:
        if not self.registrations:
            return None
        token = self.registrations.pop(self.rng.randrange(len(self.registrations)))
        return self.http.delete(f"/api/v1/registrations/{token}")

    def book(self) -> httpx.Response:
        slot = self.rng.choice(self.manifest["slots"])
        response = self.http.post(f"/api/v1/slots/{slot}/booking", json=self.person())
        token = self.token_of(response)
        if token:
            self.bookings.append(token)
        return response

    def cancel_booking(self) -> httpx.Response | None:
        if not self.bookings:
            return None
        return self.http.delete(f"/api/v1/registrations/{self.bookings.pop(0)}")

    def sign_in(self) -> None:
        page = self.http.get("/login")
        match = re.search(r'name="_csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="_csrf_token"', page.text)
        if not match:
            raise RuntimeError("the login page has no CSRF token")
        form = {
            "email": ORGANISER_EMAIL,
            "password": ORGANISER_PASSWORD,
            "_csrf_token": match.group(1) or match.group(2),
        }
        answer = self.http.post("/login", data=form)
        if answer.status_code != 303:
            raise RuntimeError(f"sign-in failed: {answer.status_code}")
        self.signed_in = True

    def admin(self, path: str) -> httpx.Response:
        if not self.signed_in:
            self.sign_in()
        return self.http.get(path)

    def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            name, _, action = self.rng.choices(self.actions, weights=self.weights)[0]
            started = time.monotonic()
            try:
                response = action()
            except (httpx.HTTPError, RuntimeError) as exc:
                self.record(name, 0, started)
                self.traffic.problems.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            if response is None:
                continue
            self.record(name, response.status_code, started)
            if response.status_code >= 500 and response.status_code != 503:
                self.traffic.problems.append(f"{name}: {response.status_code} {response.text[:200]}")
            time.sleep(self.think * self.rng.uniform(0.5, 1.5))
        self.http.close()

    def record(self, name: str, status: int, started: float) -> None:
        now = time.monotonic()
        self.traffic.outcomes.append(Outcome(now - self.traffic.started, name, status, (now - started) * 1000))


# Analysis -------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def minute_rows(traffic: Traffic, samples: list[Sample], minutes: int) -> list[dict[str, Any]]:
    rows = []
    for minute in range(minutes):
        outcomes = [o for o in traffic.outcomes if minute * 60 <= o.at < (minute + 1) * 60]
        taken = [s for s in samples if minute * 60 <= s.at < (minute + 1) * 60]
        latencies = [o.ms for o in outcomes if o.status]
        rows.append(
            {
                "minute": minute + 1,
                "requests": len(outcomes),
                "p50_ms": percentile(latencies, 0.50),
                "p99_ms": percentile(latencies, 0.99),
                "max_ms": max(latencies, default=0.0),
                "status_500": sum(1 for o in outcomes if o.status >= 500 and o.status != 503),
                "status_503": sum(1 for o in outcomes if o.status == 503),
                "transport_errors": sum(1 for o in outcomes if o.status == 0),
                "rss_mb": statistics.fmean(s.rss_mb for s in taken) if taken else 0.0,
                "fds": statistics.fmean(s.fds for s in taken) if taken else 0.0,
            }
        )
    return rows


def windows(total: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(baseline, last) in seconds. From 20 minutes on: the 5 minutes after the first third and
    the last 5 minutes. The app's caches are bounded (20,000 VEVENTs, the page cache by bytes) but
    take the first ten-odd minutes of this traffic to fill, and that is warm-up, not a leak;
    what must not happen is growth after that. Shorter runs: minutes 3–5, or shrunk further."""
    if total >= 1200:
        return (total / 3, total / 3 + 300), (total - 300, total)
    if total >= 600:
        return (120.0, 300.0), (total - 300, total)
    return (0.2 * total, 0.5 * total), (0.5 * total, total)


def verdict(traffic: Traffic, samples: list[Sample], rows: list[dict[str, Any]], total: float) -> dict[str, Any]:
    (b0, b1), (l0, l1) = windows(total)
    base = [s for s in samples if b0 <= s.at < b1]
    last = [s for s in samples if l0 <= s.at <= l1]
    criteria: dict[str, Any] = {}
    if base and last:
        base_rss, last_rss = statistics.fmean(s.rss_mb for s in base), statistics.fmean(s.rss_mb for s in last)
        base_fds, last_fds = statistics.fmean(s.fds for s in base), statistics.fmean(s.fds for s in last)
        criteria["memory flat"] = {
            "ok": last_rss <= base_rss * 1.10,
            "detail": f"last {last_rss:.1f} MB vs baseline {base_rss:.1f} MB ({(last_rss / base_rss - 1) * 100:+.1f} %,"
            " limit +10 %)",
        }
        criteria["open files flat"] = {
            "ok": last_fds <= base_fds + 20,
            "detail": f"last {last_fds:.1f} vs baseline {base_fds:.1f} ({last_fds - base_fds:+.1f}, limit +20)",
        }
    else:
        criteria["memory flat"] = criteria["open files flat"] = {"ok": False, "detail": "too few samples"}
    first = rows[0]["p99_ms"] if rows else 0.0
    slow = [row["minute"] for row in rows[1:] if row["requests"] and row["p99_ms"] > 2 * first]
    worst = max((row["p99_ms"] for row in rows[1:]), default=0.0)
    criteria["p99 flat"] = {
        "ok": bool(rows) and not slow,
        "detail": f"first minute p99 {first:.1f} ms, worst later minute {worst:.1f} ms (limit {2 * first:.1f} ms)"
        + (f"; over the limit in minute(s) {slow}" if slow else ""),
    }
    errors = sum(row["status_500"] + row["transport_errors"] for row in rows)
    criteria["no 500s or transport errors"] = {
        "ok": errors == 0,
        "detail": f"{errors} (503s: {sum(row['status_503'] for row in rows)})"
        + (f"; first: {traffic.problems[:3]}" if traffic.problems else ""),
    }
    return criteria


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'min':>3} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'500':>4} {'503':>4} "
    header += f"{'conn':>4} {'RSS MB':>7} {'fds':>5}"
    print(header)
    for row in rows:
        print(
            f"{row['minute']:>3} {row['requests']:>8} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
            f"{row['max_ms']:>8.0f} "
            f"{row['status_500']:>4} {row['status_503']:>4} {row['transport_errors']:>4} {row['rss_mb']:>7.1f} "
            f"{row['fds']:>5.0f}"
        )


# The run --------------------------------------------------------------------------------------


def create_organiser(env: dict[str, str], log: Path) -> None:
    command = [str(BIN / "trefpunt"), "create-organiser", ORGANISER_EMAIL, "--organisation", "depunt"]
    command += ["--role", "editor", "--password-stdin"]
    with log.open("ab") as out:
        subprocess.run(
            command, cwd=ROOT, env=env, input=ORGANISER_PASSWORD.encode(), stdout=out, stderr=subprocess.STDOUT,
            check=True, timeout=120,
        )  # fmt: skip


def soak(minutes: float, clients: int, think: float, out: Path) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = ROOT / "var" / "soak" / stamp
    work.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DATABASE_URL", "")
    kind = "postgresql" if database_url.startswith(("postgres://", "postgresql://")) else "sqlite"
    postgres = database_url if kind == "postgresql" else DEFAULT_POSTGRES
    if kind == "postgresql" and (why := postgres_reachable(postgres)):
        print(f"PostgreSQL at DATABASE_URL is unreachable: {why}", file=sys.stderr)
        return 1
    config = Config(1.0, 0, (kind,), postgres, out, work)
    secret = secrets.token_urlsafe(32)
    total = minutes * 60
    with database(kind, config, "soak") as url:
        port, smtp_port = free_port(), free_port()
        env = bench_env(url, work / "var", port, secret)
        log = work / "soak.log"
        load_data(env, log, work / "manifest.json", EVENTS, REGISTRATIONS, IN_WINDOW)
        manifest = json.loads((work / "manifest.json").read_text())
        create_organiser(env, log)
        env.update(TREFPUNT_WORKER="inline", SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", SMTP_TIMEOUT="10")
        sink_log = work / "smtp.log"
        print(
            f"soak: {kind}, {minutes:g} min, {clients} clients, data {manifest['counts']}, work dir {work}", flush=True
        )
        with smtp_sink(smtp_port, sink_log, env), serving(env, port, work / "serve.log") as server:
            traffic = Traffic(started=time.monotonic())
            samples: list[Sample] = []
            stop = threading.Event()
            sampler = threading.Thread(target=sample_loop, args=(server.pid, traffic, samples, stop), daemon=True)
            sampler.start()
            deadline = traffic.started + total
            base = f"http://127.0.0.1:{port}"
            threads = [
                threading.Thread(target=Client(base, manifest, traffic, seed, think).run, args=(deadline,))
                for seed in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            stop.set()
            sampler.join()
            # A last sample after the traffic, for the record (not part of the windows).
            final = process_sample(server.pid, time.monotonic() - traffic.started)
            if server.poll() is not None:
                traffic.problems.append(f"the server exited with {server.returncode}")
        delivered = len(sink_log.read_text().splitlines()) if sink_log.exists() else 0

    rows = minute_rows(traffic, samples, max(1, round(total / 60)))
    criteria = verdict(traffic, samples, rows, total)
    print_table(rows)
    per_action: dict[str, dict[str, Any]] = {}
    for name in sorted({o.action for o in traffic.outcomes}):
        taken = [o for o in traffic.outcomes if o.action == name]
        statuses: dict[str, int] = {}
        for o in taken:
            statuses[str(o.status)] = statuses.get(str(o.status), 0) + 1
        per_action[name] = {
            "requests": len(taken),
            "p50_ms": percentile([o.ms for o in taken], 0.5),
            "p99_ms": percentile([o.ms for o in taken], 0.99),
            "statuses": statuses,
        }
    print(f"\nrequests: {len(traffic.outcomes)}, mails delivered to the SMTP sink: {delivered}")
    print(f"after the traffic: RSS {final.rss_mb:.1f} MB, {final.fds} fds")
    print("\nverdict:")
    for name, criterion in criteria.items():
        print(f"  {'pass' if criterion['ok'] else 'FAIL'}  {name}: {criterion['detail']}")
    passed = all(criterion["ok"] for criterion in criteria.values())
    print(f"\nsoak {'PASSED' if passed else 'FAILED'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "started_at": stamp,
                "database": kind,
                "minutes": minutes,
                "clients": clients,
                "think_ms": think * 1000,
                "data_set": manifest["counts"],
                "minutes_table": rows,
                "samples": [vars(sample) for sample in samples],
                "after_traffic": vars(final),
                "per_action": per_action,
                "mails_delivered": delivered,
                "criteria": criteria,
                "passed": passed,
                "problems": traffic.problems[:50],
                "cpu_count": os.cpu_count(),
                "load_average_at_end": os.getloadavg(),
            },
            indent=2,
        )
    )
    print(f"written to {out}")
    return 0 if passed else 1


def main() -> int:
    minutes = float(os.environ.get("SOAK_MINUTES", "30"))
    clients = int(os.environ.get("SOAK_CLIENTS", "8"))
    think = float(os.environ.get("SOAK_THINK_MS", "40")) / 1000
    out = Path(os.environ.get("SOAK_OUT") or ROOT / "var" / "soak.json")
    return soak(minutes, clients, think, out)


if __name__ == "__main__":
    sys.exit(main())
