"""Reply extraction: the new text of a reply email, or a reason to refuse.

Email that gets typed into a terminal running an agent is remote code execution
by design, so this package refuses rather than guesses. It is pure (no I/O):
the relay and ``taskping extract`` hand it bytes or strings.

Pipeline: :mod:`.mime` picks the body parts; :mod:`.html` turns an HTML body
into text with hidden content dropped and quote containers marked, or refuses
it when a style it does not understand could hide text (:mod:`.visible`
holds that rule, :mod:`.css` the CSS syntax, :mod:`.appearance` the computed
look of each element); :mod:`.lines`
classifies each line; :mod:`.reply` decides which lines are new, :mod:`.signoff`
where the closing after them (sign-off, name, contact block) starts;
:mod:`.command` turns new text into what would be typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .bound import bound_html
from .command import to_command
from .html import render_html
from .mime import body_parts
from .reply import decide

NO_BODY = "the message has no text or HTML body"
NO_VISIBLE = "the HTML body has no visible text"

__all__ = ["Extraction", "extract_eml", "extract_reply", "to_command"]


@dataclass(frozen=True)
class Extraction:
    """The outcome: ``text`` (the new text) or ``refusal`` (why not)."""

    text: str | None
    refusal: str | None
    source: Literal["text", "html"] | None = None

    @property
    def ok(self) -> bool:
        return self.text is not None and self.refusal is None


def extract_reply(
    *,
    text: str | None = None,
    html: str | None = None,
    sent_texts: Sequence[str] = (),
    keep_english_signoffs: bool = False,
) -> Extraction:
    """New text of a reply body.

    The text/plain body is used when present and non-empty, else the HTML body
    (rendered with hidden content dropped; refused, with the reason, when a
    style it does not understand could hide text). ``sent_texts`` are the notification
    texts TaskPing sent in this thread: a copy of any of them is quote.
    The closing after the new text (sign-off, name, contact block; see
    :mod:`.signoff`) is dropped; ``keep_english_signoffs`` keeps English
    sign-offs, as most reply parsers do (``bench/extract_bench.py`` scores both).
    """
    if text is not None and text.strip():
        d = decide(text, sent_texts, keep_english_signoffs=keep_english_signoffs)
        return Extraction(d.text, d.refusal, "text")
    if html is not None and html.strip():
        bounded, refusal = bound_html(html)
        if bounded is None:
            return Extraction(None, refusal, "html")
        result = render_html(bounded)
        if result.refusal is not None:
            return Extraction(None, result.refusal, "html")
        rendered = result.text
        if not rendered.strip(" \n>"):
            return Extraction(None, NO_VISIBLE, "html")
        d = decide(rendered, sent_texts, keep_english_signoffs=keep_english_signoffs)
        return Extraction(d.text, d.refusal, "html")
    return Extraction(None, NO_BODY, None)


def extract_eml(raw: bytes, *, sent_texts: Sequence[str] = (), keep_english_signoffs: bool = False) -> Extraction:
    """New text of a whole RFC 5322 message (attachments ignored)."""
    bodies = body_parts(raw)
    return extract_reply(
        text=bodies.text, html=bodies.html, sent_texts=sent_texts, keep_english_signoffs=keep_english_signoffs
    )
