"""HTML body -> plain text the line rules understand, with hidden content gone.

Three jobs, in one pass over a small tree built with the standard library's
tolerant :class:`html.parser.HTMLParser` (never raises on broken markup):

1. **Keep only what a reader surely sees** (the rule is in :mod:`.visible`):
   drop ``<script>``, ``<style>``, ``<head>``, ``<template>``, ``<title>``,
   ``<noscript>``, ``<object>``/``<iframe>``/``<svg>``, form controls, closed
   ``<details>`` and ``<dialog>``, what a browser's own style sheet hides
   (``<noembed>``, ``<rp>``...), elements with the ``hidden`` attribute, comments, and what
   styles certainly hide or paint in the background colour; and **refuse**
   (:class:`Rendered` with a reason) when text outside a quote sits under a
   style that is not understood, when a style that can paint over other
   elements is used anywhere, when a style sheet cannot be followed
   (``@import``, ``<link rel=stylesheet>``, CSS nesting), when the markup is
   one this parser splits differently from a browser (``</ span>``,
   ``-- >``; duplicate attributes, ``<span/>`` and an unfinished tag or
   comment at the end are read as a browser does), and for Outlook
   conditional comments around text (``<!--[if mso]>text<![endif]-->`` is
   shown only by Outlook, ``<![if !mso]>text<![endif]>`` and
   ``<!--[if !mso]><!-->text<!--<![endif]-->`` by everyone but Outlook).
   Outlook's own ``<!--[if gte mso 9]><xml>…</xml><![endif]-->`` settings,
   conditional comments holding only markup or ``<style>`` (read as
   ``@media``-like conditional rules), and Word's list/line-break
   ``<![if !supportLists]>`` are understood. Hidden content must never reach
   the output: a stranger could hide a command there.
2. **Mark the known quote containers** so the line rules see them as quote:
   ``<blockquote>`` (``type=cite`` and plain), ``.gmail_quote``,
   ``.yahoo_quoted``, ``.protonmail_quote``, ``.moz-cite-prefix``, NetEase's
   ``#isReplyContent``... are rendered with a ``> `` prefix per level; Outlook's
   ``#divRplyFwdMsg`` / ``#appendonsend`` / ``#mail-editor-reference-message-container``
   and an ``<hr>`` start "the rest is the original message" (everything after
   them is prefixed). Signature containers (``#ms-outlook-mobile-signature``,
   ``.gmail_signature``, ``#AppleMailSignature``) are dropped.
3. **Render** block elements as lines, collapse whitespace outside ``<pre>``,
   keep ``&nbsp;`` indentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from . import appearance as A
from . import css as C
from .lines import looks_like_attribution

VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "keygen",
        "basefont",
        "frame",
        "isindex",
    }
)
HIDDEN_TAGS = frozenset(
    {
        "script",
        "style",
        "head",
        "template",
        "title",
        "noscript",
        "object",
        "iframe",
        "svg",
        "math",
        "select",
        "option",
        "textarea",
        "input",
        "button",
        "datalist",
        "frameset",
        "frame",
        "noframes",
        "applet",
        "audio",
        "video",
        "canvas",
        "map",
        "meta",
        "link",
        "base",
        "xml",
        "noembed",
        "rp",
        "basefont",
        "area",
        "param",
    }
)
BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "body",
        "html",
        "caption",
        "summary",
        "details",
    }
)
PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "ul", "ol", "dl"})
CELL = frozenset({"td", "th"})
# Elements that need the full treatment even without attributes.
_STRUCTURAL = frozenset({"br", "hr", "img", "blockquote", "pre", "xmp", "plaintext", "listing", "details"})
# Elements closed implicitly when a sibling of the same kind opens.
# Elements whose tag alone changes the look (font size, link colour).
_STYLED_TAGS = frozenset({"small", "sub", "sup", "big", "h1", "h2", "h3", "h5", "h6", "a", "font", "body", "bdo"})
_SELF_NESTING_CLOSES = frozenset({"p", "li", "tr", "td", "th", "dt", "dd", "option"})

QUOTE_CLASSES = frozenset(
    {
        "gmail_quote",
        "gmail_quote_container",
        "yahoo_quoted",
        "protonmail_quote",
        "moz-cite-prefix",
        "zmail_extra",
        "quote",
        "email_quote",
        "x_gmail_quote",
        "ms-outlook-mobile-reference-message",
    }
)
QUOTE_IDS = frozenset({"isreplycontent", "isforwardcontent", "origbody", "reply-content", "zwchr"})
REST_IDS_SUFFIX = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container", "olk_src_body_section")
REST_CLASSES = frozenset({"outlookmessageheader", "divrplyfwdmsg"})
SIGNATURE_IDS = frozenset({"ms-outlook-mobile-signature", "applemailsignature", "signature"})
SIGNATURE_CLASSES = frozenset({"gmail_signature", "moz-signature", "ms-outlook-mobile-signature"})
HR_LINE = "_" * 32  # what an <hr> renders as; the line rules read it as Outlook's delimiter

_WS_RE = re.compile(r"[ \t\n\r\f\v]+")
_MAX_DEPTH = 400  # deeper nesting is flattened (browsers cap depth too)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    """A forgiving tree builder: mismatched end tags are ignored, unclosed
    elements are closed at the end, ``p``/``li``/``td``... close their open
    sibling, and nesting deeper than :data:`_MAX_DEPTH` is flattened."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack: list[Node] = [self.root]
        self.sheet = C.StyleSheet()
        self._in_style = 0
        self._word_sections = 0
        self._text_seen = False
        self._roots_seen: set[str] = set()

    def note_problem(self, what: str) -> None:
        if what not in self.sheet.problems:
            self.sheet.problems.append(what)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        node = Node(tag, _attributes(attrs))
        if tag in ("html", "body"):
            # A browser merges the attributes of a late or repeated <html>/<body>
            # into the one element it already has: they style all the text.
            if node.attrs and (self._text_seen or tag in self._roots_seen):
                self.note_problem(f"a <{tag}> tag after the content began (its style applies to all of it)")
            self._roots_seen.add(tag)
        if tag in _SELF_NESTING_CLOSES and self.stack[-1].tag == tag and len(self.stack) > 1:
            self.stack.pop()
        self.stack[-1].children.append(node)
        self._note_link(node)
        if tag in VOID:
            return
        if len(self.stack) < _MAX_DEPTH:
            self.stack.append(node)
        elif node.attrs or tag in HIDDEN_TAGS or tag in _STYLED_TAGS:
            # Flattened, its text would lose this element's style: cannot be judged.
            self.note_problem(f"elements nested deeper than {_MAX_DEPTH} levels")
        if tag == "style":
            self._in_style += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """``<br/>``. On an element that is not void a browser ignores the slash:
        ``<span style="display:none"/>text`` hides ``text``, so it opens too."""
        tag = tag.lower()
        if tag not in VOID:
            self.handle_starttag(tag, attrs)
            return
        node = Node(tag, _attributes(attrs))
        self._note_link(node)
        self.stack[-1].children.append(node)

    def close(self) -> None:
        """At the end, an unfinished tag, comment or ``<!...``/``<?...`` shows nothing
        in a browser; the standard parser would hand it over as text."""
        rest = self.rawdata
        if len(rest) > 1 and rest[0] == "<" and (rest[1].isalpha() or rest[1] in "!/?"):
            self.rawdata = ""
        super().close()

    def _note_link(self, node: Node) -> None:
        if node.tag == "link" and "stylesheet" in node.attrs.get("rel", "").lower():
            self.note_problem("an external style sheet (<link rel=stylesheet>)")

    def handle_comment(self, data: str) -> None:
        """Outlook conditional comments become marker nodes (see the module docstring)."""
        head = data.lstrip()[:300].lower()
        if head.startswith("[if") and "]>" in head:
            condition = head[1 : head.index("]")].strip()
            body = data[data.index("]>") + 2 :]
            if body.rstrip().endswith("<!") and "<![endif]" not in body.lower():
                self._marker(COND_OPEN, condition)  # <!--[if !mso]><!--> ... <!--<![endif]-->
                return
            self._hidden_conditional(condition, body)
        elif head.startswith("<![endif]"):
            self._marker(COND_CLOSE, "endif")

    def unknown_decl(self, data: str) -> None:
        """``<![if !mso]>`` / ``<![endif]>``: downlevel-revealed conditional sections."""
        head = data.strip().lower()
        if head.startswith("if"):
            condition = head[2:].strip()
            if condition not in _WORD_CONDITIONS:
                self._marker(COND_OPEN, condition)
            else:
                self._word_sections += 1
        elif head.startswith("endif"):
            if self._word_sections:
                self._word_sections -= 1
            else:
                self._marker(COND_CLOSE, "endif")

    def _marker(self, kind: str, condition: str) -> None:
        self.stack[-1].children.append(Node(kind, {"condition": condition[:60]}))

    def _hidden_conditional(self, condition: str, body: str) -> None:
        """``<!--[if X]>body<![endif]-->``: only Outlook renders ``body``."""
        lowered = body.lower()
        end = lowered.rfind("<![endif]")
        body, lowered = (body[:end], lowered[:end]) if end != -1 else (body, lowered)
        for css in _blocks(body, lowered, "style"):
            self.sheet.add(css[css.find(">") + 1 :], conditional=True)
        rest = _strip_blocks(_strip_blocks(body, "style"), "xml")
        if _TAG_RE.sub("", rest).strip(" \t\r\n&nbsp;"):
            self._marker(COND_HIDDEN, condition)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag == "br":
            self.stack[-1].children.append(Node("br", {}))
            return
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                break
        if tag == "style" and self._in_style:
            self._in_style -= 1

    def handle_data(self, data: str) -> None:
        node = self.stack[-1]
        if not self._text_seen and data.strip() and not any(n.tag in _NOT_CONTENT for n in self.stack):
            self._text_seen = True
        if node.tag == "style":
            # A sheet for other media (print...) or of another type does not
            # apply on screen: its rules only may apply.
            media = node.attrs.get("media", "").strip().lower()
            kind = node.attrs.get("type", "").strip().lower()
            sometimes = media not in ("", "all", "screen") or kind not in ("", "text/css") or "disabled" in node.attrs
            self.sheet.add(data, conditional=sometimes)
        node.children.append(data)


