"""`taskping explain`: the relay's steps on a saved message, run through the real CLI.

Real session map (two live sessions, a notification each), real pipeline
steps; each test asserts the exit status, the step that refused and its
stable reason, and that nothing the relay records per message was written
(ledger, replay keys, outbox, waiting queue, audit log).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from taskping.relay.pipeline import Outcome, Planned
from taskping.session_map import ledger
from taskping.tokens import new_token
from tests.setup.conftest import ExplainWorld
from tests.support.dkim import DnsServer, make_key, sign
from tests.support.inprocess import reply_to

World = Callable[..., ExplainWorld]


def _unchanged(w: ExplainWorld, before: dict[str, int]) -> None:
    assert w.counts() == before
    assert not w.map.settings.audit_path.exists()


def test_a_good_reply_would_be_typed_and_nothing_is_recorded(explain_world: World) -> None:
    w = explain_world()
    before = w.counts()
    ran = w.explain(reply_to(w.map, 0), "--json")
    assert ran.code == 0, ran.err
    assert [s["step"] for s in ran.json["steps"]] == [
        "parse",
        "screen",
        "dedupe",
        "authenticate",
        "route",
        "extract",
        "replay",
        "guard",
    ]
    assert all(s["ok"] for s in ran.json["steps"])
    assert ran.json["would_type"] == "run the tests"
    _unchanged(w, before)


def test_text_output_from_a_file_names_each_step_and_the_session(explain_world: World, tmp_path: Path) -> None:
    w = explain_world()
    path = tmp_path / "reply.eml"
    path.write_bytes(reply_to(w.map, 1, body=b"look at the failing test"))
    ran = w.explain(None, path=path)
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].startswith("✓ parse")
    assert any(line.startswith("✓ route") and "canon-1" in line for line in lines)
    assert lines[-2:] == ["would type into session canon-1:", "  | look at the failing test"]


# (name, message from the map, refusing step, a stable part of the reason)
REFUSED: list[tuple[str, Callable[..., bytes], str, str]] = [
    ("lone CR", lambda m: reply_to(m, 0, body=b"run\rthe tests"), "parse", "lone CR"),
    (
        "bad sender",
        lambda m: reply_to(m, 0, sender=b"Eve <eve@example.test>"),
        "screen",
        "sender not in ALLOWED_SENDERS",
    ),
    ("two From", lambda m: b"From: me@example.test\r\n" + reply_to(m, 0), "parse", "From"),
    (
        "unknown token",
        lambda m: (
            b"From: me@example.test\r\nSubject: Re: [TaskPing #" + m.tokens[0][:-4].encode() + b"zzzz] x\r\n"
            b"Message-ID: <u@example.test>\r\n\r\nrun it\r\n"
        ),
        "route",
        "unknown session token",
    ),
    (
        "no thread",
        lambda m: b"From: me@example.test\r\nSubject: hello\r\nMessage-ID: <n@example.test>\r\n\r\nhi\r\n",
        "route",
        "not a reply to a TaskPing notification",
    ),
    (
        "hidden HTML",
        lambda m: (
            b"From: me@example.test\r\nSubject: Re: [TaskPing #" + m.tokens[0].encode() + b"] x\r\n"
            b"Message-ID: <h@example.test>\r\nIn-Reply-To: " + m.notes[0].encode() + b"\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n\r\n"
            b'<div>ls</div><div style="transform:scale(0)">rm -rf ~</div><div>pwd</div>\r\n'
        ),
        "extract",
        "transform",
    ),
    ("quote only", lambda m: reply_to(m, 0, body=b"> Finished."), "extract", ""),
    ("too long", lambda m: reply_to(m, 0, body=b"x" * 9000), "guard", "MAX_COMMAND_BYTES"),
    ("automatic", lambda m: b"Auto-Submitted: auto-replied\r\n" + reply_to(m, 0), "screen", "automatic mail"),
]


@pytest.mark.parametrize(("name", "build", "step", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_messages_name_the_step_and_the_reason(
    explain_world: World, name: str, build: Callable[..., bytes], step: str, reason: str
) -> None:
    w = explain_world()
    before = w.counts()
    ran = w.explain(build(w.map), "--json")
    assert ran.code == 1, (ran.out, ran.err)
    failing = ran.failing_step()
    assert failing is not None and failing["step"] == step, ran.json
    assert reason in str(failing["reason"])
    assert ran.json["would_type"] is None
    assert ran.json["steps"][-1] == failing  # nothing runs after the refusing step
    _unchanged(w, before)


def test_an_expired_session_is_refused_at_route(explain_world: World) -> None:
    w = explain_world()
    w.map.conn.execute("UPDATE sessions SET expires_at = 1 WHERE token = ?", (w.map.tokens[0],))
    ran = w.explain(reply_to(w.map, 0), "--json")
    assert ran.code == 1
    failing = ran.failing_step()
    assert (failing["step"], failing["ok"], failing["code"]) == ("route", False, "reply-window-expired"), failing


def test_another_machines_reply_is_left_alone(explain_world: World) -> None:
    w = explain_world()
    raw = (
        b"From: me@example.test\r\nSubject: Re: [TaskPing #" + new_token("otherhost").encode() + b"] x\r\n"
        b"Message-ID: <f@example.test>\r\n\r\nhi\r\n"
    )
    ran = w.explain(raw, "--json")
    assert ran.code == 1
    assert ran.failing_step()["step"] == "screen" and "another machine" in ran.failing_step()["reason"]


def test_a_message_the_relay_already_handled_shows_its_recorded_reason(explain_world: World) -> None:
    w = explain_world()
    raw = b"From: me@example.test\r\nSubject: hello\r\nMessage-ID: <seen@example.test>\r\n\r\nhi\r\n"
    decided = w.map.pipeline.plan(raw)
    assert isinstance(decided, Outcome) and decided.status == "refused"
    before = w.counts()
    ran = w.explain(raw, "--json")
    assert ran.code == 1
    failing = ran.failing_step()
    assert failing["step"] == "dedupe"
    assert "already handled by the relay (refused: not a reply to a TaskPing notification" in failing["reason"]
    _unchanged_rows = w.counts()
    assert _unchanged_rows == before


def test_replay_and_rate_limit_are_read_from_the_map_without_recording(explain_world: World) -> None:
    w = explain_world()
    typed = w.map.pipeline.plan(reply_to(w.map, 0, body=b"deploy it", mid=b"<first@example.test>"))
    assert isinstance(typed, Planned)
    ledger.set_decision(w.map.conn, typed.entry.id, "delivered", "submitted", session_id=typed.session.id)
    before = w.counts()

    again = w.explain(reply_to(w.map, 0, body=b"deploy  it", mid=b"<second@example.test>"), "--json")
    assert again.code == 1
    assert again.failing_step()["step"] == "replay"
    assert again.failing_step()["reason"].startswith("refused: replay: the same text from the same sender")

    other = w.explain(reply_to(w.map, 0, body=b"now the docs", mid=b"<third@example.test>"), "--json")
    assert other.code == 1
    assert other.failing_step()["step"] == "guard" and "rate limit" in other.failing_step()["reason"]

    elsewhere = w.explain(reply_to(w.map, 1, body=b"deploy it", mid=b"<fourth@example.test>"), "--json")
    assert elsewhere.code == 0 and elsewhere.json["would_type"] == "deploy it"
    _unchanged(w, before)


def test_authres_mode_reads_the_providers_header(explain_world: World) -> None:
    w = explain_world(SENDER_AUTH="authres", TRUSTED_AUTHSERV_ID="mx.example.test")
    good = b"Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n" + reply_to(w.map, 0)
    assert w.explain(good, "--json").code == 0
    forged = b"Authentication-Results: mx.evil.test; dmarc=pass header.from=example.test\r\n" + reply_to(w.map, 0)
    ran = w.explain(forged, "--json")
    assert ran.code == 1 and ran.failing_step()["step"] == "screen"
    assert "no Authentication-Results header from mx.example.test" in ran.failing_step()["reason"]


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory):  # type: ignore[no-untyped-def]
    return make_key(tmp_path_factory.mktemp("dkim"), "s1", "example.test", bits=1024)


def test_thread_signing_rule_and_signature_replay_under_dkim(explain_world: World, dkim_key) -> None:  # type: ignore[no-untyped-def]
    dns = DnsServer()
    dns.publish(dkim_key)
    dns.start()
    try:
        w = explain_world(SENDER_AUTH="dkim", DKIM_DNS_SERVER=dns.address, DKIM_DNS_TIMEOUT="2")

        def reply(mid: str, *, tagged: bool) -> bytes:
            subject = f"Re: [TaskPing #{w.map.tokens[0]}] finished" if tagged else "Re: finished"
            return (
                f"From: Me <me@example.test>\r\nTo: taskping@example.test\r\nSubject: {subject}\r\n"
                f"Message-ID: {mid}\r\nIn-Reply-To: {w.map.notes[0]}\r\n"
                f"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nrun the tests\r\n"
            ).encode()

        unsigned_thread = sign(
            reply("<a@example.test>", tagged=False), dkim_key, headers=(b"from", b"to", b"subject", b"date")
        )
        ran = w.explain(unsigned_thread, "--json")
        assert ran.code == 1 and ran.failing_step()["step"] == "route"
        assert "not covered by your DKIM signature" in ran.failing_step()["reason"]

        signed = sign(reply("<b@example.test>", tagged=True), dkim_key)
        assert w.explain(signed, "--json").code == 0
        planned = w.map.pipeline.plan(signed)
        assert isinstance(planned, Planned)
        ledger.set_decision(w.map.conn, planned.entry.id, "delivered", "submitted", session_id=planned.session.id)
        replayed = signed.replace(b"Message-ID: <b@example.test>", b"Message-ID: <c@example.test>")
        ran = w.explain(replayed, "--json")
        assert ran.code == 1 and ran.failing_step()["step"] == "replay"
        assert "same DKIM signature" in ran.failing_step()["reason"]
    finally:
        dns.stop()


def test_usage_and_config_errors_exit_2(explain_world: World, tmp_path: Path) -> None:
    w = explain_world()
    missing = w.explain(None, path=tmp_path / "nope.eml")
    assert missing.code == 2 and "cannot read" in missing.err
    w.env_file.write_text(w.env_file.read_text().replace("SENDER_AUTH=none\n", ""))
    ran = w.explain(reply_to(w.map, 0))
    assert ran.code == 2 and "SENDER_AUTH" in ran.err


def test_a_missing_session_map_explains_against_an_empty_one(explain_world: World, tmp_path: Path) -> None:
    w = explain_world()
    w.env_file.write_text(
        w.env_file.read_text().replace(str(w.map.settings.session_map_path), str(tmp_path / "none" / "taskping.db"))
    )
    ran = w.explain(reply_to(w.map, 0), "--json")
    assert ran.code == 1 and ran.failing_step()["step"] == "route"
    assert not (tmp_path / "none").exists()
