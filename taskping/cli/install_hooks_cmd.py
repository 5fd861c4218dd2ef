"""`taskping install-hooks` — register TaskPing in Claude Code's settings.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "add TaskPing's hooks to Claude Code's settings.json"
DESCRIPTION = (
    "Merge TaskPing's hooks (SessionStart, UserPromptSubmit, Stop, Notification, SessionEnd) into "
    "Claude Code's settings.json. Other hooks are kept, running it twice changes nothing, a backup is "
    "written before any change, and the commands use absolute paths and carry the env file."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settings",
        metavar="PATH",
        type=Path,
        default=Path.home() / ".claude" / "settings.json",
        help="Claude Code settings file (default: ~/.claude/settings.json)",
    )
    parser.add_argument("--uninstall", action="store_true", help="remove TaskPing's hooks instead")
    parser.add_argument(
        "--force",
        action="store_true",
        help="install even though EMAIL_TO or EMAIL_FROM is not set (the hooks then track sessions but mail nothing)",
    )


def run(args: argparse.Namespace) -> int:
    from taskping.cli.config_source import load
    from taskping.config import CONFIG_ERROR_EXIT
    from taskping.hooks.handler import taskping_command
    from taskping.hooks.install import SettingsFileError, install

    # Loaded, not just located: a file every hook would refuse (a bad value, a password others
    # can read) is refused here, once, instead of being baked into every hook command.
    settings = load(args.env_file)
    env_file = settings.env_file
    missing = [
        key for key, value in (("EMAIL_TO", settings.email_to), ("EMAIL_FROM", settings.email_from)) if not value
    ]
    if missing and not args.uninstall and not args.force:
        # Hooks installed without addresses record every turn and mail nothing: refuse up front.
        where = str(env_file) if env_file else "the environment (no env file found)"
        print(
            f"install-hooks: {' and '.join(missing)} not set in {where}: the hooks would mail nothing; "
            "set it, or pass --force",
            file=sys.stderr,
        )
        return CONFIG_ERROR_EXIT
    try:
        result = install(
            args.settings.expanduser(),
            taskping_command(),
            env_file,
            uninstall=args.uninstall,
            approval_timeout=settings.approval_timeout if settings.approvals == "email" else None,
        )
    except SettingsFileError as exc:
        print(f"install-hooks: {exc}", file=sys.stderr)
        return 1
    if not result.changed:
        print(f"{result.path}: already up to date")
        return 0
    verb = "removed TaskPing hooks from" if args.uninstall else "installed TaskPing hooks into"
    print(f"{verb} {result.path}" + (f" (backup: {result.backup})" if result.backup else ""))
    if not args.uninstall:
        print(f"events: {', '.join(result.events)}; env file: {env_file or '(none: environment only)'}")
    return 0
