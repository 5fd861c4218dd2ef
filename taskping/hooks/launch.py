"""Run a command with exactly the environment `taskping spawn` was called with.

A new tmux pane inherits the tmux *server's* environment (whoever started the
server), not the caller's. Passing variables on the tmux command line would
show secrets in `ps`, so spawn writes the caller's environment to a 0600 file
and the pane runs ``python -m taskping.hooks.launch FILE COMMAND...``, which
reads the file, deletes it, and execs COMMAND with exactly that environment
plus the two variables tmux sets for the pane itself (TMUX, TMUX_PANE), which
hooks use to find their session.

Before the exec it sets ``remain-on-exit`` on its own pane, so a command that
dies at once (a bad flag, a missing login) leaves its last words on screen for
`taskping spawn` to show; spawn clears the option once the command is up.
Done here, not by spawn after creating the pane, because here it is certain
to happen before the command runs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

PANE_VARIABLES = ("TMUX", "TMUX_PANE")


def write_env_file(environment: dict[str, str], directory: Path | None = None) -> Path:
    fd, path = tempfile.mkstemp(prefix="taskping-spawn-", suffix=".json", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp creates it 0600
        json.dump(environment, fh)
    return Path(path)


def launch_command(env_file: Path, command: list[str]) -> list[str]:
    return [sys.executable, "-m", "taskping.hooks.launch", str(env_file), *command]


def keep_pane_on_exit(environ: Mapping[str, str]) -> None:
    """``remain-on-exit on`` for the pane this runs in (best effort: no tmux, nothing to do)."""
    from taskping.tmux_server import TmuxServer, pane_from_environ

    where = pane_from_environ(environ)
    if where is not None:
        TmuxServer(where.socket).set_pane_option(where.pane, "remain-on-exit", "on", timeout=5.0)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m taskping.hooks.launch ENV_JSON COMMAND [ARGS...]", file=sys.stderr)
        return 2
    path, command = Path(argv[0]), argv[1:]
    try:
        environment = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"taskping launch: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    finally:
        path.unlink(missing_ok=True)
    for own in PANE_VARIABLES:
        if own in os.environ:
            environment[own] = os.environ[own]
    keep_pane_on_exit(os.environ)
    try:
        os.execvpe(command[0], command, environment)
    except OSError as exc:
        print(f"taskping: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
