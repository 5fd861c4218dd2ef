"""The relay's one-line status (systemd's ``STATUS=``, shown by ``systemctl --user status``).

Read from the session map so it says what the relay has actually done: how
many sessions are tracked and what happened to the last reply it read.
"""

from __future__ import annotations

import sqlite3
import time

from taskping.session_map import ledger, sessions
from taskping.session_map.vocabulary import Status


def status_line(conn: sqlite3.Connection, folder: str) -> str:
    """``watching INBOX; 2 sessions; last message 14:03:07 delivered`` (local time)."""
    live = sessions.live_count(conn)
    text = f"watching {folder}; {live} session{'s' if live != 1 else ''}"
    last = ledger.latest(conn)
    if last is None:
        return text + "; no message yet"
    at = time.strftime("%H:%M:%S", time.localtime(last.decided_at or last.received_at))
    reason = f" ({last.reason})" if last.reason and last.status != Status.DELIVERED else ""
    return f"{text}; last message {at} {last.status}{reason}"
