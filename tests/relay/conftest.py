"""A whole TaskPing world for reply-path tests, on real parts only.

Real Dovecot + SMTP front (``mail_stack``), a private tmux server, the real
claude CLI against the fake Messages API, TaskPing's hooks installed in the
throwaway HOME, sessions started with `taskping spawn`, and the relay run as
its own process (`taskping-relay`). Everything started here is stopped here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP as smtp_policy
from email.policy import default as default_policy
from email.utils import make_msgid
from pathlib import Path

import pytest

from taskping.injectors import ScreenState
from taskping.injectors.screen import read_screen
from taskping.session_map import connect, ledger, sessions
from tests.support.claude_fixtures import ClaudeHome, claude_binary_or_skip
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.mailstack import MailStack

BIN = Path(sys.executable).parent


@dataclass
class Notification:
    message_id: str
    subject: str
    token: str
    raw: bytes


@dataclass
class World:
    stack: MailStack
    api: FakeAnthropic
    home: ClaudeHome
    socket: str
    env_file: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    seen_mail: int = 0

    # -- processes

    def taskping(self, *args: str, check: bool = True, extra_env: dict[str, str] | None = None) -> str:
        env = {**self.home.env, "PATH": f"{BIN}:{self._claude_dir()}:{os.environ['PATH']}", **(extra_env or {})}
        out = subprocess.run(
            [str(BIN / "taskping"), "--env-file", str(self.env_file), *args],
            env=env, capture_output=True, text=True, timeout=60,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"taskping {args} failed ({out.returncode}): {out.stderr}")
        return out.stdout

    def _claude_dir(self) -> str:
        return str(Path(claude_binary_or_skip()).parent)

    def spawn(self, name: str) -> sessions.Session:
        self.taskping("spawn", "--tmux-socket", self.socket, "--cwd", str(self.home.project_dir), "--name", name,
                      "--", claude_binary_or_skip())
        session = self.session(f"taskping-{name}")
        self.wait_screen(session, ScreenState.READY)
        return session

    def start_relay(self, *, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, **(extra_env or {})}
        with open(self.state_dir / "relay.stderr", "ab") as stderr:  # the child keeps its own copy
            proc = subprocess.Popen(
                [str(BIN / "taskping-relay"), "--env-file", str(self.env_file)],
                env=env, stdout=subprocess.DEVNULL, stderr=stderr,
                start_new_session=True,
            )
        self.procs.append(proc)
        deadline = time.monotonic() + 10
        conn = connect(self.env["SESSION_MAP_PATH"])
        while time.monotonic() < deadline:
            row = conn.execute("SELECT pid FROM daemons WHERE role='relay'").fetchone()
            if row and row[0] == proc.pid:
                break
            if proc.poll() is not None:
                raise AssertionError(f"relay exited {proc.returncode}: {self.relay_log()}")
            time.sleep(0.05)
        conn.close()
        time.sleep(0.3)  # the IMAP session and IDLE
        return proc

    def stop_relay(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
        if proc.poll() is None:
            proc.send_signal(sig)
        return proc.wait(timeout=15)

    def relay_log(self) -> str:
        path = self.state_dir / "relay.stderr"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    @property
    def state_dir(self) -> Path:
        return Path(self.env["SESSION_MAP_PATH"]).parent

    # -- sessions and screens

    def session(self, name: str) -> sessions.Session:
        conn = connect(self.env["SESSION_MAP_PATH"])
        try:
            found = sessions.live_by_name(conn, name)
        finally:
            conn.close()
        assert found is not None, f"no live session {name}"
        return found

    def screen(self, session: sessions.Session) -> list[str]:
        out = subprocess.run(["tmux", "-S", self.socket, "capture-pane", "-p", "-t", session.target_pane],
                             capture_output=True, text=True)
        return out.stdout.splitlines()

    def wait_screen(self, session: sessions.Session, *states: ScreenState, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if read_screen(self.screen(session)).state in states:
                return
            time.sleep(0.1)
        raise AssertionError(f"screen never reached {states}:\n" + "\n".join(self.screen(session)))

    def type_prompt(self, session: sessions.Session, text: str) -> None:
        subprocess.run(["tmux", "-S", self.socket, "send-keys", "-t", session.target_pane, "-l", text], check=True)
        time.sleep(0.3)
        subprocess.run(["tmux", "-S", self.socket, "send-keys", "-t", session.target_pane, "Enter"], check=True)

    # -- mail

    def new_mail(self, n: int = 1, timeout: float = 20) -> list[bytes]:
        """The next ``n`` messages in me@'s mailbox (notifications, acks, refusals)."""
        try:
            msgs = self.stack.wait_for_messages("me", self.seen_mail + n, timeout=timeout)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.diagnostics()}") from None
        fresh = [m.raw for m in msgs[self.seen_mail:self.seen_mail + n]]
        self.seen_mail += n
        return fresh

    def notification_for(self, session: sessions.Session, prompt: str) -> Notification:
        """Make claude finish a turn and return the notification email it produced."""
        self.type_prompt(session, prompt)
        raw = self.new_mail(1)[0]
        msg = message_from_bytes(raw, policy=default_policy)
        return Notification(str(msg["Message-ID"]), str(msg["Subject"]), session.token, raw)

    def reply(
        self,
        note: Notification | None,
        text: str,
        *,
        html: str | None = None,
        from_: str | None = None,
        subject: str | None = None,
        message_id: str | None = None,
        headers: dict[str, str] | None = None,
        raw_override: bytes | None = None,
    ) -> str:
        """Send a reply the way a phone client would: over SMTP, into TaskPing's inbox."""
        if raw_override is not None:
            self.stack.send(raw_override, to=self.stack.address("taskping"), from_=self.stack.address("me"))
            return ""
        msg = EmailMessage()
        msg["From"] = from_ or f"Me <{self.stack.address('me')}>"
        msg["To"] = self.stack.address("taskping")
        msg["Subject"] = subject if subject is not None else f"Re: {note.subject if note else 'hello'}"
        mid = message_id or make_msgid(domain="example.test")
        msg["Message-ID"] = mid
        if note is not None:
            msg["In-Reply-To"] = note.message_id
            msg["References"] = note.message_id
        for k, v in (headers or {}).items():
            msg[k] = v
        if html is not None and text == "":
            msg.set_content(html, subtype="html")
        else:
            msg.set_content(text)
            if html is not None:
                msg.add_alternative(html, subtype="html")
        self.stack.send(msg.as_bytes(policy=smtp_policy), to=self.stack.address("taskping"), from_=self.stack.address("me"))
        return mid

    def diagnostics(self) -> str:
        """The outbox, sessions and logs: what a failing test needs to say."""
        conn = connect(self.env["SESSION_MAP_PATH"])
        try:
            rows = conn.execute("SELECT id, kind, status, attempts, last_error FROM outbox").fetchall()
            sess = conn.execute("SELECT name, state, last_event FROM sessions").fetchall()
        finally:
            conn.close()
        log = self.state_dir / "taskping.log"
        try:
            manual = self.taskping("send-outbox", "--max-seconds", "2", check=False)
        except Exception as exc:  # noqa: BLE001 - a diagnostic for a failure already under way
            manual = repr(exc)
        return (f"manual send-outbox: {manual}\nenv file: {self.env_file.read_text()}\n"
                f"outbox: {[tuple(r) for r in rows]}\nsessions: {[tuple(r) for r in sess]}\n"
                f"taskping.log: {log.read_text()[-3000:] if log.exists() else '-'}\nrelay: {self.relay_log()}")

    def stop(self) -> None:
        """Kill what this world started (its relays and a detached send-outbox), nothing else."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        lock = self.state_dir / "send-outbox.lock"
        if lock.exists() and lock.read_text().strip().isdigit():
            pid = int(lock.read_text().strip())
            try:
                if b"send-outbox" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError):
                pass

    def ledger(self) -> list[ledger.LedgerEntry]:
        conn = connect(self.env["SESSION_MAP_PATH"])
        try:
            return ledger.entries(conn)
        finally:
            conn.close()

    def wait_ledger(self, n: int, timeout: float = 15) -> list[ledger.LedgerEntry]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.ledger()
            if len([r for r in rows if r.final]) >= n:
                return rows
            time.sleep(0.1)
        raise AssertionError(f"ledger has {self.ledger()} (wanted {n} final); relay log:\n{self.relay_log()}")


def quoted(note: Notification) -> str:
    """The notification's text as a phone quotes it under a reply."""
    msg = message_from_bytes(note.raw, policy=default_policy)
    body = msg.get_body(("plain",))
    text = body.get_content() if body else ""
    return "\n".join("> " + line for line in text.splitlines())


