"""Retention: what the session map forgets, and when (``RETENTION_DAYS``).

Like Rails Action Mailbox's incineration, mail is kept only as long as it is
useful. With ``cutoff = now - RETENTION_DAYS``, :func:`forget`:

**erases text, keeping the row** (its metadata and decision):

* outbox rows sent or failed before the cutoff lose their raw message
  (``raw`` becomes empty; kind, recipient, status, attempts, error and times
  stay, so `taskping sessions` still shows each session's last mail);
* ledger rows decided before the cutoff lose their ``preview`` (status,
  reason, sender, session, key and times stay);
* notifications created before the cutoff lose their body text, except the
  :data:`notifications.SENT_TEXTS` newest of a session that is not ended or
  whose reply window is open (the extractor recognises a quoted copy of them
  in a reply).

**deletes rows that nothing needs any more:**

* an ended session quiet since the cutoff (ended, and its reply window
  closed, before it; no mail or reply after it) goes with everything that
  only it needs: its notifications, its outbox rows, its ledger rows and
  their replay keys (``reply_keys``, ``reply_signatures``). Such a session
  accepts no reply, and no copy of one of its replies can be routed to
  another session (the Subject is always signed, and a reply routed by its
  thread alone must have its thread headers signed: see
  ``docs/security.md``), so its replay keys protect nothing any more; until
  then they are all kept (the window matters too: a session brought back
  after its terminal was lost would accept replies while it is open);
* ledger rows that never reached a session (unroutable, foreign, dropped
  before routing; never one with a typed status) decided before the cutoff;
* outbox rows of no session (refusals to unknown sessions) sent or failed
  before the cutoff.

**never touches** a session that is not ended, a reply that is waiting or
being typed (the ``waiting`` table, ledger ``received``/``waiting``/
``injecting``), an outbox row still ``queued`` or ``sending`` (nor the
session it belongs to), the IMAP bookkeeping or the heartbeat.

The work is done in short write transactions (:data:`BATCH_SESSIONS`
sessions, :data:`BATCH_ROWS` rows per statement), so hooks and the relay
writing meanwhile wait milliseconds even on the first run over a large old
store. Erased text is overwritten (``secure_delete`` for the run), not left
in free pages, and the WAL (which holds older copies of the pages) is
checkpointed and truncated afterwards. Space is reused by new rows; when a
run frees at least :data:`RECLAIM_MIN_BYTES` and :data:`RECLAIM_MIN_FRACTION`
of the file (the first run on an old store, say), the file is rebuilt with
``VACUUM`` (temp store in memory, so no copy of the data lands in ``/tmp``;
it holds the write lock for its duration: 1–3 s for 22 MB kept on a busy
2-core machine, see ``bench/README.md``) and the
WAL is truncated. The relay runs this at start and hourly; `taskping
sessions --prune` on demand.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, fields

from taskping.session_map.db import now, transaction
from taskping.session_map.notifications import SENT_TEXTS

DAY_SECONDS = 86400
DEFAULT_DAYS = 30
RECLAIM_MIN_BYTES = 1 << 20
RECLAIM_MIN_FRACTION = 0.25
BATCH_SESSIONS = 50  # sessions deleted per write transaction
BATCH_ROWS = 2000  # rows erased or deleted per statement per write transaction

_NOT_DECIDED = ("received", "waiting", "injecting")
_TYPED = ("waiting", "injecting", "delivered", "unknown")
_DONE_MAIL = ("sent", "failed")


@dataclass(frozen=True)
class Report:
    """What one run erased (text gone, row kept) and deleted (row gone), and the file's size."""

    outbox_erased: int = 0
    ledger_erased: int = 0
    notifications_erased: int = 0
    sessions_deleted: int = 0
    notifications_deleted: int = 0
    outbox_deleted: int = 0
    ledger_deleted: int = 0
    replay_keys_deleted: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    vacuumed: bool = False

    def counts(self) -> dict[str, int | bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def anything(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name.endswith(("_erased", "_deleted")))

    def lines(self, days: int) -> list[str]:
        """For people: what was forgotten, one line each (nothing: one line saying so)."""
        if not self.anything:
            return [f"retention: nothing older than {days} days to forget"]
        erased = (
            f"retention ({days} days): erased the text of {self.outbox_erased} sent email(s), "
            f"{self.ledger_erased} reply preview(s), {self.notifications_erased} notification text(s)"
        )
        deleted = (
            f"retention ({days} days): deleted {self.sessions_deleted} ended session(s) with "
            f"{self.notifications_deleted} notification(s), {self.outbox_deleted} email(s), "
            f"{self.ledger_deleted} ledger row(s), {self.replay_keys_deleted} replay key(s)"
        )
        size = f"retention: database {self.bytes_before:,} → {self.bytes_after:,} bytes"
        out = [erased, deleted, size + (" (vacuumed)" if self.vacuumed else "")]
        return out


def file_bytes(conn: sqlite3.Connection) -> int:
    """The database file's size plus its WAL's (what the store costs on disk)."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    total = 0
    for name in (path, path + "-wal"):
        try:
            total += os.stat(name).st_size
        except OSError:
            continue
    return total


def forget(
    conn: sqlite3.Connection,
    *,
    days: int = DEFAULT_DAYS,
    at: float | None = None,
    reclaim: bool = True,
    batch_sessions: int = BATCH_SESSIONS,
    batch_rows: int = BATCH_ROWS,
) -> Report:
    """Erase and delete what is older than ``days`` (see the module docstring).

    In short write transactions of at most ``batch_sessions`` sessions and ``batch_rows`` rows per
    statement, so the hooks and the relay, which write to the same file, wait milliseconds, not
    the seconds the first run on a large old store takes."""
    at = now() if at is None else at
    cutoff = at - days * DAY_SECONDS
    before = file_bytes(conn)
    total: dict[str, int] = {}
    conn.execute("PRAGMA secure_delete = ON")
    try:
        more = True
        while more:
            with transaction(conn):
                counts, more = _forget_batch(conn, cutoff, at, batch_sessions, batch_rows)
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
    finally:
        conn.execute("PRAGMA secure_delete = OFF")
    vacuumed = _reclaim(conn) if reclaim else False
    if not vacuumed:  # old copies of erased pages live on in the WAL until it is overwritten
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Report(**total, bytes_before=before, bytes_after=file_bytes(conn), vacuumed=vacuumed)


def _marks(values: tuple[str, ...]) -> str:
    return ",".join(f"'{v}'" for v in values)  # constants of this module only


def _forget_batch(
    conn: sqlite3.Connection, cutoff: float, at: float, batch_sessions: int, batch_rows: int
) -> tuple[dict[str, int], bool]:
    """One transaction's share; True when a limit was reached (there may be more)."""
    full = False

    def run(sql: str, *params: object, limit: int | None = None) -> int:
        nonlocal full
        count = conn.execute(sql, (*params, limit) if limit is not None else params).rowcount
        full = full or (limit is not None and count >= limit)
        return count

    done_mail, typed, not_decided = _marks(_DONE_MAIL), _marks(_TYPED), _marks(_NOT_DECIDED)
    counts: dict[str, int] = {}

    # The doomed: ended sessions quiet since the cutoff (their reply window closed before it too),
    # with nothing pending; then their ledger rows, and the ledger rows of no session (never one
    # that was typed, never one not decided). Every lookup here goes through an index.
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS forget_sessions (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS forget_entries (id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM temp.forget_sessions")
    conn.execute("DELETE FROM temp.forget_entries")
    run(
        "INSERT INTO temp.forget_sessions SELECT s.id FROM sessions s WHERE s.state = 'ended' AND s.updated_at < ?"
        " AND s.expires_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM waiting w WHERE w.session_id = s.id)"
        f" AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.session_id = s.id"
        f"                 AND (o.status NOT IN ({done_mail}) OR o.created_at >= ?))"  # outbox_session
        f" AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.session_id = s.id"
        f"                 AND (i.status IN ({not_decided}) OR COALESCE(i.decided_at, i.received_at) >= ?))"
        " AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.session_id = s.id AND n.created_at >= ?)"
        " LIMIT ?",
        cutoff,
        cutoff,
        cutoff,
        cutoff,
        cutoff,
        limit=batch_sessions,
    )
    conn.execute("INSERT INTO temp.forget_entries SELECT id FROM inbound WHERE session_id IN temp.forget_sessions")
    run(
        "INSERT OR IGNORE INTO temp.forget_entries SELECT id FROM inbound WHERE session_id IS NULL"
        f" AND status NOT IN ({not_decided}) AND status NOT IN ({typed})"
        " AND decided_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM waiting w WHERE w.entry_id = inbound.id) LIMIT ?",
        cutoff,
        limit=batch_rows,
    )

    counts["replay_keys_deleted"] = run("DELETE FROM reply_signatures WHERE entry_id IN temp.forget_entries") + run(
        "DELETE FROM reply_keys WHERE entry_id IN temp.forget_entries"
    )
    run("DELETE FROM approvals WHERE session_id IN temp.forget_sessions OR decided_by IN temp.forget_entries")
    counts["ledger_deleted"] = run("DELETE FROM inbound WHERE id IN temp.forget_entries")
    counts["notifications_deleted"] = run("DELETE FROM notifications WHERE session_id IN temp.forget_sessions")
    counts["outbox_deleted"] = (
        run("DELETE FROM outbox WHERE session_id IN temp.forget_sessions")
        + run(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE session_id IS NULL AND status = 'sent'"
            " AND sent_at < ? LIMIT ?)",
            cutoff,
            limit=batch_rows,
        )
        + run(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE session_id IS NULL AND status = 'failed'"
            " AND created_at < ? LIMIT ?)",
            cutoff,
            limit=batch_rows,
        )
    )
    counts["sessions_deleted"] = run("DELETE FROM sessions WHERE id IN temp.forget_sessions")

    # What stays loses its text.
    # (Each by an index: outbox_sent, inbound_decided, notifications_time; a row already erased is
    # small, so passing it again costs little. The kept bodies are looked up from the sessions that
    # keep them: CROSS JOIN fixes that order, INDEXED BY stops SQLite building an automatic index
    # over every notification, which reads them all.)
    counts["outbox_erased"] = run(
        "UPDATE outbox SET raw = x'' WHERE id IN (SELECT id FROM outbox WHERE status = 'sent' AND sent_at < ?"
        " AND length(raw) > 0 LIMIT ?)",
        cutoff,
        limit=batch_rows,
    ) + run(
        "UPDATE outbox SET raw = x'' WHERE id IN (SELECT id FROM outbox WHERE status = 'failed'"
        " AND created_at < ? AND length(raw) > 0 LIMIT ?)",
        cutoff,
        limit=batch_rows,
    )
    counts["ledger_erased"] = run(
        "UPDATE inbound SET preview = NULL WHERE id IN (SELECT id FROM inbound WHERE decided_at < ?"
        f" AND preview IS NOT NULL AND status NOT IN ({not_decided}) LIMIT ?)",
        cutoff,
        limit=batch_rows,
    )
    counts["notifications_erased"] = run(
        "UPDATE notifications SET body_text = '' WHERE message_id IN (SELECT message_id FROM notifications"
        " WHERE created_at < ? AND body_text != ''"
        " AND message_id NOT IN (SELECT message_id FROM ("
        "   SELECT n.message_id, ROW_NUMBER() OVER (PARTITION BY n.session_id ORDER BY n.created_at DESC) AS nth"
        "   FROM sessions s CROSS JOIN notifications n INDEXED BY notifications_session ON n.session_id = s.id"
        "   WHERE (s.state != 'ended' OR s.expires_at > ?) AND n.body_text != '') WHERE nth <= ?) LIMIT ?)",
        cutoff,
        at,
        SENT_TEXTS,
        limit=batch_rows,
    )
    conn.execute("DROP TABLE temp.forget_sessions")
    conn.execute("DROP TABLE temp.forget_entries")
    return counts, full


def _reclaim(conn: sqlite3.Connection) -> bool:
    """VACUUM when enough of the file is free pages (see the module docstring); True when it ran."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    if free * page_size < RECLAIM_MIN_BYTES or free < pages * RECLAIM_MIN_FRACTION:
        return False
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return True
