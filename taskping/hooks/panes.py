"""Which tmux panes still exist: a session whose pane is gone is shown ``gone``.

A session is ``ended`` only by its SessionEnd hook or by ``--prune``; a pane
killed under it (tmux kill-session, a closed terminal, a crashed server)
sends no hook, so `taskping sessions` asks tmux instead of trusting the state.
"""

from __future__ import annotations

import shutil
import subprocess


def live_panes(socket: str) -> set[str] | None:
    """Ids of the panes on ``socket``'s server whose process runs; None when tmux cannot be asked.

    No server on that socket (it exited, or the socket file is gone) means no live panes.
    A pane kept after its process exited (``remain-on-exit``) is dead, not live.
    """
    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    try:
        out = subprocess.run(
            [tmux, "-S", socket, "list-panes", "-a", "-F", "#{pane_id} #{pane_dead}"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        # tmux says "no server running on …" or "error connecting to …" when nothing listens there.
        text = out.stderr.lower()
        return set() if "no server running" in text or "error connecting" in text else None
    return {pane for pane, _, dead in (line.partition(" ") for line in out.stdout.splitlines()) if dead == "0"}


def gone_ids(targets: list[tuple[int, str, str]]) -> set[int]:
    """Of ``(session id, socket, pane)`` triples, the ids whose pane no longer runs (asks each server once)."""
    by_socket: dict[str, set[str] | None] = {}
    gone: set[int] = set()
    for session_id, socket, pane in targets:
        if socket not in by_socket:
            by_socket[socket] = live_panes(socket)
        live = by_socket[socket]
        if live is not None and pane not in live:
            gone.add(session_id)
    return gone
