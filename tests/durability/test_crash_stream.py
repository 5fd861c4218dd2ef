"""SIGKILL the real relay at every fault point under one stream of replies.

One stream of 90 replies to 3 sessions, sent over SMTP while the relay runs.
The relay is started with ``TASKPING_FAULT=<point>@<n>`` (killed at the n-th
time it reaches the point), waited for until it dies, and started again with
the next point; a last relay without faults finishes the stream. Then:

* the fake Messages API saw every reply's text at most once (nothing typed twice);
* the ledger has every reply, final: ``delivered`` (and its text reached claude
  exactly once) or ``unknown`` (and me@ got a "may not have been delivered"
  email about it) — nothing silently lost;
* the outbox is empty, and me@'s mailbox got its mail in outbox order; the only
  duplicates are emails a kill interrupted after the server had accepted them
  (the same Message-ID resent; at most one per kill — the ``during-send`` point
  always makes one, the other points only when the outbox was mid-send).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from taskping.session_map import connect, outbox
from tests.support.world import World

pytestmark = [
    pytest.mark.mail,
    pytest.mark.tmux,
    pytest.mark.claude,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.world_env(RATE_LIMIT_PER_MINUTE="600"),
]

N_REPLIES = 90
N_SESSIONS = 3
# (fault point, kill at this hit of it). Keys go only into a READY claude, so the relay
# fetches and parks the stream (ledger `waiting`) much faster than it types it: the points
# hit while fetching come first, those hit while typing (one reply per claude turn) after.
KILLS = [
    ("after-fetch", 8),
    ("before-flag", 10),
    ("after-claim", 10),
    ("before-inject", 6),
    ("during-inject", 10),  # one hit per typed chunk; every 4th reply is long (2 chunks)
    ("after-inject", 6),
    ("during-send", 12),  # two emails per reply (the acknowledgement, the turn's notification)
]
# Only a kill while a reply is being typed can leave one whose fate is unknown: the
# three injection points, and during-send (the outbox runs on the main thread while
# the worker thread may be typing).
MAX_UNKNOWN = 4
LONG = " — and then explain, step by step, which files changed, why, and what the tests say about it"


def reply_text(i: int) -> str:
    text = f"stream reply {i:03d} to session {i % N_SESSIONS}"
    if i % 4 == 3:  # over 200 bytes: typed in two chunks
        text += LONG * 3
    return text


def _body(raw: bytes) -> str:
    part = message_from_bytes(raw, policy=default_policy).get_body(("plain",))
    return part.get_content() if part else ""


def test_sigkill_at_every_fault_point_types_nothing_twice_and_loses_nothing(world: World) -> None:
    w = world
    t0 = time.monotonic()
    sessions_ = [w.spawn(f"s{i}") for i in range(N_SESSIONS)]
    notes = [w.notification_for(s, f"start {i}") for i, s in enumerate(sessions_)]
    setup_seconds = time.monotonic() - t0
    texts = [reply_text(i) for i in range(N_REPLIES)]
    mids = [f"<stream-{i:03d}@example.test>" for i in range(N_REPLIES)]

    fed = threading.Event()
    feed_errors: list[BaseException] = []

    def feed() -> None:
        try:
            for i, text in enumerate(texts):
                w.reply(notes[i % N_SESSIONS], text, message_id=mids[i])
                time.sleep(0.05)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            feed_errors.append(exc)
        finally:
            fed.set()

    t1 = time.monotonic()
    feeder = threading.Thread(target=feed, name="reply-feeder", daemon=True)
    feeder.start()
    kill_times = []
    for point, at in KILLS:
        relay = w.start_relay(extra_env={"TASKPING_FAULT": f"{point}@{at}"})
        try:
            code = relay.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the relay never reached {point}@{at}:\n{w.relay_log()}") from None
        assert code == -signal.SIGKILL, (point, code, w.relay_log())
        kill_times.append(round(time.monotonic() - t1, 1))
    final = w.start_relay()
    feeder.join(timeout=120)
    assert fed.is_set() and not feed_errors, feed_errors

    deadline = time.monotonic() + 300
    conn = connect(w.env["SESSION_MAP_PATH"])
    try:
        while True:
            rows = {r.message_id: r for r in w.ledger()}
            done = sum(1 for m in mids if m in rows and rows[m].final)
            if done == N_REPLIES and outbox.pending_count(conn) == 0:
                break
            assert time.monotonic() < deadline, f"{done}/{N_REPLIES} final; {w.diagnostics()}"
            time.sleep(0.25)
        stream_seconds = time.monotonic() - t1
        unsent = outbox.rows(conn)
    finally:
        conn.close()
    time.sleep(1.0)  # a late duplicate keystroke or email would show by now
    assert w.stop_relay(final) == 0

    prompts = Counter(w.api.prompts)
    statuses = Counter(rows[m].status for m in mids)
    typed_twice = [t for t in texts if prompts[t] > 1]
    assert typed_twice == [], typed_twice

    # me@'s mailbox: order of arrival, duplicates
    mail = [m.raw for m in w.stack.messages("me")]
    arrived = [str(message_from_bytes(raw, policy=default_policy)["Message-ID"]) for raw in mail]
    copies = Counter(arrived)
    duplicated = [mid for mid, n in copies.items() if n > 1]
    # SIGKILL takes the whole process: whatever the fault point, the outbox (main thread) may
    # be between the server's 250 and mark_sent. That email goes out again, same Message-ID
    # (at-least-once; mail clients fold same-ID copies). At most one per kill, never more copies.
    assert len(duplicated) <= len(KILLS) and all(copies[d] == 2 for d in duplicated), duplicated
    first_arrival = list(dict.fromkeys(arrived))
    sent_order = [r.message_id for r in unsent if r.status == "sent"]
    assert [r for r in unsent if r.status != "sent"] == []
    assert [m for m in first_arrival if m in set(sent_order)] == sent_order, "mail arrived out of outbox order"

    unknown = []
    for i, mid in enumerate(mids):
        row = rows[mid]
        if row.status == "delivered":
            assert prompts[texts[i]] == 1, (texts[i], row)
        elif row.status == "unknown":
            unknown.append(i)
            assert prompts[texts[i]] <= 1
            notices = [
                raw
                for raw in mail
                if mid in str(message_from_bytes(raw, policy=default_policy)["In-Reply-To"])
                and "may not have been delivered" in _body(raw)
            ]
            assert len(notices) == 1, (mid, len(notices))
        else:
            raise AssertionError(f"reply {i} ended {row.status}: {row.reason}")
    assert len(unknown) <= MAX_UNKNOWN, unknown

    print(
        f"\nMETRIC crash-stream replies={N_REPLIES} sessions={N_SESSIONS} kills={len(KILLS)} "
        f"kill_at_s={kill_times} delivered={statuses['delivered']} unknown={len(unknown)} "
        f"unknown_typed={sum(prompts[texts[i]] for i in unknown)} typed_twice={len(typed_twice)} "
        f"emails={len(mail)} duplicated_emails={duplicated} setup_s={setup_seconds:.1f} stream_s={stream_seconds:.1f}"
    )
