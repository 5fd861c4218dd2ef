"""`taskping demo`: the whole loop, once, on real parts on loopback.

Order of play (each a step of :mod:`taskping.demo.steps`):

1. the mail provider (pymap IMAP with IDLE + aiosmtpd SMTP that stamps
   Authentication-Results) and the local model endpoint start in this process;
2. an env file (0600) and a state dir are written in a temp dir, and
   ``taskping install-hooks --settings`` puts the real hooks in a throw-away
   HOME's Claude settings;
3. the real ``taskping-relay`` starts as a child process with that env file;
4. ``taskping spawn --tmux-socket`` starts the real ``claude`` (or the labelled
   stand-in) in a private tmux server, and a first prompt is typed at its keyboard;
5. the phone waits for the notification, replies iPhone-style, and watches the
   text arrive in the pane, the acknowledgement, and Claude's answer.

Nothing of the user's own configuration, Claude settings or tmux server is
read or touched: every child gets an environment without TaskPing's keys and
a HOME inside the temp dir. Teardown stops, by PID, only what was started here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from taskping.demo.home import DemoHome, claude_version, make_home
from taskping.demo.mailhost import MailHost, start_mailhost
from taskping.demo.model import ModelEndpoint
from taskping.demo.phone import Mail, Phone
from taskping.demo.smtp import AUTHSERV_ID
from taskping.demo.steps import Printer, StepFailed
from taskping.session_map.daemons import heartbeat, pid_alive
from taskping.tmux_server import TmuxError, TmuxServer

PHONE_USER = "you"
RELAY_USER = "taskping"
SESSION_NAME = "demo"
TMUX_PREFIX = "demo"
FIRST_PROMPT = "Hello from taskping demo, please say hi back"
REPLY_TEXT = "Please add a unit test for the parser"
SCREEN_POLL = 0.1
STOP_WAIT = 10.0


@dataclass(frozen=True)
class Options:
    claude: str | None  # --claude PATH; None: look on PATH, else the stand-in
    keep: bool
    fail_at: str | None
    timeout: float  # seconds any one waiting step may take


def _taskping_bin(name: str) -> list[str]:
    """The console script beside this Python (the venv the demo runs from), else ``-m``."""
    script = Path(sys.executable).parent / name
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "taskping"] + (["relay"] if name == "taskping-relay" else [])


def _clean_environ() -> dict[str, str]:
    """This process's environment without any TaskPing setting (they would win over the env file)."""
    from taskping.config import Settings

    keys = {f.metadata["env"] for f in fields(Settings) if "env" in f.metadata}
    drop = keys | {"TASKPING_ENV_FILE", "TMUX", "TMUX_PANE"}
    return {k: v for k, v in os.environ.items() if k not in drop}


