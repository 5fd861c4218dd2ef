"""`taskping sessions` — the tracked sessions as a table.

Besides the state the hooks recorded, it shows what the hooks cannot: ``gone``
for a session whose tmux pane no longer runs (killed without a SessionEnd) or
whose PTY wrapper no longer listens, why a session is not injectable,
and each session's last email with its fate (queued, sent, failed and why), so
"why did no mail come?" is answered here. ``--prune`` ends the gone ones, then
forgets what RETENTION_DAYS no longer keeps (:mod:`taskping.session_map.retention`,
which the relay also runs hourly) and prints what it erased.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskping.session_map.outbox import OutboxRow

HELP = "list tracked sessions"
DESCRIPTION = (
    "List tracked Claude Code sessions: name, token, state (gone when the pane no longer runs), "
    "project dir, target, last event, last email (queued/sent/failed and why), expiry. "
    "PTY sessions (spawn --mode pty) show their control socket; a Claude started by hand outside "
    "tmux (INJECTION_MODE=pty) is listed as not injectable, with the reason. "
    "--prune ends the sessions whose pane or PTY wrapper is gone, then erases what is older than RETENTION_DAYS "
    "(sent mail, reply previews, notification bodies; ended sessions with their rows; lines of the audit log "
    "and taskping.log) and prints the counts."
)
REASON_WIDTH = 60


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="include ended sessions")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.add_argument(
        "--prune",
        action="store_true",
        help="end the sessions whose tmux pane (or PTY wrapper) is gone, then forget what is older than RETENTION_DAYS",
    )


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


def _last_mail(row: OutboxRow | None) -> dict[str, Any] | None:
    """The fate of a session's last email: kind, status (queued/sending/sent/failed), reason, when."""
    if row is None:
        return None
    return {
        "kind": row.kind,
        "status": row.status,
        "reason": row.last_error,
        "at": row.sent_at or row.created_at,
        "attempts": row.attempts,
    }


def _mail_cell(mail: dict[str, Any] | None) -> str:
    if mail is None:
        return "-"
    cell = f"{mail['kind']} {mail['status']} {_ago(mail['at'])}"
    if mail["reason"]:
        reason = mail["reason"] if len(mail["reason"]) <= REASON_WIDTH else mail["reason"][: REASON_WIDTH - 1] + "…"
        cell += f": {reason}"
    return cell


def run(args: argparse.Namespace) -> int:
    import json

    from taskping import log_retention
    from taskping.cli.config_source import load
    from taskping.hooks import orphans
    from taskping.hooks.panes import gone_sessions, prune
    from taskping.session_map import connect, outbox, retention, sessions

    settings = load(args.env_file)
    conn = connect(settings.session_map_path)
    try:
        rows = sessions.all_sessions(conn, include_ended=args.all)
        gone = gone_sessions(rows)
        if args.prune:
            for s in prune(conn, rows, gone):
                what = f"its tmux pane {s.target_pane}" if s.kind == "tmux" else "its PTY wrapper"
                print(f"ended {s.name}: {what} is gone")
            if not gone:
                print("no gone sessions to prune")
            for cleaned in orphans.clean(conn, ttl=settings.token_ttl):
                print(f"cleaned {cleaned.session.name}: closed {cleaned.what} (ended or expired over TOKEN_TTL ago)")
            for line in retention.forget(conn, days=settings.retention_days).lines(settings.retention_days):
                print(line)
            logs = [settings.audit_path, settings.log_path]
            print(
                log_retention.report_line(
                    log_retention.trim_all(logs, days=settings.retention_days, now=time.time()), settings.retention_days
                )
            )
            return 0
        last = outbox.last_per_session(conn)
    finally:
        conn.close()
    if args.json:
        for s in rows:
            record = {k: getattr(s, k) for k in s.__dataclass_fields__ if k != "control_secret"}
            record["gone"] = s.id in gone
            record["last_mail"] = _last_mail(last.get(s.id))
            print(json.dumps(record))
        return 0
    if not rows:
        print("no tracked sessions" + ("" if args.all else " (use --all to include ended ones)"))
        return 0
    header = ("NAME", "TOKEN", "STATE", "PROJECT DIR", "TARGET", "LAST EVENT", "LAST MAIL", "EXPIRES")
    table = [header]
    for s in rows:
        if s.not_injectable:
            target = "not injectable (below)"
        elif s.kind == "tmux":
            target = f"{s.target_socket} {s.target_pane}".strip()
        else:
            target = f"pty {s.target_socket}"
        last_event = f"{s.last_event or '-'} {_ago(s.last_event_at)}" if s.last_event else "-"
        expires = "ended" if not s.live else time.strftime("%Y-%m-%d %H:%M", time.localtime(s.expires_at))
        state = "gone" if s.id in gone else ("cleaned" if s.cleaned_at else s.state)
        table.append(
            (s.name, s.token, state, s.cwd or "-", target, last_event, _mail_cell(_last_mail(last.get(s.id))), expires)
        )
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for s in rows:
        if s.not_injectable:
            print(f"{s.name}: not injectable: {s.not_injectable}")
        if s.cleaned_at:
            print(f"{s.name}: cleaned {_ago(s.cleaned_at)}: its leftover terminal was closed (ended or expired)")
    if gone:
        print(
            f"{len(gone)} session(s) gone (pane or PTY wrapper no longer runs): `taskping sessions --prune` ends them"
        )
    return 0
