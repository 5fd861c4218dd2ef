"""Starting a tracked Claude Code session in tmux (:class:`~taskping.tmux_server.TmuxServer`).

The session is registered right after tmux creates the pane; if Claude's
first hook got there first (it can, on a fast start), spawn adopts that
record, keeping its token, so one pane is one session.

"Started" means the command really runs: spawn waits until the launcher has
exec'd it and, for ``claude``, until its screen shows the input box (or a
dialog: Claude is up and asking); any other command must still run a moment
after its exec. A command that exits first, or a claude that never draws its
prompt within the wait, is a :class:`SpawnError` carrying the pane's last
lines, and the tmux session and the session row are removed: no ``starting``
row is left behind for ever.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from taskping.config import Settings
from taskping.hooks.launch import launch_command, write_env_file
from taskping.private_files import user_umask_for_children
from taskping.session_map import connect, sessions
from taskping.session_map.sessions import NameInUse
from taskping.tmux_server import TmuxError, TmuxServer
from taskping.tokens import new_token

# Variables that describe the caller's own tmux client; they must not leak into the new session.
_DROP_ENV = ("TMUX", "TMUX_PANE")


#: A command other than claude counts as started when it still runs this long after its exec.
SETTLE_SECONDS = 1.0
POLL_SECONDS = 0.1
#: Lines of the pane shown when the command did not start.
LAST_LINES = 15


class SpawnError(Exception):
    """Spawn did not start the command; ``last_lines`` is what its pane showed, if anything."""

    def __init__(self, message: str, last_lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.last_lines = last_lines or []


@dataclass(frozen=True)
class Spawned:
    name: str
    token: str
    socket: str
    pane: str


def command_problem(command: list[str], cwd: Path, environ: Mapping[str, str]) -> str | None:
    """Why ``command`` cannot run in ``cwd`` with ``environ``'s PATH (the caller's, which the pane
    gets), or None. Checked before anything starts: a missing claude would otherwise be a pane
    that dies at once, after printing where nobody looks."""
    program = command[0] if os.sep not in command[0] else str(cwd / command[0])  # the pane runs in cwd
    if shutil.which(program, path=environ.get("PATH")) is not None:
        return None
    where = "is not an executable file" if os.sep in command[0] else "not found on PATH"
    return f"{command[0]!r} {where}"


def claude_program(command: list[str] | tuple[str, ...], cwd: Path, environ: Mapping[str, str]) -> str | None:
    """The absolute path of the claude ``command`` runs directly (None for any other command):
    what a later `claude --resume` runs (:mod:`taskping.hooks.resume`)."""
    if not command or Path(command[0]).name != "claude":
        return None
    program = command[0] if os.sep not in command[0] else str(cwd / command[0])
    found = shutil.which(program, path=environ.get("PATH"))
    return os.path.abspath(found) if found else None


def spawn(
    settings: Settings,
    *,
    name: str,
    command: list[str],
    cwd: Path,
    socket_path: str | None,
    environment: dict[str, str],
    name_was_given: bool = True,
    ready_timeout: float = 30.0,
) -> Spawned:
    server = TmuxServer(socket_path)
    conn = connect(settings.session_map_path)
    try:
        candidates = [name] if name_was_given else [name] + [f"{name}-{i}" for i in range(2, 100)]
        chosen = None
        for candidate in candidates:
            in_tmux = server.has_session(candidate)
            if not in_tmux and sessions.live_by_name(conn, candidate) is None:
                chosen = candidate
                break
        if chosen is None:
            raise SpawnError(
                f"a session named {name!r} already exists (in tmux or in `taskping sessions`); choose another --name"
            )
        env = {k: v for k, v in environment.items() if k not in _DROP_ENV}
        env_file = write_env_file(env)
        try:
            with user_umask_for_children():  # a tmux server started here, and so the pane, get the user's umask
                pane = server.new_session(
                    chosen,
                    cwd=str(cwd),
                    # exec: the pane's process is the launcher, then the command itself (not a shell above it)
                    command="exec " + shlex.join(launch_command(env_file, command)),
                )
        except TmuxError as exc:
            env_file.unlink(missing_ok=True)
            raise SpawnError(str(exc)) from None
        try:
            socket = server.socket_path()
        except TmuxError as exc:
            server.kill_session(chosen)
            raise SpawnError(str(exc)) from None
        try:
            session = sessions.create(
                conn,
                token=new_token(settings.host_id),
                name=chosen,
                kind="tmux",
                target_socket=socket,
                target_pane=pane,
                ttl=settings.token_ttl,
                cwd=str(cwd),
                adopt=True,
                spawned=True,
                claude_program=claude_program(command, cwd, environment),
            )
        except NameInUse as exc:
            server.kill_session(chosen)
            raise SpawnError(str(exc)) from None
        problem = wait_started(server, pane, command, ready_timeout)
        if problem is not None:
            message, lines = problem
            server.kill_session(chosen)
            sessions.discard(conn, session.id)
            raise SpawnError(message, lines)
        server.set_pane_option(pane, "remain-on-exit", None)  # the launcher set it
        return Spawned(name=session.name, token=session.token, socket=socket, pane=pane)
    finally:
        conn.close()


def pane_lines(server: TmuxServer, pane: str, history: int = 0) -> list[str]:
    """The pane's screen with ``history`` rows above it (tmux scrolls a dead pane's text up for its
    "Pane is dead" line); empty when tmux cannot capture it."""
    try:
        return server.capture(pane, history=history)
    except TmuxError:
        return []


def last_lines(lines: list[str]) -> list[str]:
    """The last non-blank rows the command wrote, for a person to read (tmux's own
    "Pane is dead" line left out)."""
    shown = [line.rstrip() for line in lines]
    shown = [line for line in shown if line and not line.startswith("Pane is dead")]
    return shown[-LAST_LINES:]


def _dead_status(server: TmuxServer, pane: str) -> str:
    return (server.display(pane, "#{pane_dead_status}") or "").strip()


def _still_launching(pane_pid: str) -> bool:
    """True while the pane's process is still our launcher (it has not exec'd the command yet)."""
    try:
        with open(f"/proc/{pane_pid}/cmdline", "rb") as fh:
            return b"taskping.hooks.launch" in fh.read()
    except OSError:
        return False  # no /proc (or the process is gone): the dead-pane check decides


def _claude_is_up(lines: list[str]) -> bool:
    from taskping.injectors.base import ScreenState
    from taskping.injectors.screen import read_screen

    return read_screen(lines).state is not ScreenState.UNKNOWN


def wait_started(server: TmuxServer, pane: str, command: list[str], timeout: float) -> tuple[str, list[str]] | None:
    """None once ``command`` runs in ``pane`` (claude: shows its prompt); else why not and the pane's last lines."""
    is_claude = Path(command[0]).name == "claude"
    shown = shlex.join(command)
    deadline = time.monotonic() + timeout
    running_since: float | None = None
    while True:
        shown_flags = server.display(pane, "#{pane_dead} #{pane_dead_status} #{pane_pid}")
        if shown_flags is None:
            return f"{shown} exited at once (its tmux pane is gone)", []
        dead, status, pane_pid = [*shown_flags.split(" "), "", ""][:3]
        if dead == "1":
            # tmux can mark the pane dead (its output ended) before it records the exit status, and
            # for a command that exits at once it sometimes never does (tmux 3.3): wait a little.
            settle = time.monotonic() + 0.5
            while not status and time.monotonic() < settle:
                time.sleep(POLL_SECONDS)
                status = _dead_status(server, pane)
            how = f"exited with status {status}" if status else "exited"
            return f"{shown} {how} before it was ready", last_lines(pane_lines(server, pane, history=LAST_LINES))
        if not _still_launching(pane_pid):
            if is_claude:
                if _claude_is_up(pane_lines(server, pane)):
                    return None
            else:
                running_since = running_since or time.monotonic()
                if time.monotonic() - running_since >= SETTLE_SECONDS:
                    return None
        if time.monotonic() > deadline:
            what = "did not show its prompt" if is_claude else "did not start"
            return f"{shown} {what} within {timeout:g} s", last_lines(pane_lines(server, pane, history=LAST_LINES))
        time.sleep(POLL_SECONDS)
