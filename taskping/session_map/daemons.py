"""Which long-running TaskPing processes are alive (the relay's heartbeat).

Hooks look here to decide whether the relay will send their email or whether
they must start a detached sender themselves.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from typing import NamedTuple

from taskping.session_map.db import now, transaction

HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


class Heartbeat(NamedTuple):
    """The last beat of a role: which process, on which host, when."""

    pid: int
    host: str
    beat_at: float


def beat(conn: sqlite3.Connection, role: str, *, started_at: float | None = None) -> None:
    t = now()
    with transaction(conn):
        conn.execute(
            "INSERT INTO daemons (role, pid, host, started_at, beat_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(role) DO UPDATE SET pid = excluded.pid, host = excluded.host,"
            " started_at = COALESCE(?, daemons.started_at), beat_at = excluded.beat_at",
            (role, os.getpid(), socket.gethostname(), started_at or t, t, started_at),
        )


def clear(conn: sqlite3.Connection, role: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM daemons WHERE role = ? AND pid = ?", (role, os.getpid()))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heartbeat(conn: sqlite3.Connection, role: str) -> Heartbeat | None:
    """``role``'s last beat, or None when it never beat (or stopped cleanly)."""
    row = conn.execute("SELECT pid, host, beat_at FROM daemons WHERE role = ?", (role,)).fetchone()
    return None if row is None else Heartbeat(row["pid"], row["host"], row["beat_at"])


def alive(conn: sqlite3.Connection, role: str) -> bool:
    """True when ``role`` beat recently and, on this host, its process still exists."""
    last = heartbeat(conn, role)
    if last is None or now() - last.beat_at > STALE_AFTER_SECONDS:
        return False
    if last.host == socket.gethostname():
        return pid_alive(last.pid)
    return True
