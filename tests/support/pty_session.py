"""`taskping spawn --mode pty` (or INJECTION_MODE=pty without ``--mode``, ``mode_flag=False``) driven the way a person's terminal drives it: through an outer PTY.

:class:`PtySession` starts ``taskping [--env-file F] spawn --mode pty --name N -- COMMAND`` in
a pexpect PTY (the "person's terminal"), drains what it prints on a thread (a
terminal always reads; the wrapper would block writing otherwise), and reads
the session's row, control socket and secret from the session map. ``close``
kills only the processes it started.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pexpect

from taskping.injectors.base import ScreenState, Target
from taskping.injectors.pty_control import request
from taskping.injectors.screen import ScreenReading, read_screen
from taskping.session_map import connect, sessions

BIN = Path(sys.executable).parent


class PtySession:
    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        session_map: Path,
        name: str = "pty",
        cwd: Path | None = None,
        env_file: Path | None = None,
        rows: int = 40,
        cols: int = 120,
        start_timeout: float = 15.0,
        mode_flag: bool = True,
        bin_dir: Path = BIN,
    ) -> None:
        self.session_map = session_map
        args = ["--env-file", str(env_file)] if env_file else []
        args += ["spawn", *(["--mode", "pty"] if mode_flag else []), "--name", name, "--", *command]
        self.outer = pexpect.spawn(
            str(bin_dir / "taskping"), args, env=dict(env), cwd=str(cwd) if cwd else None, dimensions=(rows, cols)
        )
        self.output = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.name = f"taskping-{name}"
        self.session = self._wait_session(start_timeout)

    # -- the outer terminal -------------------------------------------------
    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.outer.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                continue
            except (pexpect.EOF, OSError, ValueError):
                return
            with self._lock:
                self.output += data

    def seen(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def wait_output(self, needle: bytes, timeout: float = 10.0, *, after: int = 0) -> int:
        """Wait until the outer terminal has shown ``needle`` (past offset ``after``); its end offset."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = self.seen().find(needle, after)
            if at >= 0:
                return at + len(needle)
            if not self.outer.isalive() and self.seen().find(needle, after) < 0:
                break
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} never shown; last output: {self.seen()[-600:]!r}")

    def type(self, data: bytes | str) -> None:
        """Keys typed by the person at the outer terminal."""
        self.outer.send(data)

    def resize(self, rows: int, cols: int) -> None:
        self.outer.setwinsize(rows, cols)  # the kernel sends the wrapper SIGWINCH

    def wait_exit(self, timeout: float = 15.0) -> int:
        """The wrapper's exit status (128 + N for a signal, as a shell shows it)."""
        deadline = time.monotonic() + timeout
        while self.outer.isalive():
            if time.monotonic() > deadline:
                raise AssertionError(f"the wrapper did not exit; last output: {self.seen()[-600:]!r}")
            time.sleep(0.05)
        self._stop.set()
        self._reader.join(timeout=5)
        status = self.outer.exitstatus
        return int(status) if status is not None else 128 + int(self.outer.signalstatus or 0)

    # -- the session -----------------------------------------------------------
    def _wait_session(self, timeout: float) -> sessions.Session:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.session_map.exists():
                conn = connect(self.session_map)
                try:
                    found = sessions.live_by_name(conn, self.name)
                finally:
                    conn.close()
                if found is not None and Path(found.target_socket).exists():
                    return found
            if not self.outer.isalive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no live PTY session {self.name}; output: {self.seen()[-800:]!r}")

    def current(self) -> sessions.Session | None:
        conn = connect(self.session_map)
        try:
            return sessions.get(conn, self.session.id)
        finally:
            conn.close()

    @property
    def target(self) -> Target:
        return Target(kind="pty", socket=self.session.target_socket)

    @property
    def secret(self) -> str:
        assert self.session.control_secret
        return self.session.control_secret

    def secret_for(self) -> Callable[[Target], str | None]:
        return lambda target: self.secret if target.socket == self.session.target_socket else None

    def ask(self, op: str, **fields: object) -> dict[str, object]:
        return request(self.session.target_socket, self.secret, op, **fields)

    def lines(self) -> list[str]:
        lines = self.ask("screen")["lines"]
        assert isinstance(lines, list)
        return [str(line) for line in lines]

    def reading(self) -> ScreenReading:
        return read_screen(self.lines())

    def wait_for(self, *states: ScreenState, timeout: float = 30.0) -> ScreenReading:
        deadline = time.monotonic() + timeout
        reading = self.reading()
        while reading.state not in states:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"screen never reached {states}; last {reading.state}:\n" + "\n".join(self.lines())
                )
            time.sleep(0.05)
            reading = self.reading()
        return reading

    def wrapper_pid(self) -> int:
        return int(self.outer.pid)

    def close(self) -> None:
        """Kill the wrapper and its child if still running (only what this started)."""
        child_pid = None
        try:
            child_pid = int(self.ask("ping", timeout=1.0)["pid"])  # type: ignore[call-overload]
        except Exception:  # noqa: BLE001 - already gone
            pass
        if self.outer.isalive():
            self.outer.kill(signal.SIGKILL)
        if child_pid is not None:
            try:
                os.kill(child_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._stop.set()
        self._reader.join(timeout=5)
        try:
            self.outer.close(force=True)
        except Exception:  # noqa: BLE001
            pass
