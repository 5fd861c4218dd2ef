"""`taskping relay` / `taskping-relay` — run the reply relay daemon.

Every runtime failure ends in one line naming what to check and a distinct
exit status; the traceback is printed only with ``--log-level debug``.
"""

from __future__ import annotations

import argparse

HELP = "run the reply relay daemon (same as taskping-relay)"
DESCRIPTION = (
    "Read replies over IMAP, check they are genuinely from an allowed sender, extract the new text "
    "and type it into the right Claude Code session; send the outbox. Runs until SIGTERM; "
    "--once processes what is in the mailbox and exits (for cron and tests)."
)
EPILOG = (
    "exit status: 0 done; 1 unexpected error; 2 configuration (a key, IMAP_FOLDER, a session map "
    "written by a newer TaskPing); "
    "3 cannot connect (host, port, TLS); 4 login rejected (--once); "
    "78 login rejected 3 times in a row (the daemon; systemd does not restart it)"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--once", action="store_true", help="process the mailbox once, send the outbox, exit")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=("auto", "human", "json"),
        help="auto: human lines on a terminal, JSON lines otherwise (the journal)",
    )


def run(args: argparse.Namespace) -> int:
    from taskping import log
    from taskping.cli.config_source import describe, load
    from taskping.relay.daemon import Relay
    from taskping.relay.exit_status import explain, start_warnings

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
    except Exception as exc:
        line, code = explain(exc, settings, debug=args.log_level == "debug")
        if args.log_level == "debug":
            logger.exception("relay_failed_traceback")
        log.say(line, "relay_failed", level="error", exit=code)
        return code
