"""`taskping notify`: a notification in a tracked session's thread, from a script or a build.

The session is the one named (``--session``, the full name or the part after
TMUX_SESSION_PREFIX), else the one this command runs in (``$TMUX`` and
``$TMUX_PANE``, as the hooks find theirs). The mail is composed like Claude's
(:mod:`taskping.hooks.compose`, kind ``notify``), threaded under the session's
first notification, recorded as a notification of the session and queued in
the outbox; it opens the session's reply window as a Stop does, so a reply
to it goes through the same relay pipeline (authenticate, dedupe, route,
extract, guard) and is typed into the session's pane like a reply to Claude.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import NamedTuple

from taskping.config import Settings
from taskping.hooks import compose
from taskping.hooks.handler import mail_notice
from taskping.hooks.payload import HookEnv
from taskping.session_map import connect, sessions
from taskping.session_map.sessions import Session

#: The most a notification body carries (a piped log is cut to its last lines before this).
MAX_MESSAGE_CHARS = 20_000


class NotifyError(Exception):
    """Why nothing was sent: one line naming the input and what to do."""


class Queued(NamedTuple):
    session: Session
    message_id: str
    sender_started: bool


def find_session(settings: Settings, conn: sqlite3.Connection, name: str | None, environ: Mapping[str, str]) -> Session:
    """The named live session, else the one tracked in this tmux pane."""
    if name:
        for candidate in (name, f"{settings.tmux_session_prefix}-{name}"):
            found = sessions.live_by_name(conn, candidate)
            if found is not None:
                return found
        raise NotifyError(f"no live session named {name!r}; `taskping sessions` lists them")
    env = HookEnv.from_environ(environ)
    if not (env.tmux_socket and env.tmux_pane):
        raise NotifyError("not inside a tmux pane ($TMUX/$TMUX_PANE unset): name the session with --session NAME")
    found = sessions.by_target(conn, env.tmux_socket, env.tmux_pane)
    if found is None:
        raise NotifyError(
            f"this tmux pane ({env.tmux_pane}) is not a tracked session: start it with `taskping spawn`, "
            "or name one with --session NAME"
        )
    return found


def clip(message: str) -> str:
    """The message, or its end when it is too long (the end of a log is what matters)."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    tail = message[-MAX_MESSAGE_CHARS:]
    return "[… earlier output cut]\n" + tail.split("\n", 1)[-1]


def notify(
    settings: Settings,
    *,
    message: str,
    title: str | None = None,
    session_name: str | None = None,
    plain: bool = False,
    environ: Mapping[str, str],
) -> Queued:
    """Queue the notification; raises NotifyError (nothing queued) with the reason."""
    if not settings.email_to or not settings.email_from:
        missing = " and ".join(
            k for k, v in (("EMAIL_TO", settings.email_to), ("EMAIL_FROM", settings.email_from)) if not v
        )
        raise NotifyError(f"{missing} not set: nowhere to send the notification (run `taskping init`)")
    if not settings.session_map_path.exists():
        raise NotifyError("no session is tracked yet (no session map): start one with `taskping spawn`")
    conn = connect(settings.session_map_path)
    try:
        session = find_session(settings, conn, session_name, environ)
        notice = compose.notify_notice(clip(message), title, plain=plain)
        message_id, started = mail_notice(conn, settings, session, notice)
        return Queued(session=session, message_id=message_id, sender_started=started)
    finally:
        conn.close()
