"""Turn reply text from an email into text that is safe to type into Claude Code.

The text will be typed into a terminal where Claude Code reads keystrokes, so
this is the last place where an attacker-controlled email can be defused:

* control characters are removed: every C0 byte except LF and TAB (NUL, ESC,
  BEL, ...), DEL and the C1 range U+0080-U+009F. Removing ESC also kills a
  bracketed-paste terminator ``ESC[201~`` (only the harmless ``[201~`` text
  stays);
* invisible characters are removed, so what the person read in their mail
  client is what gets typed (a model reads characters a person never sees:
  Unicode TAG characters U+E0000-U+E007F spell out whole hidden sentences).
  Removed: every format (``Cf``), private-use (``Co``), unassigned (``Cn``)
  and surrogate (``Cs``) character, every variation selector (U+FE00-FE0F,
  U+E0100-E01EF, Mongolian U+180B-180D/U+180F), the combining grapheme
  joiner U+034F and the Hangul fillers U+115F, U+1160, U+3164, U+FFA0 (blank
  "letters"). "Unassigned" is as of the interpreter's Unicode database:
  Python 3.11 ships Unicode 14.0, so an emoji added in Unicode 15 (🫨, 🩷) is
  unassigned here and removed too. Kept, the only exceptions: a ZERO WIDTH
  JOINER between two emoji (👨‍👩‍👧, 👩🏽‍💻, 🏳️‍🌈: the joiner only glues
  pictures into one picture) and a VS16 (U+FE0F, "show as emoji") right
  after an emoji or a keycap base (❤️, 1️⃣), so emoji that look right on
  the phone still look right in the terminal. TAG characters are removed
  even inside a subdivision flag (🏴 + TAGs degrades to 🏴): they are the
  one invisible alphabet a model reads as text;
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

:func:`forbidden_characters` answers "what would the guard remove from this
text?" with the same code the guard uses, so the tmux injector's defence-in-
depth check agrees with it exactly.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

NEUTRALISER = "`"  # wraps the first word: a backtick is not whitespace, so claude's trim keeps it first

_KEPT_C0 = frozenset(["\n", "\t"])
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Co", "Cn", "Cs"})
# Invisible characters outside those categories: variation selectors (Mn),
# the combining grapheme joiner (Mn) and the Hangul fillers (Lo, render blank).
_INVISIBLE_EXTRA = frozenset(
    chr(c)
    for c in [
        *range(0xFE00, 0xFE10),
        *range(0xE0100, 0xE01F0),
        *range(0x180B, 0x180E),
        0x180F,
        0x034F,
        0x115F,
        0x1160,
        0x3164,
        0xFFA0,
    ]
)
ZWJ = "\u200d"
VS16 = "\ufe0f"
_KEYCAP_BASES = frozenset("#*0123456789")
_KEYCAP = "\u20e3"
# Extended_Pictographic (UTS #51), which Python's unicodedata does not expose,
# over-approximated by blocks: a character wrongly counted as an emoji can only
# keep a joiner or VS16 next to a visible picture-like symbol.
_EMOJI_RANGES = (
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x2194, 0x2199),
    (0x21A9, 0x21AA),
    (0x231A, 0x231B),
    (0x2328, 0x2328),
    (0x2388, 0x2388),
    (0x23CF, 0x23CF),
    (0x23E9, 0x23F3),
    (0x23F8, 0x23FA),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25AB),
    (0x25B6, 0x25B6),
    (0x25C0, 0x25C0),
    (0x25FB, 0x25FE),
    (0x2600, 0x27BF),
    (0x2934, 0x2935),
    (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
    (0x1F000, 0x1FAFF),
)


def is_control(char: str) -> bool:
    """True for a character that must never reach the terminal."""
    code = ord(char)
    if code < 0x20:
        return char not in _KEPT_C0
    return code == 0x7F or 0x80 <= code <= 0x9F


def is_invisible(char: str) -> bool:
    """True for a character a person does not see but a model reads (out of context)."""
    return char in _INVISIBLE_EXTRA or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def is_emoji(char: str) -> bool:
    """An emoji base or modifier (see :data:`_EMOJI_RANGES`), never an invisible one."""
    code = ord(char)
    return any(low <= code <= high for low, high in _EMOJI_RANGES) and not is_invisible(char)


def _kept_in_emoji(text: str, i: int, kept_before: str) -> bool:
    """Whether the joiner / VS16 at ``text[i]`` is part of an emoji sequence.

    ``kept_before`` is the last character already kept (what the joiner would
    really follow once invisible neighbours are gone).
    """
    char = text[i]
    after = text[i + 1] if i + 1 < len(text) else ""
    if char == VS16:
        return bool(kept_before) and (is_emoji(kept_before) or (kept_before in _KEYCAP_BASES and after == _KEYCAP))
    if char == ZWJ:
        before_ok = bool(kept_before) and (is_emoji(kept_before) or kept_before == VS16)
        return before_ok and bool(after) and is_emoji(after)
    return False


def _scrub_invisible(text: str) -> tuple[str, Counter[str]]:
    """``text`` without its invisible characters, and what was removed."""
    if text.isascii():
        return text, Counter()
    kept: list[str] = []
    removed: Counter[str] = Counter()
    for i, char in enumerate(text):
        if is_invisible(char) and not _kept_in_emoji(text, i, kept[-1] if kept else ""):
            removed[char] += 1
        else:
            kept.append(char)
    return "".join(kept), removed


def forbidden_characters(text: str) -> set[str]:
    """The characters of ``text`` the guard would remove (empty if none).

    Same code as :func:`guard_text`: controls anywhere, invisible characters
    unless they are a joiner or VS16 inside an emoji sequence.
    """
    controls = {c for c in text if is_control(c)}
    # The guard's order: line endings, then controls, then invisible characters
    # (a control between an emoji and a joiner is gone before the joiner is judged).
    flat = text.replace("\r\n", "\n").replace("\r", "\n")
    _, removed = _scrub_invisible("".join(c for c in flat if not is_control(c)) if controls else flat)
    return controls | set(removed)


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


def _remove_controls(text: str) -> tuple[str, GuardChange | None]:
    found = Counter(c for c in text if is_control(c))
    if not found:
        return text, None
    kept = "".join(c for c in text if c not in found)
    detail = f"removed {sum(found.values())} control characters ({_describe_counts(found)})"
    return kept, GuardChange("control-removed", detail)


def _wrap_first_word(text: str) -> str:
    """```/config` rest`` for ``/config rest``: the text no longer starts with ``/`` or ``!``."""
    match = re.match(r"\S+", text)
    word = match.group(0) if match else text
    return f"{NEUTRALISER}{word}{NEUTRALISER}{text[len(word) :]}"


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

    text, change = _remove_controls(text)
    note(change)
    text, removed = _scrub_invisible(text)
    if removed:
        detail = f"removed {sum(removed.values())} invisible characters ({_describe_counts(removed)})"
        changes.append(GuardChange("invisible-removed", detail))

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
