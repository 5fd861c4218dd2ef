"""``#new [@HOST] DIR [prompt]``: which machine it is for, whether DIR may be used, and starting
the session.

DIR (absolute, or ``~/…``) must exist, be a directory and, with every symlink
followed, lie inside one of ALLOWED_ROOTS (themselves resolved when the config
is read): ``..`` and a symlink pointing out of a root are refused, a root that
is itself a symlink counts as the directory it points to. The session is
started exactly as `taskping spawn` starts one (:func:`taskping.hooks.spawn.spawn`,
always in tmux: the relay has no terminal to hold a PTY), on the tmux server
the relay's environment names (``$TMUX``, else tmux's default), so it is
tracked, named ``PREFIX-<DIR's name>`` and attachable. Nothing here points
back at the relay; the pipeline runs the command.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from taskping.config import Settings
from taskping.hooks.spawn import Spawned, SpawnError, command_problem, spawn
from taskping.tmux_server import socket_from_environ
from taskping.tokens import host_part

#: How long claude may take to show its prompt.
READY_TIMEOUT = 30.0
USAGE = "write #new DIR [prompt], DIR an absolute path or ~/path"


@dataclass(frozen=True)
class Started:
    spawned: Spawned
    directory: Path


def host_names(host_id: str | None) -> tuple[str, ...]:
    """The names ``@HOST`` may use for this machine: the 4-character host part of its session
    tokens (``[TaskPing #HOST-…]``), its TASKPING_HOST_ID, its hostname and the hostname's first label."""
    hostname = socket.gethostname()
    names = [host_part(host_id), host_id or "", hostname, hostname.split(".", 1)[0]]
    return tuple(dict.fromkeys(n.lower() for n in names if n))


def names_this_machine(host: str, host_id: str | None) -> bool:
    return host.lower() in host_names(host_id)


def this_machine(host_id: str | None) -> str:
    """How answers name this machine: ``hostname (@abcd)``."""
    return f"{socket.gethostname()} (@{host_part(host_id)})"


def allowed_directory(raw: str, roots: tuple[Path, ...]) -> Path | str:
    """DIR resolved (symlinks followed) when it may be used, else why not (one line)."""
    if not raw:
        return f"no directory given; {USAGE}"
    if raw.startswith("~") and not (raw == "~" or raw.startswith("~/")):
        return f"{raw!r}: only ~ and ~/path are understood; {USAGE}"
    path = Path(raw).expanduser()
    if not path.is_absolute():
        return f"{raw!r} is not an absolute path; {USAGE}"
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return f"{raw!r} does not exist on this machine"
    if not resolved.is_dir():
        return f"{raw!r} is not a directory"
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots)
        return f"{raw!r} (resolved: {resolved}) is not inside ALLOWED_ROOTS ({shown})"
    return resolved


def session_name(settings: Settings, directory: Path) -> str:
    """``PREFIX-<DIR's name>`` with anything tmux would misread (``.``, ``:``, spaces…) made ``-``."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", directory.name).strip("-") or "session"
    return f"{settings.tmux_session_prefix}-{base}"


def start(settings: Settings, directory: Path, environ: Mapping[str, str]) -> Started | str:
    """Start claude in ``directory`` (already checked) the way `taskping spawn` does; the session,
    or why it did not start (one line)."""
    command = ["claude"]
    problem = command_problem(command, directory, environ)
    if problem is not None:
        return f"{problem} in the relay's environment"
    try:
        spawned = spawn(
            settings,
            name=session_name(settings, directory),
            command=command,
            cwd=directory,
            socket_path=socket_from_environ(environ),
            environment=dict(environ),
            name_was_given=False,
            ready_timeout=READY_TIMEOUT,
        )
    except SpawnError as exc:
        if any("trust" in line.lower() for line in exc.last_lines):
            return (
                f"claude asked whether to trust {directory} (a directory it was never opened in) and nothing "
                "answers that by email; nothing was left running. Open claude there once at the terminal "
                "(or taskping spawn --cwd DIR) and answer it, then send #new again"
            )
        last = f" (its last line: {exc.last_lines[-1].strip()})" if exc.last_lines else ""
        return f"{exc}{last}"
    return Started(spawned, directory)


__all__ = [
    "USAGE",
    "Started",
    "allowed_directory",
    "host_names",
    "names_this_machine",
    "session_name",
    "start",
    "this_machine",
]
