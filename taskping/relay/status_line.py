"""The relay's one-line status (systemd's ``STATUS=``, shown by ``systemctl --user status``).

Read from the session map so it says what the relay has actually done: how
many sessions are tracked and what happened to the last reply it read.
"""

from __future__ import annotations

import sqlite3
import time


def status_line(conn: sqlite3.Connection, folder: str) -> str:
    """``watching INBOX; 2 sessions; last message 14:03:07 delivered`` (local time)."""
    live = conn.execute("SELECT COUNT(*) FROM sessions WHERE state != 'ended'").fetchone()[0]
    text = f"watching {folder}; {live} session{'s' if live != 1 else ''}"
    row = conn.execute(
        "SELECT status, reason, COALESCE(decided_at, received_at) AS at FROM inbound ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return text + "; no message yet"
    at = time.strftime("%H:%M:%S", time.localtime(row[2]))
    reason = f" ({row[1]})" if row[1] and row[0] != "delivered" else ""
    return f"{text}; last message {at} {row[0]}{reason}"
