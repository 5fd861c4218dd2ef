"""Replies waiting for a busy session, or being typed: typed in order once Claude is READY.

Keys go only into a READY screen. A reply that passed every check while its
session was working (or whose session already has replies waiting, so that
order is kept) gets a row here and its ledger row the status ``waiting``, in
one transaction. The row holds what is needed to finish it later without the
mailbox: the guarded text, the authenticated sender and the raw message (for
the acknowledgement's threading). It is deleted when the reply is decided
(typed, refused after BUSY_WAIT_SECONDS, or the session ended), so the text
does not outlive the wait.

A reply being typed has a row too (:func:`start_typing`, committed with the
ledger's ``injecting``): when the relay dies mid-typing, the next one knows
the whole text it was typing, so it can erase what it left in the input box
(only when the box holds nothing but a piece of that text).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from taskping.session_map.db import now, transaction
from taskping.session_map.vocabulary import Status


@dataclass(frozen=True)
class WaitingReply:
    entry_id: int
    session_id: int
    sender: str
    text: str
    raw: bytes
    since: float
    status: Status  # the ledger row's status: ``waiting``, or ``injecting`` after a crash mid-typing


def enqueue(
    conn: sqlite3.Connection, entry_id: int, *, session_id: int, sender: str, text: str, raw: bytes, preview: str
) -> None:
    """Park a reply (its ledger row becomes ``waiting``; ``since`` is kept when it was already waiting)."""
    _hold(
        conn,
        entry_id,
        Status.WAITING,
        (Status.RECEIVED, Status.INJECTING, Status.WAITING),
        session_id=session_id,
        sender=sender,
        text=text,
        raw=raw,
        preview=preview,
    )


def start_typing(
    conn: sqlite3.Connection, entry_id: int, *, session_id: int, sender: str, text: str, raw: bytes, preview: str
) -> None:
    """Committed before the first key: the ledger row becomes ``injecting`` and the text is kept until decided."""
    _hold(
        conn,
        entry_id,
        Status.INJECTING,
        (Status.RECEIVED, Status.WAITING),
        session_id=session_id,
        sender=sender,
        text=text,
        raw=raw,
        preview=preview,
    )


def _hold(
    conn: sqlite3.Connection,
    entry_id: int,
    status: Status,
    from_statuses: tuple[Status, ...],
    *,
    session_id: int,
    sender: str,
    text: str,
    raw: bytes,
    preview: str,
) -> None:
    """The row (kept if it exists) and the ledger status, in one transaction."""
    marks = ",".join("?" * len(from_statuses))
    with transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO waiting (entry_id, session_id, sender, text, raw, since) VALUES (?, ?, ?, ?, ?, ?)",
            (entry_id, session_id, sender, text, raw, now()),
        )
        conn.execute(
            f"UPDATE inbound SET status = ?, session_id = ?, preview = ? WHERE id = ? AND status IN ({marks})",
            (status, session_id, preview, entry_id, *from_statuses),
        )


def text_of(conn: sqlite3.Connection, entry_id: int) -> str | None:
    """The text kept for a reply (waiting, or being typed when the relay stopped)."""
    row = conn.execute("SELECT text FROM waiting WHERE entry_id = ?", (entry_id,)).fetchone()
    return row[0] if row else None


def has_waiting(conn: sqlite3.Connection, session_id: int) -> bool:
    """Whether a reply for this session is waiting (or was left mid-typing): a newer one queues behind it."""
    return conn.execute("SELECT 1 FROM waiting WHERE session_id = ? LIMIT 1", (session_id,)).fetchone() is not None


def heads(conn: sqlite3.Connection) -> list[WaitingReply]:
    """The oldest waiting reply of every session, oldest first."""
    rows = conn.execute(
        "SELECT w.*, i.status FROM waiting w JOIN inbound i ON i.id = w.entry_id"
        " WHERE w.entry_id IN (SELECT MIN(entry_id) FROM waiting GROUP BY session_id) ORDER BY w.entry_id"
    ).fetchall()
    return [
        WaitingReply(
            r["entry_id"], r["session_id"], r["sender"], r["text"], bytes(r["raw"]), r["since"], Status(r["status"])
        )
        for r in rows
    ]


def remove(conn: sqlite3.Connection, entry_id: int) -> None:
    """The reply is decided: forget its text."""
    with transaction(conn):
        conn.execute("DELETE FROM waiting WHERE entry_id = ?", (entry_id,))


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM waiting").fetchone()[0])
