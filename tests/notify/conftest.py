"""Helpers for the notify-path tests: run the real ``taskping`` console script
against a private tmux server, read the session map it wrote, and reap the
detached ``taskping send-outbox`` processes the hooks start.

Only processes this test started are ended: a sender is recognised by its
command line naming ``send-outbox`` *and* by the test's own unique temporary
path (its SESSION_MAP_PATH or env file) in its command line or environment.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import libtmux
import pytest

from taskping.session_map import connect, daemons, outbox, sessions
from taskping.session_map.outbox import OutboxRow
from taskping.session_map.sessions import Session
from tests.support.cli import taskping_bin
from tests.support.mailstack import free_ports

__all__ = ["HookRig", "closed_port", "parse_mail", "parts", "reap_senders", "subject", "taskping_bin", "tmux_pid"]

EMAIL_FROM = "taskping@notify.example.test"
EMAIL_TO = "me@phone.example.test"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_ports(1)[0]


def parse_mail(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def subject(msg: EmailMessage) -> str:
    """The decoded subject with runs of whitespace as one space (Python's header
    folder leaves a double space where it folds before an encoded word)."""
    return " ".join(str(msg["Subject"]).split())


def parts(msg: EmailMessage) -> dict[str, str]:
    """content type -> decoded text (LF line ends) of every non-multipart part."""
    out: dict[str, str] = {}
    for part in msg.walk():
        if not part.is_multipart():
            out[part.get_content_type()] = part.get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    return out


# ------------------------------------------------------------- process reaping


def _proc_text(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def our_senders(marker: str) -> list[int]:
    """PIDs of running `taskping send-outbox` processes that carry ``marker`` (a
    unique temporary path) in their command line or environment."""
    found = []
    me = os.getuid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if entry.stat().st_uid != me:
                continue
        except OSError:
            continue
        cmdline = _proc_text(pid, "cmdline")
        if "send-outbox" not in cmdline or "taskping" not in cmdline:
            continue
        if marker in cmdline or marker in _proc_text(pid, "environ"):
            found.append(pid)
    return found


def reap_senders(marker: str, lock_file: Path | None = None) -> list[int]:
    """End this test's detached senders (TERM, then KILL). Returns their PIDs."""
    pids = set(our_senders(marker))
    if lock_file is not None and lock_file.is_file():
        text = lock_file.read_text().strip()
        if text.isdigit() and int(text) in our_senders(marker):
            pids.add(int(text))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    for pid in pids:
        while daemons.pid_alive(pid) and _proc_text(pid, "stat").split(" ")[2:3] != ["Z"]:
            if time.monotonic() > deadline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                break
            time.sleep(0.05)
    return sorted(pids)


# ------------------------------------------------------------- the hook rig


