"""The relay's safety net has no holes (issue 9), on a real session map and the real Dovecot.

Every message ends in the ledger and the audit log with a stable code, whatever
raised on the way: the parse step itself, the session map being locked (then
the message is left in the mailbox and read again, and the fetch worker lives
on), a newer schema (one line and exit 2), an unreadable trace (never a pass).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.faults import FAULT_ENV
from taskping.relay import fetch
from taskping.relay.authenticate import check_authres
from taskping.relay.parse import parse, parse_header
from taskping.relay.pipeline import Outcome, Position, StoreUnavailable
from taskping.session_map import connect, ledger
from taskping.session_map.db import SchemaTooNew
from taskping.session_map.vocabulary import Code, Status, Step
from tests.support.inprocess import HOST, Map, in_process_map, reply_to, said
from tests.support.mailstack import MailStack

AT = Position("INBOX", 7, 42)
BIN = Path(sys.executable).parent


def audit(m: Map) -> list[dict[str, object]]:
    path = Path(m.settings.audit_path)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def smap(tmp_path: Path) -> Iterator[Map]:
    with in_process_map(tmp_path) as m:
        yield m


def hold_write_lock(path: str) -> sqlite3.Connection:
    """Another process's long write transaction on the session map (what a stuck hook would do)."""
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_parse_raising_is_recorded_not_raised(smap: Map, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_ENV, "parse:raise")
    raw = reply_to(smap, 0)
    outcome = smap.pipeline.plan(raw, AT)
    assert said(outcome) == (Status.DROPPED, Step.PARSE, Code.INTERNAL_ERROR), outcome
    rows = ledger.entries(smap.conn)
    assert [(r.status, r.step, r.code, r.uid) for r in rows] == [(Status.DROPPED, Step.PARSE, Code.INTERNAL_ERROR, 42)]
    assert [(a["decision"], a["step"], a["code"]) for a in audit(smap)] == [("dropped", "parse", "internal-error")]
    # the same bytes again (parse raises again on them): the same key, so handled once
    assert said(smap.pipeline.plan(raw, AT)) == (Status.DUPLICATE, Step.DEDUPE, Code.DUPLICATE)


def test_a_locked_session_map_leaves_the_message_for_later(smap: Map) -> None:
    smap.conn.execute("PRAGMA busy_timeout = 50")
    raw = reply_to(smap, 0, sender=b"eve@attacker.test")
    other = hold_write_lock(str(smap.settings.session_map_path))
    try:
        with pytest.raises(StoreUnavailable):
            smap.pipeline.plan(raw, AT)
        assert smap.pipeline.screen(raw[: raw.index(b"\r\n\r\n") + 4], len(raw), AT) is None  # the full run decides
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert ledger.entries(smap.conn) == [] and audit(smap) == []  # nothing was recorded: nothing is lost either
    assert said(smap.pipeline.plan(raw, AT)) == (Status.DROPPED, Step.AUTHENTICATE, Code.SENDER_NOT_ALLOWED)


def test_a_duplicate_delivery_is_in_the_audit_log(smap: Map) -> None:
    raw = reply_to(smap, 0, body=b"\r\n")  # refused at extract: nothing to type
    first = smap.pipeline.plan(raw, AT)
    assert said(first) == (Status.REFUSED, Step.EXTRACT, Code.NO_NEW_TEXT)
    assert said(smap.pipeline.plan(raw, AT)) == (Status.DUPLICATE, Step.DEDUPE, Code.DUPLICATE)
    assert [(r.status, r.code) for r in ledger.entries(smap.conn)] == [(Status.REFUSED, Code.NO_NEW_TEXT)]
    assert [(a["decision"], a["code"]) for a in audit(smap)] == [("refused", "no-new-text"), ("duplicate", "duplicate")]


