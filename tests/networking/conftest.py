from tests.integration.conftest import browser  # noqa: F401 - the per-address client fixture
from tests.registrations.conftest import db_pool  # noqa: F401 - asyncpg pool for concurrent service calls
