"""A newcomer's first run: migrate, load the demo, serve — and /dev/mail shows the demo's mails
(invitations with their invite and the update after a change of time), in three languages."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, ROOT, serving
from tests.integration.helpers import csrf_from_html

pytestmark = pytest.mark.serve


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "trefpunt"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )


def test_a_fresh_demo_shows_its_mails_at_dev_mail(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TREFPUNT_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'trefpunt.sqlite3'}",
        "TREFPUNT_WORKER": "inline",
        "TREFPUNT_DB_POOL": "on",
    }
    env.pop("TREFPUNT_ALLOWED_HOSTS", None)
    env.pop("SECRET_KEY", None)  # generated into var/secret_key, as on a fresh machine
    _run(env, "migrate")
    first = _run(env, "demo", "--if-empty")
    assert "demo@depunt.example" in first.stdout
    assert "already has data" in _run(env, "demo", "--if-empty").stdout
    assert (tmp_path / "secret_key").exists()

    with serving(
        "fresh-demo", TREFPUNT_VAR_DIR=str(tmp_path), DATABASE_URL=env["DATABASE_URL"], SECRET_KEY=None
    ) as server:
        url = server.url
        with httpx.Client(base_url=url, timeout=10, follow_redirects=True) as browser:
            assert "Impulskrediet" in browser.get("/events").text
            page = browser.get("/login")
            signed_in = browser.post(
                "/login",
                data={
                    "email": "demo@depunt.example",
                    "password": "trefpunt-demo",
                    "_csrf_token": csrf_from_html(page.text),
                },
            )
            assert signed_in.status_code == 200 and "/admin" in str(signed_in.url)
            mailbox = browser.get("/dev/mail")
            assert mailbox.status_code == 200
            text = mailbox.text
            assert text.count("REQUEST") == 6  # three invitations, three updates
            for subject in ("Inschrijving bevestigd", "Inscription confirmée", "Registration confirmed"):
                assert subject in text
        # The inline worker delivered them to files, as a newcomer can open them.
        deadline = time.monotonic() + 10
        while len(list((tmp_path / "mail").glob("*.eml"))) < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 6