_NOT_CONTENT = frozenset({"head", "style", "script", "title", "template"})
COND_OPEN = "#if"  # start of text only non-Outlook readers see
COND_CLOSE = "#endif"
COND_HIDDEN = "#if-mso"  # text only Outlook renders
# Word's own downlevel-revealed sections: the fallback list numbering and
# line breaks it also renders natively, so both readings show the same text.
_WORD_CONDITIONS = frozenset(
    {"!supportlists", "!supportlinebreaknewline", "!supportannotations", "!supportfootnotes", "!supportemptyparas"}
)
_TAG_RE = re.compile(r"<[^>]{0,2000}>")


def _blocks(text: str, lowered: str, tag: str) -> list[str]:
    """Every ``<tag ...>...</tag>`` substring (unclosed: to the end)."""
    out: list[str] = []
    pos = 0
    while True:
        start = lowered.find(f"<{tag}", pos)
        if start == -1:
            return out
        end = lowered.find(f"</{tag}", start)
        if end == -1:
            out.append(text[start:])
            return out
        out.append(text[start:end])
        pos = end + 1


def _strip_blocks(text: str, tag: str) -> str:
    lowered = text.lower()
    out: list[str] = []
    pos = 0
    while True:
        start = lowered.find(f"<{tag}", pos)
        if start == -1:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:start])
        end = lowered.find(f"</{tag}", start)
        if end == -1:
            return "".join(out)
        close = lowered.find(">", end)
        pos = len(text) if close == -1 else close + 1


