"""Commands in a reply: a reply whose new text is exactly one line ``#help``, ``#status``,
``#screen [N]``, ``#esc`` or ``#close`` (case-insensitive, surrounding whitespace ignored),
or starts with ``#new [@HOST] DIR`` (the rest of that line and the lines after it are the
new session's first prompt).

``#help``, ``#status`` and ``#new`` also work in a fresh email (:data:`FRESH`): one that
answers no TaskPing mail, sent to TaskPing's address.

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

from taskping.extract import extract_reply, to_command
from taskping.relay.parse import InboundMail
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import Refusal


class Name(StrEnum):
    HELP = "help"
    STATUS = "status"
    SCREEN = "screen"
    ESC = "esc"
    CLOSE = "close"
    NEW = "new"


#: The commands a fresh email (not a reply to a session) may run: the others need a session.
FRESH: frozenset[Name] = frozenset({Name.HELP, Name.STATUS, Name.NEW})

SCREEN_DEFAULT = 40
SCREEN_MAX = 200

#: What each command does, in the order ``#help`` lists them (the notification footer says the same).
HELP: tuple[tuple[str, str], ...] = (
    ("#help", "this list"),
    ("#status", "every session on this machine: name, project, state, last event, age"),
    ("#screen [N]", f"the last N lines of this session's terminal (default {SCREEN_DEFAULT}, max {SCREEN_MAX})"),
    ("#esc", "press Escape in this session (stops the current turn)"),
    ("#close", "end this session (types /exit; Claude must be idle, no replies waiting)"),
    (
        "#new [@HOST] DIR [prompt]",
        (
            "start a Claude session in tmux in DIR (inside ALLOWED_ROOTS) and type the prompt; "
            "also works in a new email, like #help and #status"
        ),
    ),
)

_COMMAND = re.compile(r"#(help|status|esc|close|screen)(?:[ \t]+(\d{1,6}))?", re.IGNORECASE)


#: ``#new [@HOST] DIR [prompt]``: DIR is one word or a double-quoted path; the prompt may go on over lines.
_NEW = re.compile(
    r'#new(?:[ \t]+@(?P<host>[^\s@]+))?(?:[ \t]+(?:"(?P<quoted>[^"\n]+)"|(?P<word>[^\s"]+)))?(?P<rest>(?:[ \t\n].*)?)',
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class ReplyCommand:
    """A parsed command: its name; for ``screen``, how many lines; for ``new``, the machine it
    names (``@HOST``, or None), the directory as written ("" when missing) and the first prompt."""

    name: Name
    lines: int = 0
    host: str | None = None
    directory: str = ""
    prompt: str = ""

    def describe(self) -> str:
        if self.name == Name.SCREEN:
            return f"#{self.name} {self.lines}"
        if self.name == Name.NEW:
            at = f" @{self.host}" if self.host else ""
            return f"#new{at} {self.directory}".rstrip() + (" (with a prompt)" if self.prompt else "")
        return f"#{self.name}"


def parse_command(text: str) -> ReplyCommand | None:
    """The command ``text`` (a reply's extracted new text) is, or None: it is a prompt."""
    new = _NEW.fullmatch(text.strip())
    if new is not None:
        return ReplyCommand(
            Name.NEW,
            host=new.group("host"),
            directory=new.group("quoted") or new.group("word") or "",
            prompt=new.group("rest").strip(),
        )
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


_SUBJECT_PREFIX = re.compile(r"^(?:(?:re|fwd?|aw|sv|vs)\s*:\s*)+", re.IGNORECASE)


def fresh_text(mail: InboundMail) -> str | None:
    """The command text of a fresh email (one that answers no session): its new text, or, when the
    body has none (empty, or only a signature), its subject when that starts with ``#``; else None."""
    extraction = extract_reply(text=mail.text, html=mail.html, sent_texts=[])
    if extraction.ok and extraction.text:
        return to_command(extraction.text)
    subject = _SUBJECT_PREFIX.sub("", mail.subject.strip())
    return subject if subject.startswith("#") else None


def not_a_command(not_a_reply: Refusal) -> Refusal:
    """Route's ``not-a-reply`` for a fresh email that is no command it may run: saying what would be."""
    return Refusal(
        not_a_reply.step,
        not_a_reply.code,
        f"{not_a_reply.reason}; a new email to TaskPing runs only #help, #status or #new "
        "(send #help for the list); reply to a notification to type into its session",
    )


def help_lines() -> list[str]:
    """The answer to ``#help``."""
    return [
        "Reply with exactly one of these lines (nothing else in the reply) to run a command:",
        *(f"{write} — {does}" for write, does in HELP),
        "Anything else is typed into Claude as a prompt.",
        (
            "In a new email to TaskPing (not a reply), #help, #status and #new work: in the body, or in the "
            "subject when the body is empty. #new always uses tmux (tmux attach -t NAME); with several "
            "machines on this mailbox, name one: #new @HOST DIR."
        ),
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


def status_lines(all_sessions: list[Session], at: float, machine: str = "this machine") -> list[str]:
    """The answer to ``#status``: one line per live session on this machine (named ``machine``)."""
    if not all_sessions:
        return [f"No live sessions on {machine}."]
    lines = [f"{len(all_sessions)} live session(s) on {machine}:"]
    for s in all_sessions:
        event = s.last_event or "no event yet"
        since = s.last_event_at or s.created_at
        lines.append(f"{s.name} — {s.cwd or '?'} — {s.state} — {event} {age(at - since)} ago")
    return lines


__all__ = [
    "FRESH",
    "HELP",
    "SCREEN_DEFAULT",
    "SCREEN_MAX",
    "Name",
    "ReplyCommand",
    "age",
    "fresh_text",
    "help_lines",
    "not_a_command",
    "parse_command",
    "plain_lines",
    "status_lines",
]
