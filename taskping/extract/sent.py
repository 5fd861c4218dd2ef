"""Recognising a copy of a notification TaskPing sent, whatever the client did.

TaskPing knows the exact text of every notification it sent, so a reply that
carries a copy of it (quoted with ``>``, unquoted under an Outlook header,
re-wrapped, converted from HTML) can be recognised line by line: a line is a
*candidate* when, with quote prefixes removed, whitespace collapsed and case
folded, it is a substring of one of the sent texts. Re-wrapping keeps every
line a substring, which is why substrings (not whole lines) are compared.

A short line ("yes", "ok") is a substring of almost anything, so candidates are
only trusted as a *run*: consecutive candidate lines (blank lines allowed)
totalling at least :data:`MIN_RUN_CHARS` characters (or half the notification
when it is shorter), whose first line is itself long enough to be
unmistakable. When that goes wrong the failure is safe: the person's text is
taken for quote and the extractor refuses; it never adds text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lines import Kind

MIN_RUN_CHARS = 40
MIN_FIRST_LINE_CHARS = 16
_WS_RE = re.compile(r"\s+")
_QUOTE_PREFIX_RE = re.compile(r"^(?:[ \t]{0,8}>)+")


def normalise(line: str) -> str:
    """Quote prefix removed, whitespace runs collapsed to one space, case folded."""
    return _WS_RE.sub(" ", _QUOTE_PREFIX_RE.sub("", line)).strip().casefold()


class SentIndex:
    """The notification texts TaskPing sent, ready for substring tests."""

    def __init__(self, sent_texts: Sequence[str]) -> None:
        self._texts = [" ".join(normalise(x) for x in t.splitlines() if x.strip()) for t in sent_texts]
        self._texts = [t for t in self._texts if t]

    def __bool__(self) -> bool:
        return bool(self._texts)

    def _contains(self, fragment: str) -> bool:
        return any(fragment in t for t in self._texts)

    def copied_lines(self, lines: Sequence[str], kinds: Sequence[Kind]) -> list[int]:
        """Indices of lines that belong to a copy of a sent notification."""
        if not self._texts:
            return []
        from .lines import Kind

        shortest = min(len(t) for t in self._texts)
        need = min(MIN_RUN_CHARS, max(1, shortest // 2))
        first_need = min(MIN_FIRST_LINE_CHARS, need)
        found: list[int] = []
        i, n = 0, len(lines)
        while i < n:
            norm = normalise(lines[i]) if kinds[i] is not Kind.EMPTY else ""
            if len(norm) < first_need or not self._contains(norm):
                i += 1
                continue
            run, total, j = [i], len(norm), i + 1
            while j < n:
                if kinds[j] is Kind.EMPTY:
                    j += 1
                    continue
                nxt = normalise(lines[j])
                if not nxt or not self._contains(nxt):
                    break
                run.append(j)
                total += len(nxt)
                j += 1
            if total >= need:
                found.extend(run)
            i = j if total >= need else i + 1
        return found
