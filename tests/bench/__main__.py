"""`make bench` (`python -m tests.bench`): the benchmark of issue 9.

For SQLite and, when reachable, PostgreSQL: migrate a fresh database with the real
`trefpunt migrate`, fill it with the generated data set (tests/bench/dataset.py), start the app
as a user would (`trefpunt serve`, one process, production settings) and drive it with `wrk`
from a second process (lua scripts in tests/bench/lua/). Then, in-process
(tests/bench/inprocess.py): correctness after the storms, SQL queries per request, the feed
builder cold and warm, mail delivery to a local SMTP server; and the scale check on two more
databases (1,000 and 100,000 events). Prints one table and writes it as JSON to
var/bench/<timestamp>.json.

Environment:
  TREFPUNT_BENCH_SCALE      data-set size factor (1 = 10,000 events, 200,000 registrations)
  TREFPUNT_BENCH_DURATION   seconds per wrk scenario (default 5, or 2 when SCALE < 0.5)
  TREFPUNT_BENCH_DATABASES  "sqlite,postgresql" (default) or one of them
  TREFPUNT_BENCH_POSTGRES   server to create the throw-away databases on
                            (default: DATABASE_URL if PostgreSQL, else postgresql://postgres@127.0.0.1:5432/postgres)
  TREFPUNT_BENCH_OUT        where to write the JSON (default var/bench/<timestamp>.json)

The exit status is 1 when the harness fails or a correctness check fails; a missed target is
reported in the table, not in the exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.bench.scenarios import Scenario, http_scenarios
from tests.processes import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LUA_DIR = Path(__file__).resolve().parent / "lua"
WRK_THREADS = 2
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


# Configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    scale: float
    duration: int
    databases: tuple[str, ...]
    postgres_url: str
    out: Path
    workdir: Path

    @property
    def events(self) -> int:
        return max(100, round(10_000 * self.scale))

    @property
    def registrations(self) -> int:
        return round(200_000 * self.scale)

    @property
    def in_window(self) -> int:
        return max(40, round(1_000 * self.scale))

    @property
    def mails(self) -> int:
        return max(50, round(2_000 * self.scale))

    @property
    def single_mails(self) -> int:
        return max(100, round(200 * self.scale))

    @property
    def scale_events(self) -> tuple[int, int]:
        return max(100, round(1_000 * self.scale)), max(1_000, round(100_000 * self.scale))


def load_config() -> Config:
    scale = float(os.environ.get("TREFPUNT_BENCH_SCALE", "1"))
    duration = int(os.environ.get("TREFPUNT_BENCH_DURATION", "5" if scale >= 0.5 else "2"))
    databases = tuple(
        name.strip() for name in os.environ.get("TREFPUNT_BENCH_DATABASES", "sqlite,postgresql").split(",")
    )
    database_url = os.environ.get("DATABASE_URL", "")
    postgres = os.environ.get("TREFPUNT_BENCH_POSTGRES") or (
        database_url if database_url.startswith(("postgres://", "postgresql://")) else DEFAULT_POSTGRES
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(os.environ.get("TREFPUNT_BENCH_OUT") or ROOT / "var" / "bench" / f"{stamp}.json")
    return Config(scale, duration, databases, postgres, out, ROOT / "var" / "bench" / stamp)


# Table rows -----------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    db: str
    value: str = ""  # the "requests/s" column (or msg/s, MB)
    p50: str = ""
    p99: str = ""
    ratio: str = ""
    target: str = "—"
    result: str = "—"  # pass | FAIL | — (no target) | error
    note: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else "pass" if ok else "FAIL"


# Processes ------------------------------------------------------------------------------------


def run(command: list[str], env: dict[str, str], log: Path, timeout: float = 600) -> None:
    """Run a command to completion, its output in `log`; raise with the log's tail on failure."""
    with log.open("ab") as out:
        result = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{' '.join(command[:4])} failed ({result.returncode}):\n{tail}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serving(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`trefpunt serve` on loopback, until /health answers; stopped when the block ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(BIN / "trefpunt"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(
            f"http://127.0.0.1:{port}",
            process,
            lambda: log.read_text(errors="replace")[-3000:],
            timeout=60,
            interval=0.2,
            request_timeout=2,
        )
        yield process
    finally:
        stop(process)


@contextlib.contextmanager
def smtp_sink(port: int, log: Path, env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.smtp_sink", str(port), str(log)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if line != "ready":
            raise RuntimeError(f"the SMTP sink did not start: {line}")
        yield
    finally:
        stop(process)


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_idle(pid: int, limit: float = 30.0) -> float:
    """Wait until the app has finished what the last scenario left in flight (wrk stops reading
    at its deadline, the app does not stop working): two quiet 200 ms windows in a row."""
    started = time.monotonic()
    quiet = 0
    before = cpu_ticks(pid)
    while quiet < 2 and time.monotonic() - started < limit:
        time.sleep(0.2)
        now = cpu_ticks(pid)
        quiet = quiet + 1 if now - before <= 2 else 0
        before = now
    return time.monotonic() - started


class RssSampler:
    """Samples VmRSS of a process from /proc while the scenarios run."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def read(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.samples.append((time.monotonic(), self.read()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        """RSS now, and the growth of the peak over the second half of the sampled time."""
        final = self.read()
        if len(self.samples) < 4:
            return {"final_mb": final, "first_half_peak_mb": final, "second_half_peak_mb": final, "growth_mb": 0.0}
        middle = (self.samples[0][0] + self.samples[-1][0]) / 2
        first = max(rss for moment, rss in self.samples if moment <= middle)
        second = max(rss for moment, rss in self.samples if moment > middle)
        return {
            "final_mb": final,
            "first_half_peak_mb": first,
            "second_half_peak_mb": second,
            "growth_mb": second - first,
        }


# Databases ------------------------------------------------------------------------------------


def postgres_reachable(url: str) -> str | None:
    """None when we can create databases there, else why not."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@contextlib.contextmanager
def database(kind: str, config: Config, name: str) -> Iterator[str]:
    """A fresh, empty database for one data set; removed afterwards."""
    if kind == "sqlite":
        path = config.workdir / kind / f"{name}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import asyncpg

    db_name = f"trefpunt_bench_{name.replace('-', '_')}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(config.postgres_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{db_name}"'))
    try:
        yield urlunsplit(urlsplit(config.postgres_url)._replace(path=f"/{db_name}"))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))


def bench_env(database_url: str, var_dir: Path, port: int, secret: str) -> dict[str, str]:
    """Production settings for one process, with what a benchmark from one address needs."""
    env = {key: value for key, value in os.environ.items() if key not in ("SMTP_URL", "REDIS_URL")}
    var_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        DATABASE_URL=database_url,
        TREFPUNT_VAR_DIR=str(var_dir),
        SECRET_KEY=secret,
        BASE_URL=f"http://127.0.0.1:{port}",
        TREFPUNT_WORKER="off",
        TREFPUNT_RATE_LIMIT="off",
        TREFPUNT_DB_POOL="on",
        TREFPUNT_DEBUG="off",
        PICCOLO_CONF="piccolo_conf",
    )
    env.pop("TREFPUNT_ALLOWED_HOSTS", None)
    return env


