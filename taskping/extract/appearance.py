"""What an element looks like: the styles in effect, judged by :mod:`.visible`.

One :class:`Look` per rendered element, computed from its parent's look, the
style-sheet declarations that may match it, its presentational attributes and
its ``style`` attribute. Because a sheet rule may match only in our
over-approximation (or only under some ``@media``), a look holds *sets* of
candidate text and background colours and the *smallest* candidate font
size: text counts as readable only if it is readable under every candidate.

A look never raises: what cannot be judged is recorded as ``unknown`` (a
short "property: value" naming it, inherited by every descendant) or
``escape`` (a not-understood style that can paint over other elements).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from . import css as C
from . import visible as V

RGB = tuple[int, int, int]
BLACK: C.RGBA = (0, 0, 0, 1.0)
WHITE: RGB = (255, 255, 255)
LINK_COLOURS: frozenset[C.RGBA] = frozenset({(0, 0, 238, 1.0), (85, 26, 139, 1.0)})  # unvisited, visited
_MAX_CANDIDATES = 16
_TAG_SCALE = {
    "small": 1 / 1.2,
    "sub": 1 / 1.2,
    "sup": 1 / 1.2,
    "big": 1.2,
    "h1": 2.0,
    "h2": 1.5,
    "h3": 1.17,
    "h5": 0.83,
    "h6": 0.67,
}
_FONT_SIZE_ATTR = {1: 10.0, 2: 13.0, 3: 16.0, 4: 18.0, 5: 24.0, 6: 32.0, 7: 48.0}
_COLOUR_PROPS = frozenset({"color", "background", "background-color"})
_SIZE_PROPS = frozenset({"font-size", "font"})
_PRE = frozenset({"pre", "pre-wrap", "pre-line", "break-spaces"})
# Inline by default: vertical padding and borders on them overlap the lines around.
_INLINE_TAGS = frozenset(
    {
        "span",
        "a",
        "font",
        "b",
        "i",
        "u",
        "s",
        "strong",
        "em",
        "code",
        "small",
        "big",
        "sub",
        "sup",
        "mark",
        "label",
        "abbr",
        "cite",
        "q",
        "tt",
        "var",
        "kbd",
        "samp",
        "strike",
        "del",
        "ins",
        "bdi",
        "time",
        "data",
        "dfn",
    }
)
_BOX_EDGE_PROPS = frozenset(
    {
        "padding",
        "padding-top",
        "padding-bottom",
        "padding-block",
        "padding-block-start",
        "padding-block-end",
        "border",
        "border-top",
        "border-bottom",
        "border-width",
        "border-top-width",
        "border-bottom-width",
        "border-block",
        "border-block-width",
    }
)
_FIXED_HEIGHT_OK = frozenset({"table", "tr", "td", "th", "tbody", "thead", "tfoot", "img", "hr"})
_MAX_INLINE_EDGE_PX = 4.0


@dataclass(frozen=True)
class Look:
    fgs: frozenset[C.RGBA]
    bgs: frozenset[RGB]
    font_px: float
    pre: bool = False
    links: frozenset[C.RGBA] = LINK_COLOURS
    line_factor: float | None = 1.2  # line height as a multiple of the font size ("normal" ~ 1.2)...
    line_px: float | None = None  # ...or as a fixed length, inherited as such
    hidden: bool = False  # certainly invisible: drop the element and everything in it
    faint: bool = False  # text in (nearly) the background colour, or at size 0: drop the text
    unknown: str | None = None  # a style not understood: text under it cannot be judged
    escape: str | None = None  # a style not understood that can paint over other elements


ROOT = Look(frozenset({BLACK}), frozenset({WHITE}), V.DEFAULT_FONT_PX)


def _presentational(tag: str, attrs: Mapping[str, str]) -> list[C.Matched]:
    """Attributes that style like CSS, as declarations."""
    out: list[C.Matched] = []
    if "bgcolor" in attrs:
        out.append(C.Matched("background-color", attrs["bgcolor"].strip(C.CSS_WS).lower()))
    if tag == "font" and "color" in attrs:
        out.append(C.Matched("color", attrs["color"].strip(C.CSS_WS).lower()))
    if tag == "body" and "text" in attrs:
        out.append(C.Matched("color", attrs["text"].strip(C.CSS_WS).lower()))
    return out


def _font_attr_px(value: str, parent_px: float) -> float | None:
    v = value.strip(C.CSS_WS)
    try:
        n = int(v)
    except ValueError:
        return None
    level = 3 + n if v[:1] in "+-" else n
    return _FONT_SIZE_ATTR[min(7, max(1, level))] if v else parent_px


_STYLING_ATTRS = ("style", "bgcolor", "color", "text", "link", "vlink", "alink", "size", "background", "hidden", "face")


def look_of(
    tag: str,
    attrs: Mapping[str, str],
    matched: Sequence[C.Matched],
    parent: Look,
    web_fonts: frozenset[str] = frozenset(),
) -> Look:
    """The look of an element (see the module docstring); memoised, mail repeats its styles.

    ``web_fonts``: font families the style sheets load from a url.
    """
    styling = tuple(attrs.get(name) for name in _STYLING_ATTRS)
    return _look(tag, styling, "href" in attrs, tuple(matched), parent, web_fonts)


@functools.lru_cache(maxsize=2048)
def _look(
    tag: str,
    styling: tuple[str | None, ...],
    has_href: bool,
    matched: tuple[C.Matched, ...],
    parent: Look,
    web_fonts: frozenset[str],
) -> Look:
    attrs = {name: value for name, value in zip(_STYLING_ATTRS, styling, strict=True) if value is not None}
    if has_href:
        attrs["href"] = ""
    return _compute(tag, attrs, matched, parent, web_fonts)


# Fonts whose glyphs are pictures: "J" in Wingdings is a smiley, so what is
# typed is not what was seen. (Unicode fonts such as "Segoe UI Symbol" are fine.)
_SYMBOL_FONTS = frozenset(
    {
        "wingdings",
        "wingdings 2",
        "wingdings 3",
        "webdings",
        "symbol",
        "marlett",
        "zapf dingbats",
        "itc zapf dingbats",
        "zapfdingbats",
        "bookshelf symbol 7",
        "ms outlook",
        "ms reference specialty",
        "mt extra",
    }
)


def _families(value: str) -> set[str]:
    """Font family names of a ``font-family`` (or ``font``) value, lower-cased, unquoted."""
    return {" ".join(name.replace('"', " ").replace("'", " ").split()) for name in value.split(",")}


def _font_problem(m: C.Matched, web_fonts: frozenset[str]) -> str | None:
    if m.prop not in ("font-family", "font"):
        return None
    families = _families(m.value)
    if m.prop == "font":  # the first family follows the size: "12px Wingdings, serif"
        families |= {" ".join(f.split()[i:]) for f in families for i in range(len(f.split()))}
    if families & _SYMBOL_FONTS:
        return f"{m.prop}: {m.value}"[:80] + " (a symbol font shows other characters)"
    if families & web_fonts:
        return f"{m.prop}: {m.value}"[:80] + " (a downloaded font can draw anything)"
    return None


def _compute(
    tag: str, attrs: Mapping[str, str], matched: Sequence[C.Matched], parent: Look, web_fonts: frozenset[str]
) -> Look:
    inline_style = [C.Matched(p, v) for p, v in C.parse_declarations(attrs.get("style", ""))]
    decls = [*matched, *_presentational(tag, attrs), *inline_style]
    unknown: list[str] = []
    escape: str | None = None
    hidden = "hidden" in attrs

    def note(m: C.Matched, why: str = "") -> None:
        unknown.append(f"{m.prop}: {m.value}"[:80] + why)

    if tag == "font" and "face" in attrs:
        problem = _font_problem(C.Matched("font-family", attrs["face"].lower()), web_fonts)
        if problem is not None:
            unknown.append(problem.replace("font-family:", "<font face>:", 1))
    if tag == "bdo":
        unknown.append("<bdo> (shows the characters in another order)")
    if "background" in attrs and tag in ("body", "table", "td", "th", "tr"):
        unknown.append(f'background="{attrs["background"][:60]}" (an image behind the text)')

    # Font size first: lengths in em depend on it.
    font_px = parent.font_px * _TAG_SCALE.get(tag, 1.0)
    if tag == "font" and "size" in attrs:
        px = _font_attr_px(attrs["size"], font_px)
        if px is not None:
            font_px = px
    sizes: list[float] = []
    keep_parent_size = False
    for m in decls:
        if m.prop not in _SIZE_PROPS:
            continue
        value = m.value
        if m.prop == "font":
            parts = V.font_shorthand(value)
            if parts is None:
                note(m)
                continue
            value, line = parts
            if line is not None and not V.line_height_ok(line, font_px):
                note(m, " (line height)")
        px = V.font_size_px(value, parent.font_px)
        if px is None:
            note(m)
        elif px == 0 and (not m.exact or m.conditional):
            note(m, " (may hide the text)")
        else:
            sizes.append(px)
            keep_parent_size = keep_parent_size or not m.exact or m.conditional
    if sizes:
        font_px = min([*sizes, font_px] if keep_parent_size else sizes)
    # Size 0 hides this element's own text; a child that sets a size in px is
    # seen again (as in a browser), one in em/% stays at 0.
    if 0 < font_px < V.MIN_FONT_PX:
        unknown.append(f"font size {font_px:.1f}px (too small to read)")

    # Everything but colours and sizes.
    pre = parent.pre
    inline = tag in _INLINE_TAGS and all(m.value == "inline" for m in decls if m.prop == "display")
    line_factor, line_px = parent.line_factor, parent.line_px
    for m in decls:
        if m.prop == "line-height" or (m.prop == "font" and V.font_shorthand(m.value) is not None):
            line = m.value if m.prop == "line-height" else (V.font_shorthand(m.value) or ("", None))[1]
            if line is not None:
                line_factor, line_px = _line_height(line, font_px, line_factor, line_px)
        font_problem = _font_problem(m, web_fonts)
        if font_problem is not None:
            unknown.append(font_problem)
        if m.prop in _COLOUR_PROPS or m.prop in _SIZE_PROPS:
            continue
        if inline and m.prop in _BOX_EDGE_PROPS and _widest_px(m.value, font_px) > _MAX_INLINE_EDGE_PX:
            unknown.append(f"{m.prop}: {m.value}"[:80])
            escape = escape or f"{m.prop}: {m.value}"[:80] + " on inline text"
            continue
        if m.prop in ("height", "max-height") and tag not in _FIXED_HEIGHT_OK and C.length_px(m.value, font_px):
            note(m, " (fixed height: text can spill under what follows)")
            continue
        j = V.judge(m.prop, m.value, round(font_px, 2))
        if j.verdict is V.Verdict.HIDES:
            if m.exact and not m.conditional:
                hidden = True
            else:
                note(m, " (may hide the text)")
        elif j.verdict is V.Verdict.UNKNOWN:
            note(m)
            if j.escapes and escape is None:
                escape = f"{m.prop}: {m.value[:60]}"
        if m.prop == "white-space":
            pre = m.value in _PRE or (pre and m.value in V._GLOBAL_VALUES)

    effective_line = line_px if line_px is not None else (line_factor or 1.2) * font_px
    if font_px > 0 and effective_line < 0.8 * font_px:
        unknown.append(f"line height {effective_line:.1f}px under text of {font_px:.1f}px")

    bgs = _backgrounds(decls, parent, unknown)
    fgs = _text_colours(tag, attrs, decls, parent, unknown)
    links = _link_colours(tag, attrs, parent, unknown)
    faint = False
    if len(fgs) * len(bgs) > _MAX_CANDIDATES:
        unknown.append("too many colour rules to judge")
    else:
        ratios = [V.contrast(fg, bg) for fg in fgs for bg in bgs]
        if font_px == 0 or (ratios and max(ratios) < V.HIDDEN_CONTRAST):
            faint = True
        elif ratios and min(ratios) < V.VISIBLE_CONTRAST:
            unknown.append(f"text colour too close to its background (contrast {min(ratios):.2f})")
    first_unknown = parent.unknown or (unknown[0] if unknown else None)
    return replace(
        parent,
        fgs=fgs,
        bgs=bgs,
        font_px=font_px,
        pre=pre,
        links=links,
        hidden=hidden,
        faint=faint,
        unknown=first_unknown,
        escape=escape,
        line_factor=line_factor,
        line_px=line_px,
    )


def _line_height(
    value: str, font_px: float, factor: float | None, px: float | None
) -> tuple[float | None, float | None]:
    """The line height an element passes on: a factor (numbers, ``normal``) or a length (lengths, %)."""
    v = value.strip(C.CSS_WS)
    if v == "normal" or v == "initial":
        return 1.2, None
    if v in ("inherit", "unset", "revert", "revert-layer"):
        return factor, px
    num = C.number(v)
    if num is not None:
        return num, None
    pct = C.percent(v)
    if pct is not None:
        return None, pct * font_px / 100
    length = C.length_px(v, font_px)
    if length is not None:
        return None, length
    return factor, px  # not understood: judged (and refused) as a declaration


def _widest_px(value: str, font_px: float) -> float:
    """The largest length in a padding/border value (0 when none)."""
    widest = 0.0
    for token in C.split_tokens(value):
        if token in ("thin",):
            widest = max(widest, 1.0)
        elif token in ("medium", "thick"):
            widest = max(widest, 3.0 if token == "medium" else 5.0)
        else:
            px = C.length_px(token, font_px)
            if px is not None:
                widest = max(widest, px)
    return widest


def _backgrounds(decls: Sequence[C.Matched], parent: Look, unknown: list[str]) -> frozenset[RGB]:
    out: set[RGB] = set()
    keep_parent = False
    seen = False
    for m in decls:
        if m.prop not in ("background", "background-color"):
            continue
        seen = True
        colour = V.background_color(m.value)
        if colour is None:
            unknown.append(f"{m.prop}: {m.value[:60]}")
            continue
        if colour[3] >= 1.0:
            out.add(colour[:3])
        else:
            keep_parent = True if colour[3] == 0 else keep_parent
            out.update(V.composite(colour, bg) for bg in parent.bgs)
        keep_parent = keep_parent or not m.exact or m.conditional
    if not seen or not out:
        return parent.bgs
    return frozenset(out | (parent.bgs if keep_parent else set()))


def _text_colours(
    tag: str, attrs: Mapping[str, str], decls: Sequence[C.Matched], parent: Look, unknown: list[str]
) -> frozenset[C.RGBA]:
    inherited = parent.links if tag == "a" and "href" in attrs else parent.fgs
    out: set[C.RGBA] = set()
    keep_parent = False
    for m in decls:
        if m.prop != "color":
            continue
        if m.value in ("inherit", "unset", "currentcolor", "revert", "revert-layer"):
            keep_parent = True
            continue
        colour = BLACK if m.value == "initial" else C.parse_color(m.value)
        if colour is None:
            unknown.append(f"color: {m.value[:60]}")
            continue
        out.add(colour)
        keep_parent = keep_parent or not m.exact or m.conditional
    if not out:
        return inherited
    return frozenset(out | (inherited if keep_parent else set()))


def _link_colours(tag: str, attrs: Mapping[str, str], parent: Look, unknown: list[str]) -> frozenset[C.RGBA]:
    if tag != "body":
        return parent.links
    found: set[C.RGBA] = set()
    for name in ("link", "vlink", "alink"):
        if name in attrs:
            colour = C.parse_color(attrs[name])
            if colour is None:
                unknown.append(f'{name}="{attrs[name][:60]}"')
            else:
                found.add(colour)
    return frozenset(found) if found else parent.links
