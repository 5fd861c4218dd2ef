"""The closing of a reply: what follows the new text and is not part of it.

After the person's new text (and above the quote) mail carries a closing that
should not be typed into a terminal:

- a sign-off: a valediction and, optionally, a name and contact lines:
  ``Best regards,\\nJane``, ``Thanks,\\nBob``, ``Cheers``, ``Regards, Roman``,
  ``Mvh,\\nOla``, ``此致``, a lone ``-Name`` / ``/Name`` line;
- a contact block, the signature of Chinese mail clients: a bare address line
  (Foxmail's default signature), a name and an address, or NetEase Mail
  Master's small table, which its text part draws with ``|`` lines
  (``| |\\nJane\\n|\\n|\\njane@163.com\\n|``).

(The ``-- `` separator and mobile taglines are cut earlier, in :mod:`.reply`.)

What is never a closing, so it is kept:

- anything with no new text before it: a reply that is only ``Thanks`` or
  ``Cheers`` is the reply;
- thanks on their own (``Thanks!``, ``thank you``): that is something said to
  the reader. Thanks are a sign-off only as a closing formula: followed by a
  comma (``Thanks,``) or by a name line (``Thanks\\nBob``);
- a valediction followed by text that is not a name (``Thanks, that fixed
  it``, ``Cheers\\nnow run the tests``);
- an address introduced by the text (the line before ends with ``:``), an
  address inside a paragraph of text, several addresses (a list);
- fenced lines.

A name line is short (at most 40 characters, five words) with no lower-case
word unless it is a single word (``bob``): ``Jane Doe``, ``CEO @ Acme``,
``(123) 456-7890``, ``张三``. An address line is an address, optionally with a
label (``Email:``, ``邮箱：``) or a name before it in angle brackets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import patterns as P
from .lines import Kind

_TEXT = frozenset({Kind.TEXT})
_GAP = frozenset({Kind.EMPTY, Kind.RULE})
_CONTENT = frozenset({Kind.TEXT, Kind.FENCED})

_SIGNOFF_MAX_LINES = 4
_SIGNOFF_MAX_CHARS = 40
_NAME_MAX_CHARS = 40
_NAME_MAX_WORDS = 5
_CJK_NAME_MAX_CHARS = 12
_TAIL_MAX_LINES = 4  # name and contact lines after a valediction
_SCAN_BACK = 8  # how far above the last line a valediction is looked for
_BLOCK_MAX_LINES = 12  # a contact block, its "|" lines included
_MAX_ROUNDS = 3  # a contact block under a sign-off under another: cut each

_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_CJK_PUNCT_RE = re.compile(r"[，。？！：\uff1b、]")  # \uff1b: full-width semicolon


def is_name_line(line: str) -> bool:
    """Whether ``line`` reads as a name, a title or a phone number (see the module docstring)."""
    s = line.strip()
    if not s or len(s) > _NAME_MAX_CHARS or s.endswith((":", "：", "?", "？", ",", "，", ";", "\uff1b", "。")):
        return False
    if "`" in s or s.startswith(("$", "#", ">")):
        return False
    if _CJK_RE.search(s):
        return len(s) <= _CJK_NAME_MAX_CHARS and not _CJK_PUNCT_RE.search(s)
    words = s.split()
    if len(words) > _NAME_MAX_WORDS:
        return False
    return len(words) == 1 or not any(w.isalpha() and w.islower() for w in words)


def is_address_line(line: str) -> bool:
    """Whether ``line`` is an email address alone (optionally labelled, or after a name)."""
    m = P.ADDRESS_LINE_RE.match(line) if len(line) <= 120 else None
    if m is None:
        return False
    name = m.group("name")
    return name is None or is_name_line(name)


def _is_contact_line(line: str) -> bool:
    return is_name_line(line) or is_address_line(line)


def _has_content(kinds: Sequence[Kind], start: int, end: int) -> bool:
    return any(k in _CONTENT for k in kinds[start:end])


def _last_line(kinds: Sequence[Kind], start: int, end: int) -> int:
    """Index of the last line in [start, end) that is not blank or a rule, or start - 1."""
    last = end - 1
    while last >= start and kinds[last] in _GAP:
        last -= 1
    return last


def _valediction_tail_ok(lines: Sequence[str], kinds: Sequence[Kind], k: int, last: int) -> bool:
    """Whether lines (k, last] are a name and contact lines (one blank line or rule between allowed)."""
    count, gaps, previous_gap = 0, 0, False
    for j in range(k + 1, last + 1):
        if kinds[j] in _GAP:
            gaps += 0 if previous_gap else 1
            previous_gap = True
            continue
        previous_gap = False
        if kinds[j] not in _TEXT or not _is_contact_line(lines[j]):
            return False
        count += 1
    return count <= _TAIL_MAX_LINES and gaps <= 1


def _is_valediction(line: str, has_tail: bool, starts_paragraph: bool) -> bool:
    """Whether ``line`` opens a sign-off, given what follows it."""
    m = P.EN_CLOSING_RE.match(line)
    if m is not None:
        rest = m.group("rest")
        if rest:
            return m.group("punct") == "," and is_name_line(rest)  # "Regards, Roman"
        if has_tail or m.group("punct") == ",":
            return True
        return starts_paragraph and m.group("closing").casefold() not in P.EN_WEAK_CLOSINGS
    m = P.GRATITUDE_RE.match(line)
    if m is not None:
        return has_tail or m.group("punct") == ","
    return False


def _cut_english(lines: Sequence[str], kinds: Sequence[Kind], start: int, end: int) -> int:
    """Where an English sign-off (valediction, then name and contact lines) starts, or end."""
    last = _last_line(kinds, start, end)
    first_content = next((i for i in range(start, last + 1) if kinds[i] in _CONTENT), last + 1)
    for k in range(last, max(start, last - _SCAN_BACK) - 1, -1):
        if kinds[k] is not Kind.TEXT or len(lines[k]) > _SIGNOFF_MAX_CHARS:
            continue
        if not _valediction_tail_ok(lines, kinds, k, last):
            continue
        has_tail = k < last
        starts_paragraph = k == start or kinds[k - 1] in _GAP
        if first_content < k and _is_valediction(lines[k], has_tail, starts_paragraph):
            return k
    return end


def _cut_contact_block(lines: Sequence[str], kinds: Sequence[Kind], start: int, end: int) -> int:
    """Where a trailing contact block (see the module docstring) starts, or end."""
    last = _last_line(kinds, start, end)
    if last < start:
        return end
    pipes = P.PIPE_LINE_RE.match(lines[last]) is not None
    k = last
    # The block is the last paragraph; a drawn table ("|" lines) may span blank lines.
    while k > start and last - k < _BLOCK_MAX_LINES:
        above = k - 1
        if kinds[above] is Kind.TEXT and (P.PIPE_LINE_RE.match(lines[above]) or _is_contact_line(lines[above])):
            pipes = pipes or P.PIPE_LINE_RE.match(lines[above]) is not None
            k = above
        elif kinds[above] is Kind.EMPTY and pipes and above > start and P.PIPE_LINE_RE.match(lines[above - 1]):
            k = above
        else:
            break
    while k < last and kinds[k] is Kind.EMPTY:
        k += 1
    block = [lines[j] for j in range(k, last + 1) if kinds[j] is Kind.TEXT]
    if any(kinds[j] not in (Kind.TEXT, Kind.EMPTY) for j in range(k, last + 1)):
        return end
    drawn = sum(1 for x in block if P.PIPE_LINE_RE.match(x))
    if drawn + sum(1 for x in block if _is_contact_line(x)) < len(block):
        return end  # the last line is text: "bob@example.com\nand then deploy"
    addresses = sum(1 for x in block if is_address_line(x))
    if not (addresses or drawn >= 2) or len(block) - drawn > _TAIL_MAX_LINES:
        return end
    if addresses > 1:
        return end  # a list of addresses is text: "add these reviewers:\nalice@…\nbob@…"
    if not (k == start or kinds[k - 1] in _GAP or P.PIPE_LINE_RE.match(lines[k])):
        return end  # inside a paragraph of text: "invite\nbob@example.com"
    before = _last_line(kinds, start, k)
    if before < start or not _has_content(kinds, start, k):
        return end
    if lines[before].rstrip().endswith((":", "：")):
        return end  # the text introduces the address: "send it to:\n\nbob@example.com"
    return k


def _cut_other_language(lines: Sequence[str], kinds: Sequence[Kind], start: int, end: int) -> int:
    """Where a sign-off in another language ("Mvh,", "此致") or a lone "-Name" starts, or end.

    The sign-off is the last paragraph when it is at most a few short lines and
    opens with a valediction, or is a lone "-Name" / "/Name" line.
    """
    last = end
    while last > start and kinds[last - 1] in _GAP:
        last -= 1
    first = last
    while first > start and kinds[first - 1] is Kind.TEXT:
        first -= 1
    if first in (start, last) or last - first > _SIGNOFF_MAX_LINES:
        return end
    para = [lines[k].strip() for k in range(first, last)]
    if any(len(x) > _SIGNOFF_MAX_CHARS for x in para):
        return end
    if P.VALEDICTION_RE.match(para[0]) or (len(para) == 1 and P.SIGNOFF_NAME_RE.match(para[0])):
        return first
    return end


def cut_closing(lines: Sequence[str], kinds: Sequence[Kind], start: int, end: int, *, english: bool = True) -> int:
    """Where the closing of the text in lines[start:end] starts, or ``end``.

    Each rule cuts one closing at the end; they run again on what is left (a
    contact block under a sign-off), a few rounds at most. ``english=False``
    keeps English sign-offs (as most reply parsers do; see ``bench/README.md``).
    """
    cut = end
    for _ in range(_MAX_ROUNDS):
        new = _cut_contact_block(lines, kinds, start, cut)
        new = _cut_other_language(lines, kinds, start, new)
        if english:
            new = _cut_english(lines, kinds, start, new)
        if new == cut:
            break
        cut = new
    return cut
