"""Hold a command in a PTY (pexpect) in the current terminal, and let the relay type into it.

What ``taskping spawn --mode pty`` runs in the foreground. It must feel like
running the command directly:

* the outer terminal is put in raw mode and every byte goes through both
  ways untouched, so Ctrl-C, Ctrl-Z, Esc and the rest reach the child as
  keys (the child's own terminal settings decide what they do);
* window-size changes (SIGWINCH) are passed on to the child's PTY;
* when the child stops itself (Ctrl-Z in a cooked-mode program, or claude's
  own suspend), this process gives the terminal back and stops too, so the
  shell's ``fg`` resumes both;
* the child's exit status is this process's exit status (128 + N for a
  signal, as a shell reports it); SIGTERM and SIGHUP sent to this process
  are passed to the child, which decides.

Meanwhile every byte the child writes is also fed to a screen model (pyte, a
VT100/xterm emulator), so the same screen reading as for tmux works on it
(:mod:`taskping.injectors.screen`), and a control socket
(:mod:`taskping.injectors.pty_control`) answers the relay's few requests:
ping, read the screen, type text, press an editing key. Everything runs on
one thread around one ``select``: no locks, and a request never sees a
half-fed screen.

The relay never owns the PTY: it connects, asks, disconnects. This process
outlives relay restarts, and the relay outlives it (nothing listens any more:
the injector reports TARGET_GONE).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hmac
import json
import os
import select
import signal
import socket
import struct
import termios
import time
import tty
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pexpect
import pyte

from taskping.injectors.guarded_typing import KEY_BYTES
from taskping.injectors.pty_control import MAX_REQUEST_BYTES, read_line
from taskping.injectors.terminal_guard import forbidden_characters

READ_BYTES = 65536
CLIENT_TIMEOUT = 2.0
DEFAULT_SIZE = (24, 80)


class PtyHostError(Exception):
    """The command could not be started under a PTY (one line for the person)."""


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on ``fd``; DEFAULT_SIZE when it has none."""
    try:
        rows, cols, _x, _y = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return DEFAULT_SIZE
    return (rows or DEFAULT_SIZE[0], cols or DEFAULT_SIZE[1])


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process on the other end of a Unix socket (``SO_PEERCRED``)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def listen(path: Path) -> socket.socket:
    """A Unix socket at ``path`` (in a 0700 directory), 0600 before anyone can connect."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # created 0600 by bind itself: no window where it is looser
    try:
        server.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    server.listen(8)
    server.setblocking(False)
    return server


class ScreenModel:
    """The child's screen as a terminal would draw it (pyte), read as plain text rows."""

    def __init__(self, rows: int, cols: int) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)

    def resize(self, rows: int, cols: int) -> None:
        self.screen.resize(rows, cols)

    def lines(self) -> list[str]:
        # like `tmux capture-pane -p`: one string per row, trailing blanks dropped
        return [line.rstrip(" ") for line in self.screen.display]  # not str.rstrip(): claude's prompt ends in U+00A0


