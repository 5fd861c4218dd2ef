"""The outbox: emails waiting to be sent, sent exactly once, in order.

A sender claims the oldest due row (``queued`` → ``sending``, with its own id),
sends it, and marks it ``sent``; a temporary failure puts it back to
``queued`` with the reason and a backoff; a permanent one (5xx) marks it
``failed`` with the reason. A row left in ``sending`` by a sender that died is
released by :func:`release_stale` once that sender is gone, or its claim is
older than ``STALE_CLAIM_SECONDS`` (a sender stuck that long will not finish).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from taskping.session_map.db import now, transaction
from taskping.session_map.vocabulary import EmailKind, OutboxStatus

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
STALE_CLAIM_SECONDS = 600.0


@dataclass(frozen=True)
class OutboxRow:
    id: int
    message_id: str
    session_id: int | None
    kind: EmailKind
    to_addr: str
    raw: bytes
    status: OutboxStatus
    attempts: int
    next_attempt_at: float
    last_error: str | None
    claimed_by: str | None
    claimed_at: float | None
    created_at: float
    sent_at: float | None


def _row(row: sqlite3.Row) -> OutboxRow:
    values = dict(row)
    values["kind"] = EmailKind(values["kind"])
    values["status"] = OutboxStatus(values["status"])
    return OutboxRow(**values)


def backoff(attempts: int, cap: float = BACKOFF_CAP_SECONDS) -> float:
    return min(cap, BACKOFF_BASE_SECONDS * (2.0 ** max(0, attempts - 1)))


def insert(
    conn: sqlite3.Connection, *, message_id: str, session_id: int | None, kind: EmailKind, to_addr: str, raw: bytes
) -> int:
    """Add a row, due now, inside the caller's transaction. Returns its id."""
    t = now()
    cur = conn.execute(
        "INSERT INTO outbox (message_id, session_id, kind, to_addr, raw, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (message_id, session_id, kind, to_addr, raw, t, t),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def enqueue(
    conn: sqlite3.Connection, *, message_id: str, session_id: int | None, kind: EmailKind, to_addr: str, raw: bytes
) -> int:
    """Queue an email that is not a notification (e.g. a refusal for an unknown session)."""
    with transaction(conn):
        return insert(conn, message_id=message_id, session_id=session_id, kind=kind, to_addr=to_addr, raw=raw)


def claim_next(conn: sqlite3.Connection, claimer: str) -> OutboxRow | None:
    """Claim the oldest unsent row, if it is due. Rows go out strictly in order:
    while the oldest row waits for its retry, nothing behind it is sent."""
    t = now()
    with transaction(conn):
        row = conn.execute("SELECT * FROM outbox WHERE status IN ('queued', 'sending') ORDER BY id LIMIT 1").fetchone()
        if row is None or row["status"] == "sending" or row["next_attempt_at"] > t:
            return None
        conn.execute(
            "UPDATE outbox SET status = 'sending', claimed_by = ?, claimed_at = ?, attempts = attempts + 1"
            " WHERE id = ? AND status = 'queued'",
            (claimer, t, row["id"]),
        )
        claimed = conn.execute("SELECT * FROM outbox WHERE id = ?", (row["id"],)).fetchone()
    return _row(claimed)


def mark_sent(conn: sqlite3.Connection, row_id: int) -> None:
    with transaction(conn):
        conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ?", (now(), row_id))


def mark_retry(conn: sqlite3.Connection, row_id: int, reason: str, *, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Put a row back after a temporary failure; returns when it is due again.

    ``cap`` bounds the backoff: the relay daemon uses a short one (it is running
    anyway, and a mail server back after an outage should not wait minutes)."""
    with transaction(conn):
        attempts = conn.execute("SELECT attempts FROM outbox WHERE id = ?", (row_id,)).fetchone()[0]
        due = now() + backoff(attempts, cap)
        conn.execute(
            "UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ?, claimed_by = NULL WHERE id = ?",
            (due, reason[:500], row_id),
        )
    return due


def mark_failed(conn: sqlite3.Connection, row_id: int, reason: str) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE outbox SET status = 'failed', last_error = ?, claimed_by = NULL WHERE id = ?",
            (reason[:500], row_id),
        )


def release_stale(
    conn: sqlite3.Connection, alive: Callable[[str], bool], *, max_claim_seconds: float = STALE_CLAIM_SECONDS
) -> int:
    """Return to the queue the rows claimed by senders that no longer run (``alive`` says
    no), or claimed more than ``max_claim_seconds`` ago."""
    released = 0
    too_old = now() - max_claim_seconds
    with transaction(conn):
        for row in conn.execute("SELECT id, claimed_by, claimed_at FROM outbox WHERE status = 'sending'").fetchall():
            if not alive(row["claimed_by"] or "") or (row["claimed_at"] or 0) < too_old:
                conn.execute(
                    "UPDATE outbox SET status = 'queued', claimed_by = NULL,"
                    " last_error = 'sender stopped while sending; retrying' WHERE id = ?",
                    (row["id"],),
                )
                released += 1
    return released


def kind_of(conn: sqlite3.Connection, message_id: str) -> str | None:
    """The kind (notification, ack, refusal, …) of the email with this Message-ID, if queued here."""
    row = conn.execute("SELECT kind FROM outbox WHERE message_id = ?", (message_id,)).fetchone()
    return row[0] if row else None


def pending_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')").fetchone()[0])


def next_due_at(conn: sqlite3.Connection) -> float | None:
    row = conn.execute("SELECT next_attempt_at FROM outbox WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
    return row[0] if row else None


def rows(conn: sqlite3.Connection, status: OutboxStatus | None = None) -> list[OutboxRow]:
    if status:
        cur = conn.execute("SELECT * FROM outbox WHERE status = ? ORDER BY id", (status,))
    else:
        cur = conn.execute("SELECT * FROM outbox ORDER BY id")
    return [_row(r) for r in cur]


def last_per_session(conn: sqlite3.Connection) -> dict[int, OutboxRow]:
    """Each session's most recent email (notification, ack or refusal): for `taskping sessions`."""
    cur = conn.execute(
        "SELECT * FROM outbox WHERE id IN (SELECT MAX(id) FROM outbox WHERE session_id IS NOT NULL GROUP BY session_id)"
    )
    return {r["session_id"]: _row(r) for r in cur}