def _attributes(attrs: list[tuple[str, str | None]]) -> dict[str, str]:
    """Attributes by lower-cased name; of duplicates the *first* wins, as in a browser."""
    out: dict[str, str] = {}
    for name, value in attrs:
        if name:
            out.setdefault(name.lower(), value or "")
    return out


# Where Python's HTMLParser and a browser split the markup differently so that
# Python shows text a browser hides: ``</ span>`` is an end tag for Python
# only (a browser reads a comment, and inside <style>/<noframes> plain text),
# and inside a comment ``-- >`` ends it for Python only (a browser ends a
# comment at ``-->`` or ``--!>``). Outside a comment ``-- >`` is text to both.
# Such a body is refused.
_END_TAG_WITH_SPACE = re.compile(r"</\s")
_PYTHON_ONLY_COMMENT_END = re.compile(r"--\s+>")
_BROWSER_COMMENT_END = re.compile(r"--!?>")


def _comment_end_disagrees(html: str) -> bool:
    """Whether some comment holds a ``-- >`` before the end a browser sees."""
    start = html.find("<!--")
    while start != -1:
        body_from = start + 4
        if html.startswith(">", body_from) or html.startswith("->", body_from):
            start = html.find("<!--", body_from)  # <!--> and <!---> are empty comments to both
            continue
        end = _BROWSER_COMMENT_END.search(html, body_from)
        stop = end.start() if end else len(html)
        if _PYTHON_ONLY_COMMENT_END.search(html, body_from, stop):
            return True
        if end is None:
            return False
        start = html.find("<!--", end.end())
    return False


