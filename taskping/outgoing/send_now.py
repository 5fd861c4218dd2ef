"""Send the queued emails now, one sender at a time, retrying with backoff.

What `taskping send-outbox` does (hooks start it detached when no relay daemon
runs). One sender at a time: a lock file beside the session map holds its
PID, and a second sender leaves at once. It keeps going while rows are
pending and due before the deadline, then returns, leaving anything still
failing queued with its reason for the next sender. Every retry and failure
is logged and handed to ``say`` (the command prints it).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from taskping.config import Settings
from taskping.log import get_logger
from taskping.outgoing.smtp import DrainReport, drain
from taskping.private_files import open_private, private_dir
from taskping.session_map import connect, outbox

LOCK_NAME = "send-outbox.lock"

#: ``say(message_id, kind or None, what happened, reason)``: one failure or retry, for a person.
Say = Callable[[str, str | None, str, str], None]


@dataclass
class SendTotals:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    gave_up: bool = False  #: rows were still unsent at the deadline
    another_sender: bool = False  #: another sender held the lock; this one sent nothing

    def add(self, report: DrainReport) -> None:
        self.sent += len(report.sent)
        self.retried += len(report.retried)
        self.failed += len(report.failed)


def send_now(settings: Settings, *, max_seconds: float, say: Say) -> SendTotals:
    """Send what is queued until nothing is pending or ``max_seconds`` have passed."""
    logger = get_logger(component="send-outbox")
    lock_path = settings.state_dir / LOCK_NAME
    private_dir(settings.state_dir)
    deadline = time.monotonic() + max_seconds
    totals = SendTotals()
    while True:
        with os.fdopen(open_private(lock_path, os.O_RDWR | os.O_CREAT), "r+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("another_sender_running")
                totals.another_sender = True
                break
            lock.seek(0)
            lock.truncate()
            lock.write(str(os.getpid()))
            lock.flush()
            totals.gave_up = _send_until_done(settings, deadline, totals, say)
        # The lock is released: a sender started meanwhile found it held and left, so a row
        # queued in that window is ours to send. Look once more.
        if totals.gave_up or not _has_pending(settings):
            break
    return totals


def _has_pending(settings: Settings) -> bool:
    conn = connect(settings.session_map_path)
    try:
        return outbox.pending_count(conn) > 0
    finally:
        conn.close()


def _send_until_done(settings: Settings, deadline: float, totals: SendTotals, say: Say) -> bool:
    """Drain until the outbox is empty (False) or the next try would pass the deadline (True)."""
    logger = get_logger(component="send-outbox")
    conn = connect(settings.session_map_path)
    try:
        while True:
            report = asyncio.run(drain(settings, conn))
            totals.add(report)
            for mid, reason in report.retried:
                logger.warning("send_retry", message_id=mid, reason=reason)
                _say(conn, say, mid, "not sent, will retry", reason)
            for mid, reason in report.failed:
                logger.error("send_failed", message_id=mid, reason=reason)
                _say(conn, say, mid, "failed for good", reason)
            if outbox.pending_count(conn) == 0:
                return False
            due = report.next_due_at or time.time() + 1
            wait = max(0.2, due - time.time())
            if time.monotonic() + wait > deadline:
                return True
            time.sleep(wait)
    finally:
        conn.close()


def _say(conn: sqlite3.Connection, say: Say, message_id: str, what: str, reason: str) -> None:
    say(message_id, outbox.kind_of(conn, message_id), what, reason)
