"""Closing what TaskPing started and nobody uses any more: orphaned tmux sessions and PTY wrappers.

A session `taskping spawn` started (``spawned``) that ended, or whose reply
window closed, more than TOKEN_TTL ago, but whose terminal still runs (a
``sh -c '…; claude'`` after Claude exited, a forgotten session) is closed:
its tmux session killed, or its PTY wrapper's command sent SIGTERM (the
wrapper then exits as after any command). Never a session TaskPing did not
start, and only after checking the target still belongs to that session: no
other tracked session runs there now; for tmux the pane still exists on the
same socket in a tmux session of the session's name; for a PTY the control
socket answers the session's own secret (and names the process to signal). The session is then ended and its
``cleaned_at`` set, which `taskping sessions` shows.

Run by the relay's hourly maintenance and by `taskping sessions --prune`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from dataclasses import dataclass

from taskping.injectors.pty_control import ControlError, request
from taskping.session_map import sessions
from taskping.session_map.sessions import Session
from taskping.tmux_server import TmuxServer


@dataclass(frozen=True)
class Cleaned:
    session: Session
    what: str  # what was closed, for a person


def clean(conn: sqlite3.Connection, *, ttl: int, at: float | None = None) -> list[Cleaned]:
    """Close the leftover terminals of sessions TaskPing started that ended or expired more than
    ``ttl`` seconds ago; what was closed. A terminal already gone is left as it is (nothing to close)."""
    closed: list[Cleaned] = []
    for session in sessions.orphans(conn, ttl=ttl, at=at):
        now_on_it = sessions.by_target(conn, session.target_socket, session.target_pane)
        if now_on_it is not None and now_on_it.id != session.id:
            continue  # another tracked session runs there now (a Claude started again in that pane)
        what = _close_tmux(session) if session.kind == "tmux" else _close_pty(session)
        if what is not None:
            sessions.mark_cleaned(conn, session.id)
            closed.append(Cleaned(session, what))
    return closed


def _close_tmux(session: Session) -> str | None:
    server = TmuxServer(session.target_socket)
    if not session.target_pane or server.display(session.target_pane, "#{session_name}") != session.name:
        return None  # gone, or the pane now belongs to another tmux session: not ours to close
    server.kill_session(session.name)
    return f"tmux session {session.name} on {session.target_socket}"


def _close_pty(session: Session) -> str | None:
    if not session.control_secret:
        return None
    try:
        answer = request(session.target_socket, session.control_secret, "ping")
    except ControlError:
        return None  # nothing listening, or not this session's wrapper
    pid = answer.get("pid")
    if not isinstance(pid, int) or pid <= 1:
        return None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    return f"the command of its PTY wrapper (pid {pid}, {session.target_socket})"
