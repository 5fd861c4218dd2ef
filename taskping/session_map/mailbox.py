"""IMAP bookkeeping: per folder, the UIDVALIDITY seen and the last UID handled.

UIDs only mean something under one UIDVALIDITY; when the server reports a new
one, the last UID is reset and the ledger (keyed by Message-ID, not UID) keeps
already-handled replies from being typed again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from taskping.session_map.db import transaction


@dataclass(frozen=True)
class MailboxState:
    folder: str
    uidvalidity: int
    last_uid: int


def get(conn: sqlite3.Connection, folder: str) -> MailboxState | None:
    row = conn.execute("SELECT * FROM mailbox_state WHERE folder = ?", (folder,)).fetchone()
    return MailboxState(**dict(row)) if row else None


def sync_uidvalidity(conn: sqlite3.Connection, folder: str, uidvalidity: int) -> MailboxState:
    """Record the folder's UIDVALIDITY; a change resets the last UID to 0."""
    with transaction(conn):
        row = conn.execute("SELECT * FROM mailbox_state WHERE folder = ?", (folder,)).fetchone()
        if row is None or row["uidvalidity"] != uidvalidity:
            conn.execute(
                "INSERT INTO mailbox_state (folder, uidvalidity, last_uid) VALUES (?, ?, 0)"
                " ON CONFLICT(folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0",
                (folder, uidvalidity),
            )
    state = get(conn, folder)
    assert state is not None
    return state


def advance(conn: sqlite3.Connection, folder: str, uidvalidity: int, uid: int) -> None:
    """Mark everything up to ``uid`` handled (only moves forward, only under the same UIDVALIDITY)."""
    with transaction(conn):
        conn.execute(
            "UPDATE mailbox_state SET last_uid = MAX(last_uid, ?) WHERE folder = ? AND uidvalidity = ?",
            (uid, folder, uidvalidity),
        )
