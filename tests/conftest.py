# Shared pytest plugins for the whole test suite: the one test rig lives in tests/support/
# (mail stack, claude and tmux, the reply-path world). Add a plugin by appending its module path.
pytest_plugins = [
    "tests.support.mail_fixtures",
    "tests.support.claude_fixtures",
    "tests.support.world",
]


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    """Under pytest-xdist (bin/test) the controller gathers the workers' secrets reports."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from tests.durability.secrets_scan import WorkerReports

        config.pluginmanager.register(WorkerReports(), "taskping-secrets-workers")
