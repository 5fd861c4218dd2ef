"""`taskping spawn --mode pty` with plain commands (no claude): pass-through, the control socket, ending.

Driven through an outer PTY, as a person's terminal drives it. Fast: each test runs a shell
or a few lines of Python under the wrapper.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.injectors.base import InjectionOutcome, ScreenState
from taskping.injectors.pty import PtyInjector
from taskping.injectors.pty_control import ControlError, request
from tests.support.pty_session import PtySession

PY = sys.executable


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # short: the control socket's path must stay under 108 bytes
    path = Path(tempfile.mkdtemp(prefix="tp-pty-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start(state_dir: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[PtySession] = []

    def run(*command: str, name: str = "t", extra_env: dict[str, str] | None = None, **kw: object) -> PtySession:
        env = {  # the whole environment: nothing of the developer's (an env file, $TMUX) leaks in
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(state_dir),
            "LANG": "C.UTF-8",
            "TERM": "xterm",
            "SESSION_MAP_PATH": str(state_dir / "taskping" / "sessions.db"),
            **(extra_env or {}),
        }
        session = PtySession(command, env=env, session_map=state_dir / "taskping" / "sessions.db", name=name, **kw)  # type: ignore[arg-type]
        started.append(session)
        return session

    yield run
    for session in started:
        session.close()


# A child that prints its window size at start and on every SIGWINCH, and its stdin lines.
SIZE_PRINTER = """
import os, signal, sys
def show(*_):
    r, c = os.get_terminal_size(0).lines, os.get_terminal_size(0).columns
    print(f"size={r}x{c}", flush=True)
signal.signal(signal.SIGWINCH, show)
show()
for line in sys.stdin:
    print("got=" + line.strip(), flush=True)
"""


def test_exit_status_and_output_pass_through(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", "import sys; print('hello from the child'); sys.exit(7)")
    pty.wait_output(b"hello from the child")
    assert pty.wait_exit() == 7
    ended = pty.current()
    assert ended is not None and ended.state == "ended" and ended.last_event == "PTY command exited"
    assert not Path(pty.session.target_socket).exists()


def test_injection_mode_pty_is_the_default_for_spawn(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", "print('under the pty')", extra_env={"INJECTION_MODE": "pty"}, mode_flag=False)
    assert pty.session.kind == "pty" and pty.session.control_secret
    pty.wait_output(b"under the pty")
    assert pty.wait_exit() == 0


def test_keys_resize_and_ctrl_c_reach_the_child(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", SIZE_PRINTER, rows=30, cols=100)
    at = pty.wait_output(b"size=30x100")
    pty.type("typed at the keyboard\r")
    at = pty.wait_output(b"got=typed at the keyboard", after=at)
    pty.resize(45, 132)
    at = pty.wait_output(b"size=45x132", after=at)  # the child got SIGWINCH with the new size
    assert pty.ask("ping")["rows"] == 45 and pty.ask("ping")["cols"] == 132  # and the screen model follows
    pty.type("\x03")  # Ctrl-C: the child's terminal turns it into SIGINT for the child
    assert pty.wait_exit() == 130  # 128 + SIGINT, as a shell reports a command killed by Ctrl-C


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _wait_state(pid: int, wanted: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _state(pid) != wanted:
        assert time.monotonic() < deadline, f"process {pid} state {_state(pid)}, wanted {wanted}"
        time.sleep(0.02)


# A child in raw mode that prints every byte it reads, in hex.
RAW_ECHO = """
import os, sys, tty
tty.setraw(0)
print("raw ready", end="\\r\\n", flush=True)
while True:
    data = os.read(0, 64)
    print("bytes=" + data.hex(), end="\\r\\n", flush=True)
    if data == b"q":
        break
"""


def test_ctrl_keys_reach_a_raw_mode_child_as_bytes(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", RAW_ECHO)
    at = pty.wait_output(b"raw ready")
    for key in (b"\x1a", b"\x03", b"\x1b", b"\x1c"):  # Ctrl-Z, Ctrl-C, Esc, Ctrl-\\ untouched
        pty.type(key)
        at = pty.wait_output(b"bytes=" + key.hex().encode(), after=at)
    pty.type(b"q")
    assert pty.wait_exit() == 0


# A raw-mode child that reads nothing for a while, then counts what it was sent.
SLOW_READER = """
import os, sys, time, tty
tty.setraw(0)
print("slow ready", end="\\r\\n", flush=True)
time.sleep(2)
total = 0
while total < 1048576:
    total += len(os.read(0, 65536))
