"""Just enough CSS *syntax* to read what mail clients write, and nothing more.

This module parses; :mod:`.visible` judges. Parsing is strict on purpose: a
value is only ever returned when it was understood completely (``hsl(...)``,
``var(--x)``, ``color-mix(...)``, ``calc(...)``, an escape, a trailing
stray character all give ``None``), because a half-read value is how hidden
text used to get through ("``color: hsl(0 0% 100%)``" was skipped, so the
text kept the default black and counted as visible).

- :func:`parse_declarations` keeps *every* declaration of a style attribute or
  rule body, duplicates included, in order: with ``!important`` in play the
  last one is not necessarily the one a browser uses, so the judge looks at
  all of them.
- :func:`parse_color` reads ``#rgb[a]``, ``#rrggbb[aa]``, ``rgb()``/``rgba()``
  (commas or spaces, numbers or percentages) and the named colours below.
- :func:`length_px` reads one length into CSS pixels (``px pt pc in cm mm q
  em rem ex ch %``), relative units against the font size given.
- :class:`StyleSheet` reads ``<style>`` blocks in one linear pass. A rule
  applies to an element when the element has every class, id and attribute
  named in the *last compound* of one of its selectors and the tag matches.
  That over-approximates a browser (combinators and pseudo-classes are
  ignored), so each rule records whether its match was *exact* (a single
  compound, no pseudo-class, attribute presence only): an inexact rule may or
  may not apply, and the judge must consider both. Rules inside ``@media``,
  ``@supports`` and other conditional groups are kept, marked *conditional*;
  ``@font-face``/``@page``/``@keyframes`` bodies style no element and are
  skipped, except that ``@font-face`` families loaded from a url are kept
  in :attr:`StyleSheet.web_fonts` (a font can draw any glyph, or none).
  What the reader cannot follow at all (``@import``, CSS nesting)
  is recorded in :attr:`StyleSheet.problems`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

RGBA = tuple[int, int, int, float]
# CSS whitespace. Python's str.strip(CSS_WS)/\s also take U+00A0, U+2003...: a value
# a browser rejects ("color:\u2003#000" is invalid, so ignored) must not be
# read as valid here.
CSS_WS = " \t\n\r\f"

# CSS named colours mail clients write (plus the system colours Outlook uses).
# A name not listed here is "not understood", which refuses: never a guess.
_NAMED: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "silver": (192, 192, 192),
    "lightgray": (211, 211, 211),
    "lightgrey": (211, 211, 211),
    "darkgray": (169, 169, 169),
    "darkgrey": (169, 169, 169),
    "dimgray": (105, 105, 105),
    "dimgrey": (105, 105, 105),
    "gainsboro": (220, 220, 220),
    "whitesmoke": (245, 245, 245),
    "snow": (255, 250, 250),
    "ivory": (255, 255, 240),
    "linen": (250, 240, 230),
    "azure": (240, 255, 255),
    "ghostwhite": (248, 248, 255),
    "floralwhite": (255, 250, 240),
    "mintcream": (245, 255, 250),
    "aliceblue": (240, 248, 255),
    "seashell": (255, 245, 238),
    "honeydew": (240, 255, 240),
    "navy": (0, 0, 128),
    "maroon": (128, 0, 0),
    "purple": (128, 0, 128),
    "teal": (0, 128, 128),
    "olive": (128, 128, 0),
    "lime": (0, 255, 0),
    "aqua": (0, 255, 255),
    "cyan": (0, 255, 255),
    "fuchsia": (255, 0, 255),
    "magenta": (255, 0, 255),
    "orange": (255, 165, 0),
    "darkblue": (0, 0, 139),
    "darkred": (139, 0, 0),
    "darkgreen": (0, 100, 0),
    "brown": (165, 42, 42),
    "windowtext": (0, 0, 0),
    "window": (255, 255, 255),
    "canvas": (255, 255, 255),
    "canvastext": (0, 0, 0),
}
TRANSPARENT: RGBA = (0, 0, 0, 0.0)

_HEX_RE = re.compile(r"#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})")
_NUM = r"[+-]?(?:\d{1,6}(?:\.\d{0,6})?|\.\d{1,6})"
_W = "[ \t\n\r\f]*"
_RGB_RE = re.compile(
    rf"rgba?\({_W}({_NUM})(%?){_W}(,?){_W}({_NUM})(%?){_W},?{_W}({_NUM})(%?){_W}(?:[,/]{_W}({_NUM})(%?){_W})?\)"
)
_LENGTH_RE = re.compile(rf"({_NUM})(px|pt|pc|in|cm|mm|q|em|rem|ex|ch|%|vw|vh|vmin|vmax)?")
_PX_PER = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4, "q": 96 / 101.6}


def parse_color(value: str) -> RGBA | None:
    """An RGBA colour (alpha 0..1), or None when the whole value is not understood."""
    v = value.strip(CSS_WS).lower()
    if v == "transparent":
        return TRANSPARENT
    if v in _NAMED:
        r, g, b = _NAMED[v]
        return (r, g, b, 1.0)
    m = _HEX_RE.fullmatch(v)
    if m:
        h = m.group(1)
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h)
        alpha = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha)
    m = _RGB_RE.fullmatch(v)
    if m:
        channels = []
        for num, pct in ((m.group(1), m.group(2)), (m.group(4), m.group(5)), (m.group(6), m.group(7))):
            x = float(num) * (2.55 if pct else 1.0)
            channels.append(round(min(255.0, max(0.0, x))))
        alpha = 1.0
        if m.group(8) is not None:
            alpha = float(m.group(8)) / (100.0 if m.group(9) else 1.0)
            alpha = min(1.0, max(0.0, alpha))
        return (channels[0], channels[1], channels[2], alpha)
    return None


def length_px(value: str, font_px: float) -> float | None:
    """One CSS length in px (``%`` of the font size), or None when not a plain length.

    A unitless number is only a length when it is zero (as in CSS).
    """
    m = _LENGTH_RE.fullmatch(value.strip(CSS_WS).lower())
    if not m:
        return None
    num, unit = float(m.group(1)), m.group(2)
    if unit is None:
        return 0.0 if num == 0 else None
    if unit in _PX_PER:
        return num * _PX_PER[unit]
    if unit in ("em",):
        return num * font_px
    if unit == "rem":
        return num * 16.0
    if unit in ("ex", "ch"):
        return num * font_px / 2
    if unit == "%":
        return num * font_px / 100
    return None  # viewport units: depends on a screen we do not know


def percent(value: str) -> float | None:
    """``25%`` -> 25.0; None when not a percentage."""
    v = value.strip(CSS_WS)
    if not v.endswith("%"):
        return None
    try:
        return float(v[:-1])
    except ValueError:
        return None


def number(value: str) -> float | None:
    """A plain CSS number (``1``, ``.5``), or None."""
    if not re.fullmatch(_NUM, value.strip(CSS_WS)):
        return None
    return float(value.strip(CSS_WS))


def split_tokens(value: str) -> list[str]:
    """Whitespace-separated tokens, keeping ``(...)`` and quoted strings whole."""
    tokens: list[str] = []
    cur: list[str] = []
    depth = 0
    quote = ""
    for ch in value:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch == "(":
            depth += 1
            cur.append(ch)
        elif ch == ")":
            depth = max(0, depth - 1)
            cur.append(ch)
        elif ch in CSS_WS and depth == 0:
            if cur:
                tokens.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        tokens.append("".join(cur))
    return tokens


def strip_comments(css: str) -> str:
    out: list[str] = []
    i = 0
    while True:
        j = css.find("/*", i)
        if j < 0:
            out.append(css[i:])
            break
        out.append(css[i:j])
        k = css.find("*/", j + 2)
        if k < 0:
            break
        i = k + 2
    return " ".join(out)


def parse_declarations(style: str) -> list[tuple[str, str]]:
    """Every ``property: value`` of a style attribute or rule body, in order.

    Property lower-cased and stripped; value lower-cased, ``!important``
    removed (the judge considers every declaration, so precedence does not
    matter). A piece without a colon is dropped, as a browser drops it.
    """
    out: list[tuple[str, str]] = []
    if not style:
        return out
    for decl in strip_comments(style).split(";"):
        if ":" not in decl:
            continue
        prop, _, value = decl.partition(":")
        prop = prop.strip(CSS_WS).lower()
        value = value.strip(CSS_WS).lower()
        if value.endswith("important"):
            value = re.sub(r"![ \t\n\r\f]*important$", "", value).strip(CSS_WS)
        if prop:
            out.append((prop, value))
    return out


@dataclass(frozen=True)
class _Compound:
    tag: str | None
    classes: frozenset[str]
    ids: frozenset[str]
    attrs: frozenset[str]


@dataclass(frozen=True)
class Rule:
    """One selector of a style rule with its declarations."""

    compound: _Compound
    declarations: tuple[tuple[str, str], ...]
    exact: bool  # our match is the browser's match
    conditional: bool  # inside @media / @supports / ...: may or may not apply


@dataclass(frozen=True)
class Matched:
    """A declaration that applies to an element, and how sure that is."""

    prop: str
    value: str
    exact: bool = True
    conditional: bool = False


# At-rules whose body holds style rules that apply only sometimes.
_CONDITIONAL_AT = ("@media", "@supports", "@container", "@layer", "@document", "@-moz-document", "@scope")
_INERT_AT = (
    "@font-face",
    "@page",
    "@keyframes",
    "@-webkit-keyframes",
    "@-moz-keyframes",
    "@counter-style",
    "@property",
    "@font-feature-values",
    "@viewport",
    "@-ms-viewport",
    "@namespace",
    "@charset",
)


@dataclass
class StyleSheet:
    """Rules from ``<style>`` elements, and what could not be followed."""

    rules: list[Rule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    web_fonts: set[str] = field(default_factory=set)  # @font-face families loaded from a url
    _index: dict[str, list[int]] | None = field(default=None, repr=False)

    def add(self, css: str, *, conditional: bool = False) -> None:
        """Parse a style sheet in one linear pass (no regex over the whole sheet)."""
        css = strip_comments(css[:200_000]).replace("<!--", " ").replace("-->", " ")
        # Stack of open blocks: (prelude, body start, has a nested block).
        stack: list[tuple[str, int, bool]] = []
        last = 0
        for pos, ch in enumerate(css):
            if ch == "{":
                if stack:
                    prelude, start, _ = stack[-1]
                    stack[-1] = (prelude, start, True)
                stack.append((css[last:pos].strip(CSS_WS).lower(), pos + 1, False))
                last = pos + 1
            elif ch == "}":
                if stack:
                    prelude, start, nested = stack.pop()
                    if not nested:
                        self._block(prelude, css[start:pos], [p for p, _, _ in stack], conditional)
                    elif not prelude.startswith("@"):
                        self._problem(f"nested CSS rule in '{prelude[:40]}'")
                last = pos + 1
            elif ch == ";" and not stack:
                statement = css[last:pos].strip(CSS_WS).lower()
                if statement.startswith("@import"):
                    self._problem(f"an external style sheet ({statement[:60]})")
                last = pos + 1
        while stack:  # an unclosed block ends with the sheet, as in a browser
            prelude, start, nested = stack.pop()
            if not nested:
                self._block(prelude, css[start:], [p for p, _, _ in stack], conditional)
            last = len(css)
        tail = css[last:].strip(CSS_WS).lower()
        if tail.startswith("@import"):
            self._problem(f"an external style sheet ({tail[:60]})")

    def _problem(self, what: str) -> None:
        if what not in self.problems:
            self.problems.append(what)

    def _block(self, prelude: str, body: str, parents: list[str], conditional: bool) -> None:
        if prelude.startswith("@font-face"):
            face = dict(parse_declarations(body))
            if "url(" in face.get("src", "") or "format(" in face.get("src", ""):
                family = " ".join(face.get("font-family", "").replace('"', " ").replace("'", " ").split())
                self.web_fonts.add(family or "?")
            return
        if prelude.startswith("@") or any(p.startswith(_INERT_AT) for p in parents):
            return  # @font-face / @page bodies, keyframe steps: they style no element
        if any(not p.startswith("@") for p in parents):
            return  # reported as a nested rule by the parent
        if any(not p.startswith(_CONDITIONAL_AT) for p in parents):
            self._problem(f"the at-rule '{parents[0][:40]}'")
            return
        decls = tuple(parse_declarations(body))
        if not decls:
            return
        cond = conditional or bool(parents)
        for sel in prelude.split(","):
            parsed = _last_compound(sel[:2000])
            if parsed is not None:
                compound, exact = parsed
                self.rules.append(Rule(compound, decls, exact, cond))
                self._index = None

    def _build_index(self) -> dict[str, list[int]]:
        """Rule numbers by the one key an element must have for them to match:
        ``#id``, ``.class``, ``tag``, or ``*`` (attribute-only / universal)."""
        index: dict[str, list[int]] = {}
        for n, rule in enumerate(self.rules):
            comp = rule.compound
            if comp.ids:
                key = "#" + min(comp.ids)
            elif comp.classes:
                key = "." + min(comp.classes)
            elif comp.tag is not None:
                key = comp.tag
            else:
                key = "*"
            index.setdefault(key, []).append(n)
        return index

    def declarations_for(self, tag: str, attrs: Mapping[str, str]) -> list[Matched]:
        """Declarations of every rule that may apply to this element, in sheet order."""
        out: list[Matched] = []
        if not self.rules:
            return out
        if self._index is None:
            self._index = self._build_index()
        classes = set(attrs.get("class", "").lower().split())
        ident = attrs.get("id", "").lower()
        keys = ["*", tag, *("." + c for c in classes)] + (["#" + ident] if ident else [])
        numbers = sorted({n for key in keys for n in self._index.get(key, ())})
        for n in numbers:
            rule = self.rules[n]
            comp = rule.compound
            if comp.tag is not None and comp.tag != tag:
                continue
            if not comp.classes <= classes:
                continue
            if comp.ids and comp.ids != {ident}:
                continue
            if not all(a in attrs for a in comp.attrs):
                continue
            out.extend(Matched(p, v, rule.exact, rule.conditional) for p, v in rule.declarations)
        return out


