from tests.integration.conftest import browser  # noqa: F401 - the per-address client fixture
