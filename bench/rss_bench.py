"""Relay memory at rest: RSS of an idle `taskping-relay` tracking 100 sessions.

A loopback Dovecot (IMAP IDLE) and SMTP front, a private tmux server with 100
panes, each registered in the session map as a tracked Claude session (what
`taskping spawn` or the SessionStart hook leaves behind), and the relay
started from the install in ``--bin``. After its heartbeat, the relay is left
idle (IDLE on the inbox, its outbox loop and heartbeat ticking) for
``--settle`` seconds, then its resident set (the process and any children) is
sampled every 0.5 s for ``--seconds`` seconds.

    .venv/bin/python bench/rss_bench.py --bin /path/to/venv/bin [--sessions 100] [--json OUT]

Target: ≤ 80 MB (the largest sample).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RelayWorld, Tmux, end_processes_under, rss_kb

from tests.support.mail_fixtures import default_users
from tests.support.mailstack import MailStack

TARGET_MB = 80.0


def run(bin_dir: Path, n_sessions: int, settle: float, seconds: float, root: Path) -> dict[str, object]:
    tmux = Tmux(root / "tmux.sock")
    world = None
    try:
        with MailStack(default_users()) as stack:
            world = RelayWorld(stack, root, bin_dir, {"ACK_EMAILS": "false"})
            for i in range(n_sessions):
                pane = tmux.new_window("sleep 3600", name=f"s{i}")
                world.track(tmux, pane, f"bench-{i}")
            relay = world.start_relay()
            time.sleep(settle)
            samples = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                samples.append(rss_kb(relay.pid) / 1024)
                time.sleep(0.5)
            if relay.poll() is not None:
                raise RuntimeError(f"the relay exited while idle: {world.relay_log()}")
            world.stop_relay(relay)
    finally:
        if world is not None:
            world.stop()
        tmux.kill()
    return {
        "sessions": n_sessions,
        "samples": len(samples),
        "max_mb": round(max(samples), 1),
        "median_mb": round(statistics.median(samples), 1),
        "settle_seconds": settle,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--bin",
        type=Path,
        default=Path(sys.executable).parent,
        help="bin directory of the TaskPing install to measure (default: this interpreter's)",
    )
    parser.add_argument("--sessions", type=int, default=100, help="tracked sessions (default 100)")
    parser.add_argument("--settle", type=float, default=5.0, help="idle seconds before sampling (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of sampling (default 5)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="taskping-rss-bench-"))
    try:
        result = run(args.bin.resolve(), args.sessions, args.settle, args.seconds, root)
    finally:
        end_processes_under(root)
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"relay RSS idle with {result['sessions']} tracked sessions: max {result['max_mb']} MB, "
        f"median {result['median_mb']} MB over {result['samples']} samples; "
        f"target ≤ {TARGET_MB:.0f} MB: {'met' if result['max_mb'] <= TARGET_MB else 'MISSED'}"
    )  # type: ignore[operator]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
