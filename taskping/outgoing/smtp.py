"""Sending the outbox over SMTP (aiosmtplib).

Rows go out oldest first, each claimed by exactly one sender before it is
sent. A connection problem or a 4xx reply puts the row back with its reason
and a backoff (everything behind it waits: order is kept); a 5xx reply to the
sender or recipients marks it failed with the reason. Used continuously by
the relay daemon, and by `taskping send-outbox` (:mod:`taskping.outgoing.send_now`)
when no daemon runs. The rows themselves are :mod:`taskping.session_map.outbox`'s.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass, field

import aiosmtplib

from taskping.config import Settings
from taskping.faults import fault_point
from taskping.mail_errors import CONNECT_TIMEOUT
from taskping.outgoing.smtp_errors import describe, is_permanent
from taskping.session_map import daemons, outbox


def claimer_id() -> str:
    """This process, as it is written into the rows it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claimer_alive(claimer: str) -> bool:
    """False only for a claimer on this host whose process is gone (another host's: assume alive)."""
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


def smtp_client(settings: Settings) -> aiosmtplib.SMTP:
    """An unconnected client for SMTP_HOST:SMTP_PORT with SMTP_SECURE's TLS and the connect timeout."""
    settings.require("smtp_host")
    secure = settings.smtp_secure
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=secure == "ssl",
        start_tls=secure == "starttls",
        tls_context=settings.tls_context() if secure != "none" else None,
        timeout=CONNECT_TIMEOUT,  # connect, TLS handshake, greeting (and each reply after)
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
    outbox.release_stale(conn, claimer_alive)
    smtp: aiosmtplib.SMTP | None = None
    try:
        while True:
            row = outbox.claim_next(conn, claimer)
            if row is None:
                break
            try:
                if smtp is None:
                    smtp = smtp_client(settings)
                    await smtp.connect()
                    if settings.smtp_user:
                        await smtp.login(settings.smtp_user, settings.smtp_pass or "")
                await smtp.sendmail(settings.envelope_from, [row.to_addr], row.raw)
                fault_point("during-send")  # crash tests: accepted by the server, not yet marked sent
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                reason = describe(
                    exc,
                    host=settings.smtp_host,
                    port=settings.smtp_port,
                    secure=settings.smtp_secure,
                    user=settings.smtp_user,
                )
                if is_permanent(exc):
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