@dataclass
class HookRig:
    """A private tmux server with one pane, and a configuration for `taskping hook`.

    ``env`` is the hook's whole environment (nothing leaks in from the
    developer's): EMAIL_*, SESSION_MAP_PATH, SMTP on a closed loopback port,
    TMUX/TMUX_PANE for ``pane``. With ``relay`` True (the default) the relay
    heartbeat is refreshed before every hook so no sender is started.
    """

    root: Path
    server: libtmux.Server
    socket: str
    server_pid: int
    pane: str
    env: dict[str, str]
    relay: bool = True
    runs: list[subprocess.CompletedProcess[bytes]] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return Path(self.env["SESSION_MAP_PATH"])

    @property
    def state_dir(self) -> Path:
        return self.db_path.parent

    @property
    def log_path(self) -> Path:
        return self.state_dir / "taskping.log"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "send-outbox.lock"

    def tmux_env(self, pane: str | None = None) -> dict[str, str]:
        return {"TMUX": f"{self.socket},{self.server_pid},0", "TMUX_PANE": pane or self.pane}

    def run(
        self,
        event: str,
        payload: Mapping[str, Any] | str | bytes | None = None,
        *,
        pane: str | None = None,
        env: Mapping[str, str | None] | None = None,
        in_tmux: bool = True,
        args: tuple[str, ...] = (),
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `taskping [ARGS] hook EVENT` with ``payload`` on stdin (a dict gets
        ``hook_event_name`` = EVENT unless it sets one)."""
        if self.relay:
            self.beat_relay()
        if isinstance(payload, Mapping):
            data = {"hook_event_name": event, **payload}
            stdin = json.dumps(data).encode()
        elif isinstance(payload, str):
            stdin = payload.encode()
        else:
            stdin = payload or b""
        run_env = dict(self.env)
        if in_tmux:
            run_env.update(self.tmux_env(pane))
        for key, value in (env or {}).items():
            if value is None:
                run_env.pop(key, None)
            else:
                run_env[key] = value
        proc = subprocess.run(
            [taskping_bin(), *args, "hook", event],
            input=stdin,
            env=run_env,
            cwd=self.root / "cwd",
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        self.runs.append(proc)
        return proc

    def ok(self, event: str, payload: Mapping[str, Any] | str | bytes | None = None, **kw: Any) -> None:
        """Run the hook and require a clean run: exit 0, nothing on stderr, no new log line."""
        before = len(self.log_lines())
        proc = self.run(event, payload, **kw)
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stderr == b"", proc.stderr.decode()
        assert self.log_lines()[before:] == []

    def skipped(self, event: str, payload: Mapping[str, Any] | str | bytes | None = None, **kw: Any) -> str:
        """Run the hook, require exit 0 and exactly one new log line: ``hook_skipped`` at info.
        Returns its reason."""
        before = len(self.log_lines())
        proc = self.run(event, payload, **kw)
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stderr == b"", proc.stderr.decode()
        new = self.log_lines()[before:]
        assert len(new) == 1, new
        assert new[0]["event"] == "hook_skipped" and new[0]["level"] == "info", new[0]
        assert new[0]["hook_event"] == event
        return str(new[0]["reason"])

    def connect(self) -> sqlite3.Connection:
        return connect(self.db_path)

    def beat_relay(self) -> None:
        conn = self.connect()
        try:
            daemons.beat(conn, "relay")
        finally:
            conn.close()

    def session(self, pane: str | None = None) -> Session | None:
        """The live session on ``pane`` (default: the rig's pane)."""
        conn = self.connect()
        try:
            return sessions.by_target(conn, self.socket, pane or self.pane)
        finally:
            conn.close()

    def all_sessions(self) -> list[Session]:
        if not self.db_path.exists():
            return []
        conn = self.connect()
        try:
            return sessions.all_sessions(conn, include_ended=True)
        finally:
            conn.close()

    def outbox(self) -> list[OutboxRow]:
        if not self.db_path.exists():
            return []
        conn = self.connect()
        try:
            return outbox.rows(conn)
        finally:
            conn.close()

    def notification_ids(self) -> list[str]:
        conn = self.connect()
        try:
            return [r[0] for r in conn.execute("SELECT message_id FROM notifications ORDER BY created_at")]
        finally:
            conn.close()

    def log_lines(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def new_pane(self, session_name: str) -> str:
        """Another tmux session (one pane) on this server; returns its pane id."""
        sess = self.server.new_session(session_name=session_name, window_command="sleep 3600", attach=False)
        pane = sess.active_window.active_pane
        assert pane is not None and pane.pane_id
        return pane.pane_id


def tmux_pid(server: libtmux.Server) -> int:
    return int(server.cmd("display-message", "-p", "#{pid}").stdout[0])


@pytest.fixture
def hook_rig(tmp_path: Path, tmux_server: libtmux.Server) -> Iterator[HookRig]:
    """A HookRig on the private tmux server; its senders are reaped at teardown."""
    root = tmp_path / "rig"
    (root / "cwd").mkdir(parents=True)
    (root / "home").mkdir()
    sess = tmux_server.new_session(session_name="work", window_command="sleep 3600", attach=False)
    pane = sess.active_window.active_pane
    assert pane is not None and pane.pane_id
    socket_path = str(tmux_server.socket_path)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "LANG": "C.UTF-8",
        "EMAIL_FROM": EMAIL_FROM,
        "EMAIL_TO": EMAIL_TO,
        "SESSION_MAP_PATH": str(root / "state" / "taskping.db"),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(closed_port()),
        "SMTP_SECURE": "none",
        "CLAUDE_PID": "424242",
        "CLAUDE_PROJECT_DIR": str(root / "project-from-env"),
    }
    rig = HookRig(
        root=root, server=tmux_server, socket=socket_path, server_pid=tmux_pid(tmux_server), pane=pane.pane_id, env=env
    )
    try:
        yield rig
    finally:
        reap_senders(str(root), rig.lock_path)
