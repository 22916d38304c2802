"""/privacy: a participant asks for their data or its erasure (a mailed link, valid 24 hours)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get


class PrivacyController(Controller):
    path = "/privacy"
    include_in_schema = False

    # Placeholder until the pages land: a controller needs at least one handler.
    @get("/_placeholder", name="privacy-placeholder", sync_to_thread=False)
    def placeholder(self) -> dict[str, Any]:
        return {}
