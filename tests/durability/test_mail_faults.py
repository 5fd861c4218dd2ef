"""IMAP and SMTP faults with the real relay, Dovecot and SMTP front."""

from __future__ import annotations

import re
import time
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from taskping.relay.fetch import IDLE_RENEW_SECONDS
from taskping.session_map import connect, outbox
from tests.support.world import World

pytestmark = [
    pytest.mark.mail,
    pytest.mark.tmux,
    pytest.mark.claude,
    pytest.mark.slow,
    pytest.mark.world_env(RATE_LIMIT_PER_MINUTE="600"),
]

RECONNECT_LIMIT = 5.0


def _connects(world: World) -> int:
    return len(re.findall(r'"imap_connected"', world.relay_log()))


def _wait_connects(world: World, n: int, timeout: float) -> float:
    start = time.monotonic()
    while _connects(world) < n:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"no IMAP reconnection within {timeout}s:\n{world.relay_log()}")
        time.sleep(0.02)
    return time.monotonic() - start


def test_dovecot_restart_and_kick_while_idle_reconnect_within_5s(world: World) -> None:
    w = world
    s = w.spawn("idle")
    note = w.notification_for(s, "start")
    w.start_relay()
    w.reply(note, "before the faults")
    w.api.wait_for_prompt("before the faults")
    w.wait_ledger(1)
    time.sleep(0.5)  # back in IDLE
    measured = {}

    before = _connects(w)
    t = time.monotonic()
    w.stack.restart_dovecot()
    restart_took = time.monotonic() - t
    measured["restart"] = _wait_connects(w, before + 1, RECONNECT_LIMIT) + restart_took
    w.reply(note, "after the restart")
    assert w.api.wait_for_prompt("after the restart", timeout=10)

    time.sleep(0.5)
    before = _connects(w)
    w.stack.kick("taskping")
    measured["kick"] = _wait_connects(w, before + 1, RECONNECT_LIMIT)
    w.reply(note, "after the kick")
    assert w.api.wait_for_prompt("after the kick", timeout=10)

    rows = w.wait_ledger(3)
    assert [r.status for r in rows] == ["delivered"] * 3
    for text in ("before the faults", "after the restart", "after the kick"):
        assert w.api.prompts.count(text) == 1
    assert measured["restart"] < RECONNECT_LIMIT and measured["kick"] < RECONNECT_LIMIT
    print(
        f"\nMETRIC imap-reconnect restart_s={measured['restart']:.2f} (dovecot down+up {restart_took:.2f}) "
        f"kick_s={measured['kick']:.2f}"
    )


def test_uidvalidity_change_resyncs_without_typing_again(world: World) -> None:
    w = world
    s = w.spawn("uidv")
    note = w.notification_for(s, "start")
    w.start_relay()
    texts = [f"before uidvalidity {i}" for i in range(3)]
    for text in texts:
        w.reply(note, text)
        w.api.wait_for_prompt(text)
    w.wait_ledger(3)
    old = w.stack.uidvalidity("taskping")
    before = _connects(w)
    w.stack.set_uidvalidity("taskping", "INBOX", old + 1000)
    assert w.stack.uidvalidity("taskping") == old + 1000
    w.stack.kick("taskping")  # the relay learns the new UIDVALIDITY when it selects the folder again
    _wait_connects(w, before + 1, RECONNECT_LIMIT)
    w.reply(note, "after uidvalidity")
    try:
        # Dovecot may miss the IDLE wake-up for the first delivery after a UIDVALIDITY change (seen
        # twice in CI, even with a 1 s idle check); the relay's own search when it renews IDLE finds it.
        w.api.wait_for_prompt("after uidvalidity", timeout=IDLE_RENEW_SECONDS + 10)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\nrelay log:\n{w.relay_log()}") from exc
    w.wait_ledger(4)
    time.sleep(1.5)  # the old messages were fetched again under the new UIDVALIDITY: nothing more typed
    assert [r.status for r in w.ledger()] == ["delivered"] * 4
    for text in [*texts, "after uidvalidity"]:
        assert w.api.prompts.count(text) == 1, text
    conn = connect(w.env["SESSION_MAP_PATH"])
    try:
        state = conn.execute("SELECT uidvalidity, last_uid FROM mailbox_state").fetchone()
    finally:
        conn.close()
    assert state[0] == old + 1000 and state[1] >= 4


def _deliver_reply(w: World, note, text: str) -> str:  # type: ignore[no-untyped-def]
    """Put a reply straight into TaskPing's INBOX over LMTP (the SMTP front is down)."""
    return w.reply(note, text, message_id=f"<outage-{abs(hash(text))}@example.test>", via="lmtp")


OUTAGE_SECONDS = 30.0  # past the relay's 15 s outbox backoff cap, so the capped retries are exercised


def test_smtp_outage_mail_waits_and_goes_out_once_in_order(world: World) -> None:
    w = world
    a, b = w.spawn("out-a"), w.spawn("out-b")
    note_a = w.notification_for(a, "start a")
    note_b = w.notification_for(b, "start b")
    w.start_relay()
    w.stack.stop_smtp()
    down_at = time.monotonic()
    texts = [f"during the outage {i}" for i in range(4)]
    for i, text in enumerate(texts):
        _deliver_reply(w, (note_a, note_b)[i % 2], text)
        w.api.wait_for_prompt(text, timeout=15)
    w.type_prompt(a, "typed at the terminal during the outage")  # a notification from a hook, too
    w.api.wait_for_prompt("typed at the terminal during the outage")
    rows = w.wait_ledger(4)
    assert [r.status for r in rows] == ["delivered"] * 4
    conn = connect(w.env["SESSION_MAP_PATH"])
    try:
        deadline = time.monotonic() + 15
        while outbox.pending_count(conn) < 9:  # 4 acks + 5 turn notifications
            assert time.monotonic() < deadline, outbox.rows(conn)
            time.sleep(0.1)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        queued = [r for r in outbox.rows(conn) if r.status != "sent"]
        assert len(queued) >= 9 and all(r.status == "queued" for r in queued)
        attempts = max(r.attempts for r in queued)
        w.stack.start_smtp()
        up_at = time.monotonic()
        while outbox.pending_count(conn) > 0:
            assert time.monotonic() - up_at < 30, outbox.rows(conn)
            time.sleep(0.1)
        drained = time.monotonic() - up_at
        order = [r.message_id for r in outbox.rows(conn) if r.status == "sent"]
    finally:
        conn.close()
    expected = [r.message_id for r in queued]
    arrived = [
        str(message_from_bytes(m.raw, policy=default_policy)["Message-ID"])
        for m in w.stack.wait_for_messages("me", 2 + len(expected), timeout=10)
    ]
    time.sleep(1.0)
    arrived = [str(message_from_bytes(m.raw, policy=default_policy)["Message-ID"]) for m in w.stack.messages("me")]
    assert len(arrived) == len(set(arrived)), "an email arrived twice"
    assert arrived[2:] == expected, (arrived, expected)  # the two start notifications came before the outage
    assert order[-len(expected) :] == expected
    print(
        f"\nMETRIC smtp-outage outage_s={OUTAGE_SECONDS:.0f} queued={len(expected)} max_attempts={attempts} "
        f"all_sent_after_return_s={drained:.2f} duplicates=0"
    )
