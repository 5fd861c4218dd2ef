"""The header screen (:meth:`Pipeline.screen`): size and header before content.

The fetch step hands the pipeline each message's header section and
RFC822.SIZE first; what the screen decides ends in the real ledger and audit
log and is never downloaded. Real DKIM keys and signatures (dkimpy) where a
signature is needed; the signature's cryptography itself is checked only
after the download, by the full pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.relay.dkim_verify import precheck
from taskping.relay.parse import parse
from taskping.relay.pipeline import Planned, Position
from taskping.session_map import ledger
from taskping.session_map.vocabulary import Code, Status, Step
from taskping.tokens import new_token
from tests.support.dkim import Key, make_key, sign
from tests.support.inprocess import Map, in_process_map, reply_to, said

LIMIT = 2_000_000
AT = Position("INBOX", 7, 42)


def head(raw: bytes) -> bytes:
    """What IMAP's BODY.PEEK[HEADER] returns: the header section with its empty line."""
    return raw[: raw.index(b"\r\n\r\n") + 4]


def audit(m: Map) -> list[dict[str, object]]:
    path = Path(m.settings.audit_path)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def smap(tmp_path: Path) -> Iterator[Map]:
    with in_process_map(tmp_path) as m:
        yield m


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("dkim"), "s1", "example.test", bits=1024)


def test_over_the_size_limit_is_dropped_on_its_size(smap: Map) -> None:
    raw = reply_to(smap, 0)
    decision = smap.pipeline.screen(head(raw), LIMIT + 1, AT)
    assert said(decision) == (Status.DROPPED, Step.SCREEN, Code.TOO_LARGE)
    assert decision is not None and "2,000,001 bytes" in decision.reason
    row = ledger.entries(smap.conn)[-1]
    assert (row.status, row.code, row.uid, row.message_id) == ("dropped", Code.TOO_LARGE, 42, "<reply-1@example.test>")
    assert (audit(smap)[-1]["code"], audit(smap)[-1]["reason"]) == ("too-large", decision.reason)
    # the same message again (flagging failed, a second copy): one row, a duplicate, and a second audit line
    assert said(smap.pipeline.screen(head(raw), LIMIT + 1, AT)) == (Status.DUPLICATE, Step.DEDUPE, Code.DUPLICATE)
    assert len(ledger.entries(smap.conn)) == 1
    assert [(a["decision"], a["code"]) for a in audit(smap)] == [("dropped", "too-large"), ("duplicate", "duplicate")]


def test_at_the_limit_the_genuine_reply_is_downloaded(smap: Map) -> None:
    raw = reply_to(smap, 0)
    assert smap.pipeline.screen(head(raw), LIMIT, AT) is None
    assert ledger.entries(smap.conn) == []  # nothing recorded until the full message is processed
    assert isinstance(smap.pipeline.plan(raw, AT), Planned)


def test_a_stranger_is_dropped_on_the_header(smap: Map) -> None:
    raw = reply_to(smap, 0, sender=b"Eve <eve@attacker.test>")
    decision = smap.pipeline.screen(head(raw), 1_500_000, AT)
    assert said(decision) == (Status.DROPPED, Step.SCREEN, Code.SENDER_NOT_ALLOWED)
    assert audit(smap)[-1]["decision"] == "dropped"


def test_automatic_mail_and_unreadable_headers_are_dropped_on_the_header(smap: Map) -> None:
    auto = b"Auto-Submitted: auto-replied\r\n" + reply_to(smap, 0, mid=b"<auto@example.test>")
    assert said(smap.pipeline.screen(head(auto), len(auto), AT)) == (Status.DROPPED, Step.SCREEN, Code.AUTOMATIC)
    dup = b"Subject: other\r\n" + reply_to(smap, 0, mid=b"<dup@example.test>")
    assert said(smap.pipeline.screen(head(dup), len(dup), AT)) == (Status.DROPPED, Step.SCREEN, Code.UNREADABLE)


