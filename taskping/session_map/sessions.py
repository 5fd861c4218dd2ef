"""Tracked Claude Code sessions.

A session is one Claude Code process in one terminal target (a tmux pane, or
a PTY TaskPing holds). It has a token (the secret in every email of its
thread), a state driven by hook events, and a reply window that each
notification extends to now + TOKEN_TTL.

States: ``starting`` (registered by spawn, no hook yet) → ``busy`` (a prompt
was submitted) / ``idle`` (a turn finished) / ``waiting-permission`` (a
permission dialog is open) → ``ended`` (SessionEnd, or its pane vanished).

A session `taskping spawn` started (``spawned``) whose terminal vanished can
come back: :func:`why_not_resumable` says whether, :func:`repoint` moves the
same row (token, thread) onto the new terminal (see :mod:`taskping.hooks.resume`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Literal

from taskping.session_map import approvals
from taskping.session_map.db import now, transaction
from taskping.session_map.vocabulary import CLOSED_BY_PERSON, EndReason

State = Literal["starting", "busy", "idle", "waiting-permission", "ended"]
STATES: tuple[State, ...] = ("starting", "busy", "idle", "waiting-permission", "ended")


@dataclass(frozen=True)
class Session:
    id: int
    token: str
    name: str
    kind: Literal["tmux", "pty"]
    target_socket: str
    target_pane: str
    claude_session_id: str | None
    cwd: str | None
    claude_pid: int | None
    state: State
    last_event: str | None
    last_event_at: float | None
    turn: int
    notified_turn: int
    last_prompt_at: float | None
    thread_root: str | None
    created_at: float
    updated_at: float
    expires_at: float
    #: PTY sessions: the secret their control socket asks for (never shown)
    control_secret: str | None = field(default=None, repr=False)
    #: why replies cannot be typed into this session (None: they can)
    not_injectable: str | None = None
    #: started by `taskping spawn` (tmux or PTY): may be resumed, and its leftovers closed
    spawned: int = 0
    #: the claude executable spawn ran (resolved), for `claude --resume`
    claude_program: str | None = None
    #: why and when it ended (:class:`~taskping.session_map.vocabulary.EndReason`, or ``SessionEnd:<reason>``)
    end_reason: str | None = None
    ended_at: float | None = None
    #: how many times a reply brought it back with `claude --resume`
    resumed: int = 0
    #: when its leftover terminal was closed (:mod:`taskping.hooks.orphans`)
    cleaned_at: float | None = None

    @property
    def live(self) -> bool:
        return self.state != "ended"

    def reply_window_open(self, at: float | None = None) -> bool:
        return self.live and (now() if at is None else at) < self.expires_at


def _row(row: sqlite3.Row | None) -> Session | None:
    return Session(**dict(row)) if row is not None else None


class NameInUse(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a live session is already named {name!r}")
        self.name = name


def create(
    conn: sqlite3.Connection,
    *,
    token: str,
    name: str,
    kind: Literal["tmux", "pty"],
    target_socket: str,
    target_pane: str,
    ttl: int,
    state: State = "starting",
    cwd: str | None = None,
    adopt: bool = False,
    control_secret: str | None = None,
    not_injectable: str | None = None,
    spawned: bool = False,
    claude_program: str | None = None,
) -> Session:
    """Register a session. Raises NameInUse when a live session has the name.

    A live session still recorded on the same target is stale (a pane hosts one
    Claude at a time) and is ended first, unless ``adopt``: then it is renamed
    and kept with its token. `spawn` adopts, because Claude's first hook can
    register the pane a moment before spawn does.
    """
    t = now()
    with transaction(conn):
        if conn.execute("SELECT 1 FROM sessions WHERE name = ? AND state != 'ended'", (name,)).fetchone():
            raise NameInUse(name)
        existing = conn.execute(
            "SELECT id FROM sessions WHERE target_socket = ? AND target_pane = ? AND state != 'ended'",
            (target_socket, target_pane),
        ).fetchone()
        if adopt and existing is not None:
            conn.execute(
                "UPDATE sessions SET name = ?, kind = ?, cwd = COALESCE(cwd, ?), updated_at = ? WHERE id = ?",
                (name, kind, cwd, t, existing["id"]),
            )
            session_id = existing["id"]
        else:
            session_id = _insert(conn, token, name, kind, target_socket, target_pane, cwd, state, t, ttl)
        if control_secret is not None or not_injectable is not None:
            conn.execute(
                "UPDATE sessions SET control_secret = ?, not_injectable = ? WHERE id = ?",
                (control_secret, not_injectable, session_id),
            )
        if spawned:
            conn.execute(
                "UPDATE sessions SET spawned = 1, claude_program = ? WHERE id = ?", (claude_program, session_id)
            )
    found = get(conn, session_id)
    assert found is not None
    return found


def _insert(
    conn: sqlite3.Connection,
    token: str,
    name: str,
    kind: str,
    target_socket: str,
    target_pane: str,
    cwd: str | None,
    state: str,
    t: float,
    ttl: int,
) -> int:
    """End any stale record on the target, then insert (inside the caller's transaction)."""
    conn.execute(
        "UPDATE sessions SET state = 'ended', updated_at = ?, end_reason = ?, ended_at = ? "
        "WHERE target_socket = ? AND target_pane = ? AND state != 'ended'",
        (t, EndReason.REPLACED, t, target_socket, target_pane),
    )
    cur = conn.execute(
        "INSERT INTO sessions (token, name, kind, target_socket, target_pane, cwd, state,"
        " created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (token, name, kind, target_socket, target_pane, cwd, state, t, t, t + ttl),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def get(conn: sqlite3.Connection, session_id: int | None) -> Session | None:
    return _row(conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone())


def by_token(conn: sqlite3.Connection, token: str) -> Session | None:
    return _row(conn.execute("SELECT * FROM sessions WHERE token = ?", (token.lower(),)).fetchone())


def by_target(conn: sqlite3.Connection, socket: str, pane: str) -> Session | None:
    """The live session on a terminal target."""
    return _row(
        conn.execute(
            "SELECT * FROM sessions WHERE target_socket = ? AND target_pane = ? AND state != 'ended'",
            (socket, pane),
        ).fetchone()
    )


def live_by_name(conn: sqlite3.Connection, name: str) -> Session | None:
    return _row(conn.execute("SELECT * FROM sessions WHERE name = ? AND state != 'ended'", (name,)).fetchone())


def live_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM sessions WHERE state != 'ended'").fetchone()[0])


def all_sessions(conn: sqlite3.Connection, *, include_ended: bool = False) -> list[Session]:
    sql = "SELECT * FROM sessions"
    if not include_ended:
        sql += " WHERE state != 'ended'"
    sql += " ORDER BY created_at"
    return [Session(**dict(r)) for r in conn.execute(sql)]


def record_event(
    conn: sqlite3.Connection,
    session_id: int,
    *,
    event: str,
    state: State | None,
    claude_session_id: str | None = None,
    cwd: str | None = None,
    claude_pid: int | None = None,
    new_turn: bool = False,
    close_approvals: bool = False,
    end_reason: str | None = None,
) -> Session:
    """Apply one hook event: new state (None keeps it), identity fields, turn counter.
    ``close_approvals``: the session moved on, so a permission dialog it had open was answered at
    the terminal; its pending approvals are closed (see :mod:`taskping.session_map.approvals`).
    ``end_reason`` (with ``state="ended"``) says why a live session ends."""
    t = now()
    with transaction(conn):
        if state == "ended":
            conn.execute(
                "UPDATE sessions SET end_reason = ?, ended_at = ? WHERE id = ? AND state != 'ended'",
                (end_reason, t, session_id),
            )
        conn.execute(
            "UPDATE sessions SET"
            " state = CASE WHEN state = 'ended' THEN state ELSE COALESCE(?, state) END,"
            " last_event = ?, last_event_at = ?, updated_at = ?,"
            " claude_session_id = COALESCE(?, claude_session_id),"
            " cwd = COALESCE(?, cwd), claude_pid = COALESCE(?, claude_pid),"
            " turn = turn + ?, last_prompt_at = CASE WHEN ? THEN ? ELSE last_prompt_at END"
            " WHERE id = ?",
            (state, event, t, t, claude_session_id, cwd, claude_pid, int(new_turn), int(new_turn), t, session_id),
        )
        if close_approvals:
            approvals.close_pending(conn, session_id, f"answered at the terminal ({event} came first)", at=t)
    found = get(conn, session_id)
    assert found is not None
    return found


def end(conn: sqlite3.Connection, session_id: int, *, reason: str, replace_reason: bool = False) -> None:
    """End a session (``reason``: an :class:`EndReason`); one already ended keeps why and when it
    ended, unless ``replace_reason`` (``#close``: the person closed it, whatever ended it first)."""
    t = now()
    with transaction(conn):
        conn.execute(
            "UPDATE sessions SET end_reason = ?, ended_at = COALESCE(CASE WHEN state = 'ended' THEN ended_at END, ?)"
            " WHERE id = ? AND (state != 'ended' OR ?)",
            (reason, t, session_id, int(replace_reason)),
        )
        conn.execute(
            "UPDATE sessions SET state = 'ended', last_event = ?, last_event_at = ?, updated_at = ? WHERE id = ?",
            (reason, t, t, session_id),
        )


def set_thread_root(conn: sqlite3.Connection, session_id: int, message_id: str) -> None:
    """Thread the session's mail under ``message_id`` (the ``#new`` mail that started it), unless
    it already has a thread."""
    with transaction(conn):
        conn.execute(
            "UPDATE sessions SET thread_root = COALESCE(thread_root, ?), updated_at = ? WHERE id = ?",
            (message_id, now(), session_id),
        )


def why_not_resumable(session: Session, *, enabled: bool) -> str | None:
    """Why a reply must not bring ``session`` back with `claude --resume` (its terminal being
    gone), or None when it may. The reasons are read by the person, after "not resumed: "."""
    if not enabled:
        return "RESUME_GONE_SESSIONS=false"
    if not session.spawned:
        return "it was started by hand, not by `taskping spawn`"
    if session.not_injectable:
        return session.not_injectable
    if session.end_reason in CLOSED_BY_PERSON:
        how = {EndReason.CLOSED: "by #close", EndReason.EXIT: "with /exit", EndReason.LOGOUT: "by logging out"}
        return f"it was closed {how.get(EndReason(session.end_reason), '')}".rstrip()
    if not session.claude_session_id:
        return "its Claude session id is not known (no hook reported it)"
    if not session.cwd:
        return "its project directory is not known"
    return None


def repoint(conn: sqlite3.Connection, session_id: int, *, socket: str, pane: str) -> Session:
    """Move a gone session onto a new tmux pane, keeping its row (token, thread, turns):
    live again (``starting``), its end forgotten, ``resumed`` counted. A row a fast first hook
    registered on that pane meanwhile is folded into it (removed, or ended if mail refers to it).
    Raises NameInUse when another live session took the name."""
    t = now()
    with transaction(conn):
        row = conn.execute("SELECT name FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise LookupError(f"no session {session_id}")
        taken = conn.execute(
            "SELECT 1 FROM sessions WHERE name = ? AND state != 'ended' AND id != ?", (row["name"], session_id)
        ).fetchone()
        if taken:
            raise NameInUse(row["name"])
        for (other,) in conn.execute(
            "SELECT id FROM sessions WHERE target_socket = ? AND target_pane = ? AND state != 'ended' AND id != ?",
            (socket, pane, session_id),
        ).fetchall():
            try:
                conn.execute("SAVEPOINT fold")
                conn.execute("DELETE FROM sessions WHERE id = ?", (other,))
                conn.execute("RELEASE fold")
            except sqlite3.IntegrityError:  # mail refers to it: keep it, ended
                conn.execute("ROLLBACK TO fold")
                conn.execute("RELEASE fold")
                conn.execute(
                    "UPDATE sessions SET state = 'ended', end_reason = ?, ended_at = ?, updated_at = ? WHERE id = ?",
                    (EndReason.REPLACED, t, t, other),
                )
        conn.execute(
            "UPDATE sessions SET kind = 'tmux', target_socket = ?, target_pane = ?, state = 'starting',"
            " control_secret = NULL, claude_pid = NULL, end_reason = NULL, ended_at = NULL, cleaned_at = NULL,"
            " resumed = resumed + 1, last_event = 'resumed', last_event_at = ?, updated_at = ? WHERE id = ?",
            (socket, pane, t, t, session_id),
        )
    found = get(conn, session_id)
    assert found is not None
    return found


def orphans(conn: sqlite3.Connection, *, ttl: int, at: float | None = None) -> list[Session]:
    """Sessions `taskping spawn` started that ended, or whose reply window closed, more than
    ``ttl`` seconds ago, and whose terminal was not closed yet: candidates for clean-up (their
    terminal may be gone already; the caller checks it still belongs to them). A live session
    counts as expired only when its hooks have been silent as long too: with NOTIFY_WHEN=away a
    person working at it sends no mail that would move its reply window."""
    cutoff = (now() if at is None else at) - ttl
    rows = conn.execute(
        "SELECT * FROM sessions WHERE spawned = 1 AND cleaned_at IS NULL AND ("
        " (state = 'ended' AND COALESCE(ended_at, updated_at) <= ?)"
        " OR (state != 'ended' AND MAX(expires_at, COALESCE(last_event_at, 0) + ?) <= ?)) ORDER BY id",
        (cutoff, ttl, cutoff),
    )
    return [Session(**dict(r)) for r in rows]


def mark_cleaned(conn: sqlite3.Connection, session_id: int) -> None:
    """Record that the session's leftover terminal was closed (ending it, if it was live)."""
    end(conn, session_id, reason=EndReason.CLEANED)
    t = now()
    with transaction(conn):
        conn.execute("UPDATE sessions SET cleaned_at = ? WHERE id = ?", (t, session_id))


def discard(conn: sqlite3.Connection, session_id: int) -> None:
    """Remove a session that never started (`spawn` whose command died): no row is left.

    One that already has rows pointing at it (mail, replies) is ended instead, keeping that history."""
    try:
        with transaction(conn):
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
    except sqlite3.IntegrityError:  # foreign keys are on: something refers to it
        end(conn, session_id, reason=EndReason.SPAWN_FAILED)