def make_world(mail_stack: MailStack, fake_api: FakeAnthropic, claude_home: ClaudeHome, tmux_server,  # type: ignore[no-untyped-def]
               tmp_path: Path, **env_overrides: str) -> World:
    """A world on started stack/API/HOME/tmux: env file written, hooks installed."""
    claude_binary_or_skip()
    settings = {"SENDER_AUTH": "none", "RATE_LIMIT_PER_MINUTE": "60", "TASKPING_HOST_ID": "test-host"}
    env = mail_stack.taskping_env(**{**settings, **env_overrides})
    env_file = tmp_path / "taskping.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    env_file.chmod(0o600)  # it holds passwords: TaskPing refuses it readable by others
    tmux_server.new_session(session_name="keepalive")  # start the private server
    world = World(mail_stack, fake_api, claude_home, str(tmux_server.socket_path), env_file, env)
    world.taskping("install-hooks", "--settings", str(claude_home.settings_path))
    return world


@pytest.fixture
def world(mail_stack: MailStack, fake_api: FakeAnthropic, claude_home: ClaudeHome, tmux_server,  # type: ignore[no-untyped-def]
          tmp_path: Path) -> Iterator[World]:
    world = make_world(mail_stack, fake_api, claude_home, tmux_server, tmp_path)
    try:
        yield world
    finally:
        world.stop()
