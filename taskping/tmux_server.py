"""The one way TaskPing talks to tmux: :class:`TmuxServer`, one server addressed by its socket.

Everything that reads or drives tmux goes through here: the injector
(:mod:`taskping.injectors.tmux`), `taskping spawn` (:mod:`taskping.hooks.spawn`),
the hook (the pane's name, whether the person is at the terminal),
`taskping sessions` and `doctor` (which panes still run), and the launcher
(``remain-on-exit``). The pane a process runs in is read from ``$TMUX`` and
``$TMUX_PANE`` by :func:`pane_from_environ` and nowhere else.

Each call runs the ``tmux`` client once, with a deadline (a hung server is a
failed call, not a hung relay or hook), and returns a :class:`TmuxResult`; it
never raises for tmux trouble (``check`` does, with tmux's own words).
Programs are started with ``os.posix_spawnp`` and pipes rather than
``subprocess``: the hook runs before every prompt, and importing
``subprocess`` costs it ~6 ms (``locale``, ``signal``, ``threading``,
``selectors``), more than tmux takes to answer. So this module imports only
the standard library's smallest parts, and nothing of TaskPing's.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Mapping
from typing import NamedTuple

#: The default deadline of one tmux command.
TIMEOUT = 10.0
#: The deadline for callers that hold a person up meanwhile (the hook runs before Claude goes on).
QUICK_TIMEOUT = 2.0

#: Exit status of a call that could not run tmux, or that tmux did not finish in time.
NOT_RUN = 127
TIMED_OUT = -1


class TmuxError(Exception):
    """A tmux command failed; the message has tmux's words."""


class TmuxResult(NamedTuple):
    """One tmux command's outcome: its exit status, its stdout lines (trailing blank lines
    dropped) and its non-empty stderr lines."""

    code: int
    stdout: list[str]
    stderr: list[str]

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def first(self) -> str:
        """The first line of stdout, stripped ('' when there is none)."""
        return self.stdout[0].strip() if self.stdout else ""


class PaneAddress(NamedTuple):
    """A tmux pane: its server's socket path and its id (``%3``)."""

    socket: str
    pane: str


def socket_from_environ(environ: Mapping[str, str]) -> str | None:
    """The socket of the tmux server this process runs under (``$TMUX`` is ``SOCKET,PID,SESSION``)."""
    return environ.get("TMUX", "").split(",", 1)[0] or None


def pane_from_environ(environ: Mapping[str, str]) -> PaneAddress | None:
    """The pane this process runs in, or None outside tmux (both variables are needed)."""
    socket = socket_from_environ(environ)
    pane = environ.get("TMUX_PANE") or None
    return PaneAddress(socket, pane) if socket and pane else None


