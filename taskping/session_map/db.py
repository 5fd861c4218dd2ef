"""The SQLite file every TaskPing process shares.

Hooks (many short processes) and the relay daemon write concurrently, so:
WAL mode, a busy timeout instead of "database is locked" errors, and every
write is one short ``BEGIN IMMEDIATE`` transaction (see :func:`transaction`).
The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` holds
one entry per version and runs under an exclusive lock, so two processes that
open a new file at once do not race.

The file holds tokens and queued mail, so it is private: the directory 0700 and
the database 0600 before anything is written. SQLite gives the files it creates
beside it (``-wal``, ``-shm``, ``-journal``) the database file's mode at that
moment, so making the database 0600 right after it is opened, before WAL mode
and the schema, keeps those private too, whatever the caller's umask (see
:mod:`taskping.private_files`). The mode is changed by path, never through a
file descriptor of our own: closing any descriptor of a database file drops
every POSIX lock this process holds on it, including those of other open
connections (SQLite's documented hazard), and a relay holds several.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from taskping.private_files import private_dir, tighten

BUSY_TIMEOUT_MS = 15_000

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE sessions (
        id                  INTEGER PRIMARY KEY,
        token               TEXT NOT NULL UNIQUE,
        name                TEXT NOT NULL,
        kind                TEXT NOT NULL CHECK (kind IN ('tmux', 'pty')),
        target_socket       TEXT NOT NULL,
        target_pane         TEXT NOT NULL DEFAULT '',
        claude_session_id   TEXT,
        cwd                 TEXT,
        claude_pid          INTEGER,
        state               TEXT NOT NULL,
        last_event          TEXT,
        last_event_at       REAL,
        turn                INTEGER NOT NULL DEFAULT 0,
        notified_turn       INTEGER NOT NULL DEFAULT -1,
        last_prompt_at      REAL,
        thread_root         TEXT,
        created_at          REAL NOT NULL,
        updated_at          REAL NOT NULL,
        expires_at          REAL NOT NULL
    );
    CREATE UNIQUE INDEX sessions_live_name ON sessions(name) WHERE state != 'ended';
    CREATE UNIQUE INDEX sessions_live_target ON sessions(target_socket, target_pane) WHERE state != 'ended';

    CREATE TABLE notifications (
        message_id   TEXT PRIMARY KEY,
        session_id   INTEGER NOT NULL REFERENCES sessions(id),
        kind         TEXT NOT NULL,
        body_text    TEXT NOT NULL DEFAULT '',
        created_at   REAL NOT NULL
    );
    CREATE INDEX notifications_session ON notifications(session_id, created_at);

    CREATE TABLE outbox (
        id               INTEGER PRIMARY KEY,
        message_id       TEXT NOT NULL UNIQUE,
        session_id       INTEGER REFERENCES sessions(id),
        kind             TEXT NOT NULL,
        to_addr          TEXT NOT NULL,
        raw              BLOB NOT NULL,
        status           TEXT NOT NULL DEFAULT 'queued'
                         CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  REAL NOT NULL,
        last_error       TEXT,
        claimed_by       TEXT,
        claimed_at       REAL,
        created_at       REAL NOT NULL,
        sent_at          REAL
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at, id);

    CREATE TABLE inbound (
        id            INTEGER PRIMARY KEY,
        message_key   TEXT NOT NULL UNIQUE,
        message_id    TEXT,
        content_hash  TEXT NOT NULL,
        folder        TEXT,
        uidvalidity   INTEGER,
        uid           INTEGER,
        sender        TEXT,
        session_id    INTEGER REFERENCES sessions(id),
        status        TEXT NOT NULL,
        reason        TEXT,
        preview       TEXT,
        received_at   REAL NOT NULL,
        decided_at    REAL
    );
    CREATE INDEX inbound_session_time ON inbound(session_id, status, decided_at);

    CREATE TABLE mailbox_state (
        folder       TEXT PRIMARY KEY,
        uidvalidity  INTEGER NOT NULL,
        last_uid     INTEGER NOT NULL
    );

    CREATE TABLE daemons (
        role        TEXT PRIMARY KEY,
        pid         INTEGER NOT NULL,
        host        TEXT NOT NULL,
        started_at  REAL NOT NULL,
        beat_at     REAL NOT NULL
    );
    """,
    # 2: replay keys for the dedupe step (one per ledger entry; see taskping.relay.dedupe)
    """
    CREATE TABLE IF NOT EXISTS reply_keys (
        entry_id    INTEGER PRIMARY KEY,
        replay_key  TEXT NOT NULL,
        created_at  REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS reply_keys_key ON reply_keys(replay_key, created_at);
    """,
    # 3: replies waiting for a busy session; replay keys on the DKIM signature, for the session's life
    """
    CREATE TABLE waiting (
        entry_id    INTEGER PRIMARY KEY REFERENCES inbound(id),
        session_id  INTEGER NOT NULL REFERENCES sessions(id),
        sender      TEXT NOT NULL,
        text        TEXT NOT NULL,
        raw         BLOB NOT NULL,
        since       REAL NOT NULL,
        checked_at  REAL
    );
    CREATE INDEX waiting_session ON waiting(session_id, entry_id);
    CREATE TABLE reply_signatures (
        entry_id       INTEGER NOT NULL REFERENCES inbound(id),
        signature_key  TEXT NOT NULL,
        PRIMARY KEY (entry_id, signature_key)
    );
    CREATE INDEX reply_signatures_key ON reply_signatures(signature_key)
    """,
    # 4: indexes for retention (taskping.session_map.retention): without them each hourly run reads
    # every outbox row (status and times sit after the raw message, so that is the whole file)
    """
    CREATE INDEX outbox_session ON outbox(session_id, status, created_at);
    CREATE INDEX outbox_sent ON outbox(status, sent_at);
    CREATE INDEX notifications_time ON notifications(created_at);
    CREATE INDEX inbound_decided ON inbound(decided_at)
    """,
    # 5: PTY sessions: the control socket's secret; why a tracked session cannot be typed into
    """
    ALTER TABLE sessions ADD COLUMN control_secret TEXT;
    ALTER TABLE sessions ADD COLUMN not_injectable TEXT
    """,
    # 6: the step that decided an inbound message and its stable reason code (session_map.vocabulary)
    """
    ALTER TABLE inbound ADD COLUMN step TEXT;
    ALTER TABLE inbound ADD COLUMN code TEXT
    """,
    # 7: permission approvals by email (taskping.session_map.approvals): one row per approval email
    """
    CREATE TABLE approvals (
        id            INTEGER PRIMARY KEY,
        session_id    INTEGER NOT NULL REFERENCES sessions(id),
        message_id    TEXT NOT NULL UNIQUE,
        marker        TEXT NOT NULL,
        tool_name     TEXT NOT NULL,
        summary       TEXT NOT NULL,
        status        TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'allowed', 'denied', 'expired', 'closed')),
        deny_message  TEXT,
        note          TEXT,
        created_at    REAL NOT NULL,
        deadline      REAL NOT NULL,
        decided_at    REAL,
        decided_by    INTEGER REFERENCES inbound(id),
        hook_pid      INTEGER,
        tool_input    TEXT,
        answers       TEXT
    );
    CREATE INDEX approvals_session ON approvals(session_id, status)
    """,
    # 8: sessions that come back (taskping.hooks.resume) and orphan clean-up (taskping.hooks.orphans):
    # started by `taskping spawn`, the claude it ran, why and when it ended, how often it was resumed,
    # when its leftover terminal was closed
    """
    ALTER TABLE sessions ADD COLUMN spawned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN claude_program TEXT;
    ALTER TABLE sessions ADD COLUMN end_reason TEXT;
    ALTER TABLE sessions ADD COLUMN ended_at REAL;
    ALTER TABLE sessions ADD COLUMN resumed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN cleaned_at REAL
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The file was written by a newer TaskPing. Its text is one line naming the file and what to do."""

    def __init__(self, version: int, path: str | os.PathLike[str] | None = None) -> None:
        self.version = version
        self.path = path
        where = f"the session map {str(path)!r}" if path is not None else "the session map"
        super().__init__(
            f"{where} has schema v{version}, newer than this TaskPing (v{SCHEMA_VERSION}); "
            "upgrade TaskPing, or set SESSION_MAP_PATH to another file"
        )


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open (creating if needed) the session map and bring its schema up to date."""
    path = Path(path)
    private_dir(path.parent)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    _tighten_files(path)  # opening created the file (umask mode); no side file exists yet
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        _migrate(conn)
    except SchemaTooNew as exc:
        conn.close()
        raise SchemaTooNew(exc.version, path) from None
    return conn


SIDE_FILES = ("-wal", "-shm", "-journal")


def _tighten_files(path: Path) -> None:
    """The database 0600 (by path: see the module docstring), and side files an older TaskPing
    left 0644 while a connection kept them alive."""
    for name in (path.name, *(path.name + suffix for suffix in SIDE_FILES)):
        tighten(path.with_name(name))


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(version)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def memory_copy(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """An in-memory copy of the session map at ``path``, read through a read-only connection
    (the file is never written), brought up to the current schema in memory.

    A missing file gives an empty map of the current schema. Raises
    :class:`SchemaTooNew`, or ``sqlite3.Error`` when the file cannot be read.
    """
    path = Path(path)
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    memory.row_factory = sqlite3.Row
    try:
        if path.exists():
            source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                source.backup(memory)
            finally:
                source.close()
            version = memory.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(version, path)
        _migrate(memory)
        memory.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        memory.close()
        raise
    return memory


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One short write transaction: takes the write lock up front (no upgrade deadlocks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def now() -> float:
    return time.time()
