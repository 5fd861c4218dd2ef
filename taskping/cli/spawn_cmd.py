"""`taskping spawn` — start a tracked Claude Code session in a named tmux session, or under a PTY here."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

HELP = "start a tracked Claude Code session (in a tmux session, or under a PTY in this terminal)"
DESCRIPTION = (
    "Start COMMAND (default: claude) in a new detached tmux session named PREFIX-NAME "
    "(PREFIX is TMUX_SESSION_PREFIX, default 'taskping'), register it in the session map, and print "
    "its name, token and the `tmux attach` line. The command sees your environment as if run from "
    "your shell. Put the command after `--`, e.g. `taskping spawn --name api -- claude --model opus`. "
    "With --mode pty (the default when INJECTION_MODE=pty) the command runs right here, in this "
    "terminal, under a PTY TaskPing holds: it feels like running it directly (keys, Ctrl-C, window "
    "size, exit status), and replies are typed into it; the session ends when the command exits."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="session name (default: the working directory's name)")
    parser.add_argument("--cwd", type=Path, help="working directory for the command (default: here)")
    parser.add_argument(
        "--mode",
        choices=("tmux", "pty"),
        help="tmux: a new detached tmux session; pty: run here, in this terminal, under a PTY "
        "(default: INJECTION_MODE, which defaults to tmux)",
    )
    parser.add_argument("--attach", action="store_true", help="attach to the tmux session after starting it")
    parser.add_argument(
        "--tmux-socket",
        metavar="PATH",
        help="tmux server socket to use (default: the server you are in, else tmux's default)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the command to start (claude: to show its prompt); default 30",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... (default: claude)")


def run(args: argparse.Namespace) -> int:
    from taskping.cli.config_source import load

    settings = load(args.env_file)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    command = command or ["claude"]
    cwd = (args.cwd or Path.cwd()).expanduser().resolve()
    if not cwd.is_dir():
        print(f"spawn: --cwd {str(cwd)!r} is not a directory", file=sys.stderr)
        return 2
    base_name = args.name or cwd.name or "session"
    if any(c in base_name for c in ".: \t") or not base_name:
        print(f"spawn: --name {base_name!r} must be non-empty without '.', ':' or spaces", file=sys.stderr)
        return 2

    from taskping.hooks.spawn import SpawnError, command_problem, spawn
    from taskping.tmux_server import socket_from_environ

    problem = command_problem(command, cwd, os.environ)
    if problem is not None:
        print(f"spawn: {problem}; install it or pass the command after --", file=sys.stderr)
        return 1

    if (args.mode or settings.injection_mode) == "pty":
        if args.attach or args.tmux_socket:
            print("spawn: --attach and --tmux-socket are for --mode tmux; --mode pty runs here", file=sys.stderr)
            return 2
        from taskping.hooks.spawn_pty import spawn_pty

        try:
            return spawn_pty(
                settings,
                name=f"{settings.tmux_session_prefix}-{base_name}",
                command=command,
                cwd=cwd,
                environment=dict(os.environ),
                name_was_given=args.name is not None,
            )
        except SpawnError as exc:
            print(f"spawn: {exc}", file=sys.stderr)
            return 1

    try:
        spawned = spawn(
            settings,
            name=f"{settings.tmux_session_prefix}-{base_name}",
            command=command,
            cwd=cwd,
            socket_path=args.tmux_socket or socket_from_environ(os.environ),
            environment=dict(os.environ),
            name_was_given=args.name is not None,
            ready_timeout=args.wait,
        )
    except SpawnError as exc:
        print(f"spawn: {exc}" + ("; its last lines:" if exc.last_lines else ""), file=sys.stderr)
        for line in exc.last_lines:
            print(f"  | {line}", file=sys.stderr)
        return 1
    attach = ["tmux", "-S", spawned.socket, "attach", "-t", spawned.name]
    print(f"started {spawned.name}: {' '.join(shlex.quote(c) for c in command)} in {cwd}")
    print(f"token:  {spawned.token}")
    print(f"attach: {' '.join(shlex.quote(a) for a in attach)}")
    if args.attach:
        if socket_from_environ(os.environ):  # inside tmux: switch this client, do not nest
            attach = ["tmux", "-S", spawned.socket, "switch-client", "-t", spawned.name]
        os.execvp("tmux", attach)
    return 0
