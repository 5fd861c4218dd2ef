"""Reply latency end to end, on loopback: SMTP submission of a reply → its text
arriving at the (fake) Messages API from the real claude CLI.

Everything is real except the model: Dovecot (IMAP IDLE) behind an SMTP
front, the `taskping-relay` daemon as its own process, a private tmux server,
`taskping spawn` + the real `claude`, TaskPing's hooks installed.

    .venv/bin/python bench/reply_latency.py [--replies 20] [--mode tmux|pty] [--bin VENV/bin] [--json OUT]

``--mode pty`` measures a `taskping spawn --mode pty` session instead: claude
under the PTY wrapper, itself in an outer PTY the harness reads (a person's
terminal), the relay typing through the wrapper's control socket.

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
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # appended: an installed taskping still wins over the checkout

import libtmux
from harness import end_processes_under

import tests.support.cli as console_scripts
from taskping.injectors.base import ScreenState
from taskping.injectors.pty import PtyInjector
from tests.support.claude_fixtures import claude_binary_or_skip, make_claude_home
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.mail_fixtures import default_users
from tests.support.mailstack import MailStack
from tests.support.pty_session import PtySession
from tests.support.world import Notification, World


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_pty(world: World, bin_dir: Path) -> PtySession:
    """`taskping spawn --mode pty -- claude` in an outer PTY (the person's terminal), claude READY."""
    binary = claude_binary_or_skip()
    env = {**world.home.env, "PATH": f"{bin_dir}:{Path(binary).parent}:{os.environ['PATH']}"}
    pty = PtySession(
        [binary],
        env=env,
        session_map=Path(world.env["SESSION_MAP_PATH"]),
        name="bench",
        cwd=world.home.project_dir,
        env_file=world.env_file,
        bin_dir=bin_dir,
    )
    pty.wait_for(ScreenState.READY, timeout=30)
    return pty


def pty_notification(world: World, pty: PtySession, prompt: str) -> Notification:
    """A first turn typed through the control socket (nobody at the keyboard: the Stop mails)."""
    typed = PtyInjector(world.state_dir / "locks", pty.secret_for()).inject(pty.target, prompt)
    if not typed.delivered:
        raise SystemExit(f"reply_latency: the first prompt was not typed: {typed.detail}")
    raw = world.new_mail(1)[0]
    msg = message_from_bytes(raw, policy=default_policy)
    return Notification(str(msg["Message-ID"]), str(msg["Subject"]), pty.session.token, raw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=20, help="replies to measure (default 20)")
    parser.add_argument(
        "--bin",
        type=Path,
        default=Path(sys.executable).parent,
        help="bin directory of the TaskPing install to measure (default: this interpreter's)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--mode",
        choices=("tmux", "pty"),
        default="tmux",
        help="the session measured: a tmux pane (default) or `spawn --mode pty`",
    )
    args = parser.parse_args()
    console_scripts.BIN = args.bin.resolve()  # World runs taskping / taskping-relay from here
    tmp = Path(tempfile.mkdtemp(prefix="tp-bench-"))
    server = libtmux.Server(socket_path=str(tmp / "tmux.sock"), config_file="/dev/null")
    world = None
    pty = None
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
            if args.mode == "pty":
                pty = start_pty(world, console_scripts.BIN)
                note = pty_notification(world, pty, "warm up")
            else:
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
            print(f"replies: {len(samples)} ({args.mode} session)")
            print(f"median:  {statistics.median(samples) * 1000:7.1f} ms   (target ≤ 1000 ms)")
            print(f"p95:     {percentile(samples, 0.95) * 1000:7.1f} ms   (target ≤ 1500 ms)")
            print(f"min/max: {min(samples) * 1000:.1f} / {max(samples) * 1000:.1f} ms")
            cpu = {}
            if pty is not None:  # what the wrapper (pexpect + pyte) costs, next to claude itself
                cpu = {
                    "wrapper_cpu_s": cpu_seconds(pty.wrapper_pid()),
                    "claude_cpu_s": cpu_seconds(int(pty.ask("ping")["pid"])),
                }  # type: ignore[call-overload]
                print(
                    f"CPU:     wrapper {cpu['wrapper_cpu_s']:.2f} s, claude {cpu['claude_cpu_s']:.2f} s "
                    "(whole session so far)"
                )
            if args.json:
                args.json.write_text(
                    json.dumps(
                        {
                            "mode": args.mode,
                            "replies": len(samples),
                            "median_s": round(statistics.median(samples), 3),
                            "p95_s": round(percentile(samples, 0.95), 3),
                            "min_s": round(min(samples), 3),
                            "max_s": round(max(samples), 3),
                            "samples_s": [round(x, 3) for x in samples],
                            **cpu,
                        },
                        indent=2,
                    )
                    + "\n"
                )
            for proc in world.procs:
                world.stop_relay(proc)
    finally:
        if pty is not None:
            pty.close()
        end_panes(server)
        if world is not None:
            world.stop()  # its relays and a detached send-outbox
        end_processes_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
