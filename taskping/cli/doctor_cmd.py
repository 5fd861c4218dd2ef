"""`taskping doctor` — check the whole setup, one ✓/✗ line per check with the fix under each ✗.

Checks, in order: the config file and its permissions, every key; IMAP connect
(TLS), login, folder, IDLE; the authserv-ids on recent mail from each allowed
sender next to TRUSTED_AUTHSERV_ID; SMTP connect and login (``--send-test``
mails EMAIL_TO); tmux and claude with versions; the hooks in Claude Code's
settings and the env file they read; the relay's heartbeat; the outbox; sessions
whose pane is gone. Exit status 1 when any check fails, 0 otherwise.
"""

from __future__ import annotations

import argparse

HELP = "check the setup end to end: one line per check, the fix under each failure"
DESCRIPTION = __doc__


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checks as JSON (for scripts)")
    parser.add_argument("--send-test", action="store_true", help="also send a real test message to EMAIL_TO")
    parser.add_argument("--debug", action="store_true", help="print the traceback of a check that could not run")


def run(args: argparse.Namespace) -> int:
    from taskping.doctor import render
    from taskping.doctor.run import run_all

    checks = run_all(args.env_file, send_test=args.send_test, debug=args.debug)
    print(render.as_json(checks) if args.json else render.human(checks))
    return 1 if any(c.status == "fail" for c in checks) else 0
