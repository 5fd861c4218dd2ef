"""`taskping spawn --mode pty`: run a tracked command under a PTY in this terminal.

The session is registered (kind ``pty``, its target the control socket, a
fresh secret) before the command starts, so Claude's first hook finds it:
the command gets ``TASKPING_PTY`` (the socket path), which the hook uses as
its terminal's name the way it uses ``$TMUX_PANE`` in tmux. When the command
exits the session ends and the socket is removed; the exit status is the
command's.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from taskping.config import Settings
from taskping.hooks.spawn import SpawnError, claude_program
from taskping.injectors.pty_host import PtyHost, PtyHostError, listen
from taskping.private_files import user_umask
from taskping.session_map import connect, sessions
from taskping.session_map.sessions import NameInUse
from taskping.session_map.vocabulary import EndReason
from taskping.tokens import new_token

#: The environment variable that tells a hook which PTY session it runs in.
PTY_ENV = "TASKPING_PTY"
# Variables that describe the caller's own tmux client: the command is not in that pane.
_DROP_ENV = ("TMUX", "TMUX_PANE", PTY_ENV)
#: Unix socket paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 107


def control_path(settings: Settings, token: str) -> Path:
    path = settings.state_dir / "pty" / f"{token[:12]}.sock"
    if len(str(path).encode()) > MAX_SOCKET_PATH:
        raise SpawnError(
            f"the PTY control socket path {str(path)!r} is longer than {MAX_SOCKET_PATH} bytes; use a shorter STATE_DIR"
        )
    return path


def spawn_pty(
    settings: Settings,
    *,
    name: str,
    command: Sequence[str],
    cwd: Path,
    environment: Mapping[str, str],
    name_was_given: bool = True,
) -> int:
    """Register the session, run ``command`` in the foreground under a PTY; its exit status."""
    if not os.isatty(0):
        raise SpawnError("--mode pty runs the command in this terminal, but stdin is not a terminal; use --mode tmux")
    conn = connect(settings.session_map_path)
    try:
        candidates = [name] if name_was_given else [name] + [f"{name}-{i}" for i in range(2, 100)]
        token = new_token(settings.host_id)
        path = control_path(settings, token)
        secret = secrets.token_hex(32)
        session = None
        for candidate in candidates:
            try:
                session = sessions.create(
                    conn,
                    token=token,
                    name=candidate,
                    kind="pty",
                    target_socket=str(path),
                    target_pane="",
                    ttl=settings.token_ttl,
                    cwd=str(cwd),
                    control_secret=secret,
                    spawned=True,
                    claude_program=claude_program(list(command), cwd, environment),
                )
                break
            except NameInUse:
                continue
        if session is None:
            raise SpawnError(f"a session named {name!r} already exists in `taskping sessions`; choose another --name")
    finally:
        conn.close()

    env = {k: v for k, v in environment.items() if k not in _DROP_ENV}
    env[PTY_ENV] = str(path)
    umask = user_umask()

    def user_umask_in_child() -> None:  # the command gets the user's umask, not TaskPing's 077
        os.umask(umask)

    control = listen(path)
    try:
        try:
            host = PtyHost(command, cwd=cwd, env=env, control=control, secret=secret, preexec=user_umask_in_child)
        except PtyHostError as exc:
            raise SpawnError(str(exc)) from None
        sys.stderr.write(f"taskping: session {session.name} (token {session.token}) in a PTY\r\n")
        sys.stderr.flush()
        status = host.run()
    finally:
        control.close()
        path.unlink(missing_ok=True)
        conn = connect(settings.session_map_path)
        try:
            current = sessions.get(conn, session.id)
            if current is not None and current.live:
                sessions.end(conn, session.id, reason=EndReason.PTY_EXITED)
        finally:
            conn.close()
    return status
