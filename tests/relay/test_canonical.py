"""One canonical reading: byte-exact messages that two readers could read differently are refused.

Every input is written as bytes: the email library would repair exactly the
defects under test. The pipeline tests run the real :class:`Pipeline` on a
real session map (no terminal: nothing here may reach the injector).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.relay import canonical
from taskping.relay.parse import parse, parse_header
from taskping.relay.pipeline import Planned
from taskping.session_map import ledger
from taskping.session_map.vocabulary import Code, Status, Step
from tests.support.inprocess import Map, in_process_map, reply_to, said

GOOD = (
    b"From: Me <me@example.test>\r\n"
    b"To: taskping@example.test\r\n"
    b"Subject: Re: hello\r\n"
    b"Message-ID: <good-1@example.test>\r\n"
    b"Date: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
    b"X-Long: folded\r\n"
    b"\tcontinuation\r\n"
    b"\r\n"
    b"Please run the tests.\r\n"
)


def _with(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert old in raw
    return raw.replace(old, new, 1)


REFUSED = [
    (
        "lone CR in a value",
        _with(GOOD, b"Subject: Re: hello", b"Subject: Re: he\rllo"),
        "malformed header section: lone CR in header line 3",
    ),
    (
        "lone CR at line end",
        _with(GOOD, b"To: taskping@example.test\r\n", b"To: taskping@example.test\r\r\n"),
        "malformed header section: lone CR in header line 2",
    ),
    (
        "lone LF among CRLF",
        _with(GOOD, b"To: taskping@example.test\r\n", b"To: taskping@example.test\n"),
        "malformed header section: mixed CRLF and LF line ends at header line 2",
    ),
    (
        "LF blank line after CRLF headers",
        _with(
            GOOD,
            b"+0000\r\nX-Long: folded\r\n\tcontinuation\r\n\r\n",
            b"+0000\r\nX-Long: folded\r\n\tcontinuation\r\n\n",
        ),
        "malformed header section: mixed CRLF and LF line ends at header line 8",
    ),
    (
        "NUL",
        _with(GOOD, b"Subject: Re: hello", b"Subject: Re: \0hello"),
        "malformed header section: NUL in header line 3",
    ),
    (
        "obsolete From :",
        _with(GOOD, b"From: Me", b"From : Me"),
        "malformed header section: whitespace before the colon in header line 1 (obsolete syntax)",
    ),
    (
        "tab before colon",
        _with(GOOD, b"Subject:", b"Subject\t:"),
        "malformed header section: whitespace before the colon in header line 3 (obsolete syntax)",
    ),
    (
        "8-bit header name",
        _with(GOOD, b"X-Long:", b"X-L\xc3\xb6ng:"),
        "malformed header section: 8-bit byte in a header name in header line 6",
    ),
    (
        "space inside a name",
        _with(GOOD, b"X-Long:", b"X Long:"),
        "malformed header section: invalid header name in header line 6",
    ),
    (
        "no colon",
        _with(GOOD, b"X-Long: folded\r\n", b"X-Long folded\r\n"),
        "malformed header section: header line 6 is not a field (no colon)",
    ),
    (
        "mbox From line",
        b"From me@example.test  Mon Nov 30 12:00:00 2026\r\n" + GOOD,
        "malformed header section: invalid header name in header line 1",
    ),
    (
        "mbox From line without a colon",
        b"From me@example.test\r\n" + GOOD,
        "malformed header section: header line 1 is not a field (no colon)",
    ),
    ("empty name", _with(GOOD, b"X-Long:", b":"), "malformed header section: empty header name in header line 6"),
    (
        "first line a continuation",
        b" Subject: x\r\n" + GOOD,
        "malformed header section: header line 1 is a continuation with no field before it",
    ),
    (
        "whitespace-only line",
        _with(GOOD, b"\tcontinuation\r\n", b"\tcontinuation\r\n \r\n"),
        "malformed header section: whitespace-only line in header line 8",
    ),
    ("duplicate From", b"From: other@example.test\r\n" + GOOD, "duplicate From header (2)"),
    ("duplicate Subject", b"Subject: Re: [TaskPing #x]\r\n" + GOOD, "duplicate Subject header (2)"),
    (
        "duplicate In-Reply-To",
        b"In-Reply-To: <a@x>\r\nIn-Reply-To: <b@x>\r\n" + GOOD,
        "duplicate In-Reply-To header (2)",
    ),
    ("duplicate References", b"References: <a@x>\r\nreferences: <b@x>\r\n" + GOOD, "duplicate References header (2)"),
    ("duplicate Message-ID", b"message-id: <dup@x>\r\n" + GOOD, "duplicate Message-ID header (2)"),
    ("three To", b"To: a@x\r\nTO: b@x\r\n" + GOOD, "duplicate To header (3)"),
    ("duplicate Sender", b"Sender: a@x\r\nSender: b@x\r\n" + GOOD, "duplicate Sender header (2)"),
    ("duplicate Reply-To", b"Reply-To: a@x\r\nReply-To: b@x\r\n" + GOOD, "duplicate Reply-To header (2)"),
    ("duplicate Date", b"Date: Sun, 29 Nov 2026 12:00:00 +0000\r\n" + GOOD, "duplicate Date header (2)"),
    (
        "duplicate Content-Type",
        b"Content-Type: text/html\r\n" + _with(GOOD, b"X-Long", b"Content-Type: text/plain\r\nX-Long"),
        "duplicate Content-Type header (2)",
    ),
    ("lone CR in the body", _with(GOOD, b"Please run", b"Please\r> run"), "malformed body: lone CR in body line 1"),
]


@pytest.mark.parametrize(("raw", "reason"), [pytest.param(r, why, id=name) for name, r, why in REFUSED])
def test_refused_with_a_stable_reason(raw: bytes, reason: str) -> None:
    mail = parse(raw)
    assert mail.unreadable == reason
    # nothing else is read from an unreadable message (but a Message-ID, as a label)
    assert (mail.from_addresses, mail.subject, mail.in_reply_to, mail.text) == ([], "", [], None)


def test_an_unreadable_message_keeps_the_first_message_id_as_its_label() -> None:
    assert parse(b"Subject: x\r\n" + GOOD).message_id == "<good-1@example.test>"
    assert parse(b"Message-ID: <dup@x>\r\n" + GOOD).message_id == "<dup@x>"
    cut = _with(GOOD, b"To: taskping@example.test", b"To: a\rb")  # the scan stops before the Message-ID
    assert (parse(cut).message_id, parse(cut).message_key.startswith("sha256:")) == (None, True)


ACCEPTED = [
    ("CRLF", GOOD),
    ("LF only", GOOD.replace(b"\r\n", b"\n")),
    ("UTF-8 in a value", _with(GOOD, b"Subject: Re: hello", "Subject: Re: grüße".encode())),
    ("no body", GOOD.split(b"\r\n\r\n")[0] + b"\r\n"),
    ("lone LF in the body", _with(GOOD, b"Please run the tests.\r\n", b"Please run\nthe tests.\r\n")),
    ("repeated non-singletons", b"Received: from a\r\nReceived: from b\r\nComments: x\r\nComments: y\r\n" + GOOD),
]


@pytest.mark.parametrize("raw", [pytest.param(r, id=name) for name, r in ACCEPTED])
def test_consistent_messages_are_read(raw: bytes) -> None:
    mail = parse(raw)
    assert mail.unreadable is None
    assert mail.from_addresses == ["me@example.test"]
    assert mail.message_id == "<good-1@example.test>"


def test_a_huge_header_section_is_refused() -> None:
    raw = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 900) for i in range(300)) + GOOD
    assert parse(raw).unreadable == f"header section over {canonical.MAX_HEADER_SECTION:,} bytes"
    # cut where the fetch step cuts it, the header alone gives the same verdict
    cut = raw[: canonical.MAX_HEADER_SECTION]
    assert parse_header(cut, len(raw)).unreadable == parse(raw).unreadable


def test_scan_keeps_the_raw_fields() -> None:
    section = canonical.scan(GOOD)
    assert [f.name for f in section.fields] == ["From", "To", "Subject", "Message-ID", "Date", "X-Long"]
    assert section.fields[-1].value == b" folded\r\n\tcontinuation"
    assert GOOD[section.end :] == b"Please run the tests.\r\n"


def test_header_only_and_full_reading_share_the_ledger_key() -> None:
    no_id = _with(GOOD, b"Message-ID: <good-1@example.test>\r\n", b"")
    header, _, _ = no_id.partition(b"\r\n\r\n")
    header += b"\r\n\r\n"
    full, head = parse(no_id), parse_header(header, len(no_id))
    assert head.header_only and head.text is None
    assert full.message_key == head.message_key
    assert full.message_key != parse(no_id + b"more body\r\n").message_key  # another size, another message
    bad = b"Subject: x\r\n" + no_id
    assert parse(bad).message_key == parse_header(b"Subject: x\r\n" + header, len(bad)).message_key


# -- the pipeline: an unreadable message is dropped right after the ledger claim


@pytest.fixture
def smap(tmp_path: Path) -> Iterator[Map]:
    with in_process_map(tmp_path) as m:
        yield m


def _outbox(m: Map) -> int:
    return int(m.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])  # type: ignore[attr-defined]


def _audit(m: Map) -> list[dict[str, object]]:
    return [json.loads(line) for line in Path(m.settings.audit_path).read_text().splitlines()]


def test_a_genuine_reply_is_planned(smap: Map) -> None:
    planned = smap.pipeline.plan(reply_to(smap, 0))
    assert isinstance(planned, Planned) and planned.session.name == "canon-0"


def test_lone_cr_hiding_a_header_block_is_dropped(smap: Map) -> None:
    """Item 1 of issue 8. The mail server and dkimpy see one X-Note header, no In-Reply-To and the body
    "see you at noon"; Python's email saw In-Reply-To of session 1 and a body of its own. It used to be
    planned for typing into canon-1."""
    hidden = (
        b"X-Note: hi\rSubject: Re: [TaskPing #" + smap.tokens[1].encode() + b"] finished"
        b"\rIn-Reply-To: " + smap.notes[1].encode() + b"\r\rrm -rf build\r\n"
    )
    raw = (
        b"From: Me <me@example.test>\r\nTo: friend@example.test\r\nSubject: lunch\r\n"
        b"Message-ID: <signed-1@example.test>\r\n" + hidden + b"\r\nsee you at noon\r\n"
    )
    outbox_before = _outbox(smap)
    decision = smap.pipeline.plan(raw)
    assert said(decision) == (Status.DROPPED, Step.PARSE, Code.UNREADABLE)
    assert decision.reason == "malformed header section: lone CR in header line 5"  # type: ignore[union-attr]
    row = ledger.entries(smap.conn)[-1]  # type: ignore[arg-type]
    assert (row.status, row.reason) == ("dropped", "malformed header section: lone CR in header line 5")
    assert _audit(smap)[-1]["decision"] == "dropped"
    assert _audit(smap)[-1]["reason"] == "malformed header section: lone CR in header line 5"
    assert _outbox(smap) == outbox_before  # nothing sent back


def test_prepended_in_reply_to_and_subject_are_dropped(smap: Map) -> None:
    """Item 4 of issue 8: DKIM verifies the bottom copy of a header, TaskPing read the top one. A
    genuine reply to canon-0 with another session's In-Reply-To and Subject prepended used to be
    planned for canon-1."""
    genuine = reply_to(smap, 0, mid=b"<reply-2@example.test>")
    forged = (
        b"Subject: Re: [TaskPing #" + smap.tokens[1].encode() + b"] finished\r\n"
        b"In-Reply-To: " + smap.notes[1].encode() + b"\r\n" + genuine
    )
    decision = smap.pipeline.plan(forged)
    assert said(decision) == (Status.DROPPED, Step.PARSE, Code.UNREADABLE)
    assert decision.reason == "duplicate Subject header (2)"  # type: ignore[union-attr]
    only_irt = b"In-Reply-To: " + smap.notes[1].encode() + b"\r\n" + reply_to(smap, 0, mid=b"<reply-3@example.test>")
    irt = smap.pipeline.plan(only_irt)
    assert said(irt) == (Status.DROPPED, Step.PARSE, Code.UNREADABLE)
    assert irt.reason == "duplicate In-Reply-To header (2)"  # type: ignore[union-attr]


def test_an_unreadable_message_seen_again_is_a_duplicate(smap: Map) -> None:
    raw = b"Subject: x\r\n" + reply_to(smap, 0)
    assert smap.pipeline.plan(raw).status == "dropped"  # type: ignore[union-attr]
    assert said(smap.pipeline.plan(raw)) == (Status.DUPLICATE, Step.DEDUPE, Code.DUPLICATE)
