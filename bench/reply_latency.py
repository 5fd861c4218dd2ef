"""Reply latency end to end, on loopback: SMTP submission of a reply → its text
arriving at the (fake) Messages API from the real claude CLI.

Everything is real except the model: Dovecot (IMAP IDLE) behind an SMTP
front, the `taskping-relay` daemon as its own process, a private tmux server,
`taskping spawn` + the real `claude`, TaskPing's hooks installed.

    .venv/bin/python bench/reply_latency.py [--replies 20] [--bin VENV/bin] [--json OUT]

``--bin`` picks the TaskPing install that is measured (its `taskping`,
`taskping-relay` and the hooks it installs); the harness itself (mail stack,
fake API, tmux) runs in the dev venv. bench/run passes a fresh non-editable
install.

Prints every sample, then median and p95. Targets: median ≤ 1.0 s, p95 ≤ 1.5 s
(Dovecot's IDLE wake-up alone is ~0.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # appended: an installed taskping still wins over the checkout

import libtmux  # noqa: E402

from harness import end_processes_under  # noqa: E402

import tests.support.cli as console_scripts  # noqa: E402
from tests.support.world import World  # noqa: E402
from tests.support.claude_fixtures import make_claude_home  # noqa: E402
from tests.support.fake_anthropic import FakeAnthropic  # noqa: E402
from tests.support.mail_fixtures import default_users  # noqa: E402
from tests.support.mailstack import MailStack  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


def end_panes(server: libtmux.Server, timeout: float = 10.0) -> None:
    """Kill the private tmux server and wait for the programs in its panes to exit.

    claude writes its state under HOME as it exits on the hangup: removing the
    temp dir before that would leave a fresh ``claude/home`` behind.
    """
    if not server.is_alive():
        return
    pids = [int(p) for p in server.cmd("list-panes", "-a", "-F", "#{pane_pid}").stdout if p.strip().isdigit()]
    server.kill()
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=20, help="replies to measure (default 20)")
    parser.add_argument("--bin", type=Path, default=Path(sys.executable).parent,
                        help="bin directory of the TaskPing install to measure (default: this interpreter's)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    console_scripts.BIN = args.bin.resolve()  # World runs taskping / taskping-relay from here
    tmp = Path(tempfile.mkdtemp(prefix="tp-bench-"))
    server = libtmux.Server(socket_path=str(tmp / "tmux.sock"), config_file="/dev/null")
    world = None
    try:
        with MailStack(default_users()) as stack, FakeAnthropic() as api:
            home = make_claude_home(tmp / "claude", api.base_url)
            env = stack.taskping_env(SENDER_AUTH="none", RATE_LIMIT_PER_MINUTE="600", ACK_EMAILS="false")
            env_file = tmp / "taskping.env"
            env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
            env_file.chmod(0o600)  # it holds passwords: TaskPing refuses it readable by others
            server.new_session(session_name="keepalive")
            world = World(stack, api, home, str(server.socket_path), env_file, env)
            world.taskping("install-hooks", "--settings", str(home.settings_path))
            session = world.spawn("bench")
            note = world.notification_for(session, "warm up")
            world.start_relay()
            samples: list[float] = []
            for i in range(args.replies):
                text = f"latency probe {i}"
                sent = time.monotonic()
                world.reply(note, text)
                api.wait_for_prompt(text, timeout=30)
                arrived = next(r.received_at for r in api.requests if r.prompt == text)
                samples.append(arrived - sent)
                print(f"reply {i + 1:2d}: {samples[-1] * 1000:7.1f} ms", flush=True)
                time.sleep(0.3)  # let claude finish the turn before the next reply
            print()
            print(f"replies: {len(samples)}")
            print(f"median:  {statistics.median(samples) * 1000:7.1f} ms   (target ≤ 1000 ms)")
            print(f"p95:     {percentile(samples, 0.95) * 1000:7.1f} ms   (target ≤ 1500 ms)")
            print(f"min/max: {min(samples) * 1000:.1f} / {max(samples) * 1000:.1f} ms")
            if args.json:
                args.json.write_text(json.dumps({
                    "replies": len(samples),
                    "median_s": round(statistics.median(samples), 3),
                    "p95_s": round(percentile(samples, 0.95), 3),
                    "min_s": round(min(samples), 3),
                    "max_s": round(max(samples), 3),
                    "samples_s": [round(x, 3) for x in samples],
                }, indent=2) + "\n")
            for proc in world.procs:
                world.stop_relay(proc)
    finally:
        end_panes(server)
        if world is not None:
            world.stop()  # its relays and a detached send-outbox
        end_processes_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