def python_module(module: str, *args: str, **options: object) -> list[str]:
    """`python -m module args --an-option value …` (underscores in option names become dashes)."""
    flags = [part for name, value in options.items() for part in (f"--{name.replace('_', '-')}", str(value))]
    return [sys.executable, "-m", module, *args, *flags]


def load_data(env: dict[str, str], log: Path, manifest: Path, events: int, registrations: int, window: int) -> None:
    run([str(BIN / "trefpunt"), "migrate"], env, log)
    options = {"events": events, "registrations": registrations, "in_window": window, "manifest": manifest}
    run(python_module("tests.bench.dataset", **options), env, log)


# wrk ------------------------------------------------------------------------------------------


def wrk(url: str, scenario: Scenario, duration: int, headers: dict[str, str], tag: str) -> dict[str, Any]:
    script = LUA_DIR / ("post.lua" if scenario.method == "post" else "get.lua")
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{scenario.connections}", f"-d{duration}s", "--latency"]
    command += ["--timeout", "10s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url + scenario.path)
    env = {
        **os.environ,
        "BENCH_LUA_DIR": str(LUA_DIR),
        "BENCH_PATHS": ",".join(scenario.post_paths),
        "BENCH_PICK": scenario.pick,
        "BENCH_TAG": tag,
    }
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            data: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            data["rps"] = data["requests"] / (data["duration_us"] / 1e6) if data["duration_us"] else 0.0
            return data
    raise RuntimeError(f"wrk gave no result:\n{result.stdout}\n{result.stderr}")


def drive(url: str, scenario: Scenario, config: Config, tag: str) -> dict[str, Any]:
    """Check the scenario answers as expected, then load it with wrk."""
    headers: dict[str, str] = {}
    problems: list[str] = []
    if scenario.if_none_match:
        headers["If-None-Match"] = httpx.get(url + scenario.path, timeout=30).headers.get("etag", '"none"')
    if scenario.method == "get":
        for _ in range(3):  # also warms what the first requests build
            status = httpx.get(url + scenario.path, headers=headers, timeout=30).status_code
        if status not in scenario.expected:
            problems.append(f"answers {status}")
    data = wrk(url, scenario, config.duration, headers, tag)
    errors = {k: data[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts") if data[k]}
    if errors:
        problems.append(", ".join(f"{k} {v}" for k, v in errors.items()))
    if scenario.method == "get" and data["non_2xx_3xx"]:
        problems.append(f"{data['non_2xx_3xx']} non-2xx/3xx")
    unexpected = {s: n for s, n in data["statuses"].items() if int(s) not in scenario.expected}
    if unexpected:
        problems.append("unexpected " + ", ".join(f"{n}×{s}" for s, n in sorted(unexpected.items())))
    data["problems"] = problems
    return data


# One database ---------------------------------------------------------------------------------


def bench_database(kind: str, config: Config, secret: str, rows: list[Row], checks: list[dict[str, Any]]) -> None:
    """Every measurement on one kind of database; rows and checks are appended as they come, so
    what was measured before an error is still reported."""
    work = config.workdir / kind
    work.mkdir(parents=True, exist_ok=True)
    tag = f"storm{secrets.token_hex(3)}"
    with database(kind, config, "main") as url:
        port = free_port()
        env = bench_env(url, work / "var", port, secret)
        started = time.monotonic()
        load_data(env, work / "bench.log", work / "manifest.json", config.events, config.registrations,
                  config.in_window)  # fmt: skip
        manifest = json.loads((work / "manifest.json").read_text())
        print(f"[{kind}] data set: {manifest['counts']} in {time.monotonic() - started:.0f} s", flush=True)
        results, memory = http_phase(kind, config, env, port, manifest, work, tag)
        rows += http_rows(kind, manifest, results, memory)
        inner = inprocess_phase(kind, config, env, work, tag, results)
        checks += [{**check, "db": kind} for check in inner["checks"]]
        for row in rows:
            if row.db == kind and row.scenario in inner["queries"]:
                row.raw["queries"] = queries = inner["queries"][row.scenario]
                counts = f"SQL queries: {queries['built']} built, {queries['cached']} cached"
                row.note = counts + (f"; {row.note}" if row.note else "")
        rows += inprocess_rows(kind, inner)
    rows += scale_check(kind, config, secret, work)


def http_phase(
    kind: str, config: Config, env: dict[str, str], port: int, manifest: dict[str, Any], work: Path, tag: str
) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """`trefpunt serve` under wrk, scenario after scenario, its RSS sampled all along."""
    results: dict[str, dict[str, Any]] = {}
    base = f"http://127.0.0.1:{port}"
    with serving(env, port, work / "serve.log") as server, RssSampler(server.pid) as rss:
        wait_idle(server.pid)
        for scenario in [*http_scenarios(manifest), Scenario("/health (again)", "/health")]:
            results[scenario.name] = data = drive(base, scenario, config, tag)
            data["settle_s"] = wait_idle(server.pid)
            print(f"[{kind}] {scenario.name}: {data['rps']:.0f} req/s {data['problems'] or ''}", flush=True)
        return results, rss.summary()


def http_rows(
    kind: str, manifest: dict[str, Any], results: dict[str, dict[str, Any]], memory: dict[str, float]
) -> list[Row]:
    rows = []
    health = [results["/health (baseline)"]["rps"], results["/health (again)"]["rps"]]
    baseline = sum(health) / 2
    for scenario in http_scenarios(manifest):
        data = results[scenario.name]
        ratio = data["rps"] / baseline if baseline else 0.0
        ok = None if scenario.target is None else ratio >= scenario.target and not data["problems"]
        notes = list(data["problems"])
        if data["requests"] < 30:
            notes.append(f"only {data['requests']} answers within the run: latency ≈ the run's length")
        if scenario.method == "post":
            notes.insert(0, ", ".join(f"{n}×{s}" for s, n in sorted(data["statuses"].items())))
        if scenario.name.startswith("/health"):
            notes.append(f"baseline = mean of start {health[0]:.0f} and end {health[1]:.0f} req/s")
        row = Row(scenario.name, kind, value=f"{data['rps']:,.0f}", p50=_ms(data["p50_us"] / 1000),
                  p99=_ms(data["p99_us"] / 1000), ratio=f"{ratio * 100:.1f} %", result=_verdict(ok),
                  target=f"≥ {scenario.target * 100:.0f} %" if scenario.target else "—", note="; ".join(notes),
                  raw={**data, "ratio": ratio, "connections": scenario.connections, "path": scenario.path})  # fmt: skip
        rows.append(row)
    # Scenarios differ between the halves, so allow 10 % of noise; a leak grows past that.
    flat = memory["growth_mb"] <= max(5.0, 0.10 * memory["first_half_peak_mb"])
    note = f"peak {memory['first_half_peak_mb']:.0f} MB in the first half, {memory['second_half_peak_mb']:.0f} MB after"
    rows.append(Row("app RSS after the run", kind, value=f"{memory['final_mb']:.0f} MB", target="≤ 200 MB, flat",
                    result=_verdict(memory["final_mb"] <= 200 and flat), note=note, raw=memory))  # fmt: skip
    return rows


def inprocess_phase(
    kind: str, config: Config, env: dict[str, str], work: Path, tag: str, results: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Correctness, queries per request, feed build and mail delivery, next to the app's code."""
    smtp_port = free_port()
    sink_log = work / "smtp-sink.log"
    sink_log.write_text("")
    out = work / "inprocess.json"
    command = python_module(
        "tests.bench.inprocess",
        "run",
        manifest=work / "manifest.json",
        out=out,
        storm_tag=tag,
        posted=results["registrations POST"]["statuses"].get("201", 0),
        booked=results["slot booking storm"]["statuses"].get("201", 0),
        connections=max(s.connections for s in http_scenarios(json.loads((work / "manifest.json").read_text()))),
        mails=config.mails,
        single_mails=config.single_mails,
        sink_log=sink_log,
    )
    with smtp_sink(smtp_port, sink_log, env):
        run(command, {**env, "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}"}, work / "bench.log")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def inprocess_rows(kind: str, inner: dict[str, Any]) -> list[Row]:
    mail = inner["mail"]
    factor = mail["batched_per_s"] / mail["single_per_s"] if mail["single_per_s"] else 0.0
    rows = [
        Row("mail delivery, batched", kind, value=f"{mail['batched_per_s']:,.0f} msg/s", target="≥ 200 msg/s",
            result=_verdict(mail["batched_per_s"] >= 200), raw=mail,
            note=f"{mail['batched_messages']} messages in {mail['batched_seconds']:.1f} s"),
        Row("mail, one connection per message", kind, value=f"{mail['single_per_s']:,.0f} msg/s",
            ratio=f"batched {factor:.1f}×", target="batched ≥ 5×", result=_verdict(factor >= 5), raw=mail,
            note=f"{mail['single_messages']} messages in {mail['single_seconds']:.1f} s"),
    ]  # fmt: skip
    feed = inner["feed_build"]
    for label, key, limit in (
        ("feed build cold (builder)", "builder_cold_ms", 40.0),
        ("feed build warm (builder)", "builder_warm_ms", 5.0),
        ("feed build, new process (builder)", "builder_fresh_ms", None),
        ("feed build cold (query + build)", "service_cold_ms", None),
        ("feed build warm (query + build)", "service_warm_ms", None),
    ):
        ok = None if limit is None else feed[key] <= limit
        note = f"{feed['events']} events, median of {feed['runs']}"
        target = f"≤ {limit:.0f} ms" if limit else "—"
        rows.append(Row(label, kind, p50=_ms(feed[key]), target=target, result=_verdict(ok), note=note, raw=feed))
    return rows


def scale_check(kind: str, config: Config, secret: str, work: Path) -> list[Row]:
    """p50 and queries per request of the same pages at a small and a large data set."""
    measured: list[dict[str, Any]] = []
    log = work / "bench.log"
    for events in config.scale_events:
        with database(kind, config, f"scale-{events}") as url:
            env = bench_env(url, work / f"var-{events}", free_port(), secret)
            manifest, out = work / f"manifest-{events}.json", work / f"scale-{events}.json"
            started = time.monotonic()
            load_data(env, log, manifest, events, 2 * events, min(config.in_window, events))
            run(python_module("tests.bench.inprocess", "scale", manifest=manifest, out=out), env, log)
            measured.append(json.loads(out.read_text()))
            print(f"[{kind}] scale check at {events} events: {time.monotonic() - started:.0f} s", flush=True)
    small, large = measured
    rows = []
    for name, first in small["paths"].items():
        second = large["paths"][name]
        growth = second["p50_ms"] / first["p50_ms"] if first["p50_ms"] else 0.0
        same_queries = first["queries"] == second["queries"]
        notes = [f"{small['counts']['events']:,} → {large['counts']['events']:,} events",
                 f"queries {first['queries']} → {second['queries']}",
                 *(f"answers {r['status']}" for r in (first, second) if r["status"] != 200)]  # fmt: skip
        rows.append(Row(f"scale: {name}", kind, p50=f"{first['p50_ms']:.1f} → {second['p50_ms']:.1f} ms",
                        ratio=f"{growth:.2f}×", target="≤ 1.5×, same queries",
                        result=_verdict(growth <= 1.5 and same_queries and len(notes) == 2), note="; ".join(notes),
                        raw={"small": first, "large": second, "growth": growth}))  # fmt: skip
    return rows


# Output ---------------------------------------------------------------------------------------

COLUMNS = [
    ("scenario", "scenario"),
    ("db", "db"),
    ("value", "requests/s"),
    ("p50", "p50"),
    ("p99", "p99"),
    ("ratio", "ratio to /health"),
    ("target", "target"),
    ("result", "pass/fail"),
    ("note", "note"),
]


def table(rows: list[Row]) -> str:
    cells = [[header for _, header in COLUMNS]] + [[str(getattr(row, key)) for key, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(text.ljust(widths[i]) for i, text in enumerate(line)) + " |" for line in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
    return {
        "host": platform.node(),
        "cpu": model,
        "cores": os.cpu_count(),
        "load_before": os.getloadavg(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "wrk": wrk_version[0].strip() if wrk_version else "",
    }


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1
    config = load_config()
    config.workdir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    started = time.monotonic()
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "scale": config.scale,
            "duration_s": config.duration,
            "wrk_threads": WRK_THREADS,
            "events": config.events,
            "registrations": config.registrations,
        },
        "skipped": {},
        "errors": {},
    }
    rows: list[Row] = []
    checks: list[dict[str, Any]] = []
    for kind in config.databases:
        if kind == "postgresql" and (why := postgres_reachable(config.postgres_url)):
            report["skipped"][kind] = why
            print(f"PostgreSQL skipped: {why}", flush=True)
            continue
        try:
            bench_database(kind, config, secret, rows, checks)
        except Exception as exc:
            report["errors"][kind] = str(exc)
            print(f"[{kind}] error: {exc}", file=sys.stderr, flush=True)

    report["elapsed_s"] = round(time.monotonic() - started, 1)
    report["rows"] = [asdict(row) for row in rows]
    report["checks"] = checks
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(report, indent=2, default=str))

    info = report["machine"]
    print(
        f"\nTrefpunt benchmark, {report['started']}: {info['cpu']} ({info['cores']} cores), load before "
        f"{info['load_before'][0]:.2f}; scale {config.scale}, {config.duration} s per scenario\n"
    )
    print(table(rows))
    print("\nCorrectness after the run:")
    for check in checks:
        print(f"  {'ok  ' if check['ok'] else 'FAIL'} [{check['db']}] {check['check']}: {check['detail']}")
    for kind, why in report["skipped"].items():
        print(f"  skipped {kind}: {why}")
    for kind, error in report["errors"].items():
        print(f"  ERROR {kind}: {error}")
    print(f"\n{len(rows)} rows in {report['elapsed_s']:.0f} s; JSON in {config.out}")
    return 1 if report["errors"] or not all(check["ok"] for check in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
