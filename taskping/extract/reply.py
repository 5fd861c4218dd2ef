"""The decision: which classified lines are the person's new text.

Rules, in order:

1. The *boundary* is the first line whose kind says "the quoted or original
   message starts here" (quote, TaskPing marker, copy of the notification,
   original-message delimiter, embedded header block, attribution).
2. Above the boundary (a top-posted reply, what nearly everyone does from a
   phone): the new text is everything above the first signature separator
   ("-- ") or mobile tagline, less the closing at its end (a sign-off, a
   name, a contact block: :mod:`.signoff`); trailing rule lines and blank
   lines are dropped. Fenced lines are never cut by those rules.
3. Below the boundary, unquoted text that follows ``>``-quoted lines is new
   text written under or between the quote (bottom posting, inline replies).
   An unquoted original (Outlook's header block, a forwarded banner, an
   attribution not followed by ``>`` lines) ends the scan: what follows it is
   the old message, not new text.
4. Nothing above and exactly one block below: that block, less its closing,
   is the reply (a bottom post, or a single answer inside the quote: unambiguous).
   Nothing above and several blocks below: an inline reply; refuse.
5. Text above *and* unquoted text between two quoted passages below: the
   person may have answered inline as well; refuse rather than guess which
   part is the command.

A one-line "block" glued to quote lines on both sides (no blank line around
it) is a quoted line the sender's client wrapped without a ``>``, not an
answer, and is treated as quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .lines import BOUNDARY, Kind, classify, is_quoted, split_shared_attribution
from .sent import SentIndex
from .signoff import cut_closing

_CUTS_TOP = frozenset({Kind.SIGNATURE, Kind.TAGLINE})
_CONTENT = frozenset({Kind.TEXT, Kind.FENCED})

NOTHING_NEW = "no new text above the quoted message"
EMPTY_BODY = "the message body is empty"
INLINE = "inline reply: new text is interleaved with the quoted message; reply above the quote instead"
INLINE_TOP = (
    "ambiguous reply: there is new text above the quote and also between quoted lines; reply above the quote only"
)


@dataclass(frozen=True)
class Decision:
    text: str | None
    refusal: str | None


def _trim(lines: Sequence[str], kinds: Sequence[Kind]) -> str | None:
    """Join lines, dropping leading/trailing blank and rule lines; None if no content."""
    start, end = 0, len(lines)
    while start < end and kinds[start] in (Kind.EMPTY, Kind.RULE):
        start += 1
    while end > start and kinds[end - 1] in (Kind.EMPTY, Kind.RULE):
        end -= 1
    if not any(k in _CONTENT for k in kinds[start:end]):
        return None
    return "\n".join(
        line if kind is Kind.FENCED else line.rstrip()
        for line, kind in zip(lines[start:end], kinds[start:end], strict=True)
    )


def _cut_signature(kinds: Sequence[Kind], start: int, end: int) -> int:
    """Index where the signature / tagline starts within [start, end), or end."""
    for i in range(start, end):
        if kinds[i] in _CUTS_TOP:
            return i
    return end


def _next_content(kinds: Sequence[Kind], i: int) -> int:
    while i < len(kinds) and kinds[i] is Kind.EMPTY:
        i += 1
    return i


def _is_quote_like(line: str, kind: Kind) -> bool:
    return kind is Kind.QUOTE or (kind in (Kind.MARKER, Kind.SENT) and is_quoted(line))


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    followed_by_quote: bool


def _blocks_below(lines: Sequence[str], kinds: Sequence[Kind], b: int) -> list[_Block]:
    """Unquoted new-text blocks after the boundary ``b`` (rule 3)."""
    blocks: list[_Block] = []
    n = len(lines)
    i = b
    seen_quote = False
    cur_start: int | None = None
    cur_end = 0
    in_signature = False

    def close(followed: bool) -> None:
        nonlocal cur_start
        if cur_start is not None:
            blocks.append(_Block(cur_start, cur_end, followed))
        cur_start = None

    while i < n:
        kind = kinds[i]
        line = lines[i]
        if _is_quote_like(line, kind):
            close(True)
            seen_quote = True
            in_signature = False
            i += 1
            continue
        if kind is Kind.ATTRIBUTION:
            j = i
            while j < n and kinds[j] in (Kind.ATTRIBUTION, Kind.EMPTY):
                j += 1
            if j < n and _is_quote_like(lines[j], kinds[j]):
                close(True)
                i = j
                continue
            break  # an attribution followed by an unquoted original: the rest is old
        if kind in (Kind.DELIMITER, Kind.HEADER, Kind.MARKER, Kind.SENT):
            break
        if kind in _CUTS_TOP:
            close(False)
            in_signature = True
        elif kind in _CONTENT and seen_quote and not in_signature:
            if cur_start is None:
                cur_start = i
            cur_end = i + 1
        i += 1
    close(False)
    # Lazy continuation lines: one line glued to quote lines above and below.
    real: list[_Block] = []
    for blk in blocks:
        glued_above = blk.start > 0 and kinds[blk.start - 1] is Kind.QUOTE
        glued_below = blk.end < n and kinds[blk.end] is Kind.QUOTE
        if glued_above and glued_below and blk.end - blk.start == 1:
            continue
        real.append(blk)
    return real


def decide(text: str, sent_texts: Sequence[str] = (), *, keep_english_signoffs: bool = False) -> Decision:
    """Apply the rules in the module docstring to a plain-text body."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.strip():
        return Decision(None, EMPTY_BODY)
    lines = split_shared_attribution(body.split("\n"))
    sent = SentIndex(sent_texts) if sent_texts else None
    kinds = classify(lines, sent)
    b = next((i for i, k in enumerate(kinds) if k in BOUNDARY), len(lines))
    cut = _cut_signature(kinds, 0, b)
    english = not keep_english_signoffs
    cut = cut_closing(lines, kinds, 0, cut, english=english)
    top = _trim(lines[:cut], kinds[:cut])
    blocks = _blocks_below(lines, kinds, b) if b < len(lines) else []
    if top is not None:
        if any(blk.followed_by_quote for blk in blocks):
            return Decision(None, INLINE_TOP)
        return Decision(top, None)
    if not blocks:
        return Decision(None, NOTHING_NEW)
    if len(blocks) > 1:
        return Decision(None, INLINE)
    blk = blocks[0]
    end = cut_closing(lines, kinds, blk.start, blk.end, english=english)
    below = _trim(lines[blk.start : end], kinds[blk.start : end])
    if below is None:
        return Decision(None, NOTHING_NEW)
    return Decision(below, None)
