"""`taskping send-outbox` — send queued emails now, retrying with backoff.

Started detached by hooks when no relay daemon runs. One sender at a time
(a lock file beside the session map holds its PID); it keeps going while rows
are pending and due within ``--max-seconds``, then exits, leaving anything
still failing queued with its reason for the next sender. Every failure is
printed with its reason, and the exit status is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import sqlite3
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskping.config import Settings

HELP = "send queued notification emails over SMTP"
DESCRIPTION = __doc__


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=900.0,
        help="give up retrying after this long; rows stay queued (default: 900)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on success (not even the config line)")


def run(args: argparse.Namespace) -> int:
    from taskping import log
    from taskping.cli.config_source import load
    from taskping.private_files import open_private, private_dir

    settings = load(args.env_file, quiet=args.quiet)
    settings.require("smtp_host", "email_from")
    log.configure(log_file=settings.log_path if not sys.stderr.isatty() else None)
    logger = log.get_logger(component="send-outbox")
    lock_path = settings.state_dir / "send-outbox.lock"
    private_dir(settings.state_dir)
    deadline = time.monotonic() + args.max_seconds
    totals = {"sent": 0, "retried": 0, "failed": 0}
    gave_up = False
    while True:
        with os.fdopen(open_private(lock_path, os.O_RDWR | os.O_CREAT), "r+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("another_sender_running")
                break
            lock.seek(0)
            lock.truncate()
            lock.write(str(os.getpid()))
            lock.flush()
            gave_up = _send_until_done(settings, deadline, totals, logger)
        # The lock is released: a sender started meanwhile found it held and left, so a row
        # queued in that window is ours to send. Look once more.
        if gave_up or not _has_pending(settings):
            break
    if not args.quiet:
        print(f"sent {totals['sent']}, retried {totals['retried']}, failed {totals['failed']}")
    # Not a success when a mail failed for good, or some are still unsent at the deadline (each
    # failure was printed above with its reason). A retry that later went through is fine.
    return 1 if totals["failed"] or gave_up else 0


def _say(conn: sqlite3.Connection, message_id: str, what: str, reason: str) -> None:
    """One line on stderr per failure, naming the mail and the server's reason (hooks start this
    detached with stderr closed; the log has it too)."""
    row = conn.execute("SELECT kind FROM outbox WHERE message_id = ?", (message_id,)).fetchone()
    kind = f" ({row[0]})" if row else ""
    print(f"send-outbox: {message_id}{kind} {what}: {reason}", file=sys.stderr)


def _has_pending(settings: Settings) -> bool:
    from taskping.session_map import connect, outbox

    conn = connect(settings.session_map_path)
    try:
        return outbox.pending_count(conn) > 0
    finally:
        conn.close()


def _send_until_done(settings: Settings, deadline: float, totals: dict[str, int], logger: Any) -> bool:
    from taskping.relay.sender import drain
    from taskping.session_map import connect, outbox

    conn = connect(settings.session_map_path)
    try:
        while True:
            report = asyncio.run(drain(settings, conn))
            totals["sent"] += len(report.sent)
            totals["retried"] += len(report.retried)
            totals["failed"] += len(report.failed)
            for mid, reason in report.retried:
                logger.warning("send_retry", message_id=mid, reason=reason)
                _say(conn, mid, "not sent, will retry", reason)
            for mid, reason in report.failed:
                logger.error("send_failed", message_id=mid, reason=reason)
                _say(conn, mid, "failed for good", reason)
            if outbox.pending_count(conn) == 0:
                return False
            due = report.next_due_at or time.time() + 1
            wait = max(0.2, due - time.time())
            if time.monotonic() + wait > deadline:
                return True
            time.sleep(wait)
    finally:
        conn.close()
