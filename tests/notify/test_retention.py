"""Retention (RETENTION_DAYS) on real SQLite files, the clock moved instead of waited for:
exactly what is erased, what is deleted and what is kept; `taskping sessions --prune`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from taskping.config import ConfigError, load_settings
from taskping.session_map import connect, db, ledger, notifications, outbox, reply_keys, retention, sessions, waiting
from taskping.tokens import new_token
from tests.notify.conftest import taskping_bin

DAY = 86400.0
START = 1_800_000_000.0


class Clock:
    """Stands in for the ``time`` module inside ``taskping.session_map.db``: every row the
    session map writes is stamped with ``db.now()``, which reads ``time.time()`` there."""

    def __init__(self, t: float) -> None:
        self.t = t

    def time(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock(START)
    monkeypatch.setattr(db, "time", c)
    return c


@dataclass
class Store:
    conn: sqlite3.Connection
    path: Path
    clock: Clock
    batch: int | None = None  # retention's batch limits (sessions and rows), None: its defaults
    n: int = 0

    def forget(self) -> retention.Report:
        """RETENTION_DAYS=30; in batches of ``batch`` when set (1: every row its own transaction)."""
        if self.batch is None:
            return retention.forget(self.conn, days=30)
        return retention.forget(self.conn, days=30, batch_sessions=self.batch, batch_rows=self.batch)

    def _next(self) -> int:
        self.n += 1
        return self.n

    def session(self, name: str, ttl: float = 400 * DAY, kind: Literal["tmux", "pty"] = "tmux") -> sessions.Session:
        c = self.conn
        return sessions.create(
            c,
            token=new_token("h"),
            name=name,
            kind=kind,
            target_socket="/sock",
            target_pane=f"%{self._next()}",
            ttl=int(ttl),
        )

    def notify(self, session_id: int, body: str, *, sent: bool = True) -> str:
        mid = f"<n{self._next()}@taskping>"
        row = notifications.queue(
            self.conn,
            session_id=session_id,
            message_id=mid,
            kind="stop",
            body_text=body,
            to_addr="me@example.com",
            raw=f"raw {body}".encode(),
            ttl=None,
        )
        if sent:
            outbox.mark_sent(self.conn, row)
        self.clock.t += 1  # one second apart: "newest" is well defined
        return mid

    def reply(
        self,
        session_id: int | None,
        *,
        status: ledger.Status = "delivered",
        preview: str | None = "typed text",
        key: str | None = None,
        signatures: tuple[str, ...] = (),
    ) -> int:
        entry, _ = ledger.claim(
            self.conn,
            message_key=f"<r{self._next()}@phone>",
            message_id=None,
            content_hash="h",
            folder="INBOX",
            uidvalidity=1,
            uid=self.n,
            sender="me@example.com",
        )
        if key is not None:
            reply_keys.record_and_find(self.conn, entry.id, content_key=key, signature_keys=list(signatures))
        if status != "received":
            ledger.set_decision(
                self.conn, entry.id, status, f"{status} for a reason", session_id=session_id, preview=preview
            )
        return entry.id

    def later(self, days: float) -> None:
        self.clock.t += days * DAY

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@pytest.fixture(params=[None, 1], ids=["one-batch", "batches-of-1"])
def store(tmp_path: Path, clock: Clock, request: pytest.FixtureRequest) -> Iterator[Store]:
    """The same results whether one transaction does it all or every row takes its own."""
    path = tmp_path / "state" / "taskping.db"
    conn = connect(path)
    yield Store(conn, path, clock, batch=request.param)
    conn.close()


def _outbox(store: Store, message_id: str) -> outbox.OutboxRow:
    (row,) = [r for r in outbox.rows(store.conn) if r.message_id == message_id]
    return row


def _bodies(store: Store, session_id: int) -> dict[str, str]:
    rows = store.conn.execute("SELECT message_id, body_text FROM notifications WHERE session_id = ?", (session_id,))
    return {r[0]: r[1] for r in rows}


def test_old_text_is_erased_and_the_decisions_kept(store: Store) -> None:
    live = store.session("live")
    old_mids = [store.notify(live.id, f"notification {i}") for i in range(22)]
    reply = store.reply(live.id, preview="run the tests", key="k-live", signatures=("sig-live",))
    waiting_reply = store.reply(None, status="received")
    waiting.enqueue(
        store.conn,
        waiting_reply,
        session_id=live.id,
        sender="me@example.com",
        text="wait for me",
        raw=b"raw waiting",
        preview="wait for me",
    )
    queued = outbox.enqueue(
        store.conn,
        message_id="<q@taskping>",
        session_id=live.id,
        kind="ack",
        to_addr="me@example.com",
        raw=b"still queued",
    )
    refusal = outbox.enqueue(
        store.conn,
        message_id="<refusal@taskping>",
        session_id=None,
        kind="refusal",
        to_addr="me@example.com",
        raw=b"unknown session",
    )
    outbox.mark_sent(store.conn, refusal)
    stray = store.reply(None, status="dropped", preview=None)

    store.later(29)
    recent = store.notify(live.id, "recent notification")
    early = store.forget()
    assert not early.anything  # nothing is 30 days old yet

    store.later(2)  # day 31: the first batch is past the cutoff, `recent` (day 29) is not
    report = store.forget()

    # Sent mail loses its bytes, keeps its story; queued mail is untouched.
    first = _outbox(store, old_mids[0])
    assert (first.raw, first.status, first.kind, first.to_addr, first.sent_at) == (
        b"",
        "sent",
        "stop",
        "me@example.com",
        START,
    )
    assert _outbox(store, recent).raw == b"raw recent notification"
    assert _outbox(store, "<q@taskping>").raw == b"still queued" and queued
    # The ledger keeps the decision, loses the text.
    entry = ledger.get(store.conn, reply)
    assert entry is not None
    assert (entry.status, entry.reason, entry.session_id, entry.preview) == (
        "delivered",
        "delivered for a reason",
        live.id,
        None,
    )
    # A live session keeps its 20 newest notification bodies (the extractor's), the rest is erased.
    bodies = _bodies(store, live.id)
    assert [m for m in old_mids if bodies[m] == ""] == old_mids[:3]
    assert bodies[recent] == "recent notification"
    # The waiting reply is kept whole.
    assert waiting.text_of(store.conn, waiting_reply) == "wait for me"
    assert (parked := ledger.get(store.conn, waiting_reply)) is not None and parked.status == "waiting"
    # Mail of no session goes: the refusal to an unknown session, the dropped stray.
    assert [r.message_id for r in outbox.rows(store.conn) if r.session_id is None] == []
    assert ledger.get(store.conn, stray) is None

    assert report.counts() | {"bytes_before": 0, "bytes_after": 0} == {
        "outbox_erased": 22,
        "ledger_erased": 1,
        "notifications_erased": 3,
        "sessions_deleted": 0,
        "notifications_deleted": 0,
        "outbox_deleted": 1,
        "ledger_deleted": 1,
        "replay_keys_deleted": 0,
        "bytes_before": 0,
        "bytes_after": 0,
        "vacuumed": False,
    }

    # The live session's replay keys survive: the same reply again is still a replay, both ways.
    again = store.reply(None, status="received")
    found = reply_keys.record_and_find(store.conn, again, content_key="k-live", signature_keys=[])
    assert found is not None and found.entry_id == reply and not found.by_signature
    again = store.reply(None, status="received")
    found = reply_keys.record_and_find(store.conn, again, content_key="other", signature_keys=["sig-live"])
    assert found is not None and found.entry_id == reply and found.by_signature

    assert not store.forget().anything  # a second run: nothing left


def test_an_ended_session_goes_only_when_quiet_and_nothing_is_pending(store: Store) -> None:
    gone = store.session("gone", ttl=DAY)
    store.notify(gone.id, "bye")
    gone_reply = store.reply(gone.id, key="k-gone", signatures=("sig-gone-1", "sig-gone-2"))
    store.reply(gone.id, status="refused", key="k-gone-refused")
    sessions.end(store.conn, gone.id, reason="SessionEnd")

    queued = store.session("queued", ttl=DAY)
    store.notify(queued.id, "not sent yet", sent=False)
    sessions.end(store.conn, queued.id, reason="SessionEnd")

    parked = store.session("parked", ttl=DAY)
    parked_reply = store.reply(None, status="received")
    waiting.enqueue(
        store.conn,
        parked_reply,
        session_id=parked.id,
        sender="me@example.com",
        text="parked text",
        raw=b"raw",
        preview="parked text",
    )
    sessions.end(store.conn, parked.id, reason="SessionEnd")

    live = store.session("live")
    live_reply = store.reply(live.id, key="k-live")

    windowed = store.session("windowed", ttl=40 * DAY)  # ended, but its reply window is still open at day 31
    store.notify(windowed.id, "window open")
    windowed_reply = store.reply(windowed.id, key="k-windowed")
    sessions.end(store.conn, windowed.id, reason="pane gone")

    store.later(20)
    recent = store.session("recent", ttl=DAY)
    store.notify(recent.id, "ended recently")
    sessions.end(store.conn, recent.id, reason="SessionEnd")

    store.later(11)  # day 31
    report = store.forget()

    # `gone` went with every row only it needed.
    assert sessions.get(store.conn, gone.id) is None
    assert ledger.get(store.conn, gone_reply) is None
    for table in ("notifications", "outbox", "inbound"):
        assert store.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id = ?", (gone.id,)).fetchone()[0] == 0
    assert store.conn.execute("SELECT COUNT(*) FROM reply_keys WHERE replay_key LIKE 'k-gone%'").fetchone()[0] == 0
    assert store.count("reply_signatures") == 0
    # The others stay: mail still queued, a reply still waiting, reply window open, ended too recently, live.
    assert {s.name for s in sessions.all_sessions(store.conn, include_ended=True)} == {
        "queued",
        "parked",
        "windowed",
        "recent",
        "live",
    }
    assert list(_bodies(store, windowed.id).values()) == ["window open"]
    assert (found := ledger.get(store.conn, windowed_reply)) is not None and found.preview is None
    assert store.conn.execute("SELECT COUNT(*) FROM reply_keys WHERE replay_key = 'k-windowed'").fetchone()[0] == 1
    (unsent,) = [r for r in outbox.rows(store.conn) if r.session_id == queued.id]
    assert (unsent.status, unsent.raw) == ("queued", b"raw not sent yet")
    assert waiting.text_of(store.conn, parked_reply) == "parked text"
    assert list(_bodies(store, recent.id).values()) == ["ended recently"]
    assert (kept := ledger.get(store.conn, live_reply)) is not None and kept.status == "delivered"

    assert (
        report.sessions_deleted,
        report.notifications_deleted,
        report.outbox_deleted,
        report.ledger_deleted,
        report.replay_keys_deleted,
    ) == (1, 1, 1, 2, 4)  # keys: 2 content + 2 signatures
    # The queued session's notification body is past the cutoff and the session ended: erased.
    assert set(_bodies(store, queued.id).values()) == {""}
    assert report.notifications_erased == 1
    # Sent mail loses its bytes whatever its session: the windowed session's notification.
    assert report.outbox_erased == 1
    assert [r.raw for r in outbox.rows(store.conn) if r.session_id == windowed.id] == [b""]
    assert report.ledger_erased == 2  # the live and the windowed session's reply previews


def test_erased_text_is_gone_from_the_files_and_a_big_prune_is_vacuumed(store: Store) -> None:
    big = store.session("big", ttl=DAY)
    marker = "SECRET-CLAUDE-ANSWER-"
    for i in range(120):
        store.notify(big.id, marker + str(i) + " " + "x" * 20_000)
    store.reply(big.id, preview=marker + "preview")
    kept = store.session("kept")
    store.notify(kept.id, "small")
    sessions.end(store.conn, big.id, reason="SessionEnd")
    store.later(31)

    report = store.forget()
    assert report.sessions_deleted == 1 and report.notifications_deleted == 120
    assert report.vacuumed
    assert report.bytes_before > 5_000_000 and report.bytes_after < 200_000, report
    on_disk = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.name.startswith("taskping.db"))
    assert marker.encode() not in on_disk
    assert os.stat(store.path).st_mode & 0o777 == 0o600  # VACUUM rewrote it in place, still private

    again = store.forget()
    assert not again.anything and not again.vacuumed


def test_erasing_without_a_vacuum_leaves_no_copy_in_free_pages_or_the_wal(store: Store) -> None:
    live = store.session("live")
    marker = "ERASE-ME-"
    mids = [store.notify(live.id, marker + str(i) + " " + "y" * 3000) for i in range(25)]
    store.later(31)
    store.notify(live.id, "new")  # keeps the session's window, and its newest bodies
    report = store.forget()
    assert not report.vacuumed and report.outbox_erased == 25 and report.notifications_erased == 6
    on_disk = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.name.startswith("taskping.db"))
    erased = [m for m in mids if _bodies(store, live.id)[m] == ""]
    assert len(erased) == 6
    for i, mid in enumerate(mids):
        present = f"{marker}{i} ".encode() in on_disk
        assert present == (mid not in erased), (i, present)  # kept bodies are there, erased ones are not


def test_retention_days_is_parsed_once_with_a_one_line_error() -> None:
    assert load_settings(environ={}).retention_days == 30
    assert load_settings(environ={"RETENTION_DAYS": " 7 "}).retention_days == 7
    for bad, problem in (("0", "must be between 1 and 3650, got 0"), ("a month", "expected a whole number")):
        with pytest.raises(ConfigError) as caught:
            load_settings(environ={"RETENTION_DAYS": bad})
        assert str(caught.value).startswith(f"config error: RETENTION_DAYS: {problem}")
        assert "\n" not in str(caught.value)


def _prune(tmp_path: Path, *, days: str = "30") -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "SESSION_MAP_PATH": str(tmp_path / "state" / "taskping.db"),
        "RETENTION_DAYS": days,
    }
    return subprocess.run(
        [taskping_bin(), "sessions", "--prune"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )


def test_sessions_prune_prints_what_it_forgot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "home").mkdir()
    forty_days_ago = Clock(time.time() - 40 * DAY)
    monkeypatch.setattr(db, "time", forty_days_ago)
    conn = connect(tmp_path / "state" / "taskping.db")
    s = Store(conn, tmp_path / "state" / "taskping.db", forty_days_ago)
    try:
        old = s.session("old", ttl=DAY)
        s.notify(old.id, "bye")
        s.reply(old.id, key="k")
        sessions.end(conn, old.id, reason="SessionEnd")
        live = s.session("live", kind="pty")  # no tmux pane to find gone: the retention lines alone
        s.notify(live.id, "hello")
        s.reply(live.id, preview="secret words")
    finally:
        conn.close()

    old_line = json.dumps({"time": "2020-01-02T03:04:05+0000", "typed": "old words"}) + "\n"
    new_line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "typed": "new words"}) + "\n"
    (tmp_path / "state" / "audit.jsonl").write_text(old_line * 2 + new_line)
    proc = _prune(tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[4] == "retention (30 days): dropped 2 line(s) of audit.jsonl, 0 line(s) of taskping.log"
    assert (tmp_path / "state" / "audit.jsonl").read_text() == new_line
    assert lines[:3] == [
        "no gone sessions to prune",
        "retention (30 days): erased the text of 1 sent email(s), 1 reply preview(s), 0 notification text(s)",
        (
            "retention (30 days): deleted 1 ended session(s) with 1 notification(s), 1 email(s), "
            "1 ledger row(s), 1 replay key(s)"
        ),
    ]
    assert lines[3].startswith("retention: database ") and len(lines) == 5
    conn = connect(tmp_path / "state" / "taskping.db")
    try:
        assert [x.name for x in sessions.all_sessions(conn, include_ended=True)] == ["live"]
        assert [e.preview for e in ledger.entries(conn)] == [None]
    finally:
        conn.close()

    again = _prune(tmp_path)
    assert again.stdout.splitlines() == [
        "no gone sessions to prune",
        "retention: nothing older than 30 days to forget",
        "retention: no log line older than 30 days",
    ]

    bad = _prune(tmp_path, days="-1")
    assert bad.returncode == 2 and bad.stdout == ""
    assert [x for x in bad.stderr.splitlines() if not x.startswith("config: ")] == [
        "config error: RETENTION_DAYS: must be between 1 and 3650, got -1"
    ]