class Demo:
    """Everything one demo run started, and how to stop it."""

    def __init__(self, options: Options, printer: Printer) -> None:
        self.options = options
        self.p = printer
        self.root = Path(tempfile.mkdtemp(prefix="taskping-demo-"))
        self.env_file = self.root / "env"
        self.state_dir = self.root / "state"
        self.tmux_socket = self.root / "tmux.sock"
        self.mail: MailHost | None = None
        self.model: ModelEndpoint | None = None
        self.home: DemoHome | None = None
        self.relay: subprocess.Popen[bytes] | None = None
        self.relay_log = self.root / "relay.stderr"
        self.tmux_pid: int | None = None
        self.pane: str | None = None
        self.session: str = f"{TMUX_PREFIX}-{SESSION_NAME}"
        self.phone: Phone | None = None
        self.stand_in = False
        self.claude_version = ""
        self.latest: Mail | None = None  # the newest notification, which --keep replies to

    # -- the steps

    def run(self) -> None:
        self.p.say(f"taskping demo: the whole loop on 127.0.0.1, in {self.root}")
        claude = self._find_claude()
        with self.p.step("mail") as step:
            self.mail = start_mailhost((PHONE_USER, RELAY_USER))
            step.note = f"IMAP with IDLE :{self.mail.imap_port}, SMTP :{self.mail.smtp_port}"
        with self.p.step("model") as step:
            self.model = ModelEndpoint()
            step.note = self.model.base_url
        with self.p.step("config") as step:
            self._write_config(claude)
            step.note = f"SENDER_AUTH=authres, TRUSTED_AUTHSERV_ID={AUTHSERV_ID}"
        with self.p.step("relay") as step:
            self._start_relay()
            assert self.relay is not None
            step.note = f"pid {self.relay.pid}"
        with self.p.step("session") as step:
            self._spawn(claude)
            what = "the STAND-IN" if self.stand_in else f"claude {self.claude_version}"
            step.note = f"{what} in a private tmux server, pid {self.tmux_pid}"
        with self.p.step("prompt") as step:
            self._type_first_prompt()
            step.note = repr(FIRST_PROMPT)
        with self.p.step("notification") as step:
            assert self.mail is not None
            self.phone = Phone(self.mail.imap_port, self.mail.smtp_port, PHONE_USER, self.mail.passwords[PHONE_USER])
            note = self._wait_mail(step.key, lambda m: m.kind == "stop", "no notification email arrived")
        self._show_mail(note)
        self.latest = note
        self.exchange(note, REPLY_TEXT)
        self.p.say(f"✓ the whole loop ran on 127.0.0.1 in {self.p.total():.1f} s")

    def exchange(self, note: Mail, text: str) -> None:
        """One reply from the phone: sent, typed, acknowledged, answered."""
        assert self.phone is not None
        with self.p.step("reply") as step:
            sent = self.phone.reply(note, text)
            reply_id = str(sent["Message-ID"])
            step.note = repr(text)
        body = [line.rstrip() for line in str(sent.get_content()).splitlines()]
        self.p.detail(["(the new text, then what the phone quotes under it)", *body], limit=8)
        with self.p.step("typed"):
            lines = self._wait_typed(text, reply_id)
        self.p.detail(lines)
        with self.p.step("ack") as step:
            ack = self._wait_mail(step.key, lambda m: m.in_reply_to == reply_id, "no acknowledgement arrived")
            if ack.kind != "ack":
                raise step.fail(f"the relay answered {ack.kind!r}: {_first_line(ack.text)}")
        self.p.detail([f"Subject: {ack.subject}", *_body_lines(ack.text, 3)])
        wanted = " ".join(text.split())
        with self.p.step("answer"):
            answer = self._wait_mail(
                "answer", lambda m: m.kind == "stop" and wanted in " ".join(m.text.split()), "no answer arrived"
            )
        self.p.detail([f"Subject: {answer.subject}"])
        self.latest = answer

    # -- helpers for the steps

    def _find_claude(self) -> str | None:
        if self.options.claude:
            return self.options.claude
        found = shutil.which("claude")
        if found is None:
            self.p.say("! claude is not installed (not on PATH; give one with --claude PATH):")
            self.p.say("  using the demo's STAND-IN program, which draws a prompt like claude's, echoes what it")
            self.p.say("  receives and runs the hooks itself. Everything else below is the real thing.")
        return found

    def _write_config(self, claude: str | None) -> None:
        assert self.mail is not None and self.model is not None
        self.state_dir.mkdir(mode=0o700)
        version = claude_version(claude) if claude else "stand-in"
        self.claude_version = version
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
        self.home = make_home(self.root, self.model.base_url, version=version, path=path)
        m = self.mail
        values = {
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": m.imap_port,
            "IMAP_SECURE": "none",
            "IMAP_USER": RELAY_USER,
            "IMAP_PASS": m.passwords[RELAY_USER],
            "IMAP_POLL_SECONDS": 5,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": m.smtp_port,
            "SMTP_SECURE": "none",
            "SMTP_USER": RELAY_USER,
            "SMTP_PASS": m.passwords[RELAY_USER],
            "EMAIL_FROM": m.address(RELAY_USER),
            "EMAIL_TO": m.address(PHONE_USER),
            "ALLOWED_SENDERS": m.address(PHONE_USER),
            "SENDER_AUTH": "authres",
            "TRUSTED_AUTHSERV_ID": AUTHSERV_ID,
            "SESSION_MAP_PATH": self.state_dir / "taskping.db",
            "TMUX_SESSION_PREFIX": TMUX_PREFIX,
            "RATE_LIMIT_PER_MINUTE": 10,  # so replies sent by hand with --keep are not held back
        }
        fd = os.open(self.env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# written by `taskping demo`; removed when it stops\n")
            out.writelines(f"{key}={value}\n" for key, value in values.items())
        self._taskping("install-hooks", "--settings", str(self.home.settings_path), step="config")

    def _child_env(self) -> dict[str, str]:
        assert self.home is not None
        return {**_clean_environ(), "HOME": str(self.home.home)}

    def _taskping(self, *args: str, step: str, env: dict[str, str] | None = None) -> str:
        command = [*_taskping_bin("taskping"), "--env-file", str(self.env_file), *args]
        try:
            out = subprocess.run(
                command, env=env or self._child_env(), capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StepFailed(step, f"`taskping {args[0]}` could not run: {exc}") from None
        if out.returncode != 0:
            said = (out.stderr or out.stdout).strip().splitlines()
            raise StepFailed(step, f"`taskping {args[0]}` exited {out.returncode}: {said[-1] if said else ''}")
        return out.stdout

    def _start_relay(self) -> None:
        from taskping.session_map import connect

        command = [*_taskping_bin("taskping-relay"), "--env-file", str(self.env_file)]
        with open(self.relay_log, "wb") as log:
            self.relay = subprocess.Popen(
                command, env=self._child_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        db = self.state_dir / "taskping.db"
        deadline = time.monotonic() + self.options.timeout
        while time.monotonic() < deadline:
            if self.relay.poll() is not None:
                raise StepFailed("relay", f"taskping-relay exited {self.relay.returncode}: {self._relay_said()}")
            if db.exists():
                conn = connect(db)
                try:
                    last = heartbeat(conn, "relay")
                finally:
                    conn.close()
                if last is not None and last.pid == self.relay.pid:
                    return
            time.sleep(SCREEN_POLL)
        raise StepFailed("relay", f"taskping-relay did not report ready in {self.options.timeout:.0f} s")

    def _relay_said(self) -> str:
        lines = self.relay_log.read_text(errors="replace").strip().splitlines() if self.relay_log.exists() else []
        return lines[-1][:300] if lines else "(no output)"

    def _spawn(self, claude: str | None) -> None:
        assert self.home is not None
        if shutil.which("tmux") is None:
            raise StepFailed("session", "tmux is not installed (on Debian: apt-get install tmux)")
        if claude is not None and not (os.path.isfile(claude) and os.access(claude, os.X_OK)):
            raise StepFailed("session", f"--claude {claude!r} is not an executable file")
        self.stand_in = claude is None
        command = [sys.executable, "-m", "taskping.demo.standin"] if claude is None else [claude]
        self._taskping(
            "spawn",
            "--tmux-socket",
            str(self.tmux_socket),
            "--cwd",
            str(self.home.project),
            "--name",
            SESSION_NAME,
            "--",
            *command,
            step="session",
            env=dict(self.home.env),
        )
        self.tmux_pid = int(self._tmux("display-message", "-p", "#{pid}") or 0) or None
        self.pane = self._tmux("list-panes", "-t", self.session, "-F", "#{pane_id}") or None
        self._wait_screen("session", lambda state: state == "ready", "its prompt never became ready")

    def _tmux(self, *args: str) -> str:
        """The first line tmux printed (stripped), '' when it failed."""
        result = TmuxServer(str(self.tmux_socket)).run(*args)
        return result.first if result.ok else ""

    def screen(self) -> list[str] | None:
        """The pane as text, or None when it is gone."""
        if self.pane is None:
            return None
        try:
            return TmuxServer(str(self.tmux_socket)).capture(self.pane)
        except TmuxError:
            return None

    def _state(self) -> str:
        from taskping.injectors.screen import read_screen

        lines = self.screen()
        return "gone" if lines is None else read_screen(lines).state.value

    def _wait_screen(self, key: str, done: Callable[[str], bool], why: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.options.timeout)
        while time.monotonic() < deadline:
            state = self._state()
            if state == "gone":
                raise StepFailed(key, "the session's pane closed (the program in it exited)")
            if done(state):
                return
            time.sleep(SCREEN_POLL)
        last = [line for line in (self.screen() or []) if line.strip()][-6:]
        raise StepFailed(key, f"{why} within {timeout or self.options.timeout:.0f} s; screen ends with: {last!r}")

    def _type_first_prompt(self) -> None:
        """Type FIRST_PROMPT and Enter, as a person at the keyboard, until it was submitted.

        Submitted means: the text shows on screen outside the input box (the
        conversation) and the box no longer holds it. On a loaded machine the
        Enter can be lost (then the text waits in the box: press Enter again)
        or the keys can arrive while claude is still settling (then nothing
        shows: type it again).
        """
        assert self.pane is not None
        wanted = " ".join(FIRST_PROMPT.split())
        deadline = time.monotonic() + self.options.timeout
        typed_at = -1.0
        while time.monotonic() < deadline:
            lines = self.screen()
            if lines is None:
                raise StepFailed("prompt", "the session's pane closed (the program in it exited)")
            state = self._state_of(lines)
            shown = wanted in " ".join(" ".join(lines).split())
            if shown and state in ("ready", "busy"):
                return
            now = time.monotonic()
            if typed_at < 0 or (now - typed_at > 3.0 and state == "ready" and not shown):
                self._tmux("send-keys", "-t", self.pane, "-l", FIRST_PROMPT)
                time.sleep(0.3)  # an Enter that arrives with the text is taken as part of a paste
                self._tmux("send-keys", "-t", self.pane, "Enter")
                typed_at = time.monotonic()
            elif state == "has-input" and now - typed_at > 1.5:
                self._tmux("send-keys", "-t", self.pane, "Enter")  # the first Enter was lost
                typed_at = time.monotonic()
            time.sleep(SCREEN_POLL)
        raise StepFailed(
            "prompt",
            f"the prompt was not submitted within {self.options.timeout:.0f} s; "
            f"screen ends with: {self._screen_tail()!r}",
        )

    def _state_of(self, lines: list[str]) -> str:
        from taskping.injectors.screen import read_screen

        return read_screen(lines).state.value

    def _screen_tail(self) -> list[str]:
        return [line.rstrip() for line in (self.screen() or []) if line.strip()][-6:]

    def _wait_mail(self, key: str, match: Callable[[Mail], bool], why: str) -> Mail:
        assert self.phone is not None
        mail = self.phone.wait_for(match, self.options.timeout)
        if mail is None:
            raise StepFailed(
                key,
                f"{why} within {self.options.timeout:.0f} s; relay says: {self._relay_said()}; "
                f"screen ends with: {self._screen_tail()!r}",
            )
        return mail

    def _wait_typed(self, text: str, reply_id: str) -> list[str]:
        assert self.phone is not None
        wanted = " ".join(text.split())
        deadline = time.monotonic() + self.options.timeout
        while time.monotonic() < deadline:
            lines = self.screen()
            if lines is None:
                raise StepFailed("typed", "the session's pane closed")
            from taskping.injectors.screen import read_screen

            submitted = read_screen(lines).state.value != "has-input"  # still in the box: Enter not yet sent
            if submitted and wanted in " ".join(" ".join(lines).split()):
                return _trim(lines)
            refusal = self.phone.wait_for(lambda m: m.in_reply_to == reply_id and m.kind != "ack", 0)
            if refusal is not None:
                raise StepFailed("typed", f"the relay refused the reply: {_first_line(refusal.text)}")
            time.sleep(0.2)
        raise StepFailed(
            "typed",
            f"the reply did not reach the pane within {self.options.timeout:.0f} s; relay says: {self._relay_said()}",
        )

    def _show_mail(self, mail: Mail) -> None:
        self.p.detail([f"Subject: {mail.subject}", *_body_lines(mail.text, 8)])

    # -- --keep

    def keep(self) -> None:
        """Leave it all running; send each line typed here as a reply; stop on Ctrl-C or EOF+signal."""
        assert self.mail is not None and self.home is not None
        m = self.mail
        self.p.say("")
        self.p.say("Still running (--keep). Ctrl-C stops everything the demo started and removes its temp dir.")
        self.p.say(
            f"  watch the session:  tmux -S {shlex.quote(str(self.tmux_socket))} attach -t {self.session}"
            "   (detach: Ctrl-b d)"
        )
        self.p.say(f"  relay's log:        {self.state_dir / 'taskping.log'}  (stderr: {self.relay_log})")
        self.p.say(f"  the mail accounts:  IMAP 127.0.0.1:{m.imap_port}, SMTP 127.0.0.1:{m.smtp_port}, no TLS;")
        self.p.say(
            f"                      {m.address(PHONE_USER)} / {m.passwords[PHONE_USER]} (the phone), "
            f"{m.address(RELAY_USER)} / {m.passwords[RELAY_USER]} (the relay)"
        )
        self.p.say("  send more replies:  type a line here and press Enter; the phone replies with it to the")
        self.p.say("                      latest notification (or reply from any mail client with the account above).")
        while True:
            line = sys.stdin.readline()
            if not line:
                signal.pause()  # stdin closed: wait for Ctrl-C / SIGTERM
                continue
            text = line.strip()
            if not text:
                continue
            assert self.latest is not None
            try:
                self.exchange(self.latest, text)
            except StepFailed as exc:
                self.p.say(f"  (that reply did not go through: {exc.reason}; try another)")

    # -- teardown

    def stop(self) -> None:
        """Stop, by PID, what this run started; remove the temp dir."""
        if self.phone is not None:
            self.phone.close()
            self.phone = None
        if self.relay is not None and self.relay.poll() is None:
            _stop_group(self.relay)
        if self.tmux_socket.exists() or self.tmux_pid is not None:
            TmuxServer(str(self.tmux_socket)).run("kill-server")
            if self.tmux_pid is not None:
                _wait_gone(self.tmux_pid)
        if self.mail is not None:
            self.mail.stop()
            self.mail = None
        if self.model is not None:
            self.model.stop()
            self.model = None
        shutil.rmtree(self.root, ignore_errors=True)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's own process group (it was started in a new session), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=STOP_WAIT)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + STOP_WAIT
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _trim(lines: list[str]) -> list[str]:
    """The pane without trailing spaces, and runs of blank lines cut to one."""
    kept: list[str] = []
    for line in (line.rstrip() for line in lines):
        if line or (kept and kept[-1]):
            kept.append(line)
    lines = kept
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def _body_lines(text: str, limit: int) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()][:limit]


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "(empty)")
