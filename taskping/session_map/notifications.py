"""Notifications we sent: our Message-ID → the session it was about.

Replies are routed by their In-Reply-To / References against this table. The
plain-text body is kept so the extractor can recognise a quoted copy of it.
Queuing a notification is one transaction: the notification row, its outbox
row, and the session's thread root, reply window and notified turn.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from taskping.session_map import outbox
from taskping.session_map.db import now, transaction
from taskping.session_map.vocabulary import EmailKind

# How many of a session's newest notification bodies the extractor compares a reply with
# (and so how many retention keeps while the session is not ended).
SENT_TEXTS = 20


@dataclass(frozen=True)
class Notification:
    message_id: str
    session_id: int
    kind: EmailKind
    body_text: str
    created_at: float


def queue(
    conn: sqlite3.Connection,
    *,
    session_id: int,
    message_id: str,
    kind: EmailKind,
    body_text: str,
    to_addr: str,
    raw: bytes,
    ttl: int | None,
    turn: int | None = None,
) -> int:
    """Record a notification and put its email in the outbox. Returns the outbox id.

    ``ttl`` extends the session's reply window to now + ttl (None: acks and
    refusals, which do not invite a reply). ``turn`` marks the turn as notified.
    """
    t = now()
    with transaction(conn):
        conn.execute(
            "INSERT INTO notifications (message_id, session_id, kind, body_text, created_at) VALUES (?, ?, ?, ?, ?)",
            (message_id, session_id, kind, body_text, t),
        )
        row_id = outbox.insert(conn, message_id=message_id, session_id=session_id, kind=kind, to_addr=to_addr, raw=raw)
        conn.execute(
            "UPDATE sessions SET thread_root = COALESCE(thread_root, ?),"
            " expires_at = CASE WHEN ? IS NULL THEN expires_at ELSE MAX(expires_at, ? + ?) END,"
            " notified_turn = COALESCE(?, notified_turn), updated_at = ? WHERE id = ?",
            (message_id, ttl, t, ttl, turn, t, session_id),
        )
        return row_id


def by_message_id(conn: sqlite3.Connection, message_id: str) -> Notification | None:
    row = conn.execute("SELECT * FROM notifications WHERE message_id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    values = dict(row)
    values["kind"] = EmailKind(values["kind"])
    return Notification(**values)


def first_known(conn: sqlite3.Connection, message_ids: list[str]) -> Notification | None:
    """The first of ``message_ids`` (in the given order) that we sent."""
    for mid in message_ids:
        found = by_message_id(conn, mid)
        if found is not None:
            return found
    return None


def texts_for_session(conn: sqlite3.Connection, session_id: int, limit: int = SENT_TEXTS) -> list[str]:
    rows = conn.execute(
        "SELECT body_text FROM notifications WHERE session_id = ? AND body_text != '' ORDER BY created_at DESC LIMIT ?",
        (session_id, limit),
    )
    return [r[0] for r in rows]
