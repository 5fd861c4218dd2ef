"""Orphan clean-up (taskping.hooks.orphans): the leftover terminals of sessions TaskPing started
that ended or expired more than TOKEN_TTL ago are closed, and nothing else. Real tmux servers on
private sockets, a real `taskping spawn --mode pty` wrapper, `taskping sessions` as a person runs it."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest

from taskping.hooks import orphans
from taskping.session_map import connect, sessions
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import EndReason
from tests.support.cli import BIN, run_taskping, write_env_file
from tests.support.pty_session import PtySession
from tests.support.terminal import private_tmux_server, tmux_or_skip, wait_until
from tests.support.world import HOST_ID

pytestmark = pytest.mark.tmux

TTL = 600


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect(tmp_path / "state" / "taskping.db")
    yield c
    c.close()


@pytest.fixture
def servers() -> Iterator[tuple[libtmux.Server, libtmux.Server]]:
    tmux_or_skip()
    with private_tmux_server() as one, private_tmux_server() as two:
        yield one, two


def tracked(
    conn: sqlite3.Connection, server: libtmux.Server, name: str, *, spawned: bool, ttl: int = TTL, tmux_name: str = ""
) -> Session:
    """A tmux session running ``sleep`` (named ``tmux_name``, default ``name``) and its row."""
    pane = server.new_session(session_name=tmux_name or name, window_command="sleep 600").active_window.active_pane
    assert pane is not None and pane.pane_id is not None
    return sessions.create(
        conn,
        token=f"tok-{name}",
        name=name,
        kind="tmux",
        target_socket=str(server.socket_path),
        target_pane=pane.pane_id,
        ttl=ttl,
        spawned=spawned,
    )


def test_only_taskping_started_targets_that_ended_or_expired_long_enough_ago_are_closed(
    conn: sqlite3.Connection, servers: tuple[libtmux.Server, libtmux.Server]
) -> None:
    one, two = servers
    ended = tracked(conn, one, "taskping-ended", spawned=True)
    by_hand = tracked(conn, one, "work", spawned=False)
    recent = tracked(conn, two, "taskping-recent", spawned=True, ttl=100 * TTL)
    expired = tracked(conn, two, "taskping-expired", spawned=True, ttl=1)  # its reply window closed at once
    active = tracked(conn, two, "taskping-active", spawned=True, ttl=1)  # so did this one's, but its hooks run
    sessions.record_event(conn, active.id, event="UserPromptSubmit", state="busy")
    renamed = tracked(conn, two, "taskping-renamed", spawned=True, tmux_name="someone-elses")
    restarted = tracked(conn, one, "taskping-restarted", spawned=True)
    for s in (ended, by_hand, renamed, restarted):
        sessions.end(conn, s.id, reason="SessionEnd:other")
    # a Claude started again by hand in the ended session's pane: tracked there now
    sessions.create(
        conn,
        token="tok-again",
        name="taskping-restarted:0.0",
        kind="tmux",
        target_socket=restarted.target_socket,
        target_pane=restarted.target_pane,
        ttl=TTL,
    )

    assert orphans.clean(conn, ttl=TTL) == []  # nothing is TOKEN_TTL old yet
    later = time.time() + TTL + 2
    closed = orphans.clean(conn, ttl=TTL, at=later)

    assert sorted(c.session.name for c in closed) == ["taskping-ended", "taskping-expired"]
    assert not one.has_session("taskping-ended") and not two.has_session("taskping-expired")
    for server, name in ((one, "work"), (one, "taskping-restarted"), (two, "taskping-recent")):
        assert server.has_session(name), name
    assert two.has_session("taskping-active") and two.has_session("someone-elses")
    for s in (ended, expired):
        after = sessions.get(conn, s.id)
        assert after is not None and after.cleaned_at is not None and after.state == "ended"
    gone = sessions.get(conn, expired.id)
    assert gone is not None and gone.end_reason == EndReason.CLEANED
    for s in (by_hand, recent, renamed, restarted, active):
        untouched = sessions.get(conn, s.id)
        assert untouched is not None and untouched.cleaned_at is None
    assert orphans.clean(conn, ttl=TTL, at=later) == []  # once


def test_pty_wrapper_of_an_ended_session_is_closed_and_sessions_shows_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env_file = write_env_file(
        tmp_path / "taskping.env",
        {"SESSION_MAP_PATH": str(state / "taskping.db"), "TASKPING_HOST_ID": HOST_ID, "TOKEN_TTL": "60"},
    )
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(tmp_path), "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    pty = PtySession(["sleep", "600"], env=env, session_map=state / "taskping.db", name="leftover", env_file=env_file)
    try:
        conn = connect(state / "taskping.db")
        try:
            sessions.end(conn, pty.session.id, reason="SessionEnd:other")  # claude ended; the wrapper's command runs on
            conn.execute("UPDATE sessions SET ended_at = ended_at - 61 WHERE id = ?", (pty.session.id,))
        finally:
            conn.close()
        listed = run_taskping("sessions", "--prune", env=env, env_file=env_file)
        assert listed.returncode == 0, listed.stderr
        assert f"cleaned {pty.session.name}: closed the command of its PTY wrapper" in listed.stdout
        assert pty.wait_exit() != 0  # sleep got SIGTERM; the wrapper exits with it
        wait_until("the control socket to go", lambda: not Path(pty.session.target_socket).exists())
        shown = run_taskping("sessions", "--all", env=env, env_file=env_file).stdout
        assert "cleaned" in shown and f"{pty.session.name}: cleaned" in shown
    finally:
        pty.close()
