"""Starting a tracked Claude Code session in tmux (libtmux).

The session is registered right after tmux creates the pane; if Claude's
first hook got there first (it can, on a fast start), spawn adopts that
record, keeping its token, so one pane is one session.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import libtmux
from libtmux.exc import LibTmuxException

from taskping.config import Settings
from taskping.hooks.launch import launch_command, write_env_file
from taskping.private_files import user_umask_for_children
from taskping.session_map import connect, sessions
from taskping.session_map.sessions import NameInUse
from taskping.tokens import new_token

# Variables that describe the caller's own tmux client; they must not leak into the new session.
_DROP_ENV = ("TMUX", "TMUX_PANE")


class SpawnError(Exception):
    pass


@dataclass(frozen=True)
class Spawned:
    name: str
    token: str
    socket: str
    pane: str


def _server(socket_path: str | None) -> libtmux.Server:
    return libtmux.Server(socket_path=socket_path) if socket_path else libtmux.Server()


def socket_of(server: libtmux.Server) -> str:
    out = server.cmd("display-message", "-p", "#{socket_path}")
    if out.returncode != 0 or not out.stdout:
        raise SpawnError(f"cannot read the tmux socket path: {' '.join(out.stderr) or 'no output'}")
    return out.stdout[0].strip()


def spawn(
    settings: Settings,
    *,
    name: str,
    command: list[str],
    cwd: Path,
    socket_path: str | None,
    environment: dict[str, str],
    name_was_given: bool = True,
) -> Spawned:
    server = _server(socket_path)
    conn = connect(settings.session_map_path)
    try:
        candidates = [name] if name_was_given else [name] + [f"{name}-{i}" for i in range(2, 100)]
        chosen = None
        for candidate in candidates:
            in_tmux = server.is_alive() and server.has_session(candidate)
            if not in_tmux and sessions.live_by_name(conn, candidate) is None:
                chosen = candidate
                break
        if chosen is None:
            raise SpawnError(
                f"a session named {name!r} already exists (in tmux or in `taskping sessions`); "
                "choose another --name"
            )
        env = {k: v for k, v in environment.items() if k not in _DROP_ENV}
        env_file = write_env_file(env)
        try:
            with user_umask_for_children():  # a tmux server started here, and so the pane, get the user's umask
                tmux_session = server.new_session(
                    session_name=chosen,
                    start_directory=str(cwd),
                    window_command=shlex.join(launch_command(env_file, command)),
                    attach=False,
                )
        except LibTmuxException as exc:
            env_file.unlink(missing_ok=True)
            raise SpawnError(f"tmux could not start the session: {exc}") from None
        pane = tmux_session.active_pane
        if pane is None or pane.pane_id is None:
            raise SpawnError("tmux started the session but reported no pane")
        socket = socket_of(server)
        try:
            session = sessions.create(
                conn,
                token=new_token(settings.host_id),
                name=chosen,
                kind="tmux",
                target_socket=socket,
                target_pane=pane.pane_id,
                ttl=settings.token_ttl,
                cwd=str(cwd),
                adopt=True,
            )
        except NameInUse as exc:
            tmux_session.kill()
            raise SpawnError(str(exc)) from None
        return Spawned(name=session.name, token=session.token, socket=socket, pane=pane.pane_id)
    finally:
        conn.close()
