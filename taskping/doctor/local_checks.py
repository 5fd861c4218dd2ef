"""This machine: tmux and claude (with versions), the hooks in Claude Code's settings,
the relay's heartbeat, the outbox, and sessions whose tmux pane is gone."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from taskping.config import Settings
from taskping.doctor.result import Check
from taskping.hooks.payload import APPROVAL_EVENT, EVENTS

VERSION_TIMEOUT = 15.0


def _version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if out.returncode == 0 and text else None


def tools() -> list[Check]:
    out: list[Check] = []
    tmux = shutil.which("tmux")
    version = _version([tmux, "-V"]) if tmux else None
    if tmux and version:
        out.append(Check.ok("tmux", f"tmux: {tmux} ({version})"))
    else:
        out.append(
            Check.fail(
                "tmux",
                "tmux: not found on PATH" if not tmux else f"tmux: {tmux} does not run",
                "install tmux (apt install tmux / brew install tmux)",
            )
        )
    claude = shutil.which("claude")
    version = _version([claude, "--version"]) if claude else None
    if claude and version:
        out.append(Check.ok("claude", f"claude: {claude} ({version})"))
    else:
        out.append(
            Check.fail(
                "claude",
                "claude: not found on PATH" if not claude else f"claude: {claude} does not run",
                "install Claude Code (npm install -g @anthropic-ai/claude-code) or add it to PATH",
            )
        )
    return out


def claude_settings_path() -> Path:
    base = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(base).expanduser() / "settings.json" if base else Path.home() / ".claude" / "settings.json"


def _our_hooks(settings_json: dict[str, object]) -> dict[str, list[list[str]]]:
    """event → the argv of each TaskPing hook command registered for it."""
    found: dict[str, list[list[str]]] = {}
    hooks = settings_json.get("hooks")
    if not isinstance(hooks, dict):
        return found
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else []:
            for hook in group.get("hooks", []) if isinstance(group, dict) else []:
                command = hook.get("command") if isinstance(hook, dict) else None
                try:
                    words = shlex.split(command) if isinstance(command, str) else []
                except ValueError:
                    continue
                if len(words) >= 3 and words[-2] == "hook" and any(Path(w).name == "taskping" for w in words[:3]):
                    found.setdefault(str(event), []).append(words)
    return found


def hooks(settings: Settings) -> Check:
    path = claude_settings_path()
    fix = f"taskping{_env_arg(settings)} install-hooks"
    if not path.is_file():
        return Check.fail("hooks", f"hooks: {path} does not exist", fix)
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Check.fail(
            "hooks", f"hooks: cannot read {path}: {exc.__class__.__name__}", f"repair the JSON, then {fix}"
        )
    found = _our_hooks(data if isinstance(data, dict) else {})
    wanted = (*EVENTS, APPROVAL_EVENT) if settings.approvals == "email" else EVENTS
    missing = [e for e in wanted if e not in found]
    if missing:
        return Check.fail("hooks", f"hooks: {', '.join(missing)} not installed in {path}", fix)
    want = str(settings.env_file) if settings.env_file else None
    elsewhere = sorted({_env_file_of(w) or "(none)" for argvs in found.values() for w in argvs} - {want or "(none)"})
    if elsewhere:
        return Check.fail(
            "hooks",
            f"hooks: installed in {path} but read {', '.join(elsewhere)}, not {want or 'the environment alone'}",
            fix,
        )
    missing_exe = sorted({w[0] for argvs in found.values() for w in argvs if not shutil.which(w[0])})
    if missing_exe:
        return Check.fail("hooks", f"hooks: the command {missing_exe[0]} no longer exists", fix)
    return Check.ok("hooks", f"hooks: {len(wanted)} events in {path}, reading {want or 'the environment alone'}")


def _env_arg(settings: Settings) -> str:
    return f" --env-file {shlex.quote(str(settings.env_file))}" if settings.env_file else ""


def _env_file_of(words: list[str]) -> str | None:
    for i, word in enumerate(words):
        if word == "--env-file" and i + 1 < len(words):
            return str(Path(words[i + 1]).expanduser().resolve())
        if word.startswith("--env-file="):
            return str(Path(word.partition("=")[2]).expanduser().resolve())
    return None


def state(settings: Settings) -> list[Check]:
    """Relay heartbeat, outbox and sessions, read from the session map (never created here)."""
    path = settings.session_map_path
    if not path.is_file():
        return [
            Check.fail(
                "relay",
                f"relay: never ran here ({path} does not exist)",
                "start it: taskping install-service, then systemctl --user enable --now taskping-relay",
            ),
            Check.ok("outbox", "outbox: empty"),
            Check.ok("sessions", "sessions: none tracked"),
        ]
    from taskping.session_map import connect

    conn = connect(path)
    try:
        return [relay(conn), outbox(conn), panes(conn)]
    finally:
        conn.close()


def relay(conn: sqlite3.Connection) -> Check:
    from taskping.session_map import daemons

    last = daemons.heartbeat(conn, "relay")
    fix = "start it: systemctl --user start taskping-relay (or taskping install-service first)"
    if last is None:
        return Check.fail("relay", "relay: not running (no heartbeat)", fix)
    age = time.time() - last.beat_at
    if daemons.alive(conn, "relay"):
        return Check.ok("relay", f"relay: running (pid {last.pid} on {last.host}, heartbeat {age:.0f} s ago)")
    return Check.fail(
        "relay",
        f"relay: not running (last heartbeat {age:.0f} s ago, pid {last.pid})",
        fix + "; journalctl --user -u taskping-relay says why it stopped",
    )


def outbox(conn: sqlite3.Connection) -> Check:
    from taskping.session_map import outbox as box
    from taskping.session_map.vocabulary import OutboxStatus

    queued = box.rows(conn, OutboxStatus.QUEUED) + box.rows(conn, OutboxStatus.SENDING)
    failed = box.rows(conn, OutboxStatus.FAILED)
    troubled = [r for r in queued if r.last_error] + failed
    detail = f"outbox: {len(queued)} queued, {len(failed)} failed"
    if not troubled:
        return Check.ok("outbox", detail)
    lines = "; ".join(f"{r.status} {r.message_id} after {r.attempts} attempt(s): {r.last_error}" for r in troubled[:5])
    more = f" (+{len(troubled) - 5} more)" if len(troubled) > 5 else ""
    return Check.fail(
        "outbox", f"{detail}: {lines}{more}", "fix the SMTP problem named above, then taskping send-outbox"
    )


def panes(conn: sqlite3.Connection) -> Check:
    from taskping.session_map import sessions

    live = [s for s in sessions.all_sessions(conn) if s.kind == "tmux"]
    gone = [s.name for s in live if not _pane_alive(s.target_socket, s.target_pane)]
    if gone:
        return Check.fail(
            "sessions",
            f"sessions: {len(gone)} of {len(live)} tracked have no tmux pane any more: {', '.join(gone)}",
            "taskping sessions --prune",
        )
    return Check.ok("sessions", f"sessions: {len(live)} tracked, every pane alive")


def _pane_alive(socket: str, pane: str) -> bool:
    if not pane:
        return False
    from taskping.tmux_server import TmuxServer

    return TmuxServer(socket or None, timeout=5.0).pane_alive(pane)
