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

Plain text (``capture-pane -p`` without ``-e``) is enough for all of this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from taskping.injectors.base import ScreenState

PROMPT_PREFIX = "❯\u00a0"
CONTINUATION_PREFIX = "  "
RULE_CHAR = "─"

#: Dim placeholder texts claude draws in an empty input box.
PLACEHOLDERS: tuple[str, ...] = ("Press up to edit queued messages",)

_OPTION_LINE = re.compile(r"^\s+❯ \d+\. \S")
_DIALOG_QUESTION = re.compile(r"^\s*Do you want to (proceed|make this edit|create|allow)\b.*\?\s*$")
_SPINNER_LINE = re.compile(r"^[·✢✳✶✻✽*] \S[^…]*…")
_BUSY_HINT = "esc to interrupt"
_SPINNER_LOOKBACK = 8


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


def _find_input_box(lines: Sequence[str]) -> tuple[int, int] | None:
    """Index of the prompt line and of the closing rule of the last input box."""
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(PROMPT_PREFIX):
            if index == 0 or not _is_rule(lines[index - 1]):
                continue
            end = index + 1
            while end < len(lines) and not _is_rule(lines[end]):
                end += 1
            if end == len(lines):
                return None
            return index, end
    return None


def _box_content(lines: Sequence[str], start: int, end: int) -> tuple[str, ...]:
    content = [lines[start][len(PROMPT_PREFIX) :]]
    for line in lines[start + 1 : end]:
        content.append(line[len(CONTINUATION_PREFIX) :] if line.startswith(CONTINUATION_PREFIX) else line)
    if len(content) == 1 and content[0].strip() in PLACEHOLDERS:
        return ("",)
    return tuple(line.rstrip() for line in content)


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


def read_screen(lines: Sequence[str]) -> ScreenReading:
    """Classify a captured pane (one string per screen row, no escapes)."""
    if is_permission_dialog(lines):
        return ScreenReading(ScreenState.PERMISSION_DIALOG, reason="numbered-choice dialog on screen")
    box = _find_input_box(lines)
    if box is None:
        return ScreenReading(ScreenState.UNKNOWN, reason="no input box on screen")
    start, end = box
    content = _box_content(lines, start, end)
    busy = _is_busy(lines, start, end)
    reading_text = "\n".join(content).rstrip("\n ")
    if busy:
        return ScreenReading(ScreenState.BUSY, content, busy=True, reason="claude is working")
    if reading_text:
        return ScreenReading(ScreenState.HAS_INPUT, content, reason="text in the input box")
    return ScreenReading(ScreenState.READY, content, reason="empty input box")


def classify(lines: Sequence[str]) -> ScreenState:
    """Shorthand for ``read_screen(lines).state``."""
    return read_screen(lines).state
