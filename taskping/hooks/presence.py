"""Is the person at the terminal? (``NOTIFY_WHEN=away``)

Someone watching Claude finish a turn does not need an email about it. tmux
knows: every client attached to a session has ``#{client_activity}``, the
time (whole seconds) of its last input. The person counts as present when a
client attached to the pane's session had input within ``AWAY_AFTER_SECONDS``;
otherwise (no client, only idle clients, or tmux does not answer) they are
away and the Stop mails. Only Stop is held back: permission and idle notices
always mail, since they mean Claude is stuck until someone acts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskping.session_map.sessions import Session


def present_reason(socket: str, pane: str, away_after: int, at: float | None = None) -> str | None:
    """Why the person counts as present at ``pane``'s session, or None when they are away.

    One ``tmux list-clients`` (a few ms): only Stop events with mail configured ask.
    No answer from tmux (not installed, no server, a timeout) counts as away.
    """
    from taskping.tmux_server import QUICK_TIMEOUT, TmuxServer

    clients = TmuxServer(socket, timeout=QUICK_TIMEOUT).client_activity(pane)
    if clients is None:
        return None  # cannot tell: mail rather than stay silent
    now = time.time() if at is None else at
    for stamp, tty in clients:
        idle = max(0, int(now - stamp))
        if idle < away_after:
            return f"client {tty or '?'} had input {idle}s ago (AWAY_AFTER_SECONDS={away_after})"
    return None


def present_reason_pty(session: Session, away_after: int) -> str | None:
    """The same for a `spawn --mode pty` session: its host knows when a key was last typed."""
    if not session.control_secret:
        return None  # not a PTY TaskPing holds (a hand-started Claude): mail
    from taskping.injectors.pty_control import ControlError, request

    try:
        idle = request(session.target_socket, session.control_secret, "ping", timeout=1.0).get("idle")
    except ControlError:
        return None
    if isinstance(idle, (int, float)) and idle < away_after:
        return f"a key was typed in the PTY {int(idle)}s ago (AWAY_AFTER_SECONDS={away_after})"
    return None
