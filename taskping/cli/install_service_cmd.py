"""`taskping install-service` — write the relay's systemd user unit.

Writes ``~/.config/systemd/user/taskping-relay.service`` (``Type=notify``,
``Restart=on-failure``, ``RestartPreventExitStatus=78``, the env file that is
in use now, the journal) and prints how to enable it. An existing unit is
replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "write the relay's systemd user unit (taskping-relay.service)"
DESCRIPTION = __doc__


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="replace an existing unit file")
    parser.add_argument("--print", dest="print_only", action="store_true", help="print the unit instead of writing it")


def run(args: argparse.Namespace) -> int:
    from taskping import service
    from taskping.cli.config_source import load
    from taskping.config import ConfigError

    settings = load(args.env_file)
    if settings.env_file is None:
        raise ConfigError(
            "--env-file",
            "the service needs an env file; none was given or found",
            "install -m 600 .env.example ~/.config/taskping/env",
        )
    text = service.unit_text(service.relay_executable(), settings.env_file)
    if args.print_only:
        print(text, end="")
        return 0
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    try:
        done = service.install(service.unit_path(config_home), text, force=args.force)
    except service.UnitExists as exc:
        print(f"install-service: {exc}", file=sys.stderr)
        return 1
    for line in service.next_steps(done.path):
        print(line)
    return 0
