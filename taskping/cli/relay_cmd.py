"""`taskping relay` / `taskping-relay` — run the reply relay daemon.

Every runtime failure ends in one line naming what to check and a distinct
exit status; the traceback is printed only with ``--log-level debug``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskping.config import Settings

HELP = "run the reply relay daemon (same as taskping-relay)"
DESCRIPTION = (
    "Read replies over IMAP, check they are genuinely from an allowed sender, extract the new text "
    "and type it into the right Claude Code session; send the outbox. Runs until SIGTERM; "
    "--once processes what is in the mailbox and exits (for cron and tests)."
)
EPILOG = (
    "exit status: 0 done; 1 unexpected error; 2 configuration (a key, IMAP_FOLDER); "
    "3 cannot connect (host, port, TLS); 4 login rejected (--once); "
    "78 login rejected 3 times in a row (the daemon; systemd does not restart it)"
)
UNEXPECTED_EXIT = 1
AUTH_GAVE_UP_EXIT = 78  # EX_CONFIG: RestartPreventExitStatus=78 in the unit


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--once", action="store_true", help="process the mailbox once, send the outbox, exit")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.add_argument(
        "--log-format", default="auto", choices=("auto", "human", "json"),
        help="auto: human lines on a terminal, JSON lines otherwise (the journal)",
    )


def run(args: argparse.Namespace) -> int:
    from taskping import log
    from taskping.cli.config_source import describe, load
    from taskping.relay.daemon import Relay

    settings = load(args.env_file, quiet=True)
    log.configure(level=args.log_level, fmt=args.log_format)
    logger = log.get_logger(component="relay")
    log.say(describe(settings.env_file), "config", file=str(settings.env_file) if settings.env_file else None)
    relay = Relay(settings)
    try:
        mode = relay.check()
        for warning in start_warnings(settings, mode):
            log.say(f"relay: warning: {warning}", "config_warning", level="warning")
        return relay.run_once() if args.once else relay.run()
    except Exception as exc:  # every failure becomes one line and an exit status
        line, code = explain(exc, settings, debug=args.log_level == "debug")
        if args.log_level == "debug":
            logger.exception("relay_failed_traceback")
        log.say(line, "relay_failed", level="error", exit=code)
        return code


def start_warnings(settings: Settings, sender_auth: str) -> list[str]:
    """What is allowed but risky, said at every start."""
    out: list[str] = []
    if settings.imap_secure_note:
        out.append(settings.imap_secure_note)
    if settings.imap_secure == "none":
        out.append(
            f"IMAP_SECURE=none: the password for {settings.imap_user} and every reply cross the network "
            "in clear; use ssl or starttls unless this network is trusted"
        )
    if sender_auth == "none":
        out.append("SENDER_AUTH=none: replies are accepted on the From address alone; anyone who can forge it can type")
    return out


def explain(exc: BaseException, settings: Settings, *, debug: bool) -> tuple[str, int]:
    """The one line and exit status for a failure of the relay (a config error reads as everywhere else)."""
    from taskping.config import CONFIG_ERROR_EXIT, ConfigError
    from taskping.relay import fetch, mail_errors

    if isinstance(exc, ConfigError):
        return str(exc), CONFIG_ERROR_EXIT
    if isinstance(exc, fetch.AuthRejected):
        return f"relay: {exc}", AUTH_GAVE_UP_EXIT
    if isinstance(exc, mail_errors.MailFailure):
        return f"relay: {exc.line}", exc.exit_code
    if isinstance(exc, fetch.RECOVERABLE):
        failure = mail_errors.lost_connection(exc, host=settings.imap_host, port=settings.imap_port)
        return f"relay: {failure.line}", failure.exit_code
    hint = "" if debug else " (run with --log-level debug for the traceback)"
    text = str(exc)[:200]  # an exception's text is not ours to print whole (see log.UNCUT_KEYS)
    return f"relay: unexpected error: {exc.__class__.__name__}: {text}{hint}", UNEXPECTED_EXIT
