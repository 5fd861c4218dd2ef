"""A 5,000-reply backlog processed after a relay restart.

The relay (from the install in ``--bin``) is started once on an empty inbox and
stopped (SIGTERM): it has its UIDVALIDITY and last UID. While it is down,
5,000 replies are appended to the real Dovecot inbox (IMAP MULTIAPPEND, bytes
as given). Then the relay is started again, and the figure is the wall time
from that start until every message is decided: the relay has finished (flagged
and advanced past) the last UID, read back from its session map.

How the replies end — typing 5,000 replies is not the point (each typed reply
costs the injector's Enter delay and confirmation, ≥ 0.15 s), deciding them is:

- ``typed``: 20 replies to one live session, a tmux pane running the stand-in
  claude (tests/injectors/standin_claude.py drawing claude 2.1.328's READY
  prompt box; the injector types only into a READY screen, and the stand-in
  empties the box on Enter, which is the injector's confirmation). The
  stand-in logs every submitted line;
- ``duplicate``: the same 20 replies again, byte for byte (a phone that
  re-sent), interleaved later in the inbox;
- ``dropped``: 200 from a sender not in ALLOWED_SENDERS (to the live session's thread);
- ``refused``: the rest (4,760) to 99 tracked sessions whose tmux panes are
  gone (killed before the restart): the first reply to each finds the pane
  gone, ends the session and is refused; the others are refused at routing.
  Each refusal queues a notice to the sender, which the relay's outbox loop
  sends over SMTP meanwhile (counted, not waited for).

Checked afterwards: 0 texts submitted twice in the stand-in, each of the 20
submitted exactly once, no ledger row delivered twice, every message decided.
RATE_LIMIT_PER_MINUTE is raised to 600 (its maximum) so the 20 are not
rate-limited; ACK_EMAILS is off.

    .venv/bin/python bench/backlog_bench.py --bin /path/to/venv/bin [--replies 5000] [--json OUT]

Target: ≤ 60 s.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from email.message import EmailMessage
from email.policy import SMTP as smtp_policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, RelayWorld, Tmux, end_processes_under

from taskping.session_map import connect
from tests.support.mail_fixtures import default_users
from tests.support.mailstack import MailStack

TARGET_SECONDS = 60.0
TYPED = 20
STRANGERS = 200
GONE_SESSIONS = 99
STANDIN = ROOT / "tests" / "injectors" / "standin_claude.py"
SCREENS = ROOT / "tests" / "injectors" / "screens"


def reply(n: int, token: str, text: str, *, sender: str, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Me <{sender}>"
    msg["To"] = to
    msg["Subject"] = f"Re: [TaskPing #{token}] Claude finished"
    msg["Message-ID"] = f"<backlog-{n}@example.test>"
    msg["Date"] = "Mon, 30 Nov 2026 09:41:00 +0000"
    msg.set_content(f"{text}\n\nOn Mon, Nov 30, 2026 at 9:40 AM TaskPing <{to}> wrote:\n> Claude finished.\n")
    return msg.as_bytes(policy=smtp_policy)


def wait_until_ready(tmux: Tmux, pane: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "❯" in tmux.run("capture-pane", "-p", "-t", pane):
            return
        time.sleep(0.05)
    raise RuntimeError("the stand-in never drew its prompt box")


def decided_uid(db: Path) -> int:
    conn = connect(db)
    try:
        row = conn.execute("SELECT last_uid FROM mailbox_state WHERE folder = 'INBOX'").fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


def run(bin_dir: Path, total: int, root: Path, timeout: float) -> dict[str, object]:
    tmux = Tmux(root / "tmux.sock")
    world = None
    rng = random.Random(11)
    standin_log = root / "standin.log"
    try:
        with MailStack(default_users()) as stack:
            world = RelayWorld(stack, root, bin_dir, {"ACK_EMAILS": "false", "RATE_LIMIT_PER_MINUTE": "600"})
            me, inbox = stack.address("me"), stack.address("taskping")
            live_pane = tmux.new_window(
                f"{sys.executable} {STANDIN} {SCREENS} {standin_log} --start ready --after 100000000", name="live"
            )
            wait_until_ready(tmux, live_pane)
            live = world.track(tmux, live_pane, "live")
            gone = []
            for i in range(GONE_SESSIONS):
                pane = tmux.new_window("sleep 3600", name=f"g{i}")
                gone.append(world.track(tmux, pane, f"gone-{i}"))

            relay = world.start_relay()  # first run: UIDVALIDITY and last UID recorded
            time.sleep(1.0)
            world.stop_relay(relay)
            for s in gone:  # their claudes ended while the relay was down
                tmux.kill_pane(s.target_pane)

            typed_texts = [f"backlog reply {k}: run the tests again" for k in range(TYPED)]
            typed = [reply(k, live.token, typed_texts[k], sender=me, to=inbox) for k in range(TYPED)]
            n_refused = total - 2 * TYPED - STRANGERS
            if n_refused < 0:
                raise SystemExit(f"--replies must be at least {2 * TYPED + STRANGERS}")
            others = [
                reply(TYPED + k, live.token, f"stranger {k}", sender="evil@example.test", to=inbox)
                for k in range(STRANGERS)
            ]
            others += [
                reply(
                    TYPED + STRANGERS + k, gone[k % GONE_SESSIONS].token, f"continue with step {k}", sender=me, to=inbox
                )
                for k in range(n_refused)
            ]
            rng.shuffle(others)
            # The 20 in their order, spread over the first half; their re-sends over the second half.
            half = len(others) // 2
            first, second = others[:half], others[half:]
            for k, raw in enumerate(typed):
                first.insert((k + 1) * len(first) // (TYPED + 1), raw)
            for raw in typed:
                second.insert(rng.randrange(len(second) + 1), raw)
            messages = first + second

            appended = time.monotonic()
            client = stack.imap("taskping", timeout=60)
            try:
                for i in range(0, len(messages), 250):
                    client.multiappend("INBOX", messages[i : i + 250])
                client.select_folder("INBOX", readonly=True)
                uids = client.search(["ALL"])
                last_uid, in_box = max(uids), len(uids)
            finally:
                client.logout()
            append_seconds = time.monotonic() - appended

            started = time.monotonic()
            relay = world.start_relay()
            while decided_uid(world.db) < last_uid:
                if relay.poll() is not None:
                    raise RuntimeError(f"the relay exited during the backlog: {world.relay_log()}")
                if time.monotonic() - started > timeout:
                    break
                time.sleep(0.05)
            took = time.monotonic() - started
            done_uid = decided_uid(world.db)

            conn = connect(world.db)
            try:
                statuses = Counter(dict(conn.execute("SELECT status, COUNT(*) FROM inbound GROUP BY status")))
                delivered_twice = conn.execute(
                    "SELECT COUNT(*) FROM (SELECT message_key FROM inbound WHERE status = 'delivered' "
                    "GROUP BY message_key HAVING COUNT(*) > 1)"
                ).fetchone()[0]
                outbox = Counter(dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")))
            finally:
                conn.close()
            world.stop_relay(relay)
    finally:
        if world is not None:
            world.stop()
        tmux.kill()
    submitted = (
        [line[len("submitted ") :] for line in standin_log.read_text().splitlines() if line.startswith("submitted ")]
        if standin_log.exists()
        else []
    )
    counts = Counter(submitted)
    return {
        "replies": len(messages),
        "in_mailbox": in_box,
        "append_seconds": round(append_seconds, 1),
        "seconds": round(took, 1),
        "all_decided": done_uid >= last_uid,
        "per_second": round(len(messages) / took, 1),
        "ledger": dict(statuses),
        "duplicates_resent": TYPED,
        "typed_once": sum(1 for t in typed_texts if counts[t] == 1),
        "typed_twice": sum(1 for c in counts.values() if c > 1),
        "typed_expected": TYPED,
        "typed_unexpected": sum(1 for t in counts if t not in typed_texts),
        "delivered_rows_twice": delivered_twice,
        "outbox_at_end": dict(outbox),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--bin",
        type=Path,
        default=Path(sys.executable).parent,
        help="bin directory of the TaskPing install to measure (default: this interpreter's)",
    )
    parser.add_argument("--replies", type=int, default=5000, help="replies in the backlog (default 5000)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds (default 600)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="taskping-backlog-bench-"))
    try:
        result = run(args.bin.resolve(), args.replies, root, args.timeout)
    finally:
        end_processes_under(root)
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"backlog after a restart: {result['replies']} replies (appended in {result['append_seconds']} s) "
        f"decided in {result['seconds']} s ({result['per_second']}/s); all decided: {result['all_decided']}"
    )
    print(f"ledger: {result['ledger']}; outbox when done: {result['outbox_at_end']}")
    print(
        f"typed once: {result['typed_once']}/{result['typed_expected']}, typed twice: {result['typed_twice']}, "
        f"unexpected: {result['typed_unexpected']}, ledger rows delivered twice: {result['delivered_rows_twice']}"
    )
    ok_time = result["all_decided"] and result["seconds"] <= TARGET_SECONDS  # type: ignore[operator]
    print(
        f"target ≤ {TARGET_SECONDS:.0f} s with 0 typed twice: "
        f"{'met' if ok_time and result['typed_twice'] == 0 else 'MISSED'}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
