"""Bounded work for HTML bodies: huge HTML is cut at its quote, or refused.

Parsing and rendering HTML costs ~15 µs a tag here, so a 1 MB body of tags
would take a second or more. A reply's own text is never that big; what makes
a body huge is the quoted history under it. So, only when a body has more
than :data:`MAX_TAGS` tags:

1. cut it at the first known quote container (Gmail, Apple Mail, Outlook,
   Yahoo, Proton, Thunderbird markers) — everything after it is quote — but
   keep every ``<style>`` block and ``<link>`` tag from the cut part, because
   a stylesheet placed after some text can still hide that text (a ``<link
   rel=stylesheet>`` is then refused by the renderer);
2. if what is left still has more than MAX_TAGS tags, refuse: a body we cannot
   read in bounded time is not guessed at.

Every step is a plain substring scan (no regex), linear in the body size.
Bodies under the limit are untouched, so ordinary mail is handled exactly as
before.
"""

from __future__ import annotations

MAX_TAGS = 8_000

# Lower-case markers that open a quote container in the clients we know.
QUOTE_MARKERS = (
    "gmail_quote",
    'type="cite"',
    "type='cite'",
    "type=cite",
    "divrplyfwdmsg",
    "appendonsend",
    "yahoo_quoted",
    "protonmail_quote",
    "moz-cite-prefix",
)

TOO_COMPLEX = "the HTML body is too large to read safely ({tags} tags{where}); reply in plain text"


def tag_count(html: str) -> int:
    return html.count("<")


def _quote_start(lowered: str) -> int | None:
    """Index of the ``<`` of the tag holding the earliest quote marker, or None."""
    best: int | None = None
    for marker in QUOTE_MARKERS:
        at = lowered.find(marker)
        if at != -1 and (best is None or at < best):
            best = at
    if best is None:
        return None
    start = lowered.rfind("<", 0, best)
    return start if start != -1 else None


def _style_blocks(html: str, lowered: str, start: int) -> list[str]:
    blocks: list[str] = []
    pos = start
    while True:
        open_at = lowered.find("<style", pos)
        if open_at == -1:
            return blocks
        close_at = lowered.find("</style", open_at)
        if close_at == -1:
            blocks.append(html[open_at:] + "</style>")
            return blocks
        end = lowered.find(">", close_at)
        end = len(html) if end == -1 else end + 1
        blocks.append(html[open_at:end])
        pos = end


def _link_tags(html: str, lowered: str, start: int) -> list[str]:
    tags: list[str] = []
    pos = start
    while True:
        open_at = lowered.find("<link", pos)
        if open_at == -1:
            return tags
        end = lowered.find(">", open_at)
        end = len(html) if end == -1 else end + 1
        tags.append(html[open_at:end])
        pos = end


def bound_html(html: str) -> tuple[str | None, str | None]:
    """``(html_to_render, None)``, or ``(None, refusal)`` when it cannot be read in bounded time."""
    if tag_count(html) <= MAX_TAGS:
        return html, None
    lowered = html.lower()
    cut = _quote_start(lowered)
    if cut is not None:
        html = html[:cut] + "".join(_style_blocks(html, lowered, cut)) + "".join(_link_tags(html, lowered, cut))
    tags = tag_count(html)
    if tags > MAX_TAGS:
        where = " above its quote" if cut is not None else ", and no quote to cut it at"
        return None, TOO_COMPLEX.format(tags=tags, where=where)
    return html, None