def parser_disagreement(html: str) -> str | None:
    """What would make this parser and a browser read the markup differently, or None."""
    if _END_TAG_WITH_SPACE.search(html):
        return "a '</ tag>' that browsers read as a comment, not an end tag"
    if _comment_end_disagrees(html):
        return "a '-- >' comment end browsers do not end on"
    return None


def parse(html: str) -> tuple[Node, C.StyleSheet]:
    """Parse into a tree; never raises (a parser failure keeps what was built)."""
    builder = _TreeBuilder()
    disagreement = parser_disagreement(html)
    if disagreement is not None:
        builder.note_problem(disagreement)
    try:
        builder.feed(html)
        builder.close()
    except Exception:  # noqa: BLE001 - broken markup must not crash the relay
        pass
    return builder.root, builder.sheet


@dataclass(frozen=True)
class _Ctx:
    look: A.Look
    quote: int
    pre: bool


REFUSED = "the HTML body has {what}, so TaskPing cannot tell what you saw; reply in plain text"


@dataclass(frozen=True)
class Rendered:
    """Visible text of an HTML body, or why it cannot be read."""

    text: str
    refusal: str | None = None


class _Renderer:
    def __init__(self, sheet: C.StyleSheet) -> None:
        self.sheet = sheet
        self.lines: list[str] = []
        self.cur: list[str] = []
        self.cur_quote = 0
        self.rest_quote = 0  # set once an Outlook-style "original message" container starts
        self.refusal: str | None = None
        self.revealed: list[str] = []  # open <![if !mso]> sections
        self.root_look = A.ROOT  # the implied <html>/<body> (see render)
        self.web_fonts = frozenset(sheet.web_fonts)

    # -- output --------------------------------------------------------
    def refuse(self, what: str) -> None:
        if self.refusal is None:
            # The reason quotes the sender's CSS: one printable line, bounded.
            shown = "".join(c if c.isprintable() else " " for c in " ".join(what.split()))[:200]
            self.refusal = REFUSED.format(what=shown)

    def text(self, s: str, ctx: _Ctx) -> None:
        if ctx.look.faint:
            return  # painted in the background colour
        if ctx.quote + self.rest_quote == 0 and s.strip():
            if ctx.look.unknown:
                self.refuse(f"text under a style it does not understand ({ctx.look.unknown})")
            elif self.revealed:
                self.refuse(f"text Outlook does not show (<![if {self.revealed[-1]}]>)")
        if not ctx.pre:
            s = _WS_RE.sub(" ", s)
            if not self.cur or self.cur[-1].endswith(" "):
                s = s.lstrip(" ")
            if not s:
                return
        if not self.cur:
            self.cur_quote = ctx.quote + self.rest_quote
        if ctx.pre and "\n" in s:
            parts = s.split("\n")
            for part in parts[:-1]:
                self.cur.append(part)
                self.newline(ctx)
                self.cur_quote = ctx.quote + self.rest_quote
            s = parts[-1]
            if not s:
                return
        self.cur.append(s.replace("\u00a0", " "))

    def newline(self, ctx: _Ctx | None = None, force: bool = False) -> None:
        if self.cur or force:
            content = "".join(self.cur).rstrip(" ") if not (ctx and ctx.pre) else "".join(self.cur)
            depth = self.cur_quote if self.cur else (ctx.quote + self.rest_quote if ctx else 0)
            self.lines.append("> " * depth + content if content or depth == 0 else ">" * depth)
            self.cur = []

    def blank(self, ctx: _Ctx) -> None:
        self.newline(ctx)
        if self.lines and self.lines[-1].strip(" >"):
            self.lines.append("> " * (ctx.quote + self.rest_quote) if ctx.quote + self.rest_quote else "")

    # -- tree walk -----------------------------------------------------
    def render(self, root: Node) -> Rendered:
        if self.sheet.problems:
            return Rendered("", REFUSED.format(what=self.sheet.problems[0]))
        # Text outside any <html>/<body> still sits in the implied ones a browser
        # creates, so rules for html, body, :root and * apply to it too.
        root_look = A.ROOT
        if self.sheet.rules:
            implied = [*self.sheet.declarations_for("html", {}), *self.sheet.declarations_for("body", {})]
            root_look = A.look_of("body", {}, implied, A.ROOT, frozenset(self.sheet.web_fonts))
            if root_look.escape is not None:
                return Rendered("", REFUSED.format(what=f"a style that can cover other text ({root_look.escape})"))
            if root_look.hidden:
                return Rendered("")
        self.root_look = root_look
        ctx0 = _Ctx(root_look, 0, root_look.pre)
        # Explicit stack (no recursion): entries are ("node", node, ctx) or ("end", node, ctx).
        work: list[tuple[str, Node | str, _Ctx]] = [("node", child, ctx0) for child in reversed(root.children)]
        while work and self.refusal is None:
            action, item, ctx = work.pop()
            if isinstance(item, str):
                self.text(item, ctx)
                continue
            if action == "end":
                self._close(item, ctx)
                continue
            child_ctx = self._open(item, ctx)
            if child_ctx is None:
                continue
            work.append(("end", item, ctx))
            for child in reversed(item.children):
                work.append(("node", child, child_ctx))
        self.newline()
        if self.refusal is not None:
            return Rendered("", self.refusal)
        return Rendered("\n".join(self.lines))

    def _marker(self, node: Node, ctx: _Ctx) -> None:
        condition = node.attrs.get("condition", "")
        if node.tag == COND_OPEN:
            self.revealed.append(condition)
        elif node.tag == COND_CLOSE:
            if self.revealed:
                self.revealed.pop()
        elif ctx.quote + self.rest_quote == 0:
            self.refuse(f"text only Outlook shows (<!--[if {condition}]>)")

    def _open(self, node: Node, ctx: _Ctx) -> _Ctx | None:
        """Start an element; None when its content must not be rendered."""
        tag, attrs = node.tag, node.attrs
        if tag.startswith("#"):
            self._marker(node, ctx)
            return None
        if tag in HIDDEN_TAGS or "hidden" in attrs:
            return None
        if tag in ("details", "dialog") and "open" not in attrs:
            return None
        if not attrs and not self.sheet.rules and tag not in _STRUCTURAL and tag not in _STYLED_TAGS:
            # Fast path: a plain inline element changes nothing but the layout.
            if tag in PARAGRAPH:
                self.blank(ctx)
            elif tag in BLOCK:
                self.newline(ctx)
            elif tag in CELL and self.cur:
                self.cur.append(" ")
            return ctx
        classes = set(attrs.get("class", "").lower().split())
        ident = attrs.get("id", "").lower()
        if ident in SIGNATURE_IDS or classes & SIGNATURE_CLASSES:
            return None
        # A real <html>/<body> replaces the implied one: its rules must not apply twice.
        parent = A.ROOT if tag in ("html", "body") and ctx.look is self.root_look else ctx.look
        look = A.look_of(tag, attrs, self.sheet.declarations_for(tag, attrs), parent, self.web_fonts)
        if look.hidden:
            return None
        if look.escape is not None:
            self.refuse(f"a style that can cover other text ({look.escape})")
            return None
        if tag == "br":
            self.newline(ctx, force=True)
            return ctx
        if tag == "hr":
            self.newline(ctx)
            self.cur_quote = ctx.quote + self.rest_quote
            self.cur.append(HR_LINE)
            self.newline(ctx)
            return ctx
        if tag == "img":
            return None
        quote = ctx.quote
        if (
            (tag == "blockquote" and self._is_quote_blockquote(attrs, ctx))
            or classes & QUOTE_CLASSES
            or ident in QUOTE_IDS
        ):
            quote += 1
        if ident.endswith(REST_IDS_SUFFIX) or classes & REST_CLASSES:
            self.newline(ctx)
            self.rest_quote = max(self.rest_quote, 1)
        new_ctx = _Ctx(look, quote, ctx.pre or look.pre or tag in ("pre", "xmp", "plaintext", "listing"))
        if tag in PARAGRAPH:
            self.blank(new_ctx)
        elif tag in BLOCK or quote != ctx.quote:
            self.newline(ctx)
        elif tag in CELL and self.cur:
            self.cur.append(" ")
        return new_ctx

    def _is_quote_blockquote(self, attrs: dict[str, str], ctx: _Ctx) -> bool:
        """A ``<blockquote>`` is a quote when a client marked it as one.

        ``type=cite``, any class or id (clients name their quote elements), a
        left border (the quote bar), being inside another quote, or following
        an attribution line make it a quote. A bare ``<blockquote>`` after
        ordinary text is formatting the writer chose (an indented block) and
        is rendered as text; the marker line and sent-text rules still apply
        to what it holds.
        """
        if ctx.quote or self.rest_quote:
            return True
        if attrs.get("type", "").lower() == "cite" or attrs.get("class") or attrs.get("id"):
            return True
        if "border" in attrs.get("style", "").lower():
            return True
        previous = "".join(self.cur).strip() or next((x for x in reversed(self.lines) if x.strip()), "")
        return looks_like_attribution(previous)

    def _close(self, node: Node, ctx: _Ctx) -> None:
        tag = node.tag
        if tag in PARAGRAPH:
            self.blank(ctx)
        elif tag in BLOCK or (node.attrs and _is_quote_container(node)):
            self.newline()


def _is_quote_container(node: Node) -> bool:
    classes = set(node.attrs.get("class", "").lower().split())
    return bool(classes & QUOTE_CLASSES) or node.attrs.get("id", "").lower() in QUOTE_IDS


def render_html(html: str) -> Rendered:
    """Visible text of an HTML body, quote containers prefixed with ``> ``; or a refusal."""
    root, sheet = parse(html)
    return _Renderer(sheet).render(root)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body ("" when it is refused: see :func:`render_html`)."""
    return render_html(html).text
