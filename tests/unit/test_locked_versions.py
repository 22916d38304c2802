"""The lock files pin versions that carry the security fixes docs/RELIABILITY.md names."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
# RELIABILITY.md, "Dependencies": litestar (X-Forwarded-For rate-limit bypass, AllowedHosts and
# CORS regex bypasses, csrf_input injection), aiosmtplib (SMTP command and STARTTLS response
# injection), icalendar 7; jinja2 3.1.6 (sandbox escape through |attr).
MINIMUMS = {"litestar": "2.22", "aiosmtplib": "5.1.3", "icalendar": "7", "jinja2": "3.1.6"}


def _pins(lock: Path) -> dict[str, Version]:
    pins = {}
    for line in lock.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not line.startswith("#"):
            pins[name.lower()] = Version(version.split(";")[0].strip())
    return pins


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_version_has_the_fixes(lock: str) -> None:
    pins = _pins(ROOT / lock)
    for package, minimum in MINIMUMS.items():
        assert package in pins, f"{package} is not pinned in {lock}"
        assert pins[package] >= Version(minimum), f"{lock}: {package} {pins[package]} < {minimum}"
