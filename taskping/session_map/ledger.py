"""The inbound ledger: one row per received email, the whole story of a reply.

Like Rails Action Mailbox's InboundEmail, the row is created with a unique key
(the Message-ID, or ``sha256:<hash of the raw message>`` when there is none)
and a uniqueness violation simply means "already have it". Lifecycle::

    received ─▶ injecting ─▶ delivered
        │   ▲        └──(crash)──▶ unknown    (never retyped; sender is told)
        │   │
        ├──▶ waiting  (Claude is busy: typed later, in order, or refused after BUSY_WAIT_SECONDS)
        ├──▶ refused   (a reason; a refusal email when the sender is trusted)
        ├──▶ dropped   (a reason; nothing is ever sent back)
        └──▶ foreign   (another machine's reply: left untouched in the mailbox)

Every decided row has the step that decided it and a stable reason code
(:mod:`taskping.session_map.vocabulary`) beside the human reason.

The ``injecting`` row is committed before the first key is sent, so after a
crash a reply is typed at most once: a ``received`` row may be processed again
(nothing was typed), an ``injecting`` row may not.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from taskping.session_map.db import now, transaction
from taskping.session_map.vocabulary import FINAL, TYPED, Code, Status, Step

__all__ = ["FINAL", "LedgerEntry", "Status", "claim", "delivered_since", "entries", "get", "latest", "set_decision"]


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    message_key: str
    message_id: str | None
    content_hash: str
    folder: str | None
    uidvalidity: int | None
    uid: int | None
    sender: str | None
    session_id: int | None
    status: Status
    reason: str | None
    preview: str | None
    received_at: float
    decided_at: float | None
    step: Step | None = None
    code: Code | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL


def claim(
    conn: sqlite3.Connection,
    *,
    message_key: str,
    message_id: str | None,
    content_hash: str,
    folder: str | None,
    uidvalidity: int | None,
    uid: int | None,
    sender: str | None,
) -> tuple[LedgerEntry, bool]:
    """Create the row for a message, or find the existing one.

    Returns ``(entry, created)``; ``created`` is False for a message seen before
    (a duplicate delivery, or one whose processing a crash interrupted).
    """
    t = now()
    with transaction(conn):
        try:
            conn.execute(
                "INSERT INTO inbound (message_key, message_id, content_hash, folder, uidvalidity, uid, sender,"
                " status, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'received', ?)",
                (message_key, message_id, content_hash, folder, uidvalidity, uid, sender, t),
            )
            created = True
        except sqlite3.IntegrityError:
            created = False
        row = conn.execute("SELECT * FROM inbound WHERE message_key = ?", (message_key,)).fetchone()
    return _entry(row), created


def _entry(row: sqlite3.Row) -> LedgerEntry:
    values = dict(row)
    values["status"] = Status(values["status"])
    values["step"] = Step(values["step"]) if values.get("step") else None
    values["code"] = Code(values["code"]) if values.get("code") else None
    return LedgerEntry(**values)


def set_decision(
    conn: sqlite3.Connection,
    entry_id: int,
    status: Status,
    reason: str | None,
    *,
    code: Code | None = None,
    step: Step | None = None,
    session_id: int | None = None,
    preview: str | None = None,
) -> None:
    """Record a message's decision (the relay's one ending calls this; see the pipeline)."""
    with transaction(conn):
        conn.execute(
            "UPDATE inbound SET status = ?, reason = ?, code = ?, step = ?, decided_at = ?,"
            " session_id = COALESCE(?, session_id), preview = COALESCE(?, preview) WHERE id = ?",
            (Status(status), reason, code, step, now(), session_id, preview, entry_id),
        )


def start_command(conn: sqlite3.Connection, entry_id: int, *, preview: str | None) -> None:
    """Committed before a command acts on a terminal with no session yet (``#new`` starting one):
    the row becomes ``injecting``, so a crash from here on is never run again."""
    with transaction(conn):
        conn.execute(
            "UPDATE inbound SET status = ?, preview = ? WHERE id = ? AND status = ?",
            (Status.INJECTING, preview, entry_id, Status.RECEIVED),
        )


def attach_session(conn: sqlite3.Connection, entry_id: int, session_id: int) -> None:
    """The session a command started (``#new``), recorded as soon as it exists."""
    with transaction(conn):
        conn.execute("UPDATE inbound SET session_id = ? WHERE id = ?", (session_id, entry_id))


def seen_foreign(conn: sqlite3.Connection) -> bool:
    """Whether this relay ever left another machine's mail untouched: the mailbox is shared."""
    return conn.execute("SELECT 1 FROM inbound WHERE status = ? LIMIT 1", (Status.FOREIGN,)).fetchone() is not None


def get(conn: sqlite3.Connection, entry_id: int) -> LedgerEntry | None:
    row = conn.execute("SELECT * FROM inbound WHERE id = ?", (entry_id,)).fetchone()
    return _entry(row) if row else None


def latest(conn: sqlite3.Connection) -> LedgerEntry | None:
    """The most recent message received (the relay's status line)."""
    row = conn.execute("SELECT * FROM inbound ORDER BY id DESC LIMIT 1").fetchone()
    return _entry(row) if row else None


def delivered_since(conn: sqlite3.Connection, session_id: int, since: float) -> list[float]:
    """Times of replies delivered (or in flight, or waiting) to a session since ``since``: the rate limit's input.
    A ``#new`` that typed no prompt (no preview) typed nothing into the session it started: not counted."""
    marks = ",".join("?" * len(TYPED))
    rows = conn.execute(
        f"SELECT decided_at FROM inbound WHERE session_id = ? AND status IN ({marks})"
        " AND COALESCE(decided_at, received_at) >= ? AND NOT (COALESCE(code, '') = ? AND preview IS NULL)",
        (session_id, *TYPED, since, Code.COMMAND_NEW),
    )
    return [r[0] or since for r in rows]


def entries(conn: sqlite3.Connection, status: Status | None = None) -> list[LedgerEntry]:
    if status:
        cur = conn.execute("SELECT * FROM inbound WHERE status = ? ORDER BY id", (status,))
    else:
        cur = conn.execute("SELECT * FROM inbound ORDER BY id")
    return [_entry(r) for r in cur]
