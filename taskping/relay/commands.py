"""Commands in a reply: a reply whose new text is exactly one line ``#help``, ``#status``,
``#screen [N]``, ``#esc`` or ``#close`` (case-insensitive, surrounding whitespace ignored).

The ``#`` keeps a command from ever being taken for a prompt or one of Claude's
``/`` slash commands: any other text (a second line, an unknown ``#word``, a
``#screen`` with a bad count) is a prompt, typed as today. Parsing only: the
pipeline runs the command (:mod:`taskping.relay.pipeline`) and answers it
(:mod:`taskping.relay.acknowledge`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from taskping.session_map.sessions import Session


class Name(StrEnum):
    HELP = "help"
    STATUS = "status"
    SCREEN = "screen"
    ESC = "esc"
    CLOSE = "close"


SCREEN_DEFAULT = 40
SCREEN_MAX = 200

#: What each command does, in the order ``#help`` lists them (the notification footer says the same).
HELP: tuple[tuple[str, str], ...] = (
    ("#help", "this list"),
    ("#status", "every session on this machine: name, project, state, last event, age"),
    ("#screen [N]", f"the last N lines of this session's terminal (default {SCREEN_DEFAULT}, max {SCREEN_MAX})"),
    ("#esc", "press Escape in this session (stops the current turn)"),
    ("#close", "end this session (types /exit; Claude must be idle)"),
)

_COMMAND = re.compile(r"#(help|status|esc|close|screen)(?:[ \t]+(\d{1,6}))?", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyCommand:
    """A parsed command: its name and, for ``screen``, how many lines."""

    name: Name
    lines: int = 0

    def describe(self) -> str:
        return f"#{self.name} {self.lines}" if self.name == Name.SCREEN else f"#{self.name}"


def parse_command(text: str) -> ReplyCommand | None:
    """The command ``text`` (a reply's extracted new text) is, or None: it is a prompt."""
    match = _COMMAND.fullmatch(text.strip())
    if match is None:
        return None
    name = Name(match.group(1).lower())
    count = match.group(2)
    if name != Name.SCREEN:
        return None if count is not None else ReplyCommand(name)
    lines = SCREEN_DEFAULT if count is None else int(count)
    return ReplyCommand(name, max(1, min(lines, SCREEN_MAX)))


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain_lines(lines: list[str], n: int) -> list[str]:
    """The last ``n`` lines of a terminal, ANSI escapes and control characters removed, trailing
    blank rows (an unused bottom of the screen) dropped."""
    clean = [_CONTROL.sub("", _ANSI.sub("", line)).rstrip() for line in lines]
    while clean and not clean[-1]:
        clean.pop()
    return clean[-n:] if n > 0 else []


def help_lines() -> list[str]:
    """The answer to ``#help``."""
    return [
        "Reply with exactly one of these lines (nothing else in the reply) to run a command:",
        *(f"{write} — {does}" for write, does in HELP),
        "Anything else is typed into Claude as a prompt.",
    ]


def age(seconds: float) -> str:
    """``42 s``, ``7 min``, ``3 h``, ``2 d``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h"
    return f"{seconds // 86400:.0f} d"


def status_lines(all_sessions: list[Session], at: float) -> list[str]:
    """The answer to ``#status``: one line per live session on this machine."""
    if not all_sessions:
        return ["No live sessions on this machine."]
    lines = [f"{len(all_sessions)} live session(s) on this machine:"]
    for s in all_sessions:
        event = s.last_event or "no event yet"
        since = s.last_event_at or s.created_at
        lines.append(f"{s.name} — {s.cwd or '?'} — {s.state} — {event} {age(at - since)} ago")
    return lines


__all__ = [
    "HELP",
    "SCREEN_DEFAULT",
    "SCREEN_MAX",
    "Name",
    "ReplyCommand",
    "age",
    "help_lines",
    "parse_command",
    "plain_lines",
    "status_lines",
]
