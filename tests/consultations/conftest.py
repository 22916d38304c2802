"""Fixtures of the consultation-day tests.

A private database (the mail tests' `mail_database`, imported, as tests/registrations does), so
the session-wide live server never drains this package's outbox while tests count invites. The
per-test client address and the asyncpg pool for concurrent service calls come from
tests/registrations/conftest.py.
"""

from __future__ import annotations

from tests.mail.conftest import mail_database  # noqa: F401  (fixture, reused)
from tests.registrations.conftest import client, db_pool  # noqa: F401  (fixtures, reused)
