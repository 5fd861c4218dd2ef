"""Sending the outbox over SMTP (aiosmtplib).

Rows go out oldest first, each claimed by exactly one sender before it is
sent. A connection problem or a 4xx reply puts the row back with its reason
and a backoff (everything behind it waits: order is kept); a 5xx reply to the
sender or recipients marks it failed with the reason. Used continuously by
the relay daemon, and by `taskping send-outbox` when no daemon runs.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from dataclasses import dataclass, field

import aiosmtplib

from taskping.config import Settings
from taskping.faults import fault_point
from taskping.relay import mail_errors
from taskping.session_map import daemons, outbox

CONNECT_TIMEOUT = mail_errors.CONNECT_TIMEOUT  # connect, TLS handshake, greeting (and each reply after)
STALE_CLAIM_SECONDS = 600.0


def claimer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claimer_alive(claimer: str) -> bool:
    host, _, pid = claimer.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return daemons.pid_alive(int(pid))
    return True


@dataclass
class DrainReport:
    sent: list[str] = field(default_factory=list)  # message ids
    retried: list[tuple[str, str]] = field(default_factory=list)  # (message id, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)
    next_due_at: float | None = None


class PermanentFailure(Exception):
    pass


def _describe(exc: BaseException, settings: Settings) -> str:
    """The reason stored with the row and printed: one line naming what to check (see mail_errors)."""
    failure = mail_errors.smtp_failure(
        exc, host=settings.smtp_host, port=settings.smtp_port, secure=settings.smtp_secure, user=settings.smtp_user
    )
    if failure is not None:
        return failure.line
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "recipients refused: " + "; ".join(f"{e.code} {e.message}" for e in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {exc.code} {exc.message}".strip()
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def _is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(e.code >= 500 for e in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return False  # a login problem is fixed in config; keep the mail
    if isinstance(exc, (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError)):
        return exc.code >= 500
    return False


def _smtp_client(settings: Settings) -> aiosmtplib.SMTP:
    settings.require("smtp_host")
    secure = settings.smtp_secure
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=secure == "ssl",
        start_tls=secure == "starttls",
        tls_context=settings.tls_context() if secure != "none" else None,
        timeout=CONNECT_TIMEOUT,
    )


async def drain(
    settings: Settings,
    conn: sqlite3.Connection,
    *,
    claimer: str | None = None,
    backoff_cap: float = outbox.BACKOFF_CAP_SECONDS,
) -> DrainReport:
    """Send every row that is due, in order, over one SMTP connection.

    ``backoff_cap`` bounds the wait before a row that failed temporarily is tried again."""
    claimer = claimer or claimer_id()
    report = DrainReport()
    outbox.release_stale(conn, lambda c: claimer_alive(c) and not _claim_too_old(conn, c))
    smtp: aiosmtplib.SMTP | None = None
    try:
        while True:
            row = outbox.claim_next(conn, claimer)
            if row is None:
                break
            try:
                if smtp is None:
                    smtp = _smtp_client(settings)
                    await smtp.connect()
                    if settings.smtp_user:
                        await smtp.login(settings.smtp_user, settings.smtp_pass or "")
                sender = settings.email_from or settings.smtp_user or ""
                await smtp.sendmail(sender, [row.to_addr], row.raw)
                fault_point("during-send")  # crash tests: accepted by the server, not yet marked sent
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                reason = _describe(exc, settings)
                if _is_permanent(exc):
                    outbox.mark_failed(conn, row.id, reason)
                    report.failed.append((row.message_id, reason))
                    continue
                outbox.mark_retry(conn, row.id, reason, cap=backoff_cap)
                report.retried.append((row.message_id, reason))
                break
            outbox.mark_sent(conn, row.id)
            report.sent.append(row.message_id)
    finally:
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                smtp.close()
    report.next_due_at = outbox.next_due_at(conn)
    return report


def _claim_too_old(conn: sqlite3.Connection, claimer: str) -> bool:
    row = conn.execute(
        "SELECT MIN(claimed_at) FROM outbox WHERE status = 'sending' AND claimed_by = ?", (claimer,)
    ).fetchone()
    return bool(row and row[0] and time.time() - row[0] > STALE_CLAIM_SECONDS)
