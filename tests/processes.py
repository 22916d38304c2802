"""Starting real `trefpunt` processes: a free loopback port and waiting for /health.

Free of side effects on import (unlike tests/conftest.py, which fixes the test environment), so
the test suite, the benchmarks (tests/bench) and docs/screenshots/make_screenshots.py share it.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(
    url: str,
    process: subprocess.Popen[bytes],
    output: Callable[[], str],
    *,
    timeout: float = 30,
    interval: float = 0.1,
    request_timeout: float = 1,
) -> None:
    """Poll `url`/health until it answers 200; raise with the process's `output()` if it exits
    first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=request_timeout).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"trefpunt did not become healthy at {url}:\n{output()}")
        time.sleep(interval)
