"""`taskping send-outbox` — send queued emails now, retrying with backoff.

Started detached by hooks when no relay daemon runs. One sender at a time
(a lock file beside the session map holds its PID); it keeps going while rows
are pending and due within ``--max-seconds``, then exits, leaving anything
still failing queued with its reason for the next sender. Every failure is
printed with its reason, and the exit status is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import sys

HELP = "send queued notification emails over SMTP"
DESCRIPTION = __doc__


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=900.0,
        help="give up retrying after this long; rows stay queued (default: 900)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing on success (not even the config line)")


def run(args: argparse.Namespace) -> int:
    from taskping import log
    from taskping.cli.config_source import load
    from taskping.outgoing.send_now import send_now

    settings = load(args.env_file, quiet=args.quiet)
    settings.require("smtp_host", "email_from")
    log.configure(log_file=settings.log_path if not sys.stderr.isatty() else None)
    totals = send_now(settings, max_seconds=args.max_seconds, say=_say)
    if not args.quiet:
        print(f"sent {totals.sent}, retried {totals.retried}, failed {totals.failed}")
    # Not a success when a mail failed for good, or some are still unsent at the deadline (each
    # failure was printed above with its reason). A retry that later went through is fine.
    return 1 if totals.failed or totals.gave_up else 0


def _say(message_id: str, kind: str | None, what: str, reason: str) -> None:
    """One line on stderr per failure, naming the mail and the server's reason (hooks start this
    detached with stderr closed; the log has it too)."""
    shown = f" ({kind})" if kind else ""
    print(f"send-outbox: {message_id}{shown} {what}: {reason}", file=sys.stderr)
