"""Turn reply text from an email into text that is safe to type into Claude Code.

The text will be typed into a terminal where Claude Code reads keystrokes, so
this is the last place where an attacker-controlled email can be defused:

* control characters are removed: every C0 byte except LF and TAB (NUL, ESC,
  BEL, ...), DEL and the C1 range U+0080-U+009F. Removing ESC also kills a
  bracketed-paste terminator ``ESC[201~`` (only the harmless ``[201~`` text
  stays);
* bidi overrides/isolates (U+202A-U+202E, U+2066-U+2069) and zero-width
  characters (U+200B-U+200D, U+2060, U+FEFF) are removed, so what the user
  read in their mail client is what gets typed;
* CRLF and lone CR become LF (CR would press Enter and submit early);
* leading blank lines and trailing whitespace are dropped;
* Claude Code looks at the start of the input: ``!`` starts bash mode (runs
  a shell command with no permission prompt) and ``/`` a slash command. A
  leading ``/name`` is kept only when ``name`` is in
  ``allowed_slash_commands`` and a leading ``!`` only with
  ``allow_shell_escape``; otherwise the first word is wrapped in backticks
  (``/config x`` -> ```/config` x``) and goes to the model as text.
  A leading *space* is not enough: claude 2.1.328 trims the input on submit
  and then runs `` /config ...`` as the ``/config`` command (observed; the
  space does stop bash mode, which is decided per keystroke, but relying on
  that would be fragile);
* a final backslash would turn Enter into "insert newline", so a trailing
  ``\\`` is followed by a space.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

NEUTRALISER = "`"  # wraps the first word: a backtick is not whitespace, so claude's trim keeps it first

_BIDI = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_ZERO_WIDTH = frozenset(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
_KEPT_C0 = frozenset(["\n", "\t"])


def is_control(char: str) -> bool:
    """True for a character that must never reach the terminal."""
    code = ord(char)
    if code < 0x20:
        return char not in _KEPT_C0
    return code == 0x7F or 0x80 <= code <= 0x9F


def forbidden_characters(text: str) -> set[str]:
    """The characters of ``text`` the guard would remove (empty if none)."""
    return {c for c in text if is_control(c) or c in _BIDI or c in _ZERO_WIDTH}


_SLASH_NAME = re.compile(r"/(\S*)")


@dataclass(frozen=True)
class GuardChange:
    """One thing the guard changed, for the audit log."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True)
class GuardedText:
    """The result of :func:`guard_text`: the text to type and what changed."""

    text: str
    changes: tuple[GuardChange, ...] = ()
    slash_command: str | None = None  # name of an allowed slash command the text starts with

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def empty(self) -> bool:
        return not self.text.strip()

    def codes(self) -> list[str]:
        return [change.code for change in self.changes]


def _describe_counts(counter: Counter[str]) -> str:
    return ", ".join(f"U+{ord(c):04X} x{n}" for c, n in sorted(counter.items()))


def _remove(text: str, unwanted: Collection[str] | None, code: str, label: str) -> tuple[str, GuardChange | None]:
    if unwanted is None:
        found = Counter(c for c in text if is_control(c))
    else:
        found = Counter(c for c in text if c in unwanted)
    if not found:
        return text, None
    kept = "".join(c for c in text if c not in found)
    return kept, GuardChange(code, f"removed {sum(found.values())} {label} ({_describe_counts(found)})")


def _wrap_first_word(text: str) -> str:
    """```/config` rest`` for ``/config rest``: the text no longer starts with ``/`` or ``!``."""
    match = re.match(r"\S+", text)
    word = match.group(0) if match else text
    return f"{NEUTRALISER}{word}{NEUTRALISER}{text[len(word):]}"


def _normalise_slash_names(names: Collection[str]) -> frozenset[str]:
    return frozenset(name.strip().lstrip("/") for name in names if name.strip().lstrip("/"))


def guard_text(
    text: str,
    *,
    allow_shell_escape: bool = False,
    allowed_slash_commands: Collection[str] = (),
) -> GuardedText:
    """Make ``text`` safe to type into Claude Code's input box.

    ``allowed_slash_commands`` holds names with or without the leading
    slash (``"compact"`` or ``"/compact"``); matching is exact and
    case-sensitive.
    """
    changes: list[GuardChange] = []

    def note(change: GuardChange | None) -> None:
        if change is not None:
            changes.append(change)

    # Line endings first, so a CR can never survive as a control byte nor be
    # dropped in a way that glues two lines together.
    if "\r" in text:
        crs = text.count("\r")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        changes.append(GuardChange("newlines-normalised", f"{crs} CR/CRLF turned into LF"))

    text, change = _remove(text, None, "control-removed", "control characters")
    note(change)
    text, change = _remove(text, _BIDI, "bidi-removed", "bidi override/isolate characters")
    note(change)
    text, change = _remove(text, _ZERO_WIDTH, "zero-width-removed", "zero-width characters")
    note(change)

    stripped_end = text.rstrip()
    if stripped_end != text:
        changes.append(GuardChange("trailing-whitespace-stripped", f"{len(text) - len(stripped_end)} characters"))
        text = stripped_end

    # Leading blank lines: the first character of the box must be the first
    # character of real content.
    first_content = 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            break
        first_content += len(line)
    if first_content:
        changes.append(GuardChange("leading-blank-lines-stripped", f"{first_content} characters"))
        text = text[first_content:]

    slash_command: str | None = None
    head = text.lstrip()
    if head.startswith("!") and not allow_shell_escape:
        changes.append(GuardChange("shell-escape-neutralised", "leading '!' word wrapped in backticks"))
        text = _wrap_first_word(head)
    elif head.startswith("/"):
        match = _SLASH_NAME.match(head)
        name = match.group(1) if match else ""
        if name and name in _normalise_slash_names(allowed_slash_commands):
            slash_command = name
            if head != text:
                changes.append(GuardChange("leading-whitespace-stripped", f"before allowed /{name}"))
            text = head
        else:
            shown = name[:40] or "(empty)"
            changes.append(GuardChange("slash-command-neutralised", f"/{shown} not allowed; wrapped in backticks"))
            text = _wrap_first_word(head)
    elif head.startswith("!"):
        text = head  # shell escape explicitly allowed: make sure it is really the first character

    if text.endswith("\\"):
        changes.append(GuardChange("trailing-backslash-protected", "space appended so Enter submits"))
        text += " "

    return GuardedText(text=text, changes=tuple(changes), slash_command=slash_command)