def test_the_fetch_worker_outlives_a_locked_session_map(mail_stack: MailStack, tmp_path: Path) -> None:
    """An sqlite3.OperationalError in the worker used to end it (and the daemon). Now the message in hand
    is left unflagged, the session reconnects with backoff, and the message is handled once the map is free."""
    env = mail_stack.taskping_env(SENDER_AUTH="none", TASKPING_HOST_ID=HOST)
    with in_process_map(tmp_path, **env) as m:
        m.conn.execute("PRAGMA busy_timeout = 50")
        raised: list[BaseException] = []
        passes = threading.Event()

        def process(raw: bytes, position: Position) -> Outcome:
            try:
                return m.pipeline.process(raw, position)
            except BaseException as exc:
                raised.append(exc)
                raise

        def screen(header: bytes, size: int, position: Position) -> Outcome | None:
            # the stranger is refused on its header: under load the locked map is met here first
            try:
                return m.pipeline.screen(header, size, position)
            except BaseException as exc:
                raised.append(exc)
                raise

        stop = threading.Event()
        died: list[BaseException] = []

        def worker() -> None:
            try:
                fetch.run_forever(m.settings, m.conn, process, stop, screen=screen, ready=passes.set)
            except BaseException as exc:  # noqa: BLE001 - what the test looks for
                died.append(exc)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        try:
            assert passes.wait(15), "the first pass over the mailbox never finished"
            other = hold_write_lock(str(m.settings.session_map_path))
            try:
                stranger = reply_to(m, 0, sender=b"eve@attacker.test", mid=b"<locked@example.test>")
                mail_stack.send(stranger, to=mail_stack.address("taskping"), from_=mail_stack.address("me"))
                deadline = time.monotonic() + 20
                while not raised and thread.is_alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert raised, "the message never reached the pipeline"
                assert thread.is_alive(), f"the fetch worker died: {died}"
            finally:
                other.execute("ROLLBACK")
                other.close()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not ledger.entries(m.conn):
                time.sleep(0.05)
            rows = ledger.entries(m.conn)
            assert [(r.status, r.code, r.message_id) for r in rows] == [
                (Status.DROPPED, Code.SENDER_NOT_ALLOWED, "<locked@example.test>")
            ], (rows, died)
            assert isinstance(raised[0], StoreUnavailable | sqlite3.OperationalError), raised
        finally:
            stop.set()
            thread.join(timeout=20)
        assert not thread.is_alive() and died == []


def test_a_newer_schema_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "state" / "taskping.db"
    connect(db).close()
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(SchemaTooNew) as caught:
        connect(db)
    assert str(db) in str(caught.value) and "upgrade TaskPing" in str(caught.value)
    env_file = tmp_path / "env"
    env_file.write_text(f"SESSION_MAP_PATH={db}\n")
    env_file.chmod(0o600)
    out = subprocess.run(
        [str(BIN / "taskping"), "--env-file", str(env_file), "sessions"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr, out.stderr
    last = out.stderr.splitlines()[-1]  # (after the "config: FILE" line every command prints)
    assert last.startswith("sessions: the session map") and str(db) in last and "v99" in last, out.stderr
    assert "upgrade TaskPing" in last
    from taskping.relay.exit_status import explain

    line, code = explain(caught.value, None, debug=False)
    assert code == 2 and str(db) in line


def test_authentication_results_without_their_trace_never_pass(smap: Map) -> None:
    """The position rule needs the Received headers around the Authentication-Results; a message whose trace
    could not be read used to fall back to the Authentication-Results alone, silently without that rule."""
    raw = (
        b"Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n"
        b"Received: from phone.example.test by mx.example.test; Mon, 30 Nov 2026 10:00:00 +0000\r\n" + reply_to(smap, 0)
    )
    mail = parse(raw)
    assert [name for name, _ in mail.trace] == ["authentication-results", "received"]
    assert parse_header(raw[: raw.index(b"\r\n\r\n") + 4], len(raw)).trace == mail.trace
    assert check_authres(mail, "mx.example.test", "example.test")[0]
    blind = mail.model_copy(update={"trace": []})
    ok, why = check_authres(blind, "mx.example.test", "example.test")
    assert not ok and "trace" in why
