"""Line classification: the first half of the extractor.

Every line of a plain-text body gets one :class:`Kind`, looking at the line and
a few neighbours only:

- ``FENCED``: inside a ``` (or ~~~) fence, fence lines included. Quote and
  signature rules never apply there (``> x``, ``-- ``, ``--flag`` are shell).
- ``EMPTY``: blank.
- ``MARKER``: TaskPing's own "Reply above this line" marker, quoted or not.
- ``QUOTE``: starts with ``>``.
- ``SENT``: part of an unquoted copy of a notification TaskPing sent
  (see :mod:`.sent`).
- ``DELIMITER``: "-----Original Message-----", "原始邮件", forwarded-message
  banners, Outlook's line of underscores.
- ``HEADER``: an embedded header block ("From:" + "Sent:"/"To:"/..., or
  "发件人：" + "发送时间："...); every line of the block gets the kind.
- ``ATTRIBUTION``: "On <date>, <name> wrote:" and its translations, also when
  wrapped over several lines; every line of it gets the kind.
- ``SIGNATURE``: the "-- " signature separator (and "--", "__").
- ``TAGLINE``: "Sent from my iPhone", "发自我的iPhone", "Get Outlook for iOS"...
- ``RULE``: a line of one repeated punctuation character ("-----", "*****").
- ``TEXT``: anything else.

The decision (which lines are the new text) lives in :mod:`.reply`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from . import patterns as P
from .marker import is_marker_line
from .sent import SentIndex


class Kind(enum.Enum):
    EMPTY = "empty"
    TEXT = "text"
    FENCED = "fenced"
    QUOTE = "quote"
    MARKER = "marker"
    SENT = "sent"
    DELIMITER = "delimiter"
    HEADER = "header"
    ATTRIBUTION = "attribution"
    SIGNATURE = "signature"
    TAGLINE = "tagline"
    RULE = "rule"


# Kinds that mean "the quoted / original message starts here".
BOUNDARY = frozenset({Kind.QUOTE, Kind.MARKER, Kind.SENT, Kind.DELIMITER, Kind.HEADER, Kind.ATTRIBUTION})

_MAX_LINE_FOR_PATTERNS = 400  # longer lines are prose (or an attack), never a client banner
_ATTRIB_LOOKAHEAD = 6  # a wrapped attribution spans at most this many lines


def is_quoted(line: str) -> bool:
    return bool(P.QUOTE_RE.match(line))


def _fences(lines: Sequence[str]) -> list[bool]:
    """Which lines are inside (or are) a code fence.

    A fence opens at an unquoted line starting with ``` (or ~~~) and closes at
    the next line starting with the same characters; an unclosed fence runs to
    the end of the text.
    """
    inside = [False] * len(lines)
    opener: str | None = None
    for i, line in enumerate(lines):
        m = P.FENCE_RE.match(line)
        if opener is None:
            if m:
                opener = m.group(1)
                inside[i] = True
        else:
            inside[i] = True
            if m and m.group(1) == opener:
                opener = None
    return inside


def _is_header_block(lines: Sequence[str], i: int) -> int:
    """Length of an embedded header block starting at ``i`` (0 when none).

    A block is at least two header-looking lines ("Key: value") within a few
    lines, one of which names the sender ("From:", "发件人："...).
    """
    if not P.HEADER_ANY_RE.match(lines[i]):
        return 0
    count, has_from, last, j, gap = 0, False, i, i, 0
    while j < len(lines) and gap <= 1 and j - i < 12:
        line = lines[j]
        if len(line) > _MAX_LINE_FOR_PATTERNS:
            break
        if P.HEADER_ANY_RE.match(line):
            count += 1
            has_from = has_from or bool(P.HEADER_FROM_RE.match(line))
            last, gap = j, 0
        elif line.strip():
            gap += 1  # a wrapped header value ("To: a,\n b")
        else:
            # Outlook/web clients put blank lines between header lines sometimes;
            # one blank is tolerated, two end the block.
            if j + 1 < len(lines) and not lines[j + 1].strip():
                break
        j += 1
    starts_dated = bool(P.HEADER_DATE_RE.match(lines[i]))
    if count >= 2 and (has_from or starts_dated) and (P.HEADER_FROM_RE.match(lines[i]) or starts_dated):
        return last - i + 1
    if count >= 3 and has_from:
        return last - i + 1
    return 0


def _ends_attribution(joined: str, starts_like_one: bool) -> bool:
    """Whether ``joined`` (one or several lines) reads as a complete attribution."""
    if P.wrote_end(joined) or P.WROTE_DASHES_RE.match(joined):
        return True
    if not joined.endswith((":", "：")):
        return False
    has_addr = bool(P.EMAILISH_RE.search(joined))
    has_date = bool(P.DATEISH_RE.search(joined))
    if has_addr and has_date:
        return True  # "26.06.2014, 14:41, "Alexander L" <abc@example.com>:"
    if has_addr and P.WROTE_ANY_RE.search(joined):
        return True  # "Name <a@b> schrieb am Fr., 28.\nApr. 2017 um 11:53 Uhr:"
    # "On 11-Apr-2011, at 6:54 PM, Roman <r@x> sent:", "Vào 14:24 8 tháng 6, 2017, ... đã viết:"
    return starts_like_one and has_date and bool(re.search(r"\d{4}", joined))


def looks_like_attribution(line: str) -> bool:
    """Whether one line, on its own, reads as an attribution ("On ... wrote:")."""
    stripped = line.strip().lstrip(">").strip()
    if len(stripped) > _MAX_LINE_FOR_PATTERNS:
        return False
    return _ends_attribution(stripped, bool(P.ATTRIB_START_RE.match(stripped))) or bool(
        P.ISO_ATTRIB_RE.match(stripped) or P.DATE_FIRST_ADDR_LAST_RE.match(stripped)
    )


def split_shared_attribution(lines: Sequence[str]) -> list[str]:
    """Split "reply On <date>, X wrote:" into "reply" and the attribution.

    Some clients glue the attribution to the last line of the reply (no line
    break, sometimes "---" between them). Only lines that end like an
    attribution are examined, so the scan stays cheap. Both halves are
    substrings of the input line.
    """
    out: list[str] = []
    fenced = _fences(lines)
    for line, in_fence in zip(lines, fenced, strict=True):
        if not in_fence and len(line) <= _MAX_LINE_FOR_PATTERNS and P.wrote_end(line):
            m = P.SHARED_ATTRIB_RE.match(line)
            if m and m.group("pre").strip() and looks_like_attribution(m.group("attr")):
                out.extend([m.group("pre").rstrip(" -"), m.group("attr")])
                continue
        out.append(line)
    return out


def _attribution_span(lines: Sequence[str], i: int, fenced: Sequence[bool]) -> int:
    """Length of an attribution starting at line ``i`` (0 when none).

    One line that reads as a complete attribution ("...wrote:", "...写道：",
    "<date> ... <a@b>:", "---- X wrote ----", "2013/7/20 X <a@b>"), or a line
    that starts like one (a date, an address, or "On"/"在"/"Am"/... with a date)
    continued over at most a few lines until one completes it (Gmail wraps at
    ~78 columns, often as "... <\\na@b> wrote:").
    """
    stripped = lines[i].strip()
    starts_like_one = bool(P.ATTRIB_START_RE.match(stripped))
    bare = P.ADDRESS_LINE_RE.match(stripped) if len(stripped) <= _MAX_LINE_FOR_PATTERNS else None
    if bare and bare.group("name") is None:
        return 0  # an address alone is a signature line (Foxmail's default one), not the start of "... wrote:"
    if _ends_attribution(stripped, starts_like_one):
        return 1
    if P.ISO_ATTRIB_RE.match(stripped) or P.DATE_FIRST_ADDR_LAST_RE.match(stripped):
        return 1
    if len(stripped) > 200 or (
        stripped.endswith((".", "?", "!", "。", "？", "！")) and not P.EMAILISH_RE.search(stripped)
    ):
        return 0
    if not (P.DATEISH_RE.search(stripped) or P.EMAILISH_RE.search(stripped)):
        return 0
    if not (
        starts_like_one or P.EMAILISH_RE.search(stripped) or stripped.endswith("<") or P.ISO_ATTRIB_RE.match(stripped)
    ):
        return 0
    joined = stripped
    for j in range(i + 1, min(len(lines), i + _ATTRIB_LOOKAHEAD)):
        if fenced[j] or len(lines[j]) > _MAX_LINE_FOR_PATTERNS:
            return 0
        nxt = lines[j].strip().lstrip(">").strip()
        if not nxt:
            continue
        joined = f"{joined} {nxt}"
        if _ends_attribution(joined, starts_like_one):
            return j - i + 1
        if nxt.endswith((".", "?", "!", "。", "？", "！")) or len(nxt) > 100:
            return 0
    return 0


def _continues_attribution(previous: str, line: str) -> bool:
    """Whether a short "...wrote:" line is the second half of ``previous``."""
    prev = previous.strip()
    return (
        len(line) < 40
        and len(prev) < 200
        and not prev.endswith((".", "?", "!", "。", "？", "！", ":", "："))
        and ("@" in prev or "<" in prev or bool(P.DATEISH_RE.search(prev)))
    )


def classify(lines: Sequence[str], sent: SentIndex | None = None) -> list[Kind]:
    """One :class:`Kind` per line (see the module docstring for the rules)."""
    fenced = _fences(lines)
    kinds: list[Kind] = [Kind.TEXT] * len(lines)
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if fenced[i]:
            kinds[i] = Kind.FENCED
            i += 1
            continue
        stripped = line.strip()
        if not stripped:
            kinds[i] = Kind.EMPTY
        elif len(line) > _MAX_LINE_FOR_PATTERNS:
            kinds[i] = Kind.QUOTE if is_quoted(line) else Kind.TEXT
            if is_marker_line(line[:_MAX_LINE_FOR_PATTERNS]):
                kinds[i] = Kind.MARKER
        elif is_marker_line(line):
            kinds[i] = Kind.MARKER
        elif is_quoted(line):
            kinds[i] = Kind.QUOTE
        elif P.SIG_DELIM_RE.match(line.rstrip("\r")):
            kinds[i] = Kind.SIGNATURE
        elif P.ORIGINAL_DELIM_RE.match(line) or P.UNDERSCORE_DELIM_RE.match(line) or P.DASHED_TITLE_RE.match(line):
            kinds[i] = Kind.DELIMITER
        elif P.RULE_LINE_RE.match(line):
            kinds[i] = Kind.RULE
        elif P.TAGLINE_RE.match(line):
            kinds[i] = Kind.TAGLINE
        else:
            span = _is_header_block(lines, i)
            if span:
                for j in range(i, i + span):
                    kinds[j] = Kind.EMPTY if not lines[j].strip() else Kind.HEADER
                i += span
                continue
            span = _attribution_span(lines, i, fenced)
            if span == 1 and i > 0 and kinds[i - 1] is Kind.TEXT and _continues_attribution(lines[i - 1], stripped):
                kinds[i - 1] = Kind.ATTRIBUTION  # "Name <a@b> 于2026年11月20日周五\n20:15写道："
            if span:
                for j in range(i, i + span):
                    kinds[j] = Kind.EMPTY if not lines[j].strip() else Kind.ATTRIBUTION
                i += span
                continue
            kinds[i] = Kind.TEXT
        i += 1
    if sent is not None:
        for j in sent.copied_lines(lines, kinds):
            if kinds[j] is not Kind.FENCED:
                kinds[j] = Kind.SENT
    return kinds