class PtyHost:
    """One command under a PTY, passed through to this terminal, with a control socket."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        control: socket.socket,
        secret: str,
        stdin: int = 0,
        stdout: int = 1,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.control = control
        self.secret = secret
        self.last_input = 0.0
        self.stdout_open = True
        rows, cols = terminal_size(stdin)
        self.screen = ScreenModel(rows, cols)
        try:
            self.child = pexpect.spawn(
                command[0],
                list(command[1:]),
                cwd=str(cwd),
                env=dict(env),
                dimensions=(rows, cols),
                echo=True,
                preexec_fn=preexec,
            )
        except pexpect.ExceptionPexpect as exc:
            raise PtyHostError(f"cannot start {command[0]!r}: {exc}") from None
        self.fd = self.child.child_fd
        assert self.child.pid is not None  # spawn() forked, or raised above
        self.pid: int = self.child.pid
        # Input for the child is queued and written as the PTY takes it (non-blocking): a child
        # that reads slowly must not block this loop, or its output would stop being read
        # and both would wait for each other.
        os.set_blocking(self.fd, False)
        self.to_child = bytearray()
        self.status: int | None = None  # the child's exit status, as a shell reports it

    # -- the loop ------------------------------------------------------------
    def run(self) -> int:
        """Pass the terminal through until the child exits; returns its exit status."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(wake_r, False)
        flags = {"winch": False, "chld": False}

        def note(signum: int, _frame: object) -> None:
            flags["winch" if signum == signal.SIGWINCH else "chld"] = True

        def forward(signum: int, _frame: object) -> None:
            # SIGTERM/SIGHUP for us are for the command: it decides, we exit with its status
            if signum == signal.SIGHUP:
                self.stdout_open = False  # the terminal is gone
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

        previous = {sig: signal.signal(sig, note) for sig in (signal.SIGWINCH, signal.SIGCHLD)}
        previous.update({sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)})
        old_wakeup = signal.set_wakeup_fd(wake_w)
        try:
            with self._raw():
                self._loop(wake_r, flags)
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)
            self.control.close()
        return self._finish()

    def _loop(self, wake: int, flags: dict[str, bool]) -> None:
        child_open = True
        stdin_open = True
        while True:
            if flags["winch"]:
                flags["winch"] = False
                self._resize()
            if flags["chld"]:
                flags["chld"] = False
                self._reap()
            if self.status is not None and not child_open:
                return
            if self.status is not None and child_open:
                self._drain()  # the child is gone: show what it wrote last
                return
            watched = [wake, self.control.fileno()]
            if child_open:
                watched.append(self.fd)
            if stdin_open:
                watched.append(self.stdin)
            writable = [self.fd] if child_open and self.to_child else []
            try:
                ready, can_write, _ = select.select(watched, writable, [], 1.0)
            except InterruptedError:
                continue
            if can_write:
                self._flush_child()
            if wake in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake, 512)
            if self.fd in ready and child_open:
                data = self._read_child()
                if data is None:
                    child_open = False
                    self._wait_exit()
                    return
                self._show(data)
            if self.stdin in ready and stdin_open:
                try:
                    data = os.read(self.stdin, READ_BYTES)
                except OSError:
                    data = b""
                if not data:
                    stdin_open = False  # the outer terminal went away; the child keeps its PTY
                else:
                    self.last_input = time.time()
                    self._write_child(data)
            if self.control.fileno() in ready:
                self._serve()

    def _read_child(self) -> bytes | None:
        """What the child wrote (b"" when nothing after all), None at its end."""
        try:
            data = os.read(self.fd, READ_BYTES)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EBADF):
                return None  # Linux: EIO once the child side is closed
            raise
        return data or None

    def _show(self, data: bytes) -> None:
        self.screen.feed(data)
        if self.stdout_open:
            try:
                _write_all(self.stdout, data)
            except OSError:
                self.stdout_open = False  # the outer terminal is gone; the child and the socket go on

    def _drain(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                return
            data = self._read_child()
            if not data:
                return
            self._show(data)

    def _write_child(self, data: bytes) -> None:
        self.to_child += data
        self._flush_child()

    def _flush_child(self) -> None:
        """Write as much queued input as the PTY takes now (the rest when select says it can)."""
        while self.to_child:
            try:
                written = os.write(self.fd, self.to_child)
            except BlockingIOError:
                return
            except OSError:
                self.to_child.clear()  # the child side is gone
                return
            del self.to_child[:written]

    # -- child status ----------------------------------------------------------
    def _reap(self) -> None:
        """After SIGCHLD: the child stopped (follow it) or ended (record its status)."""
        if self.status is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG | os.WUNTRACED)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if os.WIFSTOPPED(status):
            self._suspend()
            return
        self._record(status)

    def _record(self, status: int) -> None:
        proc = self.child.ptyproc  # type: ignore[attr-defined]  # pexpect.spawn has it; typeshed's stub omits it
        proc.status = status
        proc.terminated = True
        if os.WIFSIGNALED(status):
            proc.signalstatus, proc.exitstatus = os.WTERMSIG(status), None
            self.status = 128 + os.WTERMSIG(status)
        else:
            proc.exitstatus, proc.signalstatus = os.waitstatus_to_exitcode(status), None
            self.status = os.waitstatus_to_exitcode(status)

    def _wait_exit(self) -> None:
        if self.status is not None:
            return
        try:
            _pid, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            self.status = self._status_of_pexpect()
            return
        self._record(status)

    def _status_of_pexpect(self) -> int:
        proc = self.child.ptyproc  # type: ignore[attr-defined]  # pexpect.spawn has it; typeshed's stub omits it
        if proc.signalstatus is not None:
            return 128 + int(proc.signalstatus)
        return int(proc.exitstatus or 0)

    def _finish(self) -> int:
        self._wait_exit()
        with contextlib.suppress(Exception):
            self.child.close(force=True)
        return self.status if self.status is not None else 1

    def _suspend(self) -> None:
        """The child stopped itself: give the terminal back, stop too; on ``fg``, take it and resume it."""
        saved = self._saved_mode
        if saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.stdin, termios.TCSAFLUSH, saved)
        os.kill(os.getpid(), signal.SIGSTOP)  # the shell sees us stopped; `fg` sends SIGCONT
        if saved is not None:
            with contextlib.suppress(termios.error):
                tty.setraw(self.stdin)
        self._resize()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)

    # -- the terminal ----------------------------------------------------------
    _saved_mode: list[Any] | None = None  # termios attributes, as tcgetattr returns them

    @contextlib.contextmanager
    def _raw(self) -> Iterator[None]:
        try:
            self._saved_mode = termios.tcgetattr(self.stdin)
        except termios.error:
            self._saved_mode = None
        if self._saved_mode is not None:
            tty.setraw(self.stdin)
        try:
            yield
        finally:
            if self._saved_mode is not None:
                with contextlib.suppress(termios.error):
                    termios.tcsetattr(self.stdin, termios.TCSAFLUSH, self._saved_mode)

    def _resize(self) -> None:
        rows, cols = terminal_size(self.stdin)
        self.screen.resize(rows, cols)
        with contextlib.suppress(OSError):
            self.child.setwinsize(rows, cols)  # the kernel sends the child SIGWINCH

    # -- the control socket ------------------------------------------------------
    def _serve(self) -> None:
        try:
            conn, _addr = self.control.accept()
        except (BlockingIOError, InterruptedError):
            return
        with conn:
            conn.settimeout(CLIENT_TIMEOUT)
            try:
                answer = self._answer(conn)
            except (OSError, ValueError) as exc:
                answer = {"ok": False, "error": f"bad request: {exc}"}
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(answer).encode() + b"\n")

    def _answer(self, conn: socket.socket) -> dict[str, object]:
        line = read_line(conn)  # read first, so the client always gets to read the answer
        if peer_uid(conn) != os.getuid():
            return {"ok": False, "error": "another user: refused"}
        if len(line) > MAX_REQUEST_BYTES:
            return {"ok": False, "error": "request too large"}
        request = json.loads(line or b"null")
        if not isinstance(request, dict):
            return {"ok": False, "error": "request must be a JSON object"}
        given = request.get("secret")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.secret.encode()):
            return {"ok": False, "error": "wrong secret: refused"}
        op = request.get("op")
        if op == "ping":
            rows, cols = self.screen.screen.lines, self.screen.screen.columns
            idle = time.time() - self.last_input if self.last_input else None
            return {"ok": True, "pid": self.child.pid, "rows": rows, "cols": cols, "idle": idle}
        if op == "screen":
            return {"ok": True, "lines": self.screen.lines()}
        if op == "type":
            text = request.get("text")
            if not isinstance(text, str) or not text:
                return {"ok": False, "error": "type needs a non-empty text"}
            bad = forbidden_characters(text)
            if bad:
                return {"ok": False, "error": f"text holds forbidden characters ({len(bad)})"}
            self._write_child(text.encode("utf-8"))
            return {"ok": True}
        if op == "press":
            keys = request.get("keys")
            if not isinstance(keys, list) or not keys or any(k not in KEY_BYTES for k in keys):
                return {"ok": False, "error": f"press takes a list of keys among {sorted(KEY_BYTES)}"}
            self._write_child(b"".join(KEY_BYTES[k] for k in keys))
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        view = view[written:]
