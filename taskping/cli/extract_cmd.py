"""`taskping extract`: print the new text of a reply email, or why it is refused.

Exit status: 0 with the text on stdout; 3 with the reason on stderr when the
extractor refuses (nothing new, or new text it cannot tell apart from the
quote); 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "print the new text of a reply email (what would be typed)"
DESCRIPTION = (
    "Print the new text of a reply. FILE is a whole RFC 5322 message (--format eml, the default) "
    "or a text / HTML body; '-' reads stdin. With --command, print what would be typed instead "
    "(a ``` fenced block, when present, is the command; a CMD: prefix is removed). "
    "Exits 3 with the reason on stderr when the extractor refuses."
)
EXIT_REFUSED = 3


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("eml", "text", "html"), default="eml", help="what FILE holds (default: eml)"
    )
    parser.add_argument(
        "--command", action="store_true", help="print what would be typed (fence and CMD: rules applied)"
    )
    parser.add_argument(
        "--sent",
        metavar="PATH",
        action="append",
        default=[],
        help="text of a notification TaskPing sent in this thread (a quoted copy of it is quote); repeatable",
    )
    parser.add_argument("file", metavar="FILE", help="the message or body; '-' reads stdin")


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def run(args: argparse.Namespace) -> int:
    from taskping.extract import extract_eml, extract_reply, to_command

    try:
        data = _read(args.file)
        sent = [Path(p).read_text(encoding="utf-8", errors="replace") for p in args.sent]
    except OSError as exc:
        print(f"taskping extract: {exc}", file=sys.stderr)
        return 2
    if args.format == "eml":
        result = extract_eml(data, sent_texts=sent)
    else:
        body = data.decode("utf-8", errors="replace")
        result = (
            extract_reply(html=body, sent_texts=sent)
            if args.format == "html"
            else extract_reply(text=body, sent_texts=sent)
        )
    if not result.ok or result.text is None:
        print(f"taskping extract: refused: {result.refusal}", file=sys.stderr)
        return EXIT_REFUSED
    out = to_command(result.text) if args.command else result.text
    if args.command and not out.strip():
        print("taskping extract: refused: the command is empty", file=sys.stderr)
        return EXIT_REFUSED
    sys.stdout.write(out + "\n")
    return 0
