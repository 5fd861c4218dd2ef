"""`taskping explain FILE.eml [--json]`: why a saved reply was (or would be) typed or not.

Runs the relay's own steps on the message (see :mod:`taskping.relay.explain`)
against a read-only copy of the current session map: no ledger write, no
keystroke, no mail. Prints one line per step with its verdict and reason,
then what would be typed.

Exit status: 0 when it would be typed; 1 when a step refuses or drops it;
2 on a usage or configuration error (unreadable file, missing SENDER_AUTH…).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "show, step by step, why a saved reply email would be typed or refused (changes nothing)"
DESCRIPTION = (
    "Run parse, screen, dedupe, authenticate, route, extract, replay and guard on a saved message "
    "(FILE.eml, '-' for stdin) exactly as the relay would, against a read-only copy of the session map: "
    "nothing is recorded, typed or sent. Exit 0: it would be typed; 1: refused or dropped; 2: usage or config error."
)
EXIT_TYPED, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help='print {"steps": [...], "would_type": ...} instead')
    parser.add_argument("file", metavar="FILE", help="the whole message as saved (.eml); '-' reads stdin")


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def run(args: argparse.Namespace) -> int:
    from taskping.cli.config_source import load
    from taskping.relay.explain import SnapshotError, explain, snapshot

    try:
        raw = _read(args.file)
    except OSError as exc:
        print(f"taskping explain: cannot read {args.file}: {exc.strerror or exc.__class__.__name__}", file=sys.stderr)
        return EXIT_USAGE
    settings = load(args.env_file)  # a ConfigError becomes exit 2 in main
    try:
        conn = snapshot(settings.session_map_path)
    except SnapshotError as exc:
        print(f"taskping explain: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = explain(raw, settings, conn)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        width = max(len(s.step) for s in result.steps)
        for s in result.steps:
            code = f" [{s.code}]" if s.code is not None else ""
            print(f"{'✓' if s.ok else '✗'} {s.step:<{width}}  {s.reason}{code}")
        if result.would_type is None:
            print("would type: nothing")
        else:
            print(f"would type into session {result.session}:")
            for line in result.would_type.splitlines() or [""]:
                print(f"  | {line}")
    return EXIT_TYPED if result.typed else EXIT_REFUSED
