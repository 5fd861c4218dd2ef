"""Fixtures for the durability suites: the reply-path world (tests/relay) with
knobs for crash tests, and the end-of-session secrets check's collector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability import secrets_scan
from tests.relay.conftest import World, make_world
from tests.support.claude_fixtures import ClaudeHome
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.mailstack import MailStack

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


def stop_world(world: World) -> None:
    """Kill what the world started (the relays and a detached send-outbox), nothing else."""
    world.stop()


@pytest.fixture
def dworld(mail_stack: MailStack, fake_api: FakeAnthropic, claude_home: ClaudeHome, tmux_server,  # type: ignore[no-untyped-def]
           tmp_path: Path) -> Iterator[World]:
    """The reply-path world with a high rate limit (600 replies a minute per session)."""
    world = make_world(mail_stack, fake_api, claude_home, tmux_server, tmp_path, RATE_LIMIT_PER_MINUTE="600")
    try:
        yield world
    finally:
        stop_world(world)
