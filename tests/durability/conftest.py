"""The durability suites' end-of-session secrets check and its collector. (Their
world is the rig's ``world`` fixture, tests/support/world.py, with
``@pytest.mark.world_env(RATE_LIMIT_PER_MINUTE="600")``.)"""

from __future__ import annotations

import pytest

from tests.durability import secrets_scan

secrets_scan.install()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The secrets check reads what every other test wrote: run it last."""
    last = [i for i in items if i.get_closest_marker("secrets_last")]
    if last:
        items[:] = [i for i in items if not i.get_closest_marker("secrets_last")] + last


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "secrets_last: runs after every other test of the session")
    if not config.pluginmanager.has_plugin("taskping-secrets-tmp"):
        config.pluginmanager.register(secrets_scan.TmpPathScanner(), "taskping-secrets-tmp")
