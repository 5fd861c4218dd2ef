"""`taskping sessions` — the tracked sessions as a table."""

from __future__ import annotations

import argparse
import time

HELP = "list tracked sessions"
DESCRIPTION = "List tracked Claude Code sessions: name, token, state, project dir, target, last event, expiry."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="include ended sessions")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")


def _ago(ts: float | None) -> str:
    if not ts:
        return "-"
    delta = int(time.time() - ts)
    if delta < 0:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta // size}{unit} ago"
    return f"{delta}s ago"


def run(args: argparse.Namespace) -> int:
    import json

    from taskping.cli.config_source import load
    from taskping.session_map import connect, sessions

    settings = load(args.env_file)
    conn = connect(settings.session_map_path)
    rows = sessions.all_sessions(conn, include_ended=args.all)
    if args.json:
        for s in rows:
            print(json.dumps({k: getattr(s, k) for k in s.__dataclass_fields__}))
        return 0
    if not rows:
        print("no tracked sessions" + ("" if args.all else " (use --all to include ended ones)"))
        return 0
    header = ("NAME", "TOKEN", "STATE", "PROJECT DIR", "TARGET", "LAST EVENT", "EXPIRES")
    table = [header]
    for s in rows:
        target = f"{s.target_socket} {s.target_pane}".strip() if s.kind == "tmux" else s.target_socket
        last = f"{s.last_event or '-'} {_ago(s.last_event_at)}" if s.last_event else "-"
        expires = "ended" if not s.live else time.strftime("%Y-%m-%d %H:%M", time.localtime(s.expires_at))
        table.append((s.name, s.token, s.state, s.cwd or "-", target, last, expires))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0
