"""`explain` on the security suite's attack mails: the same verdict as the relay, for each.

The attack catalogue (:mod:`tests.security.attacks`) built against an
in-process map instead of the live world: real DKIM keys served by the
loopback DNS server, the real pipeline. Attacks go in catalogue order, as the
suite sends them; a reply the pipeline plans to type is then marked
delivered, as the relay would after typing, so the replays that follow have
something to replay. For each: explain (on a read-only snapshot, first) and
:meth:`Pipeline.plan` agree, and both give the catalogue's expected outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from taskping.relay.explain import explain, snapshot
from taskping.relay.pipeline import Outcome, Pipeline, Planned
from taskping.session_map import ledger
from taskping.tokens import host_part
from tests.security.attacks import ATTACKS, Attack, Ctx
from tests.support.dkim import DnsServer, make_key
from tests.support.inprocess import HOST, Map, NoTerminal, in_process_map
from tests.support.world import Notification

AUTHSERV = "mx.example.test"


@pytest.fixture
def arena(tmp_path: Path) -> Iterator[tuple[Map, Ctx, dict[str, str]]]:
    keys = tmp_path / "keys"
    me_key = make_key(keys, "s2026", "example.test")
    evil_key = make_key(keys, "e1", "evil.example")
    stray_key = make_key(keys / "stray", "s2026", "example.test")
    weak_key = make_key(keys, "weak", "example.test", bits=512)
    dns = DnsServer()
    for key in (me_key, evil_key, weak_key):
        dns.publish(key)
    dns.records[f"{evil_key.selector}._domainkey.test."] = evil_key.record
    dns.start()
    env = {
        "SENDER_AUTH": "dkim",
        "DKIM_DNS_SERVER": dns.address,
        "DKIM_DNS_TIMEOUT": "2",
        "RATE_LIMIT_PER_MINUTE": "60",
    }
    try:
        with in_process_map(tmp_path / "map", **env) as m:
            notes = [
                Notification(
                    m.notes[i], f"[TaskPing #{m.tokens[i]}] Finished", m.tokens[i], b"Subject: x\r\n\r\nFinished."
                )
                for i in (0, 1)
            ]
            scratch = tmp_path / "scratch"
            scratch.mkdir()
            ctx = Ctx(
                me="me@example.test",
                taskping="taskping@example.test",
                note_a=notes[0],
                note_b=notes[1],
                me_key=me_key,
                evil_key=evil_key,
                stray_key=stray_key,
                weak_key=weak_key,
                authserv=AUTHSERV,
                host_part=host_part(HOST),
                scratch=scratch,
                sent={},
            )
            yield m, ctx, env
    finally:
        dns.stop()


def _one(m: Map, pipeline: Pipeline, ctx: Ctx, attack: Attack) -> None:
    raw = attack.build(ctx, attack)
    ctx.sent[attack.name] = raw
    copy = snapshot(pipeline.settings.session_map_path)
    try:
        said = explain(raw, pipeline.settings, copy)
    finally:
        copy.close()
    decided = pipeline.plan(raw)
    if isinstance(decided, Planned):
        assert said.would_type == decided.guarded.text, attack.name
        assert attack.status in ("delivered", "typed-sanitised"), (attack.name, attack.status)
        ledger.set_decision(m.conn, decided.entry.id, "delivered", "submitted", session_id=decided.session.id)
        return
    assert isinstance(decided, Outcome)
    assert said.would_type is None, (attack.name, decided)
    failing = said.steps[-1]
    assert not failing.ok and all(s.ok for s in said.steps[:-1]), (attack.name, said.steps)
    assert decided.reason.split(" (judged on the header")[0] in failing.reason, (attack.name, decided, failing)
    assert failing.code == decided.code, (attack.name, decided, failing)  # one vocabulary: the same code
    assert decided.status == attack.status and attack.reason in decided.reason, (attack.name, decided)


def test_explain_agrees_with_the_relay_on_every_attack(arena: tuple[Map, Ctx, dict[str, str]]) -> None:
    m, ctx, _env = arena
    ran = 0
    for attack in [a for a in ATTACKS if a.phase in ("control", "dkim")]:
        _one(m, m.pipeline, ctx, attack)
        ran += 1
    m.conn.execute("UPDATE sessions SET expires_at = 1 WHERE token = ?", (m.tokens[1],))
    for attack in [a for a in ATTACKS if a.phase == "lifecycle-expired"]:
        _one(m, m.pipeline, ctx, attack)
        ran += 1
    authres = replace(m.settings, sender_auth="authres", trusted_authserv_id=(AUTHSERV,))
    pipeline = Pipeline(authres, m.conn, NoTerminal())  # type: ignore[arg-type]
    agreed = 0
    for attack in [a for a in ATTACKS if a.phase == "authres"]:
        raw = attack.build(ctx, attack)
        copy = snapshot(authres.session_map_path)
        try:
            said = explain(raw, authres, copy)
        finally:
            copy.close()
        decided = pipeline.plan(raw)
        assert said.typed == isinstance(decided, Planned), attack.name
        if isinstance(decided, Planned):
            assert said.would_type == decided.guarded.text
            ledger.set_decision(m.conn, decided.entry.id, "delivered", "submitted", session_id=decided.session.id)
        else:
            assert decided.reason.split(" (judged on the header")[0] in said.steps[-1].reason, attack.name
        agreed += 1
    assert ran > 50 and agreed > 10
