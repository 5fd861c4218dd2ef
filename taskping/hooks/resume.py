"""Bringing back a session whose terminal is gone: `claude --resume` in a new tmux session.

A reply to a session `taskping spawn` started (tmux or PTY) whose terminal
vanished (tmux server killed, machine rebooted, PTY wrapper killed) is not
lost: the relay calls :func:`resume`, which starts ``claude --resume
<Claude's session id>`` in the session's project directory in a new tmux
session named like the session, and moves the SAME session row (token,
thread, turns) onto its pane before Claude's first hook runs, so the
resumed Claude's hooks (SessionStart ``source=resume``) find that row by its
pane. It then waits until Claude's prompt is READY; the relay types the reply
as usual.

Where: a tmux session comes back on its own tmux socket (the server is
started again there); a PTY session cannot get back the terminal it ran in
(the relay has none), so it comes back in tmux too, on the relay's default
tmux server (``$TMUX_TMPDIR``), attachable: the acknowledgement gives the
``tmux attach`` command. The command is the claude `spawn` ran (resolved
then), else ``claude`` on the relay's PATH; its environment is the relay's.

At most one terminal per session: a lock per session, and a session found
live on a running pane once the lock is held is returned as it is. Never two
Claudes on one conversation: no resume while the old pane or PTY wrapper
still answers, while its tmux server does not answer, or while the old
Claude process still runs (it is given a few seconds to exit after SIGHUP). A resume
that fails leaves nothing behind (the tmux session is killed, the row is
ended again with its earlier reason) and says why in one line.

Starting the terminal reuses spawn's machinery (:mod:`taskping.hooks.spawn`:
the launcher with the environment in a 0600 file, :func:`wait_started`).
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from taskping.config import Settings
from taskping.hooks.launch import launch_command, write_env_file
from taskping.hooks.spawn import POLL_SECONDS, last_lines, pane_lines, wait_started
from taskping.injectors.pty_control import listening
from taskping.private_files import private_dir, user_umask_for_children
from taskping.session_map import connect, sessions
from taskping.session_map.sessions import NameInUse, Session
from taskping.session_map.vocabulary import EndReason
from taskping.tmux_server import TmuxError, TmuxServer

#: What a Claude session id may look like (a UUID on 2.1.328): never an option, never a path.
CLAUDE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
#: How long a Claude that lost its terminal (SIGHUP) is given to exit before a resume gives up.
EXIT_WAIT_SECONDS = 5.0
# Variables that name the relay's own terminal (if any): not the new session's.
_DROP_ENV = ("TMUX", "TMUX_PANE", "TASKPING_PTY")


@dataclass(frozen=True)
class Resumed:
    """The session, live again on its new pane, and how a person attaches to it."""

    session: Session
    attach: str


class ResumeError(Exception):
    """The session could not be brought back (one line, read by the person); nothing is left running."""


def resume(
    settings: Settings, session: Session, *, environment: Mapping[str, str], ready_timeout: float = 30.0
) -> Resumed:
    """Start ``claude --resume`` for ``session`` (its terminal is gone) and re-point its row at it.

    Raises :class:`ResumeError`."""
    locks = settings.state_dir / "locks"
    private_dir(locks)
    with open(locks / f"resume-{session.id}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second reply for the same session waits here
        conn = connect(settings.session_map_path)
        try:
            current = sessions.get(conn, session.id)
            if current is None:
                raise ResumeError("the session is no longer in the session map")
            if (
                current.live
                and current.kind == "tmux"
                and TmuxServer(current.target_socket).pane_alive(current.target_pane)
            ):
                return Resumed(current, _attach(current.target_socket, current.name))  # resumed meanwhile
            still = _still_running(current)
            if still is not None:
                raise ResumeError(still)
            return _start(conn, current, environment, ready_timeout)
        finally:
            conn.close()


def _still_running(session: Session) -> str | None:
    """Why the old terminal or Claude may still be there (never two Claudes on one conversation),
    or None. A tmux server that does not answer is not taken for gone; a Claude that got SIGHUP
    with its terminal is given EXIT_WAIT_SECONDS to exit."""
    if session.kind == "tmux":
        server = TmuxServer(session.target_socket)
        live = server.live_panes()
        if live is None:
            return f"tmux on {session.target_socket} does not answer, so its old pane may still run; reply again later"
        if session.target_pane in live and server.display(session.target_pane, "#{session_name}") == session.name:
            return f"its tmux pane {session.target_pane} still runs"
    elif session.control_secret and listening(session.target_socket):
        return "its PTY wrapper still answers on its control socket"
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    while session.claude_pid and _is_claude(session.claude_pid):
        if time.monotonic() > deadline:
            return f"its Claude (pid {session.claude_pid}) still runs; end it, or reply again later"
        time.sleep(POLL_SECONDS)
    return None


def _is_claude(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"claude" in fh.read()
    except OSError:
        return False  # gone (no /proc: nothing to check)


def _attach(socket: str, name: str) -> str:
    return shlex.join(["tmux", "-S", socket, "attach", "-t", name])


def _command(session: Session, environment: Mapping[str, str]) -> list[str]:
    claude_id = session.claude_session_id or ""
    if not CLAUDE_ID.fullmatch(claude_id):  # from a hook payload; never let it read as an option
        raise ResumeError(f"its Claude session id {claude_id[:40]!r} does not look like one")
    program = session.claude_program if session.claude_program and os.access(session.claude_program, os.X_OK) else None
    program = program or shutil.which("claude", path=environment.get("PATH"))
    if program is None:
        raise ResumeError("claude was not found (not where spawn found it, nor on the relay's PATH)")
    return [program, "--resume", claude_id]


def _start(conn: sqlite3.Connection, session: Session, environment: Mapping[str, str], ready_timeout: float) -> Resumed:
    if not session.cwd or not Path(session.cwd).is_dir():
        raise ResumeError(f"its project directory {session.cwd!r} no longer exists")
    command = _command(session, environment)
    server = TmuxServer(session.target_socket if session.kind == "tmux" else None)
    if server.has_session(session.name):
        raise ResumeError(f"a tmux session named {session.name!r} already exists there; close it or reply later")
    env = {k: v for k, v in environment.items() if k not in _DROP_ENV}
    env_file = write_env_file(env)
    previous = session.end_reason or EndReason.PANE_GONE
    try:
        with user_umask_for_children():
            pane = server.new_session(
                session.name, cwd=session.cwd, command="exec " + shlex.join(launch_command(env_file, command))
            )
        socket = server.socket_path()
    except TmuxError as exc:
        env_file.unlink(missing_ok=True)
        server.kill_session(session.name)
        raise ResumeError(str(exc)) from None
    try:
        sessions.end(conn, session.id, reason=previous)  # a live row whose terminal vanished ends first
        resumed = sessions.repoint(conn, session.id, socket=socket, pane=pane)
    except NameInUse as exc:
        server.kill_session(session.name)
        raise ResumeError(str(exc)) from None
    problem = wait_started(server, pane, command, ready_timeout) or _wait_ready(server, pane, ready_timeout)
    if problem is not None:
        message, lines = problem
        server.kill_session(session.name)
        sessions.end(conn, session.id, reason=previous)
        shown = f" (it showed: {' / '.join(lines[-3:])})" if lines else ""
        raise ResumeError(f"{message}{shown}")
    server.set_pane_option(pane, "remain-on-exit", None)  # the launcher set it
    return Resumed(resumed, _attach(socket, session.name))


def _wait_ready(server: TmuxServer, pane: str, timeout: float) -> tuple[str, list[str]] | None:
    """None once claude's input box is empty and idle (a resumed claude redraws its conversation first)."""
    from taskping.injectors.base import ScreenState
    from taskping.injectors.screen import read_screen

    deadline = time.monotonic() + timeout
    while True:
        lines = pane_lines(server, pane)
        if read_screen(lines).state is ScreenState.READY:
            return None
        if time.monotonic() > deadline:
            return f"claude --resume did not show an empty prompt within {timeout:g} s", last_lines(lines)
        time.sleep(POLL_SECONDS)
