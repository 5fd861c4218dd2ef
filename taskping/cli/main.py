"""`taskping` dispatcher.

Each subcommand lives in its own module exposing ``HELP`` (one line),
``configure(parser)`` and ``run(args) -> int``. A ``ConfigError`` raised by a
command becomes one line on stderr and exit status 2, here, for all of them (so does a session map
written by a newer TaskPing, ``SchemaTooNew``: the file is configuration too); a ``MailFailure``
(a mail server refused) one line and its own status (3 cannot connect, 4 login rejected). Only the
chosen module is imported, so `taskping hook` (on Claude Code's critical path) stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from types import ModuleType

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, one-line help)
    "hook": ("taskping.cli.hook_cmd", "handle a Claude Code hook event (JSON on stdin); never fails Claude"),
    "spawn": ("taskping.cli.spawn_cmd", "start a tracked Claude Code session in a named tmux session"),
    "sessions": ("taskping.cli.sessions_cmd", "list tracked sessions"),
    "install-hooks": ("taskping.cli.install_hooks_cmd", "add TaskPing's hooks to Claude Code's settings.json"),
    "send-outbox": ("taskping.cli.send_outbox_cmd", "send queued notification emails over SMTP"),
    "relay": ("taskping.cli.relay_cmd", "run the reply relay daemon (same as taskping-relay)"),
    "extract": ("taskping.cli.extract_cmd", "print the new text of a reply email (what would be typed)"),
    "demo": ("taskping.cli.demo_cmd", "see the whole loop in one command (local mail server, no account)"),
    "init": ("taskping.cli.init_cmd", "write the config for your mail provider and test the logins"),
    "explain": ("taskping.cli.explain_cmd", "show step by step why a saved reply would be typed or refused"),
    "doctor": ("taskping.cli.doctor_cmd", "check the setup end to end: one line per check, the fix under each failure"),
    "install-service": ("taskping.cli.install_service_cmd", "write the relay's systemd user unit"),
    "notify": ("taskping.cli.notify_cmd", "send a notification in a tracked session's thread (a reply is typed there)"),
}


def _top_help() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        "usage: taskping [--env-file PATH] COMMAND [ARGS...]",
        "",
        "Drive Claude Code sessions from your phone by email.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += [
        "",
        "Configuration is read from the environment overlaid on an env file:",
        "--env-file PATH, else $TASKPING_ENV_FILE, else ~/.config/taskping/env (never ./.env).",
        "A file holding a password must be private (chmod 600). Files TaskPing writes are 0600.",
        "Run `taskping COMMAND --help` for a command's options.",
    ]
    return "\n".join(lines)


def build_parser(name: str) -> tuple[argparse.ArgumentParser, ModuleType]:
    import argparse

    module_name, help_ = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"taskping {name}", description=getattr(module, "DESCRIPTION", help_))
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help="env file to read configuration from (default: $TASKPING_ENV_FILE, else ~/.config/taskping/env)",
    )
    module.configure(parser)
    return parser, module


def hook_fast_path(env_file: list[str], argv: list[str]) -> int | None:
    """Run ``[--env-file PATH] hook EVENT`` (the shape `install-hooks` writes into Claude Code's
    settings) without argparse: importing it and building a parser costs ~7 ms (gettext, locale,
    shutil) on Claude's critical path. Any other shape returns None and goes through argparse."""
    if len(argv) != 2 or argv[0] != "hook" or argv[1].startswith("-"):
        return None
    from types import SimpleNamespace

    from taskping.cli import hook_cmd

    path = env_file[1] if len(env_file) == 2 else env_file[0].partition("=")[2] if env_file else None
    return int(hook_cmd.run(SimpleNamespace(env_file=path, event=argv[1])) or 0)  # type: ignore[arg-type]  # no argparse on the hook's fast path


def main(argv: list[str] | None = None) -> int:
    """The `taskping` console script and `python -m taskping` (the hook too).

    Run as the program (``argv`` None: read from ``sys.argv``), the process becomes private
    before anything is created: ``umask 077``, so SQLite's side files, lock files and logs are
    0600 (see :mod:`taskping.private_files`). A caller passing ``argv`` in-process keeps its umask.
    """
    if argv is None:
        from taskping.private_files import restrict_umask

        restrict_umask()
    argv = list(sys.argv[1:] if argv is None else argv)
    # A leading --env-file applies to whichever command follows.
    env_file: list[str] = []
    if len(argv) >= 2 and argv[0] == "--env-file":
        env_file, argv = argv[:2], argv[2:]
    elif argv and argv[0].startswith("--env-file="):
        env_file, argv = [argv[0]], argv[1:]
    fast = hook_fast_path(env_file, argv)
    if fast is not None:
        return fast
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_top_help())
        return 0
    if argv[0] in ("-V", "--version"):
        from taskping import __version__

        print(f"taskping {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"taskping: unknown command {name!r} (try `taskping --help`)", file=sys.stderr)
        return 2
    parser, module = build_parser(name)
    args = parser.parse_args(env_file + argv[1:])
    from taskping.config import CONFIG_ERROR_EXIT, ConfigError

    try:
        return int(module.run(args) or 0)
    except ConfigError as exc:  # a missing or bad key: one line naming it, for every command
        print(exc, file=sys.stderr)
        return CONFIG_ERROR_EXIT
    except Exception as exc:
        from taskping.mail_errors import MailFailure
        from taskping.session_map.db import SchemaTooNew

        if isinstance(exc, SchemaTooNew):  # the file and what to do, in one line
            print(f"{name}: {exc}", file=sys.stderr)
            return CONFIG_ERROR_EXIT
        if isinstance(exc, MailFailure):  # a mail server said no: one line naming what to check
            print(f"{name}: {exc.line}", file=sys.stderr)
            return exc.exit_code
        raise


def relay_main() -> int:
    """`taskping-relay` console script (private like `taskping`: ``umask 077``)."""
    from taskping.private_files import restrict_umask

    restrict_umask()
    return main(["relay", *sys.argv[1:]])
