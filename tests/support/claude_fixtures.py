"""Pytest plugin: run the real ``claude`` CLI in tmux against a fake Messages API.

Fixtures:

* ``fake_api`` -> :class:`FakeAnthropic`, started and stopped per test.
* ``claude_home`` -> :class:`ClaudeHome`: a throwaway HOME seeded for offline
  interactive use, its project dir, and ``env`` (the *whole* environment to
  run claude with; nothing leaks in from the developer's environment).
* ``tmux_server`` -> ``libtmux.Server`` on a private socket path (no user
  config), killed at teardown.
* ``claude_pane`` -> :class:`ClaudePane`: claude started in ``tmux_server``
  with ``claude_home`` and ``fake_api``, prompt READY.

Helper :func:`start_claude` starts more panes (e.g. two sessions in one test).
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libtmux
import pytest

from taskping.demo.home import seed_offline_claude
from taskping.injectors.base import ScreenState, Target
from taskping.injectors.screen import ScreenReading, read_screen
from tests.support import prereqs
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.prereqs import CLAUDE_VERSION
from tests.support.terminal import private_tmux_server, tmux_or_skip

FAKE_API_KEY = "sk-ant-api03-taskping-fake-key-0123456789abcdefghij"
READY_TIMEOUT = 30.0


def claude_binary_or_skip() -> str:
    """Path of the claude binary pinned at CLAUDE_VERSION; skip (locally) or fail (CI) when missing."""
    return prereqs.require("claude")


@dataclass
class ClaudeHome:
    """A throwaway HOME for one claude run.

    ``env`` is the complete environment for claude (start it with
    ``env -i``); ``settings_path`` is ``~/.claude/settings.json`` (add hooks
    there before starting claude); ``claude_json_path`` is ``~/.claude.json``.
    """

    home: Path
    project_dir: Path
    env: dict[str, str]
    settings_path: Path
    claude_json_path: Path
    api_key: str = FAKE_API_KEY

    def read_settings(self) -> dict[str, Any]:
        return json.loads(self.settings_path.read_text())

    def update_settings(self, changes: Mapping[str, Any]) -> None:
        """Merge top-level keys into settings.json (call before starting claude)."""
        settings = self.read_settings()
        settings.update(changes)
        self.settings_path.write_text(json.dumps(settings, indent=2))

    def update_claude_json(self, changes: Mapping[str, Any]) -> None:
        """Merge top-level keys into ~/.claude.json (e.g. messageIdleNotifThresholdMs)."""
        data = json.loads(self.claude_json_path.read_text())
        data.update(changes)
        self.claude_json_path.write_text(json.dumps(data, indent=2))


def make_claude_home(root: Path, base_url: str, *, api_key: str = FAKE_API_KEY) -> ClaudeHome:
    """Seed ``root`` as HOME for interactive claude against ``base_url``."""
    home = root / "home"
    project = root / "project"
    settings_path = seed_offline_claude(home, project, version=CLAUDE_VERSION, api_key=api_key)
    claude_json_path = home / ".claude.json"
    env = {
        "HOME": str(home),
        "USER": os.environ.get("USER", "taskping"),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "SHELL": "/bin/sh",
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    return ClaudeHome(home, project, env, settings_path, claude_json_path, api_key)


@dataclass
class ClaudePane:
    """A claude process running in a tmux pane."""

    server: libtmux.Server
    session: libtmux.Session
    pane: libtmux.Pane
    home: ClaudeHome
    started_in: float = 0.0
    history: list[ScreenReading] = field(default_factory=list)

    @property
    def target(self) -> Target:
        return Target(kind="tmux", socket=str(self.server.socket_path), pane=str(self.pane.pane_id))

    def lines(self) -> list[str]:
        return list(self.pane.cmd("capture-pane", "-p").stdout)

    def reading(self) -> ScreenReading:
        return read_screen(self.lines())

    def wait_for(self, *states: ScreenState, timeout: float = 15.0) -> ScreenReading:
        """Poll the screen until it shows one of ``states``."""
        deadline = time.monotonic() + timeout
        reading = self.reading()
        while reading.state not in states:
            if time.monotonic() > deadline:
                screen = "\n".join(self.lines())
                raise TimeoutError(f"screen never reached {states}; last {reading.state}:\n{screen}")
            time.sleep(0.05)
            reading = self.reading()
        return reading

    def wait_ready(self, timeout: float = 15.0) -> ScreenReading:
        return self.wait_for(ScreenState.READY, timeout=timeout)


def start_claude(
    server: libtmux.Server,
    claude_home: ClaudeHome,
    fake_api: FakeAnthropic | None = None,
    *,
    name: str = "claude",
    width: int = 120,
    height: int = 40,
    args: tuple[str, ...] = (),
    timeout: float = READY_TIMEOUT,
) -> ClaudePane:
    """Start the real claude in a new tmux session and wait for a READY prompt.

    ``fake_api`` (optional) overrides ``ANTHROPIC_BASE_URL`` in the env.
    """
    binary = claude_binary_or_skip()
    env = dict(claude_home.env)
    if fake_api is not None:
        env["ANTHROPIC_BASE_URL"] = fake_api.base_url
    command = shlex.join(["env", "-i", *(f"{k}={v}" for k, v in env.items()), binary, *args])
    started = time.monotonic()
    session = server.new_session(
        session_name=name,
        start_directory=str(claude_home.project_dir),
        window_command=command,
        x=width,
        y=height,
    )
    pane = session.active_window.active_pane
    assert pane is not None
    claude = ClaudePane(server, session, pane, claude_home)
    claude.wait_ready(timeout=timeout)
    claude.started_in = time.monotonic() - started
    return claude


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropic]:
    """A fake Messages API on 127.0.0.1, one per test."""
    with FakeAnthropic() as api:
        yield api


@pytest.fixture
def claude_home(tmp_path: Path, fake_api: FakeAnthropic) -> ClaudeHome:
    """A seeded throwaway HOME + project dir; ``env`` points claude at ``fake_api``."""
    return make_claude_home(tmp_path / "claude", fake_api.base_url)


@pytest.fixture
def tmux_server() -> Iterator[libtmux.Server]:
    """A tmux server on a private socket path, killed (only it) at teardown."""
    tmux_or_skip()
    with private_tmux_server() as server:
        yield server


@pytest.fixture
def claude_pane(tmux_server: libtmux.Server, claude_home: ClaudeHome, fake_api: FakeAnthropic) -> ClaudePane:
    """The real claude running in a tmux pane, prompt READY."""
    return start_claude(tmux_server, claude_home, fake_api)
