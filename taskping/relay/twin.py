"""Two relays with one host id on one mailbox: found at start and refused.

A notification's Message-ID names its machine and the second it was minted,
``<tp.HOST.SECONDS.RANDOM@domain>``. A Message-ID with *our* host part found in the
mailbox (a notification itself, or a reply's In-Reply-To/References) that our session
map does not know, minted no earlier than the second of our own oldest notification (and in the last day), was
sent from another state dir with our host id: two machines share one id, and each would
act on the other's replies.

Chosen over writing a presence mark into the mailbox (a heartbeat message or keyword):
nothing is written, nothing has to be cleaned after a crash, and it works on any IMAP
server with HEADER search. A state dir that was reset is not refused (the old mail was
minted before its first notification). The limit: a twin is seen once one of its
notifications (or a reply to one) is in the mailbox, at the next start.
"""

from __future__ import annotations

import re
import sqlite3
import time

import imapclient

from taskping.config import ConfigError, Settings
from taskping.log import get_logger
from taskping.mail_errors import MailFailure
from taskping.relay import imap_connect
from taskping.tokens import host_part

LOOKBACK_SECONDS = 24 * 3600
MAX_MESSAGES = 200  # the newest matches only: a bounded start


def _oldest_notification(conn: sqlite3.Connection) -> float | None:
    row = conn.execute("SELECT MIN(created_at) FROM notifications").fetchone()
    return float(row[0]) if row and row[0] is not None else None


def foreign_twin_ids(conn: sqlite3.Connection, host: str, headers: list[bytes], since: float) -> list[str]:
    """Message-IDs in ``headers`` with host part ``host``, minted in ``since``'s second or later, that we did not send."""
    pattern = re.compile(rb"<tp\." + re.escape(host.encode()) + rb"\.(\d+)\.[0-9a-f]+@[^>\s]+>", re.IGNORECASE)
    found: list[str] = []
    for block in headers:
        for m in pattern.finditer(block):
            mid = m.group(0).decode("ascii", "replace")
            if int(m.group(1)) < int(since) or mid in found:  # ids count whole seconds: the same second is not before
                continue
            if conn.execute("SELECT 1 FROM notifications WHERE message_id = ?", (mid,)).fetchone() is None:
                found.append(mid)
    return found


def check_unique_host(settings: Settings, conn: sqlite3.Connection) -> None:
    """Raise ConfigError when the mailbox shows another relay with this machine's host id."""
    oldest = _oldest_notification(conn)
    if oldest is None:
        return  # nothing sent yet: nothing to tell our mail from another's
    since = max(oldest, time.time() - LOOKBACK_SECONDS)
    host = host_part(settings.host_id)
    needle = f"<tp.{host}."
    try:
        client, _ = imap_connect.open_session(settings, readonly=True)
    except MailFailure as exc:  # the relay's own connection retries and reports; this check is not worth a stop
        get_logger(component="relay").warning("host_id_check_skipped", error=exc.line)
        return
    try:
        criteria: list[object] = [
            "OR",
            "HEADER",
            "Message-ID",
            needle,
            "OR",
            "HEADER",
            "In-Reply-To",
            needle,
            "HEADER",
            "References",
            needle,
        ]
        uids = sorted(client.search(criteria))[-MAX_MESSAGES:]
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)]"]) if uids else {}
    except imapclient.exceptions.IMAPClientError as exc:  # a server without HEADER search: no check, said once
        get_logger(component="relay").warning("host_id_check_skipped", error=str(exc)[:200])
        return
    finally:
        imap_connect.close(client)
    headers = [v for d in data.values() for k, v in d.items() if k.startswith(b"BODY") and isinstance(v, bytes)]
    twins = foreign_twin_ids(conn, host, headers, since)
    if twins:
        raise ConfigError(
            "TASKPING_HOST_ID",
            f"another machine uses this machine's host id (host part {host}): the mailbox holds its "
            f"notification {twins[0]}; give each machine its own TASKPING_HOST_ID (or leave it unset on both)",
        )
