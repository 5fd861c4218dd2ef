"""Which tmux panes still exist: a session whose pane is gone is shown ``gone``.

A session is ``ended`` only by its SessionEnd hook or by ``--prune``; a pane
killed under it (tmux kill-session, a closed terminal, a crashed server)
sends no hook, so `taskping sessions` asks tmux instead of trusting the state.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from taskping.session_map import sessions
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import EndReason
from taskping.tmux_server import TmuxServer


def gone_ids(targets: list[tuple[int, str, str]]) -> set[int]:
    """Of ``(session id, socket, pane)`` triples, the ids whose pane no longer runs (asks each server
    once; a server tmux cannot be asked about counts as still there)."""
    by_socket: dict[str, set[str] | None] = {}
    gone: set[int] = set()
    for session_id, socket, pane in targets:
        if socket not in by_socket:
            by_socket[socket] = TmuxServer(socket).live_panes()
        live = by_socket[socket]
        if live is not None and pane not in live:
            gone.add(session_id)
    return gone


def gone_sessions(rows: Iterable[Session]) -> set[int]:
    """Ids of the live sessions among ``rows`` whose tmux pane no longer runs or whose
    PTY wrapper no longer listens on its control socket."""
    from taskping.injectors.pty_control import listening

    rows = list(rows)
    gone = gone_ids([(s.id, s.target_socket, s.target_pane) for s in rows if s.live and s.kind == "tmux"])
    return gone | {s.id for s in rows if s.live and s.control_secret and not listening(s.target_socket)}


def prune(conn: sqlite3.Connection, rows: Iterable[Session], gone: set[int]) -> list[Session]:
    """End the sessions of ``rows`` whose id is in ``gone`` (``--prune``); returns them."""
    ended = [s for s in rows if s.id in gone]
    for s in ended:
        sessions.end(conn, s.id, reason=EndReason.PRUNED)
    return ended
