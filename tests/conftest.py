import os

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# Property tests: no per-example deadline and no too-slow health check (this 2-core machine runs the suite
# 4 workers wide, so an example's time says nothing about the code), and under CI the same examples every
# run (a red CI is a bug found, never a roll of the dice; run locally to explore new ones).
hypothesis_settings.register_profile(
    "taskping",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI") == "true",
    database=None if os.environ.get("CI") == "true" else hypothesis_settings.default.database,
)
hypothesis_settings.load_profile("taskping")

# Shared pytest plugins for the whole test suite: the one test rig lives in tests/support/
# (mail stack, claude and tmux, the reply-path world). Add a plugin by appending its module path.
pytest_plugins = [
    "tests.support.mail_fixtures",
    "tests.support.claude_fixtures",
    "tests.support.world",
]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (bin/test) the controller gathers the workers' secrets reports."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from tests.durability.secrets_scan import WorkerReports

        config.pluginmanager.register(WorkerReports(), "taskping-secrets-workers")


@pytest.hookimpl(tryfirst=True)  # before tests/durability/conftest.py moves the secrets check to the end
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding a ``slow`` test first, the order otherwise kept: pytest-xdist hands whole
    modules to the workers in this order, so the long ones start at once and short ones fill the end."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)
