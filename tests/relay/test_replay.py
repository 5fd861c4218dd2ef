"""The replay check on a real session map and real DKIM signatures (dkimpy):
a typed reply is recognised for the whole life of its session, by its content
and, when signed, by its signature whatever headers around it changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from taskping.relay import dedupe
from taskping.relay.parse import parse
from taskping.session_map import connect, ledger, sessions
from taskping.session_map.vocabulary import Code, Refusal, Status, Step
from tests.support.dkim import make_key, sign

SENDER = "me@example.test"


@pytest.fixture(scope="module")
def key(tmp_path_factory):  # type: ignore[no-untyped-def]
    return make_key(tmp_path_factory.mktemp("dkim"), "s1", "example.test", bits=1024)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    conn = connect(tmp_path / "taskping.db")
    a = sessions.create(
        conn, token="HOST-AAAA", name="taskping-a", kind="tmux", target_socket="/s", target_pane="%1", ttl=60
    )
    b = sessions.create(
        conn, token="HOST-BBBB", name="taskping-b", kind="tmux", target_socket="/s", target_pane="%2", ttl=60
    )
    yield conn, a, b
    conn.close()


def _reply(
    text: str,
    *,
    message_id: str,
    in_reply_to: str = "<note-a@x>",
    subject: str = "Re: [TaskPing #HOST-AAAA]",
    extra: str = "",
) -> bytes:
    return (
        f"From: Me <{SENDER}>\r\nTo: taskping@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nIn-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n{extra}"
        f"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"\r\n{text}\r\n"
    ).encode()


def _check(conn, raw: bytes, session, text: str, *, status: Status = Status.DELIVERED) -> Refusal | None:  # type: ignore[no-untyped-def]
    mail = parse(raw)
    entry, _ = ledger.claim(
        conn,
        message_key=mail.message_key,
        message_id=mail.message_id,
        content_hash=hashlib.sha256(raw).hexdigest(),
        folder=None,
        uidvalidity=None,
        uid=None,
        sender=SENDER,
    )
    refusal = dedupe.record_and_check_replay(conn, entry.id, sender=SENDER, session=session, mail=mail, text=text)
    if refusal is not None:
        assert (refusal.step, refusal.code, refusal.session_id) == (Step.REPLAY, Code.REPLAY, session.id)
    ledger.set_decision(
        conn,
        entry.id,
        Status.REFUSED if refusal else status,
        refusal and refusal.reason,
        code=refusal and refusal.code,
        session_id=session.id,
    )
    return refusal


def test_same_text_same_thread_is_a_replay_however_old(store) -> None:  # type: ignore[no-untyped-def]
    conn, a, _b = store
    assert _check(conn, _reply("run the tests", message_id="<1@x>"), a, "run the tests") is None
    # a year later (no time window: the keys live as long as the ledger row)
    conn.execute("UPDATE reply_keys SET created_at = created_at - 366 * 86400")
    conn.execute("UPDATE inbound SET received_at = received_at - 366 * 86400")
    refusal = _check(conn, _reply("run  the tests", message_id="<2@x>"), a, "run  the tests")
    assert refusal is not None and refusal.reason.startswith("replay: the same text")


def test_refused_earlier_reply_does_not_count(store) -> None:  # type: ignore[no-untyped-def]
    conn, a, _b = store
    assert _check(conn, _reply("deploy", message_id="<1@x>"), a, "deploy", status=Status.REFUSED) is None
    assert _check(conn, _reply("deploy", message_id="<2@x>"), a, "deploy") is None


def test_waiting_reply_counts_as_typed(store) -> None:  # type: ignore[no-untyped-def]
    conn, a, _b = store
    assert _check(conn, _reply("continue", message_id="<1@x>"), a, "continue", status=Status.WAITING) is None
    assert _check(conn, _reply("continue", message_id="<2@x>"), a, "continue") is not None


def test_new_thread_same_words_is_not_a_replay(store) -> None:  # type: ignore[no-untyped-def]
    conn, a, _b = store
    assert _check(conn, _reply("continue", message_id="<1@x>"), a, "continue") is None
    assert _check(conn, _reply("continue", message_id="<2@x>", in_reply_to="<note-a2@x>"), a, "continue") is None


def test_signed_reply_with_headers_changed_around_the_signature_is_a_replay(store, key) -> None:  # type: ignore[no-untyped-def]
    """In-Reply-To, References and Message-ID are not signed here: a replayer changes them
    (re-routing to session b, and a new thread so the content key differs)."""
    conn, a, b = store
    signed_headers = (b"from", b"to", b"subject", b"date", b"mime-version", b"content-type")
    genuine = sign(_reply("ship it", message_id="<1@x>"), key, headers=signed_headers)
    assert _check(conn, genuine, a, "ship it") is None
    moved = genuine.replace(b"<note-a@x>", b"<note-b@x>").replace(b"<1@x>", b"<forged@x>")
    assert moved != genuine
    refusal = _check(conn, moved, b, "ship it")
    assert refusal is not None and refusal.reason.startswith("replay: a message with the same DKIM signature")


def test_signature_of_another_domain_is_not_a_key(key) -> None:  # type: ignore[no-untyped-def]
    raw = sign(_reply("x", message_id="<1@x>"), key)
    assert dedupe.signature_keys(raw, "example.test")
    assert dedupe.signature_keys(raw, "other.test") == []
    # folding the b= value differently is the same signature
    refolded = raw.replace(b"b=", b"b=\r\n ", 1)
    assert dedupe.signature_keys(refolded, "example.test") == dedupe.signature_keys(raw, "example.test")
