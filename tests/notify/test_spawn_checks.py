"""`taskping spawn` starts the command for real or says why not, leaving nothing behind.

Run as a person runs it (the installed console script) on a private tmux
server; the claude case is the real claude CLI against the fake Messages API.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import libtmux
import pytest

from taskping.injectors.base import ScreenState
from taskping.injectors.screen import read_screen
from taskping.session_map import connect, sessions
from tests.notify.conftest import taskping_bin
from tests.support.claude_fixtures import ClaudeHome, FakeAnthropic, claude_binary_or_skip

pytestmark = pytest.mark.tmux


def _spawn(
    tmp_path: Path, server: libtmux.Server, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    run_env = {**base, **(env or {}), "SESSION_MAP_PATH": str(tmp_path / "state" / "taskping.db")}
    return subprocess.run(
        [taskping_bin(), "spawn", "--tmux-socket", str(server.socket_path), "--cwd", str(cwd or tmp_path), *args],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def _errors(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if not line.startswith("config: ")]


def _rows(tmp_path: Path) -> list[sessions.Session]:
    db = tmp_path / "state" / "taskping.db"
    if not db.exists():
        return []
    conn = connect(db)
    try:
        return sessions.all_sessions(conn, include_ended=True)
    finally:
        conn.close()


def _tmux_sessions(server: libtmux.Server) -> list[str]:
    return [s.session_name or "" for s in server.sessions] if server.is_alive() else []


def test_claude_not_on_path_is_one_line_and_no_row(tmp_path: Path, tmux_server: libtmux.Server) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    proc = _spawn(tmp_path, tmux_server, "--name", "x", env={"PATH": str(empty_bin)})
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert _errors(proc) == ["spawn: 'claude' not found on PATH; install it or pass the command after --"]
    assert _rows(tmp_path) == [] and _tmux_sessions(tmux_server) == []


def test_a_command_that_dies_at_once_shows_its_last_lines(tmp_path: Path, tmux_server: libtmux.Server) -> None:
    proc = _spawn(
        tmp_path, tmux_server, "--name", "dies", "--", "sh", "-c", "echo 'Error: no credentials found'; exit 3"
    )
    assert proc.returncode == 1, proc.stdout
    assert proc.stdout == ""
    errors = _errors(proc)
    # tmux does not always record the status of a pane that died at once: the words around it are stable.
    assert re.fullmatch(
        re.escape("spawn: sh -c 'echo '\"'\"'Error: no credentials found'\"'\"'; exit 3' exited")
        + "( with status 3)? before it was ready; its last lines:",
        errors[0],
    ), errors[0]
    assert "  | Error: no credentials found" in errors[1:]
    assert _rows(tmp_path) == []  # no `starting` row left behind
    assert "taskping-dies" not in _tmux_sessions(tmux_server)


def test_a_command_that_keeps_running_is_started(tmp_path: Path, tmux_server: libtmux.Server) -> None:
    proc = _spawn(tmp_path, tmux_server, "--name", "runs", "--", "sleep", "600")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("started taskping-runs: sleep 600 in ")
    (row,) = _rows(tmp_path)
    assert row.name == "taskping-runs" and row.state == "starting"
    # The launcher's remain-on-exit is cleared once the command is up: its pane closes with it.
    shown = tmux_server.cmd("show-options", "-p", "-t", row.target_pane, "remain-on-exit").stdout
    assert shown == []


def test_a_claude_that_never_shows_its_prompt_times_out(tmp_path: Path, tmux_server: libtmux.Server) -> None:
    """A program named claude that prints a line and hangs (no input box ever drawn)."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    hung = fake_bin / "claude"
    hung.write_text("#!/bin/sh\necho 'Checking for updates...'\nexec sleep 600\n")
    hung.chmod(0o755)
    proc = _spawn(
        tmp_path,
        tmux_server,
        "--name",
        "hung",
        "--wait",
        "2",
        env={"PATH": f"{fake_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
    )
    assert proc.returncode == 1
    errors = _errors(proc)
    assert errors[0] == "spawn: claude did not show its prompt within 2 s; its last lines:"
    assert errors[1:] == ["  | Checking for updates..."]
    assert _rows(tmp_path) == [] and "taskping-hung" not in _tmux_sessions(tmux_server)


def test_spawned_claude_shows_its_prompt_when_spawn_returns(
    tmp_path: Path, tmux_server: libtmux.Server, claude_home: ClaudeHome, fake_api: FakeAnthropic
) -> None:
    binary = claude_binary_or_skip()
    proc = _spawn(
        tmp_path, tmux_server, "--name", "real", "--", binary, env=dict(claude_home.env), cwd=claude_home.project_dir
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = _rows(tmp_path)
    screen = tmux_server.cmd("capture-pane", "-p", "-t", row.target_pane).stdout
    assert read_screen(screen).state is ScreenState.READY, "\n".join(screen)
