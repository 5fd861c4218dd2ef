"""`taskping demo` — see the whole loop in one command, with no account and no network."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

HELP = "see the whole loop in one command: local mail server, relay, Claude Code, a pretend phone"
DESCRIPTION = """\
Run TaskPing's whole loop once, end to end, on real parts on 127.0.0.1 and in a temp dir:
an IMAP server with IDLE (pymap) and an SMTP server (aiosmtpd) that, like a mail provider,
stamps an Authentication-Results verdict which the relay checks (SENDER_AUTH=authres,
TRUSTED_AUTHSERV_ID=mx.taskping-demo.test); a tiny local model endpoint; the real
taskping-relay and the real hooks in a throw-away HOME; Claude Code started with
`taskping spawn` in a private tmux server. Then it plays the phone: waits for the
notification email, replies the way a phone mail app would, shows the text arriving in the
pane, the acknowledgement, and Claude's answer. Each step is printed with its time.

Nothing of your own configuration, Claude settings or tmux server is read or changed, and no
login or API key is needed. When `claude` is not on PATH (and no --claude is given) a clearly
labelled stand-in program takes its place so the loop still runs.

Exit status: 0 when every step worked, 1 when one failed (the step is named), 130 on Ctrl-C.
Ctrl-C at any time stops everything the demo started and removes its temp dir.

steps (names for --fail-at): mail, model, config, relay, session, prompt, notification,
reply, typed, ack, answer."""


def configure(parser: argparse.ArgumentParser) -> None:
    from taskping.demo.steps import STEPS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--claude", metavar="PATH", help="the claude binary to run (default: `claude` on PATH)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave everything running afterwards: prints how to `tmux -S … attach` and lets you send more "
        "replies by typing them; Ctrl-C stops it",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long any one step may wait (default: 60)",
    )
    parser.add_argument(
        "--fail-at",
        choices=list(STEPS),
        metavar="STEP",
        help="make STEP fail on purpose, to see (or test) how a failure is reported",
    )


class _Stop(BaseException):
    """SIGTERM, handled like Ctrl-C: tear down what was started. A BaseException, like
    KeyboardInterrupt, so no step mistakes it for a failure of its own."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stop()


def run(args: argparse.Namespace) -> int:
    if args.env_file:
        print("demo: --env-file is not used: the demo writes its own throw-away config", file=sys.stderr)
    if args.timeout <= 0:
        print("demo: --timeout must be a positive number of seconds", file=sys.stderr)
        return 2
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")  # ✓ and │ on a terminal that cannot show them
    from taskping.demo.run import Demo, Options
    from taskping.demo.steps import Printer, StepFailed

    claude = str(Path(args.claude).expanduser()) if args.claude else None
    printer = Printer(fail_at=args.fail_at)
    signal.signal(signal.SIGTERM, _on_sigterm)
    demo = Demo(Options(claude=claude, keep=args.keep, fail_at=args.fail_at, timeout=args.timeout), printer)
    try:
        demo.run()
        if args.keep:
            demo.keep()
        return 0
    except StepFailed as exc:
        printer.say(f"demo failed at step '{exc.key}': {exc.reason}")
        return 1
    except (KeyboardInterrupt, _Stop):
        printer.say("\ninterrupted: stopping everything the demo started")
        return 130
    except Exception as exc:  # noqa: BLE001 - outside any step (e.g. --keep's input): one line, then teardown
        printer.say(f"demo failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the teardown short
        demo.stop()