_COMBINATOR_RE = re.compile(r"[\s>+~]+")
_PSEUDO_RE = re.compile(r"::?[a-z-]{1,40}(?:\([^)]{0,200}\))?", re.IGNORECASE)
_ATTR_RE = re.compile(r"\[([^\]]{1,200})\]")


def _last_compound(selector: str) -> tuple[_Compound, bool] | None:
    """The last compound of a selector and whether matching it alone is exact."""
    raw = selector.strip(CSS_WS).lower()
    if "\\" in raw:
        # CSS escapes (``sp\\an``, ``.\\78``): not decoded here, so the rule may match anything.
        return _Compound(None, frozenset(), frozenset(), frozenset()), False
    sel = _PSEUDO_RE.sub("", raw)
    exact = sel == raw
    found = _ATTR_RE.findall(sel)
    if any("=" in a for a in found):
        exact = False  # only the attribute's presence is checked
    attrs = frozenset(a.split("=")[0].strip(" ~|^$*") for a in found)
    sel = re.sub(r"\[[^\]]{0,200}\]", "", sel)
    parts = [p for p in _COMBINATOR_RE.split(sel) if p]
    if len(parts) > 1:
        exact = False
    if not parts:
        if not raw:
            return None
        # Only pseudo-classes (``:root``, ``:is(...)``) or attributes: may match any element.
        return _Compound(None, frozenset(), frozenset(), attrs), exact and bool(attrs)
    last = parts[-1]
    tag_m = re.match(r"^([a-z][a-z0-9-]{0,30}|\*)", last)
    tag = tag_m.group(1) if tag_m and tag_m.group(1) != "*" else None
    classes = frozenset(re.findall(r"\.([a-z0-9_-]{1,100})", last))
    ids = frozenset(re.findall(r"#([a-z0-9_-]{1,100})", last))
    return _Compound(tag, classes, ids, attrs), exact
