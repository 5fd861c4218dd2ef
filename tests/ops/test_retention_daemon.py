"""The relay daemon forgets on its own: at start (then hourly), whatever its mailbox is doing.

The session map is written with the session map's clock 40 days back; the
relay runs with the real clock, IMAP and SMTP on a closed port (it keeps
retrying them, and forgets meanwhile)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from taskping.session_map import connect, db, ledger, notifications, outbox, sessions
from taskping.tokens import new_token
from tests.ops.conftest import Ops, json_lines
from tests.ops.test_daemon import stop

DAY = 86400.0


class PastClock:
    """Stands in for ``time`` inside taskping.session_map.db: rows written now are stamped 40 days ago."""

    def time(self) -> float:
        return time.time() - 40 * DAY


def test_the_relay_forgets_at_start(ops: Ops, closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ops.tmp / "state" / "taskping.db"
    monkeypatch.setattr(db, "time", PastClock())
    conn = connect(path)
    try:
        old = sessions.create(
            conn, token=new_token("h"), name="old", kind="pty", target_socket="/old", target_pane="", ttl=3600
        )
        row = notifications.queue(
            conn,
            session_id=old.id,
            message_id="<old@taskping>",
            kind="stop",
            body_text="an old answer",
            to_addr="me@example.com",
            raw=b"old raw",
            ttl=3600,
        )
        outbox.mark_sent(conn, row)
        entry, _ = ledger.claim(
            conn,
            message_key="<r@phone>",
            message_id="<r@phone>",
            content_hash="h",
            folder="INBOX",
            uidvalidity=1,
            uid=1,
            sender="me@example.com",
        )
        ledger.set_decision(conn, entry.id, "delivered", "typed", session_id=old.id, preview="old words")
        sessions.end(conn, old.id, reason="SessionEnd")
        live = sessions.create(
            conn, token=new_token("h"), name="live", kind="pty", target_socket="/live", target_pane="", ttl=3600
        )
    finally:
        conn.close()
    monkeypatch.undo()

    env = {
        "IMAP_HOST": "127.0.0.1",
        "IMAP_PORT": str(closed_port),
        "IMAP_SECURE": "none",
        "IMAP_USER": "u",
        "IMAP_PASS": "p",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(closed_port),
        "SMTP_SECURE": "none",
        "EMAIL_FROM": "taskping@example.com",
        "EMAIL_TO": "me@example.com",
        "ALLOWED_SENDERS": "me@example.com",
        "TRUSTED_AUTHSERV_ID": "localhost",
        "SESSION_MAP_PATH": str(path),
        "RETENTION_DAYS": "30",
    }
    proc = ops.relay(env)
    stderr: Path = ops.tmp / "relay.stderr"
    try:
        deadline = time.monotonic() + 30
        while '"retention"' not in stderr.read_text():
            assert proc.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.05)
    finally:
        code = stop(proc)
    assert code == 0
    (event,) = [e for e in json_lines(stderr.read_text()) if e["event"] == "retention"]
    assert (
        event["days"],
        event["sessions_deleted"],
        event["notifications_deleted"],
        event["outbox_deleted"],
        event["ledger_deleted"],
    ) == (30, 1, 1, 1, 1)
    conn = connect(path)
    try:
        assert [s.id for s in sessions.all_sessions(conn, include_ended=True)] == [live.id]
        assert ledger.entries(conn) == [] and outbox.rows(conn) == []
    finally:
        conn.close()