print(f"total={total}", end="\\r\\n", flush=True)
"""


def test_a_child_that_does_not_read_never_blocks_the_wrapper(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", SLOW_READER)
    pty.wait_output(b"slow ready")
    sent = time.monotonic()
    pty.type(b"x" * 1048576)  # far more than a PTY buffers, while the child sleeps
    answered = pty.ask("ping", timeout=1.5)  # the wrapper still serves its socket meanwhile
    assert answered["ok"] and time.monotonic() - sent < 2, "the wrapper blocked on the child's input"
    pty.wait_output(b"total=1048576", timeout=20)


def test_a_stopped_child_stops_the_wrapper_and_fg_resumes_both(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", SIZE_PRINTER)
    pty.wait_output(b"size=")
    child = int(pty.ask("ping")["pid"])
    os.kill(child, signal.SIGSTOP)  # e.g. a debugger, or `kill -STOP`
    _wait_state(child, "T")
    _wait_state(pty.wrapper_pid(), "T")  # the wrapper stops too: the shell gets the terminal back
    os.kill(pty.wrapper_pid(), signal.SIGCONT)  # what the shell's `fg` sends
    _wait_state(child, "S")  # the wrapper resumed the child
    pty.type("after fg\r")
    pty.wait_output(b"got=after fg")


def test_sigterm_goes_to_the_child(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", SIZE_PRINTER)
    pty.wait_output(b"size=")
    os.kill(pty.wrapper_pid(), signal.SIGTERM)
    assert pty.wait_exit() == 128 + signal.SIGTERM  # the child died of it; the wrapper reports that


def test_screen_model_and_typing_over_the_socket(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", SIZE_PRINTER)
    pty.wait_output(b"size=")
    pty.ask("type", text="from the relay")
    pty.ask("press", keys=["Enter"])
    pty.wait_output(b"got=from the relay")
    assert "got=from the relay" in pty.lines()
    # the socket types text and named editing keys only: no control bytes, no unknown keys
    with pytest.raises(ControlError, match="forbidden"):
        pty.ask("type", text="x\x03")
    with pytest.raises(ControlError, match="press takes"):
        pty.ask("press", keys=["C-c"])
    with pytest.raises(ControlError, match="unknown op"):
        pty.ask("write", data="x")
    assert pty.outer.isalive()


def test_socket_is_private_and_refuses_a_wrong_secret(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", SIZE_PRINTER)
    path = Path(pty.session.target_socket)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for wrong in ("", "0" * 64, pty.secret[:-1] + ("0" if pty.secret[-1] != "0" else "1")):
        with pytest.raises(ControlError, match="wrong secret"):
            request(str(path), wrong, "screen")
    injector = PtyInjector(path.parent / "locks", lambda target: "f" * 64)
    result = injector.inject(pty.target, "hello")
    assert result.outcome is InjectionOutcome.FAILED and "wrong secret" in result.detail
    with pytest.raises(ControlError, match="wrong secret"):
        request(str(path), "0" * 64, "type", text="never typed")
    assert b"never typed" not in pty.seen()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_socket_refuses_another_user_even_with_the_secret(start, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", SIZE_PRINTER)
    path = Path(pty.session.target_socket)
    # Open the file modes wide so only SO_PEERCRED stands between another user and the PTY.
    for directory in (state_dir, state_dir / "taskping", path.parent):  # this test's own directories
        os.chmod(directory, 0o711)
    os.chmod(path, 0o666)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, connect with the right secret
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            try:
                answer = request(str(path), pty.secret, "type", text="from another user")
                os.write(write_end, f"accepted {answer}".encode())
            except ControlError as exc:
                os.write(write_end, f"refused {exc}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as handle:
        said = handle.read().decode()
    assert os.waitstatus_to_exitcode(status) == 0
    assert said.startswith("refused") and "another user" in said, said
    assert b"from another user" not in pty.seen()


def test_wrapper_gone_is_target_gone(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", SIZE_PRINTER)
    pty.wait_output(b"size=")
    injector = PtyInjector(Path(pty.session.target_socket).parent / "locks", pty.secret_for())
    assert injector.exists(pty.target)
    assert injector.screen_state(pty.target) is ScreenState.UNKNOWN  # alive, but no claude on screen
    assert injector.inject(pty.target, "hello").outcome is InjectionOutcome.BUSY  # nothing typed
    os.kill(pty.wrapper_pid(), signal.SIGKILL)  # no clean exit: the socket file stays behind
    pty.wait_exit()
    assert Path(pty.session.target_socket).exists()
    assert not injector.exists(pty.target)
    assert injector.screen_state(pty.target) is ScreenState.GONE
    result = injector.inject(pty.target, "hello")
    assert result.outcome is InjectionOutcome.TARGET_GONE, result


def test_spawn_pty_needs_a_terminal(state_dir: Path) -> None:
    import subprocess

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        "SESSION_MAP_PATH": str(state_dir / "taskping" / "sessions.db"),
    }
    out = subprocess.run(
        [str(Path(PY).parent / "taskping"), "spawn", "--mode", "pty", "--", "true"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    spawn_lines = [line for line in out.stderr.splitlines() if line.startswith("spawn:")]
    assert len(spawn_lines) == 1 and "stdin is not a terminal" in spawn_lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_reply_commands_press_escape_and_read_the_screen(start) -> None:  # type: ignore[no-untyped-def]
    pty = start(PY, "-c", RAW_ECHO)
    at = pty.wait_output(b"raw ready")
    injector = PtyInjector(Path(pty.session.target_socket).parent / "locks", pty.secret_for())
    assert injector.press_escape(pty.target)  # the #esc reply command
    pty.wait_output(b"bytes=1b", after=at)
    rows = injector.read_lines(pty.target, 5)  # #screen: the host's screen model
    assert rows is not None and "raw ready" in rows
    os.kill(pty.wrapper_pid(), signal.SIGKILL)
    pty.wait_exit()
    assert not injector.press_escape(pty.target)
    assert injector.read_lines(pty.target, 5) is None
