"""One world for the whole attack suite (module scope): real Dovecot + SMTP front,
a private tmux server, two real claude sessions against the fake Messages API,
the real `taskping-relay` process, and a DNS server on loopback publishing the
DKIM keys. Every attack mail is sent once, in phases; the tests then read the
decision each one got. Everything started here is stopped here."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from taskping.session_map import connect, ledger, sessions
from taskping.session_map.vocabulary import EndReason
from taskping.tokens import host_part
from tests.security.attacks import ATTACKS, Ctx
from tests.security.disagreement_world import bench  # noqa: F401 - test_disagreement's module-scoped fixture
from tests.support.dkim import DnsServer, make_key
from tests.support.world import HOST_ID, World, shared_world


@dataclass
class Arena:
    world: World
    ctx: Ctx
    dns: DnsServer
    rows: dict[str, ledger.LedgerEntry] = field(default_factory=dict)  # by Message-ID
    prompts: list[str] = field(default_factory=list)
    scrollback: str = ""
    sink: list = field(default_factory=list)  # type: ignore[type-arg]
    outbox: list[tuple[str, str]] = field(default_factory=list)  # (kind, to_addr)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds since start at the end of each phase

    def row(self, message_id: str) -> ledger.LedgerEntry:
        assert message_id in self.rows, f"no ledger row for {message_id}; relay log:\n{self.world.relay_log()}"
        return self.rows[message_id]


def _send(world: World, ctx: Ctx, phase: str) -> int:
    batch = [a for a in ATTACKS if a.phase == phase and a.name not in ctx.sent]
    for attack in batch:
        raw = attack.build(ctx, attack)
        ctx.sent[attack.name] = raw
        world.reply(None, "", raw_override=raw)
    return len(batch)


def _final_rows(world: World) -> int:
    return len([r for r in world.ledger() if r.final])


def _wait(world: World, n: int, timeout: float = 60) -> None:
    world.wait_ledger(n, timeout=timeout)


def _settle(world: World, session: sessions.Session, timeout: float = 30) -> None:
    """Wait until every reply typed into ``session`` has produced its Stop notification: the hook
    renews the reply window on each, so the window can only be closed after the last one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = connect(world.env["SESSION_MAP_PATH"])
        try:
            typed = conn.execute(
                "SELECT COUNT(*) FROM inbound WHERE session_id = ? AND status = 'delivered'", (session.id,)
            ).fetchone()[0]
            stops = conn.execute(
                "SELECT COUNT(*) FROM notifications WHERE session_id = ? AND kind = 'stop'", (session.id,)
            ).fetchone()[0]
        finally:
            conn.close()
        if stops >= typed + 1:
            return
        time.sleep(0.1)
    raise AssertionError(f"session {session.name}: {stops} Stop notifications for {typed} typed replies")


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    started = time.monotonic()
    root = tmp_path_factory.mktemp("security")
    with DnsServer() as dns, shared_world(root, TASKPING_HOST_ID=HOST_ID) as world:
        stack, env = world.stack, world.env
        keys = root / "keys"
        me_key = make_key(keys, "s2026", "example.test")
        evil_key = make_key(keys, "e1", "evil.example")
        stray_key = make_key(keys / "stray", "s2026", "example.test")
        weak_key = make_key(keys, "weak", "example.test", bits=512)
        for key in (me_key, evil_key, weak_key):
            dns.publish(key)
        # for the d=test signature: evil.example's key under the TLD, so only alignment can refuse it
        dns.records[f"{evil_key.selector}._domainkey.test."] = evil_key.record

        a, b = world.spawn("sec-a"), world.spawn("sec-b")
        note_a = world.notification_for(a, "task a")
        note_b = world.notification_for(b, "task b")
        found = re.search(rb"\n\s*by (\S+) with LMTP", note_a.raw)
        assert found, note_a.raw[:600]
        scratch = root / "scratch"
        scratch.mkdir()
        ctx = Ctx(
            me=stack.address("me"),
            taskping=stack.address("taskping"),
            note_a=note_a,
            note_b=note_b,
            me_key=me_key,
            evil_key=evil_key,
            stray_key=stray_key,
            weak_key=weak_key,
            authserv=found.group(1).decode().lower(),
            host_part=host_part(HOST_ID),
            scratch=scratch,
            sent={},
        )
        arena = Arena(world, ctx, dns)
        arena.phases["sessions"] = time.monotonic() - started

        # Each phase is sent as a backlog and only then handed to a fresh relay process: a relay
        # that is already running can miss mail arriving while it handles the previous one
        # (the EXISTS is swallowed by FETCH/STORE and IDLE then waits; see docs/security.md).
        dkim_env = {"SENDER_AUTH": "dkim", "DKIM_DNS_SERVER": dns.address, "DKIM_DNS_TIMEOUT": "2"}
        total = 0

        def phase(names: str, env_: dict[str, str], label: str) -> None:
            nonlocal total
            total += sum(_send(world, ctx, name) for name in names.split())
            stack.wait_for_messages("taskping", total, timeout=30)
            relay = world.start_relay(extra_env=env_)
            _wait(world, total, timeout=90)
            assert world.stop_relay(relay) == 0
            arena.phases[label] = time.monotonic() - started

        # phase 1: SENDER_AUTH=dkim, keys from the loopback DNS server; the genuine control first
        phase("control", dkim_env, "control")
        phase("dkim", dkim_env, "dkim")
        # phase 2: session B's reply window closes, then the session ends
        _settle(world, b)
        conn = connect(env["SESSION_MAP_PATH"])
        try:
            conn.execute("UPDATE sessions SET expires_at = 0 WHERE id = ?", (b.id,))
            phase("lifecycle-expired", dkim_env, "expired")
            sessions.end(conn, b.id, reason=EndReason.CLOSED)  # closed by the person: never resumed
            phase("lifecycle-ended", dkim_env, "ended")
        finally:
            conn.close()
        # phase 3: SENDER_AUTH=authres, trusting the receiving server's host name
        phase("authres", {"SENDER_AUTH": "authres", "TRUSTED_AUTHSERV_ID": ctx.authserv}, "authres")
        world.api.wait_for_prompt("authres control step")
        time.sleep(1.5)  # anything typed late would show up now

        arena.rows = {r.message_id: r for r in world.ledger() if r.message_id}
        arena.prompts = list(world.api.prompts)
        arena.scrollback = world.scrollback(a) + world.scrollback(b)
        arena.sink = list(stack.sink_messages())
        c2 = connect(env["SESSION_MAP_PATH"])
        try:
            arena.outbox = [(r[0], r[1]) for r in c2.execute("SELECT kind, to_addr FROM outbox")]
        finally:
            c2.close()
        arena.seconds = time.monotonic() - started
        yield arena
