"""Which tmux panes still exist: a session whose pane is gone is shown ``gone``.

A session is ``ended`` only by its SessionEnd hook or by ``--prune``; a pane
killed under it (tmux kill-session, a closed terminal, a crashed server)
sends no hook, so `taskping sessions` asks tmux instead of trusting the state.
"""

from __future__ import annotations

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
