"""The session map under real SQLite: schema, tokens, transitions, concurrency."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from taskping.session_map import connect, ledger, mailbox, notifications, outbox, sessions
from taskping.session_map.db import SCHEMA_VERSION
from taskping.tokens import TOKEN_RE, find_subject_token, new_token, subject_tag


def _session(conn, name="s1", pane="%1", ttl=100):  # type: ignore[no-untyped-def]
    return sessions.create(
        conn, token=new_token("h"), name=name, kind="tmux", target_socket="/sock", target_pane=pane, ttl=ttl
    )


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    conn = connect(tmp_path / "db")  # reopening does not migrate twice
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_tokens_are_random_unique_and_subject_safe() -> None:
    tokens = {new_token("host-a") for _ in range(2000)}
    assert len(tokens) == 2000
    for tok in list(tokens)[:50]:
        assert TOKEN_RE.fullmatch(tok)
        assert find_subject_token(f"Re: {subject_tag(tok)} proj: hi") == tok
        assert find_subject_token(f"RE: {subject_tag(tok).upper()} proj") == tok
    assert len({t.split("-")[0] for t in tokens}) == 1  # one host part per host
    assert new_token("host-a").split("-")[0] != new_token("host-b").split("-")[0]


def test_live_names_are_unique_but_reusable_after_end(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    first = _session(conn)
    with pytest.raises(sessions.NameInUse):
        _session(conn, pane="%2")
    sessions.end(conn, first.id, reason="SessionEnd")
    again = _session(conn, pane="%2")
    assert again.token != first.token


def test_new_session_on_a_pane_ends_the_stale_one_and_spawn_adopts(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    stale = _session(conn, name="old")
    fresh = _session(conn, name="new")
    assert sessions.get(conn, stale.id).state == "ended"  # type: ignore[union-attr]
    adopted = sessions.create(
        conn, token="zzzz-x", name="spawned", kind="tmux", target_socket="/sock", target_pane="%1", ttl=5, adopt=True
    )
    assert adopted.id == fresh.id and adopted.token == fresh.token and adopted.name == "spawned"


def test_notification_extends_window_and_sets_thread_root(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    s = _session(conn, ttl=10)
    notifications.queue(
        conn,
        session_id=s.id,
        message_id="<a@x>",
        kind="stop",
        body_text="t",
        to_addr="m@x.y",
        raw=b"r",
        ttl=1000,
        turn=3,
    )
    notifications.queue(
        conn, session_id=s.id, message_id="<b@x>", kind="idle", body_text="t", to_addr="m@x.y", raw=b"r", ttl=1000
    )
    s2 = sessions.get(conn, s.id)
    assert s2 is not None
    assert s2.thread_root == "<a@x>" and s2.notified_turn == 3
    assert s2.expires_at >= s.created_at + 999
    assert notifications.first_known(conn, ["<zz@x>", "<b@x>"]).message_id == "<b@x>"  # type: ignore[union-attr]


def test_outbox_claims_in_order_and_backs_off(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    s = _session(conn)
    for i in range(3):
        notifications.queue(
            conn, session_id=s.id, message_id=f"<{i}@x>", kind="stop", body_text="", to_addr="m@x.y", raw=b"r", ttl=None
        )
    row = outbox.claim_next(conn, "me")
    assert row is not None and row.message_id == "<0@x>"
    assert outbox.claim_next(conn, "other") is None  # the head is being sent: order is kept
    outbox.mark_retry(conn, row.id, "451 try later")
    assert outbox.claim_next(conn, "me") is None  # backing off
    conn.execute("UPDATE outbox SET next_attempt_at = 0")
    again = outbox.claim_next(conn, "me")
    assert again is not None and again.message_id == "<0@x>" and again.attempts == 2
    outbox.mark_sent(conn, again.id)
    nxt = outbox.claim_next(conn, "me")
    assert nxt is not None and nxt.message_id == "<1@x>"
    assert outbox.release_stale(conn, lambda c: c == "me") == 0
    assert outbox.release_stale(conn, lambda c: False) == 1


def test_outbox_releases_a_claim_held_too_long_and_names_kinds(tmp_path: Path) -> None:
    """A sender that still runs but has held its row past the limit is stuck: the row goes back."""
    conn = connect(tmp_path / "db")
    s = _session(conn)
    notifications.queue(
        conn, session_id=s.id, message_id="<k@x>", kind="stop", body_text="", to_addr="m@x.y", raw=b"r", ttl=None
    )
    assert outbox.kind_of(conn, "<k@x>") == "stop" and outbox.kind_of(conn, "<none@x>") is None
    row = outbox.claim_next(conn, "me")
    assert row is not None
    assert outbox.release_stale(conn, lambda c: True, max_claim_seconds=60) == 0  # fresh claim: kept
    conn.execute("UPDATE outbox SET claimed_at = claimed_at - 61 WHERE id = ?", (row.id,))
    assert outbox.release_stale(conn, lambda c: True, max_claim_seconds=60) == 1
    again = outbox.claim_next(conn, "other")
    assert again is not None and again.id == row.id and again.last_error == "sender stopped while sending; retrying"


def test_ledger_key_is_unique(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    kw = {
        "message_key": "<m@x>",
        "message_id": "<m@x>",
        "content_hash": "h",
        "folder": "INBOX",
        "uidvalidity": 1,
        "uid": 4,
        "sender": "me@x.y",
    }
    entry, created = ledger.claim(conn, **kw)  # type: ignore[arg-type]
    assert created and entry.status == "received"
    again, created2 = ledger.claim(conn, **kw)  # type: ignore[arg-type]
    assert not created2 and again.id == entry.id


def test_uidvalidity_change_resets_last_uid(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    mailbox.sync_uidvalidity(conn, "INBOX", 7)
    mailbox.advance(conn, "INBOX", 7, 12)
    assert mailbox.get(conn, "INBOX").last_uid == 12  # type: ignore[union-attr]
    mailbox.advance(conn, "INBOX", 7, 5)
    assert mailbox.get(conn, "INBOX").last_uid == 12  # type: ignore[union-attr]
    assert mailbox.sync_uidvalidity(conn, "INBOX", 8).last_uid == 0


def _writer(path: str, n: int) -> int:
    conn = connect(path)
    s = sessions.create(
        conn, token=new_token(), name=f"w{n}", kind="tmux", target_socket="/s", target_pane=f"%{n}", ttl=100
    )
    for i in range(20):
        sessions.record_event(conn, s.id, event="UserPromptSubmit", state="busy", new_turn=True)
        notifications.queue(
            conn,
            session_id=s.id,
            message_id=f"<{n}.{i}@x>",
            kind="stop",
            body_text="",
            to_addr="m@x.y",
            raw=b"r",
            ttl=100,
        )
    return n


def test_concurrent_writers_never_see_locked(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    connect(path).close()
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        assert sorted(pool.starmap(_writer, [(path, n) for n in range(16)])) == list(range(16))
    conn = connect(path)
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 16 * 20
    assert {s.turn for s in sessions.all_sessions(conn)} == {20}
