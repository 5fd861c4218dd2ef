"""`taskping hook EVENT` — called by Claude Code with hook JSON on stdin.

Always exits 0: a hook must never break or slow Claude. Its own errors go to
the TaskPing log beside the session map (or stderr when the config is bad).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from taskping.hooks.payload import ALL_EVENTS

if TYPE_CHECKING:  # `taskping hook` runs without argparse (see taskping.cli.main.hook_fast_path)
    import argparse

    from taskping.config import Settings
    from taskping.hooks.payload import HookEnv, HookInput

HELP = "handle a Claude Code hook event (JSON on stdin); never fails Claude"
DESCRIPTION = (
    "Record a Claude Code hook event in the session map and queue its notification email. "
    "Installed by `taskping install-hooks`; reads the hook JSON on stdin and always exits 0."
)


def configure(parser: argparse.ArgumentParser) -> None:
    # Not `choices=`: argparse would exit 2 on an unknown event, and Claude Code treats exit 2 from
    # a hook as a blocking error (a Stop hook would keep Claude from stopping). HookInput.parse
    # rejects it instead, and the error is logged like any other.
    parser.add_argument("event", metavar="EVENT", help=f"the hook event name: {', '.join(ALL_EVENTS)}")


def _log_error(settings: object | None, event: str, error: BaseException) -> None:
    try:
        from taskping import log
        from taskping.config import ConfigError

        log_file = getattr(settings, "log_path", None)
        log.configure(log_file=log_file)
        logger = log.get_logger(component="hook", hook_event=event)
        if isinstance(error, ConfigError):  # in fields: the log cuts long values, and the fix must survive
            logger.error("hook_config_error", key=error.key, problem=error.problem, fix=error.fix)
            return
        logger.error("hook_failed", error=f"{error.__class__.__name__}: {error}")
    except Exception:  # noqa: BLE001 - the last resort must not raise
        print(f"taskping hook {event}: {error.__class__.__name__}: {error}", file=sys.stderr)


#: Outside tmux every event is skipped for the same reason: it is logged when Claude starts and
#: when a turn ends (where a mail was expected), not on every prompt, in front of Claude.
_NOT_TRACKED_LOGGED_ON = ("SessionStart", "Stop")


def _log_skip(settings: object, event: str, reason: str) -> None:
    """One info line saying why this hook did nothing (or recorded but mailed nothing)."""
    try:
        from taskping import log

        log.configure(log_file=getattr(settings, "log_path", None))
        log.get_logger(component="hook", hook_event=event).info("hook_skipped", reason=reason)
    except Exception:  # noqa: BLE001 - logging must not break Claude either
        print(f"taskping hook {event}: {reason}", file=sys.stderr)


def _approval(hook: HookInput, env: HookEnv, settings: Settings) -> int:
    """PermissionRequest: wait for the answer by email; print Claude's decision, or nothing."""
    from taskping import log
    from taskping.hooks.approval import handle_approval

    outcome = handle_approval(hook, env, settings)
    if outcome.output is not None:
        sys.stdout.write(outcome.output + "\n")
        sys.stdout.flush()
    log.configure(log_file=settings.log_path)
    log.get_logger(component="hook", hook_event=hook.event).info(
        "approval_done",
        approval=outcome.approval_id,
        decided=outcome.output is not None,
        reason=outcome.reason,
        waited=round(outcome.waited, 3) if outcome.waited is not None else None,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    settings = None
    try:
        from taskping.config import load_settings
        from taskping.hooks.handler import NOT_IN_TMUX, handle
        from taskping.hooks.payload import HookEnv, HookInput

        settings = load_settings(args.env_file)
        hook = HookInput.parse(sys.stdin.buffer.read(), args.event)
        if hook.event == "PermissionRequest":
            return _approval(hook, HookEnv.from_environ(os.environ), settings)
        outcome = handle(hook, HookEnv.from_environ(os.environ), settings)
        if outcome.skipped and (outcome.skipped != NOT_IN_TMUX or args.event in _NOT_TRACKED_LOGGED_ON):
            _log_skip(settings, args.event, outcome.skipped)
    except Exception as exc:  # noqa: BLE001 - never break Claude
        _log_error(settings, args.event, exc)
    return 0
