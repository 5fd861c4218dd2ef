"""Permission approvals by email: one row per approval email.

Lifecycle (:class:`~taskping.session_map.vocabulary.ApprovalStatus`): the
``PermissionRequest`` hook records a ``pending`` approval with its email's
Message-ID and a deadline (now + APPROVAL_TIMEOUT) and waits; an authenticated
reply to that email makes it ``allowed`` or ``denied`` (the relay's approval
step); the deadline makes it ``expired`` (Claude's own dialog waits at the
terminal); a dialog answered at the terminal, or a later event of the session,
makes it ``closed``.

Every change of status is one ``UPDATE … WHERE status = 'pending'``: whoever
gets there first decides, once, and everyone else sees the row's final status.
A decision by email also needs the deadline not to have passed.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from taskping.session_map.db import now, transaction
from taskping.session_map.vocabulary import ApprovalStatus


@dataclass(frozen=True)
class Approval:
    id: int
    session_id: int
    message_id: str
    marker: str  # ``n`` + 6 hex digits of the Message-ID: what a one-tap answer's subject carries
    tool_name: str
    summary: str
    status: ApprovalStatus
    deny_message: str | None
    note: str | None  # why it was closed
    created_at: float
    deadline: float
    decided_at: float | None
    decided_by: int | None  # the inbound (ledger) entry that decided it
    hook_pid: int | None
    tool_input: str | None  # JSON; kept for Claude's questions (AskUserQuestion), whose answer needs them
    answers: str | None  # a question answered by email: the option numbers chosen ("2", "1,3")

    @property
    def pending(self) -> bool:
        return self.status == ApprovalStatus.PENDING


def marker_for(message_id: str) -> str:
    """``n`` and 6 hex digits of the Message-ID: how a subject names one notification
    (the same as :func:`taskping.hooks.compose.quick_reply_buttons` writes)."""
    return "n" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:6]


def _row(row: sqlite3.Row | None) -> Approval | None:
    if row is None:
        return None
    values = dict(row)
    values["status"] = ApprovalStatus(values["status"])
    return Approval(**values)


def create(
    conn: sqlite3.Connection,
    *,
    session_id: int,
    message_id: str,
    tool_name: str,
    summary: str,
    deadline: float,
    hook_pid: int | None,
    tool_input: str | None = None,
) -> Approval:
    """Record a pending approval. A session has one dialog open at a time, so its older pending
    approvals are closed in the same transaction (their dialog is gone)."""
    t = now()
    with transaction(conn):
        close_pending(conn, session_id, "a newer permission request replaced it", at=t)
        cur = conn.execute(
            "INSERT INTO approvals (session_id, message_id, marker, tool_name, summary, created_at, deadline, hook_pid,"
            " tool_input) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, message_id, marker_for(message_id), tool_name, summary, t, deadline, hook_pid, tool_input),
        )
        row_id = cur.lastrowid
    found = get(conn, int(row_id or 0))
    assert found is not None
    return found


def close_pending(conn: sqlite3.Connection, session_id: int, note: str, *, at: float) -> None:
    """Close every pending approval of the session (its dialog is gone), inside the caller's transaction."""
    conn.execute(
        "UPDATE approvals SET status = 'closed', note = ?, decided_at = ? WHERE session_id = ? AND status = 'pending'",
        (note, at, session_id),
    )


def get(conn: sqlite3.Connection, approval_id: int) -> Approval | None:
    return _row(conn.execute("SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone())


def status_of(conn: sqlite3.Connection, approval_id: int) -> ApprovalStatus | None:
    """Just the status (the hook polls this)."""
    row = conn.execute("SELECT status FROM approvals WHERE id = ?", (approval_id,)).fetchone()
    return ApprovalStatus(row[0]) if row is not None else None


def by_message_ids(conn: sqlite3.Connection, message_ids: list[str]) -> Approval | None:
    """The first of ``message_ids`` (in the given order) that is an approval email."""
    for mid in message_ids:
        found = _row(conn.execute("SELECT * FROM approvals WHERE message_id = ?", (mid,)).fetchone())
        if found is not None:
            return found
    return None


def by_marker(conn: sqlite3.Connection, session_id: int, marker: str) -> Approval | None:
    """The session's approval whose email a subject's ``n<6hex>`` names (the newest, should two share it)."""
    return _row(
        conn.execute(
            "SELECT * FROM approvals WHERE session_id = ? AND marker = ? ORDER BY id DESC LIMIT 1",
            (session_id, marker),
        ).fetchone()
    )


def has_pending(conn: sqlite3.Connection, session_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM approvals WHERE session_id = ? AND status = 'pending' LIMIT 1", (session_id,)
    ).fetchone()
    return row is not None


def decide(
    conn: sqlite3.Connection,
    approval_id: int,
    status: ApprovalStatus,
    *,
    entry_id: int | None,
    deny_message: str | None = None,
    answers: str | None = None,
    at: float | None = None,
) -> bool:
    """Allow or deny a pending approval whose deadline has not passed (``answers``: the option
    numbers that answer Claude's question, with ALLOWED). True when this call decided it."""
    if status not in (ApprovalStatus.ALLOWED, ApprovalStatus.DENIED):
        raise ValueError(f"an answer allows or denies, not {status}")
    t = now() if at is None else at
    with transaction(conn):
        cur = conn.execute(
            "UPDATE approvals SET status = ?, deny_message = ?, answers = ?, decided_at = ?, decided_by = ?"
            " WHERE id = ? AND status = 'pending' AND deadline > ?",
            (str(status), deny_message, answers, t, entry_id, approval_id, t),
        )
    return cur.rowcount == 1


def expire(conn: sqlite3.Connection, approval_id: int, *, at: float | None = None) -> bool:
    """A pending approval past its deadline becomes ``expired``. True when this call did it."""
    t = now() if at is None else at
    with transaction(conn):
        cur = conn.execute(
            "UPDATE approvals SET status = 'expired', decided_at = ? WHERE id = ? AND status = 'pending'"
            " AND deadline <= ?",
            (t, approval_id, t),
        )
    return cur.rowcount == 1


def close(conn: sqlite3.Connection, approval_id: int, note: str) -> bool:
    """A pending approval whose dialog was answered at the terminal. True when this call closed it."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE approvals SET status = 'closed', note = ?, decided_at = ? WHERE id = ? AND status = 'pending'",
            (note, now(), approval_id),
        )
    return cur.rowcount == 1
