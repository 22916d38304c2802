"""Fixtures of the integration tests (helpers live in helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import TEST_HOST
from tests.integration.helpers import from_address, unique_address


@pytest.fixture
async def browser(app: Any) -> AsyncIterator[Any]:
    """An in-process client like `client`, but from its own client address (see `from_address`)."""
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=from_address(app, unique_address()), base_url=f"http://{TEST_HOST}") as test_client:
        yield test_client
