"""A whole TaskPing world for reply-path tests, on real parts only.

Real Dovecot + SMTP front (``mail_stack``), a private tmux server, the real
claude CLI against the fake Messages API, TaskPing's hooks installed in the
throwaway HOME, sessions started with `taskping spawn`, and the relay run as
its own process (`taskping-relay`). Everything started here is stopped here.

Fixtures (this module is a pytest plugin, see tests/conftest.py): ``world``
(function scope). For a world shared by a module, :func:`open_world` on a
stack, API and tmux server the module fixture started itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP as smtp_policy
from email.policy import default as default_policy
from email.utils import make_msgid
from pathlib import Path
from typing import Literal

import libtmux
import pytest

from taskping.injectors import ScreenState
from taskping.session_map import connect, ledger, sessions
from tests.support import cli, prereqs, terminal
from tests.support.claude_fixtures import ClaudeHome, claude_binary_or_skip, make_claude_home
from tests.support.cli import run_taskping, start_relay_process, write_env_file
from tests.support.fake_anthropic import FakeAnthropic, Reply
from tests.support.mail_fixtures import default_users
from tests.support.mailstack import MailStack
from tests.support.replies import reply_part

__all__ = ["HOST_ID", "Notification", "World", "fixed_reply", "open_world", "quoted", "shared_world"]

HOST_ID = "test-host"


def fixed_reply(prompt: str) -> Reply:
    """The fake API's answer for suites that re-send replies: a fixed text, not the default
    "Done: <prompt>" (a notification quoting the prompt would make the extractor refuse a
    re-sent reply as quoted text before the checks those suites are about)."""
    return Reply(text="Finished the task.")


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
        env = {**self.home.env, "PATH": f"{cli.BIN}:{self._claude_dir()}:{os.environ['PATH']}", **(extra_env or {})}
        out = run_taskping(*args, env=env, env_file=self.env_file)
        if check and out.returncode != 0:
            raise AssertionError(f"taskping {args} failed ({out.returncode}): {out.stderr}")
        return out.stdout

    def _claude_dir(self) -> str:
        return str(Path(claude_binary_or_skip()).parent)

    def spawn(self, name: str) -> sessions.Session:
        self.taskping(
            "spawn",
            "--tmux-socket",
            self.socket,
            "--cwd",
            str(self.home.project_dir),
            "--name",
            name,
            "--",
            claude_binary_or_skip(),
        )
        session = self.session(f"taskping-{name}")
        self.wait_screen(session, ScreenState.READY)
        return session

    def start_relay(self, *, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, **(extra_env or {})}
        with open(self.state_dir / "relay.stderr", "ab") as stderr:
            proc = start_relay_process(self.env_file, env, stderr)
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
        return terminal.screen(self.socket, session.target_pane)

    def scrollback(self, session: sessions.Session) -> str:
        return terminal.scrollback(self.socket, session.target_pane)

    def wait_screen(self, session: sessions.Session, *states: ScreenState, timeout: float = 20) -> None:
        terminal.wait_screen(self.socket, session.target_pane, *states, timeout=timeout)

    def type_prompt(self, session: sessions.Session, text: str) -> None:
        terminal.type_prompt(self.socket, session.target_pane, text)

    # -- mail

    def new_mail(self, n: int = 1, timeout: float = 20) -> list[bytes]:
        """The next ``n`` messages in me@'s mailbox (notifications, acks, refusals)."""
        try:
            msgs = self.stack.wait_for_messages("me", self.seen_mail + n, timeout=timeout)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.diagnostics()}") from None
        fresh = [m.raw for m in msgs[self.seen_mail : self.seen_mail + n]]
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
        via: Literal["smtp", "lmtp"] = "smtp",
    ) -> str:
        """Send a reply the way a phone client would: over SMTP into TaskPing's inbox (or, with
        ``via="lmtp"``, straight into it, as when the SMTP front is down). Returns its Message-ID."""
        me, taskping = self.stack.address("me"), self.stack.address("taskping")
        if raw_override is not None:
            self.stack.send(raw_override, to=taskping, from_=me)
            return ""
        msg = EmailMessage()
        msg["From"] = from_ or f"Me <{me}>"
        msg["To"] = taskping
        msg["Subject"] = subject if subject is not None else f"Re: {note.subject if note else 'hello'}"
        mid = message_id or make_msgid(domain="example.test")
        msg["Message-ID"] = mid
        if note is not None:
            msg["In-Reply-To"] = note.message_id
            msg["References"] = note.message_id
        for k, v in (headers or {}).items():
            msg[k] = v
        reply_part(text, html=html, into=msg)
        raw = msg.as_bytes(policy=smtp_policy)
        if via == "lmtp":
            self.stack.deliver(raw, "taskping", from_=me)
        else:
            self.stack.send(raw, to=taskping, from_=me)
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
        return (
            f"manual send-outbox: {manual}\nenv file: {self.env_file.read_text()}\n"
            f"outbox: {[tuple(r) for r in rows]}\nsessions: {[tuple(r) for r in sess]}\n"
            f"taskping.log: {log.read_text()[-3000:] if log.exists() else '-'}\nrelay: {self.relay_log()}"
        )

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


def open_world(
    stack: MailStack, api: FakeAnthropic, home: ClaudeHome, server: libtmux.Server, root: Path, **env_overrides: str
) -> World:
    """A world on a started stack, API, HOME and tmux server: env file written under ``root``,
    the tmux server started, hooks installed. The caller stops it (:meth:`World.stop`)."""
    claude_binary_or_skip()
    settings = {"SENDER_AUTH": "none", "RATE_LIMIT_PER_MINUTE": "60", "TASKPING_HOST_ID": HOST_ID}
    env = stack.taskping_env(**{**settings, **env_overrides})
    env_file = write_env_file(root / "taskping.env", env)
    server.new_session(session_name="keepalive")  # start the private server
    world = World(stack, api, home, str(server.socket_path), env_file, env)
    world.taskping("install-hooks", "--settings", str(home.settings_path))
    return world


@contextmanager
def shared_world(
    root: Path, *, reply_for: Callable[[str], Reply] = fixed_reply, **env_overrides: str
) -> Iterator[World]:
    """A world of its own for a module-scoped fixture (suites that send everything once, then
    read): its own mail stack, fake API, HOME under ``root`` and tmux server, all stopped on exit."""
    claude_binary_or_skip()
    terminal.tmux_or_skip()
    prereqs.require("dovecot")
    prereqs.require("openssl")
    with (
        MailStack(default_users()) as stack,
        FakeAnthropic(reply_for=reply_for) as api,
        terminal.private_tmux_server() as server,
    ):
        home = make_claude_home(root / "claude", api.base_url)
        world = open_world(stack, api, home, server, root, **env_overrides)
        try:
            yield world
        finally:
            world.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "world_env(**keys): TaskPing env keys the `world` fixture sets for this test")


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    mail_stack: MailStack,
    fake_api: FakeAnthropic,
    claude_home: ClaudeHome,
    tmux_server: libtmux.Server,
    tmp_path: Path,
) -> Iterator[World]:
    """The whole world for one test; ``@pytest.mark.world_env(KEY="value")`` overrides TaskPing keys."""
    overrides: dict[str, str] = {}
    for mark in reversed(list(request.node.iter_markers("world_env"))):  # the closest mark wins
        overrides.update(mark.kwargs)
    world = open_world(mail_stack, fake_api, claude_home, tmux_server, tmp_path, **overrides)
    try:
        yield world
    finally:
        world.stop()
