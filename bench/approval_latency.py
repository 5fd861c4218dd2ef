"""Approval round trip on loopback: the approval email sent → the decision returned to Claude.

The real claude asks for a Bash call (the fake API's tool_use); TaskPing's
PermissionRequest hook mails the approval and waits; the "phone" answers
``yes`` as soon as the email is in its mailbox; the real relay (its own
process) reads the answer from Dovecot and records it; the hook prints
Claude's ``allow``. Everything is real except the model and the phone.

    .venv/bin/python bench/approval_latency.py [--runs 10] [--json OUT]

Per run: ``sent`` is the outbox's sent_at of the approval email (SMTP accepted
it), ``printed`` the hook's ``approval_done`` log line (it printed the
decision). Also shown: the phone's share (sent → reply submitted: delivery into
the mailbox plus the phone's 50 ms polling) and the relay's (reply submitted →
decided in the session map), the rest being the hook's 0.2 s poll.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # appended: an installed taskping still wins over the checkout

import libtmux
from harness import end_processes_under
from reply_latency import end_panes

import tests.support.cli as console_scripts
from taskping.injectors.base import ScreenState
from taskping.session_map import approvals, connect
from tests.support.claude_fixtures import make_claude_home
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.mail_fixtures import default_users
from tests.support.mailstack import MailStack
from tests.support.world import Notification, World


def approval_emails(world: World) -> list[Notification]:
    out = []
    for stored in world.stack.messages("me"):
        msg = message_from_bytes(stored.raw, policy=default_policy)
        if msg["X-TaskPing"] == "approval":
            out.append(Notification(str(msg["Message-ID"]), str(msg["Subject"]), "", stored.raw))
    return out


def hook_printed(world: World, approval_id: int, timeout: float = 30) -> float:
    """When the hook printed its decision for ``approval_id`` (its log line's timestamp)."""
    log = world.state_dir / "taskping.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines() if log.exists() else []:
            record = json.loads(line)
            if record.get("event") == "approval_done" and record.get("approval") == approval_id:
                return datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
        time.sleep(0.05)
    raise SystemExit(f"approval_latency: the hook never logged approval {approval_id}")


def one_run(world: World, i: int) -> dict[str, float]:
    session = world.session("taskping-bench")
    world.wait_screen(session, ScreenState.READY)
    before = len(approval_emails(world))
    world.api.queue_tool_use(f"touch {world.home.project_dir}/probe-{i}")
    world.api.queue_text(f"ran probe {i}")
    world.type_prompt(session, f"run probe {i}")
    deadline = time.monotonic() + 30
    while len(found := approval_emails(world)) <= before:  # the phone polls its mailbox
        if time.monotonic() > deadline:
            raise SystemExit(f"approval_latency: no approval email for run {i}\n{world.diagnostics()}")
        time.sleep(0.05)
    note = found[-1]
    replied = time.time()
    world.reply(note, "yes")
    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        approval = approvals.by_message_ids(conn, [note.message_id])
        assert approval is not None
        printed = hook_printed(world, approval.id)
        approval = approvals.get(conn, approval.id)
        row = conn.execute("SELECT sent_at FROM outbox WHERE message_id = ?", (note.message_id,)).fetchone()
    finally:
        conn.close()
    assert approval is not None and approval.status == "allowed" and approval.decided_at is not None
    sent = float(row[0])
    return {
        "round_trip_s": printed - sent,
        "phone_s": replied - sent,
        "relay_s": approval.decided_at - replied,
        "hook_poll_s": printed - approval.decided_at,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="approvals to measure (default 10)")
    parser.add_argument(
        "--bin", type=Path, default=Path(sys.executable).parent, help="bin directory of the TaskPing install"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    console_scripts.BIN = args.bin.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="tp-bench-approval-"))
    server = libtmux.Server(socket_path=str(tmp / "tmux.sock"), config_file="/dev/null")
    world = None
    try:
        with MailStack(default_users()) as stack, FakeAnthropic() as api:
            home = make_claude_home(tmp / "claude", api.base_url)
            env = stack.taskping_env(
                SENDER_AUTH="none", RATE_LIMIT_PER_MINUTE="600", ACK_EMAILS="false", APPROVALS="email"
            )
            env_file = tmp / "taskping.env"
            env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
            env_file.chmod(0o600)
            server.new_session(session_name="keepalive")
            world = World(stack, api, home, str(server.socket_path), env_file, env)
            world.taskping("install-hooks", "--settings", str(home.settings_path))
            world.spawn("bench")
            world.start_relay()
            runs = []
            for i in range(args.runs):
                runs.append(one_run(world, i))
                r = runs[-1]
                print(
                    f"approval {i + 1:2d}: {r['round_trip_s'] * 1000:7.1f} ms  (phone {r['phone_s'] * 1000:.0f}, "
                    f"relay {r['relay_s'] * 1000:.0f}, hook poll {r['hook_poll_s'] * 1000:.0f})",
                    flush=True,
                )
            trips = [r["round_trip_s"] for r in runs]
            print(f"\napprovals: {len(trips)}")
            print(f"median:    {statistics.median(trips) * 1000:7.1f} ms")
            print(f"max:       {max(trips) * 1000:7.1f} ms   (min {min(trips) * 1000:.1f} ms)")
            if args.json:
                figures = {
                    "runs": len(trips),
                    "median_s": round(statistics.median(trips), 3),
                    "max_s": round(max(trips), 3),
                    "min_s": round(min(trips), 3),
                    "samples": [{k: round(v, 3) for k, v in r.items()} for r in runs],
                }
                args.json.write_text(json.dumps(figures, indent=2) + "\n")
            for proc in world.procs:
                world.stop_relay(proc)
    finally:
        end_panes(server)
        if world is not None:
            world.stop()
        end_processes_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
