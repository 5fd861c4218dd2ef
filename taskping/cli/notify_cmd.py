"""`taskping notify` — send a notification in a tracked session's thread."""

from __future__ import annotations

import argparse
import os
import sys

HELP = "send a notification in a tracked session's thread (from a script, a build, a cron job)"
DESCRIPTION = (
    "Email MESSAGE (or, with -, standard input) in the thread of a tracked session: the one this runs in "
    "(its tmux pane), or the one named with --session. A reply to it is typed into that session's pane, "
    "as a reply to Claude is. Example, at the end of a long build in a spawned session: "
    '`make test; taskping notify --title "make test: exit $?" "tests finished"`.'
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--session",
        metavar="NAME",
        help="the session to notify (as `taskping sessions` shows it; the prefix may be left out); "
        "default: the tracked session this tmux pane belongs to",
    )
    parser.add_argument(
        "--title",
        metavar="T",
        help="a title: the subject's text and the line above the message (default: the message's first line)",
    )
    parser.add_argument(
        "--plain", action="store_true", help="show the message as it is, in monospace (a log), instead of as markdown"
    )
    parser.add_argument("message", metavar="MESSAGE|-", help="the message (markdown), or - to read standard input")


def run(args: argparse.Namespace) -> int:
    from taskping.cli.config_source import load
    from taskping.hooks.notify import NotifyError, notify

    message = sys.stdin.read() if args.message == "-" else args.message
    if not message.strip() and not args.title:
        print("notify: the message is empty; pass MESSAGE, or - with text on standard input", file=sys.stderr)
        return 2
    settings = load(args.env_file)
    try:
        queued = notify(
            settings, message=message, title=args.title, session_name=args.session, plain=args.plain, environ=os.environ
        )
    except NotifyError as exc:
        print(f"notify: {exc}", file=sys.stderr)
        return 1
    how = "the relay sends it" if not queued.sender_started else "a sender was started for it"
    print(f"queued for {queued.session.name} ({how}); a reply is typed into its pane")
    return 0
