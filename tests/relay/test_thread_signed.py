"""A reply routed by its thread alone (no [TaskPing #…] tag in its subject) must have
In-Reply-To/References covered by the sender's DKIM signature: otherwise a copy of one
genuine signed reply, with its unsigned In-Reply-To changed, would reach another session.
Real DKIM signatures (dkimpy), keys served by a DNS server on loopback, the real pipeline
and session map; nothing is typed (plan only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.relay.pipeline import Outcome, Planned
from tests.support.dkim import DnsServer, make_key, sign
from tests.support.inprocess import Map, in_process_map


@pytest.fixture(scope="module")
def key(tmp_path_factory):  # type: ignore[no-untyped-def]
    return make_key(tmp_path_factory.mktemp("dkim"), "s1", "example.test", bits=1024)


@pytest.fixture
def dkim_map(tmp_path: Path, key) -> Iterator[Map]:  # type: ignore[no-untyped-def]
    dns = DnsServer()
    dns.publish(key)
    dns.start()
    try:
        with in_process_map(tmp_path, SENDER_AUTH="dkim", DKIM_DNS_SERVER=dns.address, DKIM_DNS_TIMEOUT="2") as m:
            yield m
    finally:
        dns.stop()


def _reply(m: Map, *, tagged: bool, mid: str) -> bytes:
    subject = f"Re: [TaskPing #{m.tokens[0]}] finished" if tagged else "Re: finished"
    return (
        f"From: Me <me@example.test>\r\nTo: taskping@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: {mid}\r\nIn-Reply-To: {m.notes[0]}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
        f"\r\nrun the tests\r\n"
    ).encode()


WITHOUT_THREAD = (b"from", b"to", b"subject", b"date")
WITH_THREAD = (*WITHOUT_THREAD, b"in-reply-to")


def test_thread_only_reply_with_unsigned_in_reply_to_is_refused(dkim_map: Map, key) -> None:  # type: ignore[no-untyped-def]
    raw = sign(_reply(dkim_map, tagged=False, mid="<a@example.test>"), key, headers=WITHOUT_THREAD)
    outcome = dkim_map.pipeline.plan(raw)
    assert isinstance(outcome, Outcome) and outcome.status == "refused", outcome
    assert "not covered by your DKIM signature" in outcome.reason


def test_thread_only_reply_with_signed_in_reply_to_passes(dkim_map: Map, key) -> None:  # type: ignore[no-untyped-def]
    raw = sign(_reply(dkim_map, tagged=False, mid="<b@example.test>"), key, headers=WITH_THREAD)
    assert isinstance(dkim_map.pipeline.plan(raw), Planned)


def test_tagged_subject_needs_no_signed_thread(dkim_map: Map, key) -> None:  # type: ignore[no-untyped-def]
    """The signed subject tag must agree with the thread, so the thread cannot be re-pointed."""
    raw = sign(_reply(dkim_map, tagged=True, mid="<c@example.test>"), key, headers=WITHOUT_THREAD)
    assert isinstance(dkim_map.pipeline.plan(raw), Planned)
    moved = raw.replace(dkim_map.notes[0].encode(), dkim_map.notes[1].encode()).replace(b"<c@", b"<d@")
    outcome = dkim_map.pipeline.plan(moved)
    assert isinstance(outcome, Outcome) and outcome.status == "refused"
    assert "does not match the thread" in outcome.reason