def run_program(
    argv: list[str], *, timeout: float, environ: Mapping[str, str] | None = None
) -> tuple[int, bytes, bytes] | None:
    """``(exit status, stdout, stderr)`` of ``argv`` with stdin on /dev/null, or None when it
    cannot be started or does not finish within ``timeout`` seconds (it is then killed)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
            (os.POSIX_SPAWN_CLOSE, out_r),
            (os.POSIX_SPAWN_CLOSE, err_r),
        ]
        try:
            pid = os.posix_spawnp(argv[0], argv, os.environ if environ is None else environ, file_actions=actions)
        except OSError:
            os.close(out_r)
            os.close(err_r)
            return None
    finally:
        os.close(out_w)
        os.close(err_w)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    open_fds = [out_r, err_r]
    deadline = time.monotonic() + timeout
    try:
        while open_fds:
            left = deadline - time.monotonic()
            ready = select.select(open_fds, [], [], left)[0] if left > 0 else []
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            for fd in ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    chunks[fd].append(chunk)
                else:
                    open_fds.remove(fd)
    finally:
        os.close(out_r)
        os.close(err_r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks[out_r]), b"".join(chunks[err_r])


def _lines(data: bytes) -> list[str]:
    lines = data.decode("utf-8", "backslashreplace").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    return lines


class TmuxServer:
    """One tmux server: ``socket`` is its socket path (None: tmux's default, or ``$TMUX``'s)."""

    def __init__(self, socket: str | None = None, *, tmux_bin: str = "tmux", timeout: float = TIMEOUT) -> None:
        self.socket = socket
        self.tmux_bin = tmux_bin
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"TmuxServer({self.socket!r})"

    # -- running commands ---------------------------------------------------
    def run(self, *args: str, timeout: float | None = None, environ: Mapping[str, str] | None = None) -> TmuxResult:
        """Run one tmux command on this server. Never raises: a tmux that cannot be run, or does not
        answer in time, is a result with code :data:`NOT_RUN` or :data:`TIMED_OUT` and a reason."""
        argv = [self.tmux_bin, *(["-S", self.socket] if self.socket else []), *args]
        wait = self.timeout if timeout is None else timeout
        done = run_program(argv, timeout=wait, environ=environ)
        if done is None:
            return TmuxResult(NOT_RUN, [], [f"cannot run {self.tmux_bin}, or no answer within {wait:g} s"])
        code, out, err = done
        return TmuxResult(code, _lines(out), [line for line in _lines(err) if line])

    def check(self, *args: str, timeout: float | None = None) -> list[str]:
        """Run one tmux command; its stdout lines, or :class:`TmuxError` when it failed or complained."""
        result = self.run(*args, timeout=timeout)
        if not result.ok or result.stderr:
            raise TmuxError(f"tmux {args[0]} failed: {' '.join(result.stderr) or f'exit {result.code}'}")
        return result.stdout

    # -- reading --------------------------------------------------------------
    def display(self, target: str, fmt: str, *, timeout: float | None = None) -> str | None:
        """``display-message -p`` of ``fmt`` for ``target`` (a pane or session), or None when tmux says no."""
        result = self.run("display-message", "-p", "-t", target, fmt, timeout=timeout)
        return result.stdout[0] if result.ok and result.stdout else None

    def socket_path(self) -> str:
        """The server's real socket path (the default one resolved)."""
        result = self.run("display-message", "-p", "#{socket_path}")
        if not result.ok or not result.first:
            raise TmuxError(f"cannot read the tmux socket path: {' '.join(result.stderr) or 'no output'}")
        return result.first

    def has_session(self, name: str) -> bool:
        """True when a session named exactly ``name`` exists (``=`` stops tmux matching a prefix)."""
        return self.run("has-session", "-t", f"={name}").ok

    def pane_alive(self, pane: str) -> bool:
        """The pane exists and its program has not exited."""
        return self.display(pane, "#{pane_id} #{pane_dead}") == f"{pane} 0"

    def live_panes(self) -> set[str] | None:
        """Ids of the panes whose program runs; None when tmux cannot be asked.

        No server on the socket (it exited, or the socket file is gone) means no live panes.
        A pane kept after its program exited (``remain-on-exit``) is dead, not live."""
        result = self.run("list-panes", "-a", "-F", "#{pane_id} #{pane_dead}", timeout=5.0)
        if not result.ok:
            # tmux says "no server running on …" or "error connecting to …" when nothing listens there.
            text = " ".join(result.stderr).lower()
            return set() if "no server running" in text or "error connecting" in text else None
        return {pane for pane, _, dead in (line.partition(" ") for line in result.stdout) if dead == "0"}

    def capture(self, pane: str, *, history: int = 0) -> list[str]:
        """The pane's screen as tmux draws it (not stripped: claude's prompt is ``❯`` + U+00A0),
        with ``history`` rows above it. Raises :class:`TmuxError`."""
        extra = ["-S", str(-history)] if history else []
        return self.check("capture-pane", "-p", *extra, "-t", pane)

    def client_activity(self, pane: str, *, timeout: float | None = None) -> list[tuple[int, str]] | None:
        """``(time of last input, tty)`` of each client attached to ``pane``'s session; None when
        tmux does not answer."""
        result = self.run("list-clients", "-t", pane, "-F", "#{client_activity} #{client_tty}", timeout=timeout)
        if not result.ok:
            return None
        out: list[tuple[int, str]] = []
        for line in result.stdout:
            stamp, _, tty = line.partition(" ")
            if stamp.isdigit():
                out.append((int(stamp), tty))
        return out

    # -- driving --------------------------------------------------------------
    def send_keys(self, pane: str, *keys: str) -> None:
        self.check("send-keys", "-t", pane, *keys)

    def set_pane_option(self, pane: str, name: str, value: str | None, *, timeout: float | None = None) -> bool:
        """Set (``value``) or unset (None) a pane option; True when tmux accepted it."""
        args = ["-p", "-t", pane, name, value] if value is not None else ["-p", "-u", "-t", pane, name]
        return self.run("set-option", *args, timeout=timeout).ok

    def new_session(self, name: str, *, cwd: str, command: str) -> str:
        """Start a detached session running ``command`` (a shell command line) in ``cwd``; returns
        its pane's id. Started outside any tmux client of ours (``$TMUX`` is dropped, as tmux
        refuses to nest), with this process's environment and umask if it starts the server."""
        environ = {k: v for k, v in os.environ.items() if k != "TMUX"}
        result = self.run(
            "new-session", "-d", "-P", "-F", "#{pane_id}", "-s", name, "-c", cwd, command, environ=environ
        )
        if not result.ok or result.stderr or not result.first.startswith("%"):
            raise TmuxError(f"tmux could not start the session: {' '.join(result.stderr) or f'exit {result.code}'}")
        return result.first

    def kill_session(self, name: str) -> None:
        self.run("kill-session", "-t", f"={name}")

    def delete_buffer(self, name: str) -> None:
        self.run("delete-buffer", "-b", name)