def test_a_header_drop_and_the_full_message_are_one_ledger_row(smap: Map) -> None:
    """No Message-ID: the key is the header section and size, the same whichever way it was read."""
    raw = reply_to(smap, 0, sender=b"eve@attacker.test").replace(b"Message-ID: <reply-1@example.test>\r\n", b"")
    assert smap.pipeline.screen(head(raw), len(raw), AT).status == "dropped"  # type: ignore[union-attr]
    assert said(smap.pipeline.plan(raw, AT)) == (Status.DUPLICATE, Step.DEDUPE, Code.DUPLICATE)
    assert parse(raw).message_key == ledger.entries(smap.conn)[0].message_key


def test_another_machines_reply_is_left_untouched_and_recorded(smap: Map) -> None:
    """Left in the mailbox for its relay, but in our ledger and audit log like every message."""
    raw = (
        reply_to(smap, 0, sender=b"eve@attacker.test")
        .replace(smap.tokens[0].encode(), new_token("otherhost").encode())
        .replace(smap.notes[0].encode(), b"<x@y>")
    )
    outcome = smap.pipeline.screen(head(raw), LIMIT * 5, AT)
    assert said(outcome) == (Status.FOREIGN, Step.SCREEN, Code.FOREIGN)
    assert outcome is not None and outcome.leave_untouched
    assert [(r.status, r.code, r.uid) for r in ledger.entries(smap.conn)] == [(Status.FOREIGN, Code.FOREIGN, 42)]
    assert [(a["decision"], a["code"]) for a in audit(smap)] == [("foreign", "foreign")]
    # the whole message (as the pipeline would see it) is still another machine's, still untouched
    assert said(smap.pipeline.plan(raw, AT)) == (Status.FOREIGN, Step.SCREEN, Code.FOREIGN)
    assert len(ledger.entries(smap.conn)) == 1


def test_authres_is_judged_on_the_header(tmp_path: Path) -> None:
    with in_process_map(tmp_path, SENDER_AUTH="authres", TRUSTED_AUTHSERV_ID="mx.example.test") as m:
        raw = reply_to(m, 0)
        dropped = m.pipeline.screen(head(raw), len(raw), AT)
        assert said(dropped) == (Status.DROPPED, Step.SCREEN, Code.NOT_AUTHENTICATED)
        passed = b"Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n" + reply_to(
            m, 0, mid=b"<ok@example.test>"
        )
        assert m.pipeline.screen(head(passed), len(passed), AT) is None


def test_dkim_mode_needs_a_usable_signature_in_the_header(tmp_path: Path, key: Key) -> None:
    with in_process_map(tmp_path, SENDER_AUTH="dkim") as m:
        unsigned = reply_to(m, 0)
        assert said(m.pipeline.screen(head(unsigned), len(unsigned), AT)) == (
            Status.DROPPED,
            Step.SCREEN,
            Code.NOT_AUTHENTICATED,
        )
        signed = sign(reply_to(m, 0, mid=b"<signed@example.test>"), key)
        assert m.pipeline.screen(head(signed), len(signed), AT) is None  # crypto comes after the download


def test_dkim_precheck_refuses_what_verify_would_refuse(key: Key) -> None:
    raw = (
        b"From: me@example.test\r\nTo: t@example.test\r\nSubject: Re: x\r\nMessage-ID: <p@example.test>\r\n\r\nbody\r\n"
    )
    ok = precheck(head(sign(raw, key)), "example.test")
    assert ok.ok and ok.reason == "DKIM signature d=example.test present (verified after download)"
    assert precheck(head(sign(raw, key, length=True)), "example.test").reason.endswith(
        "l= limits the signed body (unsigned text may follow)"
    )
    assert precheck(head(sign(raw, key, headers=(b"from", b"to"))), "example.test").reason.endswith(
        "does not sign every subject header"
    )
    assert "not aligned" in precheck(head(sign(raw, key)), "other.test").reason
    assert precheck(head(raw), "example.test").reason == "no DKIM-Signature header"
