"""Hooks outside tmux: a `spawn --mode pty` session is found by $TASKPING_PTY; with INJECTION_MODE=pty a
Claude started by hand outside tmux is tracked as not injectable, and `taskping sessions` says why."""

from __future__ import annotations

import json
import subprocess

from taskping.hooks.handler import NOT_INJECTABLE
from taskping.injectors.base import InjectionOutcome, Target
from taskping.injectors.pty import NotInjectable, PtyInjector
from tests.notify.conftest import HookRig, taskping_bin

OUTSIDE = {"TMUX": None, "TMUX_PANE": None}


def _payload(rig: HookRig, **fields: object) -> dict[str, object]:
    return {"session_id": "5b0c6a3e-2222-4c1e-9f00-bbbbbbbbbbbb", "cwd": str(rig.root / "myproject"), **fields}


def test_hand_started_outside_tmux_is_tracked_as_not_injectable(hook_rig: HookRig) -> None:
    rig = hook_rig
    env = {**OUTSIDE, "INJECTION_MODE": "pty", "CLAUDE_PROJECT_DIR": str(rig.root / "myproject")}
    for event, extra in (("SessionStart", {}), ("Stop", {"last_assistant_message": "done"})):
        proc = rig.run(event, _payload(rig, **extra), env=env)
        assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    [session] = rig.all_sessions()
    assert session.kind == "pty" and session.not_injectable == NOT_INJECTABLE and session.control_secret is None
    assert session.name == "myproject-here" and session.state == "idle"
    assert [row.kind for row in rig.outbox()] == ["stop"]  # still mailed: the person reads it
    listing = subprocess.run(
        [taskping_bin(), "sessions"], env=rig.env, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert f"myproject-here: not injectable: {NOT_INJECTABLE}" in listing
    as_json = subprocess.run(
        [taskping_bin(), "sessions", "--json"], env=rig.env, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    record = json.loads(as_json.splitlines()[0])
    assert record["not_injectable"] == NOT_INJECTABLE and "control_secret" not in record


def test_without_injection_mode_pty_outside_tmux_is_still_untracked(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.run("SessionStart", _payload(rig), env=OUTSIDE)
    assert rig.all_sessions() == []


def test_unknown_pty_socket_is_not_tracked(hook_rig: HookRig) -> None:
    rig = hook_rig
    proc = rig.run("SessionStart", _payload(rig), env={**OUTSIDE, "TASKPING_PTY": str(rig.root / "nope.sock")})
    assert proc.returncode == 0
    assert rig.all_sessions() == []
    assert any("no live PTY session" in line.get("reason", "") for line in rig.log_lines())


def test_not_injectable_reason_is_the_refusal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def secret_for(target: Target) -> str | None:
        raise NotInjectable(NOT_INJECTABLE)

    result = PtyInjector(tmp_path / "locks", secret_for).inject(Target("pty", "untracked:x"), "hello")
    assert result.outcome is InjectionOutcome.FAILED and result.detail == f"not injectable: {NOT_INJECTABLE}"


def test_a_v3_session_map_gains_the_pty_columns_and_keeps_its_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from taskping.session_map import connect, sessions
    from taskping.session_map.db import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    for number in range(3):  # the file as TaskPing v3 left it
        old.executescript(MIGRATIONS[number])
    old.execute("PRAGMA user_version = 3")
    old.execute(
        "INSERT INTO sessions (token, name, kind, target_socket, target_pane, state, created_at, updated_at,"
        " expires_at) VALUES ('tok', 'old', 'tmux', '/tmp/sock', '%1', 'idle', 1, 1, 9e9)"
    )
    old.commit()
    old.close()
    conn = connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
        [kept] = sessions.all_sessions(conn)
        assert (kept.name, kept.control_secret, kept.not_injectable) == ("old", None, None)
    finally:
        conn.close()


def test_notify_when_away_in_a_pty_session(hook_rig: HookRig) -> None:
    """A key typed at the PTY's terminal counts as presence; the relay's typing does not."""
    import os
    import shutil
    import sys
    import tempfile
    import time
    from pathlib import Path

    from tests.support.pty_session import PtySession

    rig = hook_rig
    short = Path(tempfile.mkdtemp(prefix="tp-pty-"))  # the control socket's path must stay short
    rig.env["SESSION_MAP_PATH"] = str(short / "taskping" / "taskping.db")
    child = "import sys\nfor line in sys.stdin: print('got=' + line.strip(), flush=True)"
    pty = PtySession([sys.executable, "-c", child], env={**os.environ, **rig.env}, session_map=rig.db_path)
    try:
        env = {**OUTSIDE, "TASKPING_PTY": pty.session.target_socket, "AWAY_AFTER_SECONDS": "2"}
        pty.ask("type", text="typed by the relay")
        pty.ask("press", keys=["Enter"])
        pty.wait_output(b"got=typed by the relay")
        rig.ok("Stop", _payload(rig, last_assistant_message="first"), env=env)
        assert [row.kind for row in rig.outbox()] == ["stop"]  # nobody typed at the terminal: mailed

        pty.type("typed at the keyboard\r")
        pty.wait_output(b"got=typed at the keyboard")
        reason = rig.skipped("Stop", _payload(rig, last_assistant_message="second"), env=env)
        assert reason.startswith("at the terminal, Stop not mailed") and "typed in the PTY" in reason
        time.sleep(2.1)  # AWAY_AFTER_SECONDS=2 with no key since
        rig.ok("Stop", _payload(rig, last_assistant_message="third"), env=env)
        assert [row.kind for row in rig.outbox()] == ["stop", "stop"]
        [session] = rig.all_sessions()
        assert session.id == pty.session.id and session.claude_session_id  # found through $TASKPING_PTY
    finally:
        pty.close()
        shutil.rmtree(short, ignore_errors=True)
