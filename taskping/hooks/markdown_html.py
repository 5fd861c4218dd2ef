"""Claude's markdown as the HTML a phone shows: markdown-it-py, raw HTML off.

Claude answers in markdown (headings, lists, ``**bold**``, links, fenced code,
tables). :func:`render` turns it into an HTML fragment for the notification's
text/html part, with inline styles (mail clients drop or rewrite ``<style>``
blocks; inline styles are what survives) that work on a light and on a dark
background: no text or background colour of our own except translucent greys.

Safety comes from markdown-it's own settings rather than a second pass
through a sanitiser (nh3): with the ``default`` preset ``html`` is off, so
every ``<tag>`` the model writes is escaped text, and markdown-it emits only
the elements of its own grammar with escaped attributes; link URLs pass its
``validateLink`` (no ``javascript:``, ``vbscript:``, ``file:``, ``data:``).
What remains is done here: an image (``![alt](url)``) becomes a link to its
URL, never an ``<img>``, so no remote image is fetched when the mail is opened
(a tracking pixel or a request the person did not make). A property test holds
the output to an allowlist of tags, attributes and URL schemes.

markdown-it is imported when the first notification is rendered (~20 ms of
imports, see bench/README.md): never on the path of a hook event that mails
nothing, nor for a plain-text `taskping notify`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskping.hooks.notification_html import MONO, PRE_STYLE, RULE, SHADE, escape

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.rules_core import StateCore
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

#: Inline style per element markdown-it opens.
STYLES: dict[str, str] = {
    "h1": "font-size:20px;line-height:1.3;margin:18px 0 8px",
    "h2": "font-size:18px;line-height:1.3;margin:16px 0 8px",
    "h3": "font-size:16px;line-height:1.3;margin:14px 0 6px",
    "h4": "font-size:15px;margin:12px 0 6px",
    "h5": "font-size:15px;margin:12px 0 6px",
    "h6": "font-size:15px;margin:12px 0 6px",
    "p": "margin:0 0 12px",
    "ul": "margin:0 0 12px;padding-left:22px",
    "ol": "margin:0 0 12px;padding-left:24px",
    "li": "margin:0 0 4px",
    "blockquote": f"margin:0 0 12px;padding:0 0 0 12px;border-left:3px solid {RULE}",
    "code": f"font-family:{MONO};font-size:.9em;background:{SHADE};border-radius:4px;padding:1px 4px",
    "table": "border-collapse:collapse;margin:0 0 12px;font-size:14px",
    "th": f"border:1px solid {RULE};padding:4px 8px;text-align:left;background:{SHADE}",
    "td": f"border:1px solid {RULE};padding:4px 8px;vertical-align:top",
    "hr": f"border:0;border-top:1px solid {RULE};margin:16px 0",
    "a": "word-break:break-word",
}
#: A table wider than the screen scrolls inside this box instead of widening the mail.
TABLE_BOX_STYLE = "overflow-x:auto;max-width:100%"
#: Schemes an image's URL may have to become a link (others: the alt text alone).
IMAGE_LINK_SCHEMES = ("http://", "https://")


def _style_tokens(state: StateCore) -> None:
    """Core rule: give every element its inline style (appended to table alignment)."""
    for token in state.tokens:
        _style(token)
        for child in token.children or ():
            _style(child)


def _style(token: Token) -> None:
    if token.nesting == -1:
        return
    style = STYLES.get(token.tag)
    if style is None or token.type in ("fence", "code_block"):
        return
    if token.type == "code_inline" or token.nesting == 1 or token.type == "hr":
        align = token.attrGet("style")
        token.attrSet("style", f"{style};{align}" if align else style)


def _code_block(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """Fences and indented code alike: ``<pre>`` with its style, no language class."""
    return f'<pre style="{PRE_STYLE}"><code>{escape(tokens[idx].content)}</code></pre>\n'


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """No ``<img>``: a link to the picture (http/https), else just its alt text."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    src = str(token.attrGet("src") or "")
    label = escape(f"[image: {alt}]")
    if src.lower().startswith(IMAGE_LINK_SCHEMES):
        return f'<a href="{escape(src)}" style="{STYLES["a"]}">{label}</a>'
    return label


def _table_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return f'<div style="{TABLE_BOX_STYLE}">' + self.renderToken(tokens, idx, options, env)


def _table_close(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return self.renderToken(tokens, idx, options, env) + "</div>\n"


_parser: MarkdownIt | None = None


def parser() -> MarkdownIt:
    """The one configured parser: CommonMark plus tables and strikethrough, raw HTML off,
    no linkify, no typographer (``default`` preset); built once per process."""
    global _parser
    if _parser is None:
        from markdown_it import MarkdownIt

        md = MarkdownIt("default", {"html": False, "linkify": False, "typographer": False})
        md.core.ruler.push("taskping_styles", _style_tokens)
        for name, rule in (
            ("fence", _code_block),
            ("code_block", _code_block),
            ("image", _image),
            ("table_open", _table_open),
            ("table_close", _table_close),
        ):
            md.add_render_rule(name, rule)
        _parser = md
    return _parser


def render(markdown: str) -> str:
    """``markdown`` as a sanitised, inline-styled HTML fragment."""
    html: str = parser().render(markdown)
    return html
