"""End to end, real everything: the pinned claude CLI (against the fake
Messages API) in a private tmux server, hooks installed with
`taskping install-hooks`, the session started with `taskping spawn` or by hand,
the notification sent over SMTP by the detached `taskping send-outbox` into
Dovecot, read back over IMAP from the person's mailbox.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import libtmux
import pytest

from taskping.injectors.base import ScreenState
from taskping.injectors.screen import read_screen
from taskping.marker import marker_line
from taskping.session_map import connect, outbox, sessions
from taskping.session_map.sessions import Session
from tests.notify.conftest import parse_mail, parts, reap_senders, subject, tmux_pid
from tests.support import terminal
from tests.support.claude_fixtures import ClaudeHome, ClaudePane, claude_binary_or_skip
from tests.support.cli import run_taskping, taskping_bin, write_env_file
from tests.support.fake_anthropic import FakeAnthropic, Reply, ToolUse
from tests.support.mail_fixtures import BrokenSMTP
from tests.support.mailstack import MailStack
from tests.support.terminal import wait_until

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]

T = TypeVar("T")
MAIL_TIMEOUT = 30.0  # generous: the notification normally lands in well under a second


def screen_of(server: libtmux.Server, pane: str) -> list[str]:
    return terminal.screen(str(server.socket_path), pane)


def wait_screen(server: libtmux.Server, pane: str, state: ScreenState, timeout: float = 30.0) -> None:
    terminal.wait_screen(str(server.socket_path), pane, state, timeout=timeout)


def type_prompt(server: libtmux.Server, pane: str, text: str) -> None:
    terminal.type_prompt(str(server.socket_path), pane, text)


@dataclass
class E2E:
    tmp: Path
    stack: MailStack
    api: FakeAnthropic
    home: ClaudeHome
    server: libtmux.Server
    env_file: Path
    config: dict[str, str]
    claude_env: dict[str, str]

    @property
    def db_path(self) -> Path:
        return Path(self.config["SESSION_MAP_PATH"])

    def taskping(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_taskping(*args, env=env or self.claude_env, env_file=self.env_file, cwd=self.tmp, timeout=timeout)

    def sessions(self) -> list[Session]:
        if not self.db_path.exists():
            return []
        conn = connect(self.db_path)
        try:
            return sessions.all_sessions(conn, include_ended=True)
        finally:
            conn.close()

    def session_named(self, name: str) -> Session | None:
        return next((s for s in self.sessions() if s.name == name), None)

    def outbox_rows(self) -> list[outbox.OutboxRow]:
        conn = connect(self.db_path)
        try:
            return outbox.rows(conn)
        finally:
            conn.close()

    def start_by_hand(self, name: str) -> ClaudePane:
        """claude typed into a fresh tmux pane by a person: not via spawn. Like
        ``start_claude`` (a clean ``env -i`` environment) but keeping the TMUX and
        TMUX_PANE that tmux gives the pane, as a shell would."""
        binary = claude_binary_or_skip()
        keep = " ".join(shlex.quote(f"{k}={v}") for k, v in self.claude_env.items())
        command = f'env -i {keep} TMUX="$TMUX" TMUX_PANE="$TMUX_PANE" {shlex.quote(binary)}'
        sess = self.server.new_session(
            session_name=name, start_directory=str(self.home.project_dir), window_command=command, x=120, y=40
        )
        pane = sess.active_window.active_pane
        assert pane is not None
        claude = ClaudePane(self.server, sess, pane, self.home)
        claude.wait_ready(timeout=30)
        return claude


@pytest.fixture
def e2e(
    tmp_path: Path,
    mail_stack: MailStack,
    mail_env: dict[str, str],
    fake_api: FakeAnthropic,
    claude_home: ClaudeHome,
    tmux_server: libtmux.Server,
) -> Iterator[E2E]:
    claude_binary_or_skip()
    env_file = tmp_path / "taskping.env"
    write_env_file(env_file, mail_env, quote=True)
    claude_env = dict(claude_home.env)
    # TLS to the test stack needs its CA: exported in the shell too, as a user with a private CA would.
    claude_env["SSL_CERT_FILE"] = mail_env["SSL_CERT_FILE"]
    rig = E2E(tmp_path, mail_stack, fake_api, claude_home, tmux_server, env_file, mail_env, claude_env)
    proc = rig.taskping("install-hooks", "--settings", str(claude_home.settings_path))
    assert proc.returncode == 0, proc.stderr
    try:
        yield rig
    finally:
        # Claude (and so its hooks) first, then whatever sender the hooks started.
        if tmux_server.is_alive():
            tmux_server.kill()
        time.sleep(0.2)
        reap_senders(str(tmp_path), Path(mail_env["SESSION_MAP_PATH"]).parent / "send-outbox.lock")


def _spawn(rig: E2E, name: str, *command: str) -> subprocess.CompletedProcess[str]:
    return rig.taskping(
        "spawn",
        "--tmux-socket",
        str(rig.server.socket_path),
        "--cwd",
        str(rig.home.project_dir),
        "--name",
        name,
        "--",
        *command,
    )


def _sole_text(msg_raw: bytes) -> tuple[str, str, str]:
    msg = parse_mail(msg_raw)
    return subject(msg), parts(msg)["text/plain"], str(msg["Message-ID"])


def test_spawned_session_emails_each_turn_in_one_thread(e2e: E2E) -> None:
    rig = e2e
    # Shorten the idle reminder (default ~60 s) so this test also sees it being suppressed.
    rig.home.update_claude_json({"messageIdleNotifThresholdMs": 2000})
    proc = _spawn(rig, "e2e", claude_binary_or_skip())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].startswith("started taskping-e2e: ")
    token = out[1].split()[-1]
    assert out[2] == f"attach: tmux -S {rig.server.socket_path} attach -t taskping-e2e"

    tmux_session = rig.server.sessions.get(session_name="taskping-e2e")
    assert tmux_session is not None
    pane = tmux_session.active_window.active_pane.pane_id  # type: ignore[union-attr]
    wait_screen(rig.server, pane, ScreenState.READY)
    spawned = wait_until("SessionStart", lambda: (s := rig.session_named("taskping-e2e")) and s.claude_session_id and s)
    assert spawned.token == token and spawned.target_pane == pane and spawned.state == "idle"
    assert spawned.cwd == str(rig.home.project_dir) and spawned.claude_pid

    reply1 = "Renamed the helper to parse_rows.\n\nAll 12 tests pass; nothing else changed."
    rig.api.queue_text(reply1)
    typed = time.monotonic()
    type_prompt(rig.server, pane, "rename the helper please")
    (first,) = rig.stack.wait_for_messages("me", 1, timeout=MAIL_TIMEOUT)
    latency = time.monotonic() - typed
    subj, text, mid1 = _sole_text(first.raw)
    assert subj == f"[TaskPing #{token}] project: Renamed the helper to parse_rows."
    assert text.splitlines()[0] == marker_line(token)
    assert reply1 in text
    assert "Session: taskping-e2e" in text and f"Project: {rig.home.project_dir}" in text
    assert mid1.endswith("@example.test>")
    assert parse_mail(first.raw)["Auto-Submitted"] == "auto-generated"
    assert latency < MAIL_TIMEOUT
    print(f"prompt submitted -> notification in the mailbox: {latency * 1000:.0f} ms")

    # The idle reminder comes ~2 s later; this turn already has its email, so none is sent.
    wait_until("idle_prompt", lambda: rig.session_named("taskping-e2e").last_event == "Notification:idle_prompt")  # type: ignore[union-attr]
    time.sleep(1.0)
    assert len(rig.stack.messages("me")) == 1

    reply2 = "Updated the changelog too."
    rig.api.queue_text(reply2)
    type_prompt(rig.server, pane, "and the changelog")
    messages = rig.stack.wait_for_messages("me", 2, timeout=MAIL_TIMEOUT)
    assert len(messages) == 2
    second = parse_mail(messages[1].raw)
    subj2, text2, mid2 = _sole_text(messages[1].raw)
    assert subj2 == f"[TaskPing #{token}] project: {reply2}" and reply2 in text2
    assert mid2 != mid1 and mid2.endswith("@example.test>")
    assert second["In-Reply-To"] == mid1
    assert str(second["References"]).split()[0] == mid1

    rows = wait_until("both rows sent", lambda: (r := rig.outbox_rows()) and all(x.status == "sent" for x in r) and r)
    assert [r.message_id for r in rows] == [mid1, mid2]
    assert [r.attempts for r in rows] == [1, 1]  # each sent once

    listing = rig.taskping("sessions")
    assert listing.returncode == 0, listing.stderr
    (row,) = [line for line in listing.stdout.splitlines() if line.startswith("taskping-e2e ")]
    assert token in row and " idle " in row and str(rig.home.project_dir) in row
    assert "Notification:idle_prompt" in row or "Stop" in row


def test_hand_started_claude_is_tracked_and_notifies(e2e: E2E) -> None:
    rig = e2e
    # The turn writes a file and runs a command (allowed up front: no dialog), for the summary line.
    permissions = {**rig.home.read_settings().get("permissions", {}), "allow": ["Write", "Bash(ls)"]}
    rig.home.update_settings({"permissions": permissions})
    claude = rig.start_by_hand("hand")
    pane = str(claude.pane.pane_id)
    tracked = wait_until(
        "the SessionStart hook to register the pane",
        lambda: (s := rig.session_named("hand:0.0")) and s.claude_session_id and s,
    )
    assert tracked.kind == "tmux" and tracked.target_pane == pane and tracked.state == "idle"
    assert tracked.target_socket == str(rig.server.socket_path)
    assert tracked.last_event == "SessionStart" and tracked.cwd == str(rig.home.project_dir)
    assert tracked.claude_pid and "claude" in Path(f"/proc/{tracked.claude_pid}/cmdline").read_text()

    rig.api.queue(
        Reply(tool_use=ToolUse("Write", {"file_path": str(rig.home.project_dir / "notes.txt"), "content": "hi\n"})),
        Reply(tool_use=ToolUse("Bash", {"command": "ls", "description": "list"})),
        Reply(text="Hand-started reply."),
    )
    type_prompt(rig.server, pane, "hello from the keyboard")
    (msg,) = rig.stack.wait_for_messages("me", 1, timeout=MAIL_TIMEOUT)
    subj, text, _ = _sole_text(msg.raw)
    assert subj == f"[TaskPing #{tracked.token}] project: Hand-started reply."
    assert "Session: hand:0.0" in text
    # The turn's summary, read by the Stop hook from the transcript claude was writing.
    assert re.search(r"^\d+ s · edited 1 file · ran 1 command$", text, re.MULTILINE), text
    assert (rig.home.project_dir / "notes.txt").read_text() == "hi\n"
    session = rig.session_named("hand:0.0")
    assert session is not None and session.state == "idle" and session.turn == 1


def test_permission_dialog_sends_a_permission_notice(e2e: E2E) -> None:
    rig = e2e
    claude = rig.start_by_hand("perm")
    pane = str(claude.pane.pane_id)
    never = rig.tmp / "should-not-exist"
    rig.api.queue_tool_use(f"touch {never}")  # not read-only, so claude asks (echo would just run)
    type_prompt(rig.server, pane, "run the command")
    wait_screen(rig.server, pane, ScreenState.PERMISSION_DIALOG)
    # claude sends the permission_prompt notification a few seconds after the dialog opens.
    (msg,) = rig.stack.wait_for_messages("me", 1, timeout=MAIL_TIMEOUT)
    session = rig.session_named("perm:0.0")
    assert session is not None and session.state == "waiting-permission"
    assert session.last_event == "Notification:permission_prompt"
    parsed = parse_mail(msg.raw)
    assert parsed["X-TaskPing"] == "permission"
    subj, text, mid = _sole_text(msg.raw)
    assert subj.startswith(f"[TaskPing #{session.token}] project: needs permission")
    assert "permission" in text.lower() and "answer it at the terminal" in text
    assert mid.endswith("@example.test>")
    assert read_screen(screen_of(rig.server, pane)).state == ScreenState.PERMISSION_DIALOG
    assert not never.exists()


# ------------------------------------------------------------- broken SMTP


@pytest.fixture
def broken_rig(tmp_path: Path, tmux_server: libtmux.Server, broken_smtp: BrokenSMTP) -> Iterator[dict[str, object]]:
    """`taskping hook` run directly in a real tmux pane, SMTP pointed at broken_smtp."""
    sess = tmux_server.new_session(session_name="work", window_command="sleep 3600", attach=False)
    pane = sess.active_window.active_pane
    assert pane is not None
    state = tmp_path / "state"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "EMAIL_FROM": "taskping@example.test",
        "EMAIL_TO": "me@example.test",
        "SMTP_USER": "taskping",
        "SMTP_PASS": "pw",
        "SESSION_MAP_PATH": str(state / "taskping.db"),
        "TMUX": f"{tmux_server.socket_path},{tmux_pid(tmux_server)},0",
        "TMUX_PANE": str(pane.pane_id),
        **broken_smtp.env(),
    }
    try:
        yield {"env": env, "db": state / "taskping.db", "smtp": broken_smtp}
    finally:
        reap_senders(str(tmp_path), state / "send-outbox.lock")


def _stop(env: dict[str, str], text: str) -> tuple[subprocess.CompletedProcess[bytes], float]:
    payload = json.dumps(
        {"hook_event_name": "Stop", "session_id": "s", "cwd": "/srv/app", "last_assistant_message": text}
    )
    started = time.monotonic()
    proc = subprocess.run(
        [taskping_bin(), "hook", "Stop"], input=payload.encode(), env=env, capture_output=True, timeout=30, check=False
    )
    return proc, time.monotonic() - started


def _rows(db: Path) -> list[outbox.OutboxRow]:
    conn = connect(db)
    try:
        return outbox.rows(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("broken_smtp", ["451-mail", "421-connect", "silent"], indirect=True)
def test_temporary_smtp_failure_keeps_the_row_with_its_reason(broken_rig: dict[str, object]) -> None:
    env, db, smtp = broken_rig["env"], broken_rig["db"], broken_rig["smtp"]
    assert isinstance(env, dict) and isinstance(db, Path) and isinstance(smtp, BrokenSMTP)
    proc, took = _stop(env, "reply that cannot be sent yet")
    assert proc.returncode == 0 and proc.stderr == b""
    assert took < 5, f"the hook took {took:.1f}s"
    # The detached sender reaches the server while the hook has long returned.
    wait_until("a connection to the broken server", lambda: smtp.connections >= 1)
    if smtp.mode == "silent":
        # The client waits for a greeting that never comes; the row is claimed, never sent.
        time.sleep(1.0)
        (row,) = _rows(db)
        assert row.status in ("sending", "queued") and row.sent_at is None
        return
    row = wait_until("the retry to be recorded", lambda: (r := _rows(db)) and r[0].last_error and r[0])
    assert row.status == "queued" and row.sent_at is None and row.attempts == 1
    assert row.next_attempt_at > time.time()  # backing off
    expected = {"451-mail": "SMTP 451", "421-connect": "421"}[smtp.mode]
    assert expected in row.last_error, row.last_error


@pytest.mark.parametrize("broken_smtp", ["550-rcpt"], indirect=True)
def test_permanent_smtp_failure_marks_the_row_failed_and_never_resends(broken_rig: dict[str, object]) -> None:
    env, db, smtp = broken_rig["env"], broken_rig["db"], broken_rig["smtp"]
    assert isinstance(env, dict) and isinstance(db, Path) and isinstance(smtp, BrokenSMTP)
    proc, took = _stop(env, "to a recipient that does not exist")
    assert proc.returncode == 0 and took < 5
    row = wait_until("the row to fail", lambda: (r := _rows(db)) and r[0].status == "failed" and r[0])
    assert row.last_error and "550" in row.last_error and row.attempts == 1
    # A later hook starts another sender: it sends the new row's attempt, never the failed one again.
    proc, _ = _stop(env, "second reply")
    assert proc.returncode == 0
    rows = wait_until(
        "the second row to fail", lambda: (r := _rows(db)) and len(r) == 2 and r[1].status == "failed" and r
    )
    assert [r.attempts for r in rows] == [1, 1]
    assert sum(1 for c in smtp.commands if c.upper().startswith("RCPT")) == 2


# ------------------------------------------------------------- spawn


def test_spawn_gives_the_command_the_callers_environment(e2e: E2E) -> None:
    rig = e2e
    out = rig.tmp / "seen.txt"
    env = dict(rig.claude_env, TASKPING_E2E_MARK="from-the-caller")
    proc = rig.taskping(
        "spawn",
        "--tmux-socket",
        str(rig.server.socket_path),
        "--cwd",
        str(rig.home.project_dir),
        "--name",
        "envcheck",
        "--",
        "sh",
        "-c",
        f'printf "%s|%s|%s" "$TASKPING_E2E_MARK" "$PWD" "${{TMUX_PANE:-none}}" > {out}; sleep 60',
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    seen = wait_until("the command to run", lambda: out.exists() and out.read_text())
    mark, cwd, pane = seen.split("|")
    assert mark == "from-the-caller" and cwd == str(rig.home.project_dir)
    assert pane.startswith("%")  # tmux's own pane, not the caller's
    s = rig.session_named("taskping-envcheck")
    assert s is not None and s.state == "starting" and s.target_pane == pane


def test_spawn_refuses_a_name_in_use(e2e: E2E) -> None:
    rig = e2e
    first = _spawn(rig, "dup", "sleep", "60")
    assert first.returncode == 0, first.stderr
    again = _spawn(rig, "dup", "sleep", "60")
    assert again.returncode == 1
    config_line, error = again.stderr.splitlines()  # which config file, then the refusal
    assert config_line == f"config: {rig.env_file}"
    assert error.startswith("spawn: ") and "'taskping-dup' already exists" in error
    assert "Traceback" not in again.stderr
    assert [s.name for s in rig.sessions()] == ["taskping-dup"]
    assert len(rig.server.sessions.filter(session_name="taskping-dup")) == 1
