"""The app fixtures of tests/services serve the scheduler tests too."""

from tests.services.conftest import api, api_key  # noqa: F401
