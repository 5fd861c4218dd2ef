"""Read a captured Claude Code screen into a :class:`ScreenState`.

Based on what Claude Code 2.1.328 draws (fixtures in ``tests/injectors/screens``):

* The input box sits between two rules of ``─`` characters. Its first line
  starts with ``❯`` + U+00A0; continuation lines start with two spaces. A
  long paste shows as ``[Pasted text #N +K lines]``.
* While a turn runs, the footer under the box says ``esc to interrupt`` and a
  spinner line (a glyph, a gerund and ``…``) sits above the box; the box
  stays visible and empty (text typed then is queued). With text in the box
  the footer drops the hint, so the spinner line is checked too. After a
  queued submission the box shows the dim placeholder
  ``Press up to edit queued messages``.
* A permission dialog replaces the box: ``Do you want to proceed?`` and
  numbered options, the highlighted one as `` ❯ 1. Yes`` (indented ``❯``
  followed by a normal space), ``Esc to cancel`` at the bottom.
* A question dialog (the ``AskUserQuestion`` tool) also replaces the box:
  a ``☐ Header`` chip line (``←  ☐ A  ☐ B  ✔ Submit  →`` tabs for several
  questions), the question, numbered options with the highlighted one as
  ``❯ 1. Label`` in column 0 (not indented), and a column-0 footer
  ``Enter to select · ↑/↓ to navigate · Esc to cancel``. Its last tab,
  ``Review your answers``, has ``❯ 1. Submit answers`` and no footer. Column 0
  matters: claude echoes past prompts as ``❯ text`` (normal space) and indents
  its own reply lines, so only the dialog draws these lines there.
* Shell mode (a leading ``!``) draws ``!`` + U+00A0 instead of the prompt.
* A box taller than the screen allows scrolls: its top rule reads
  ``─── ↑ N more ───`` and the prompt line is off screen; the rows shown are
  the end of the text (the cursor's end).
* Vim editing mode (``editorMode: "vim"``, or ``/vim``) writes
  ``-- INSERT --`` / ``-- VISUAL --`` at the start of the footer. NORMAL mode
  writes nothing, so it looks exactly like the default (non-vim) editor: the
  screen alone cannot tell them apart (the injector probes, see tmux.py).
* How the box renders typed text (measured): long lines wrap at word
  boundaries (the space at the break is not drawn), CJK wraps anywhere,
  trailing spaces are not drawn, an emoji skin-tone modifier is not drawn by
  tmux, and a paste-sized burst shows as ``[Pasted text #N +K lines]``.
  :func:`box_holds` compares modulo exactly those differences.

Plain text (``capture-pane -p`` without ``-e``) is enough for all of this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from taskping.injectors.base import ScreenState

PROMPT_PREFIX = "❯\u00a0"
SHELL_PREFIX = "!\u00a0"
CONTINUATION_PREFIX = "  "
RULE_CHAR = "─"

#: Dim placeholder texts claude draws in an empty input box.
PLACEHOLDERS: tuple[str, ...] = ("Press up to edit queued messages",)

_OPTION_LINE = re.compile(r"^\s+❯ \d+\. \S")
_DIALOG_QUESTION = re.compile(r"^\s*Do you want to (proceed|make this edit|create|allow)\b.*\?\s*$")
_QUESTION_FOOTER = re.compile(r"^Enter to select · .*Esc to cancel\s*$")
_QUESTION_REVIEW = "Review your answers"
_QUESTION_OPTION = re.compile(r"^❯ \d+\. \S")
_SPINNER_LINE = re.compile(r"^[·✢✳✶✻✽*] \S[^…]*…")
_BUSY_HINT = "esc to interrupt"
_SPINNER_LOOKBACK = 8
_SCROLL_RULE = re.compile(r"^─+ ([↑↓]) (\d+) more ─+$")
_VIM_INDICATOR = re.compile(r"^\s*-- ([A-Z]+(?: [A-Z]+)*) --(?:\s|$)")
_PASTED = re.compile(r"\[Pasted text #\d+(?: \+\d+ lines?)?\]")
#: Characters that never count when comparing typed text with the box: they
#: are whitespace (wrapping eats or moves them) or not drawn by tmux (ZWJ,
#: variation selectors, emoji skin-tone modifiers).
_UNDRAWN = frozenset({"\u200d", *map(chr, range(0xFE00, 0xFE10)), *map(chr, range(0x1F3FB, 0x1F400))})


@dataclass(frozen=True)
class ScreenReading:
    """What :func:`read_screen` found.

    ``input_lines`` is the content of the input box with the prompt and
    continuation prefixes removed (``None`` when no input box is on screen).
    """

    state: ScreenState
    input_lines: tuple[str, ...] | None = None
    busy: bool = False
    reason: str = ""
    #: the vim mode word shown under the box ("INSERT", "VISUAL"), None when none is shown
    vim_mode: str | None = None
    #: box rows scrolled out of view (``↑ N more``); the rows shown are the end of the text
    hidden_rows: int = 0

    @property
    def input_text(self) -> str | None:
        """The box content joined with newlines, trailing blank lines dropped."""
        if self.input_lines is None:
            return None
        return "\n".join(self.input_lines).rstrip("\n ")

    @property
    def input_empty(self) -> bool:
        return self.input_lines is not None and self.input_text == ""


def _is_rule(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 10 and set(stripped) == {RULE_CHAR}


def _scrolled(line: str, arrow: str) -> int:
    match = _SCROLL_RULE.match(line.strip())
    return int(match.group(2)) if match and match.group(1) == arrow else 0


def _closing_rule(lines: Sequence[str], start: int) -> int | None:
    end = start + 1
    while end < len(lines) and not (_is_rule(lines[end]) or _scrolled(lines[end], "↓")):
        end += 1
    return end if end < len(lines) else None


def _find_input_box(lines: Sequence[str]) -> tuple[int, int, str, int] | None:
    """(first content row, closing rule row, prefix of the first row, rows hidden above) of the last box."""
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if index and line.startswith((PROMPT_PREFIX, SHELL_PREFIX)) and _is_rule(lines[index - 1]):
            end = _closing_rule(lines, index)
            return None if end is None else (index, end, line[: len(PROMPT_PREFIX)], 0)
        hidden = _scrolled(line, "↑")
        if hidden:
            end = _closing_rule(lines, index)
            return None if end is None or end == index + 1 else (index + 1, end, "", hidden)
    return None


def _box_content(lines: Sequence[str], start: int, end: int, prefix: str) -> tuple[str, ...]:
    rows = list(lines[start:end])
    content = [rows[0][len(prefix) :]] if prefix else []
    for line in rows[1:] if prefix else rows:
        content.append(line[len(CONTINUATION_PREFIX) :] if line.startswith(CONTINUATION_PREFIX) else line)
    if len(content) == 1 and content[0].strip() in PLACEHOLDERS:
        return ("",)
    return tuple(line.rstrip() for line in content)


def _vim_mode(lines: Sequence[str], box_end: int) -> str | None:
    for line in lines[box_end + 1 : box_end + 3]:
        match = _VIM_INDICATOR.match(line)
        if match:
            return match.group(1)
    return None


def is_question_dialog(lines: Sequence[str]) -> bool:
    """True when an ``AskUserQuestion`` dialog (any of its tabs) is on screen."""
    if any(_QUESTION_FOOTER.match(line) for line in lines):
        return True
    reviewing = any(line.rstrip() == _QUESTION_REVIEW for line in lines)
    return reviewing and any(_QUESTION_OPTION.match(line) for line in lines)


def is_permission_dialog(lines: Sequence[str]) -> bool:
    """True when a numbered-choice dialog (permission prompt) is on screen."""
    has_option = any(_OPTION_LINE.match(line) for line in lines)
    has_question = any(_DIALOG_QUESTION.match(line) for line in lines)
    return has_option or (has_question and any("Esc to cancel" in line for line in lines))


def _is_busy(lines: Sequence[str], box_start: int, box_end: int) -> bool:
    footer = lines[box_end + 1 : box_end + 4]
    if any(_BUSY_HINT in line for line in footer):
        return True
    above = lines[max(0, box_start - 1 - _SPINNER_LOOKBACK) : box_start - 1]
    return any(_SPINNER_LINE.match(line) for line in above)


class _Seen(TypedDict):
    """The fields of a reading that found the input box."""

    input_lines: tuple[str, ...]
    busy: bool
    vim_mode: str | None
    hidden_rows: int


def read_screen(lines: Sequence[str]) -> ScreenReading:
    """Classify a captured pane (one string per screen row, no escapes)."""
    if is_permission_dialog(lines):
        return ScreenReading(ScreenState.PERMISSION_DIALOG, reason="numbered-choice dialog on screen")
    if is_question_dialog(lines):
        return ScreenReading(ScreenState.PERMISSION_DIALOG, reason="question dialog (AskUserQuestion) on screen")
    box = _find_input_box(lines)
    if box is None:
        return ScreenReading(ScreenState.UNKNOWN, reason="no input box on screen")
    start, end, prefix, hidden = box
    content = _box_content(lines, start, end, prefix)
    busy = _is_busy(lines, start, end)  # the top rule is at start - 1 either way
    vim = _vim_mode(lines, end)
    seen: _Seen = {"input_lines": content, "busy": busy, "vim_mode": vim, "hidden_rows": hidden}
    reading_text = "\n".join(content).rstrip("\n ")
    if prefix == SHELL_PREFIX:
        return ScreenReading(ScreenState.SHELL_MODE, **seen, reason="the input box is in ! shell mode")
    if busy:
        return ScreenReading(ScreenState.BUSY, **seen, reason="claude is working")
    if vim is not None and vim != "INSERT":
        return ScreenReading(ScreenState.VIM_COMMAND, **seen, reason=f"vim {vim} mode: typed letters are commands")
    if reading_text or hidden:
        return ScreenReading(ScreenState.HAS_INPUT, **seen, reason="text in the input box")
    return ScreenReading(ScreenState.READY, **seen, reason="empty input box")


def _squeeze(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and c not in _UNDRAWN)


def _box_pattern(reading: ScreenReading) -> str:
    """A regex for the squeezed text the box can stand for (a paste placeholder stands for any run)."""
    pieces = _PASTED.split("\n".join(reading.input_lines or ()))
    return ".+".join(re.escape(_squeeze(piece)) for piece in pieces)


def box_holds(reading: ScreenReading, text: str) -> bool:
    """True when the input box shows exactly ``text`` and nothing else.

    Compared without whitespace and undrawn characters (see the module
    docstring for what the box changes), so what is checked is that every
    visible character typed is there, in order, and no other one. A scrolled
    box shows only the end of the text: then the rows shown must be exactly
    the end of ``text`` and the box must have at least as many rows as
    ``text`` has lines (its start cannot be read without moving the cursor,
    and Up on the first row recalls history). Only meaningful for a box that
    started empty: anything typed meanwhile lands at the cursor, in view.
    """
    if reading.input_lines is None or reading.state in (ScreenState.SHELL_MODE, ScreenState.PERMISSION_DIALOG):
        return False
    pattern = _box_pattern(reading)
    expected = _squeeze(text)
    if not pattern or not expected:
        return False
    if reading.hidden_rows:
        rows = reading.hidden_rows + len(reading.input_lines)
        if rows < text.count("\n") + 1:
            return False
        return re.search(f"(?:{pattern})$", expected, flags=re.DOTALL) is not None
    return re.fullmatch(pattern, expected, flags=re.DOTALL) is not None


def box_is_part_of(reading: ScreenReading, text: str) -> bool:
    """True when everything the box shows is a piece of ``text`` (safe to erase as our own typing)."""
    if reading.input_lines is None:
        return False
    pattern = _box_pattern(reading)
    return not pattern or re.search(pattern, _squeeze(text), flags=re.DOTALL) is not None


def classify(lines: Sequence[str]) -> ScreenState:
    """Shorthand for ``read_screen(lines).state``."""
    return read_screen(lines).state
