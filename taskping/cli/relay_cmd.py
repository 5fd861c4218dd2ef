"""`taskping relay` / `taskping-relay` — run the reply relay daemon."""

from __future__ import annotations

import argparse

HELP = "run the reply relay daemon (same as taskping-relay)"
DESCRIPTION = (
    "Read replies over IMAP, check they are genuinely from an allowed sender, extract the new text "
    "and type it into the right Claude Code session; send the outbox. Runs until SIGTERM; "
    "--once processes what is in the mailbox and exits (for cron and tests)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="process the mailbox once, send the outbox, exit")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))


def run(args: argparse.Namespace) -> int:
    from taskping import log
    from taskping.cli.config_source import load
    from taskping.relay.daemon import Relay

    relay = Relay(load(args.env_file))
    mode = relay.check()
    log.configure(level=args.log_level)
    if mode == "none":
        log.get_logger(component="relay").warning(
            "sender_auth_none",
            detail="SENDER_AUTH=none: replies are accepted on the From address alone; anyone who can forge it can type",
        )
    return relay.run_once() if args.once else relay.run()
