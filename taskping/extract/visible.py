"""Could a person see this text? The rule, and the allowlist it rests on.

Hidden text is the attack: HTML whose visible part looks harmless and whose
invisible part is a command. A denylist of hiding tricks always misses one
(``-webkit-text-fill-color``, ``hsl()`` colours, transforms...), so the rule
is inverted:

**Text counts as visible only when every style that affects it is one this
module understands and judges visible.** Styles that affect text: inline
``style``, ``<style>`` rules that may match (see :mod:`.css`), presentational
attributes (``bgcolor``, ``<font color/size>``, ``<body text/link/vlink>``,
``hidden``, ``background``), and the same from every ancestor.

Each declaration gets one of three verdicts:

- *visible*: on the allowlist below, with a value in range;
- *hides*: understood and certainly hides (``display:none``,
  ``visibility:hidden|collapse``, ``mso-hide:all``, ``content-visibility:
  hidden``, ``opacity:0``, ``font-size:0`` (the element's own text: a child
  setting a size in px is seen again), text colour within contrast 1.25
  of every background in effect): the element's text is dropped — but only
  when the rule surely applies; from an inexact or ``@media`` rule it is
  *not understood* (the text may be visible);
- *not understood*: anything else — a property not on the list, a value out
  of range or unparsable (``hsl()``, ``var()``, ``calc()``, ``color-mix()``,
  ``url()``, escapes), contrast between 1.25 and 2.0, a symbol font
  (Wingdings, Webdings, Symbol: "J" is drawn as a smiley) or a font an
  ``@font-face`` loads from a url (it can draw any glyph, or none).

Text rendered under a not-understood style outside a quote refuses the HTML
part (the caller then uses the text/plain part, or refuses the message naming
the style). Inside a quote container it does not matter (quoted lines are
never typed), *except* for styles that can paint over other elements
(``position`` other than static/relative, offsets, ``transform``, negative
margins, ``z-index``, ``outline``, ``text-shadow``, ``filter``...): those
refuse wherever they are, because a box from the quote could cover the new
text. (``box-shadow`` cannot: in-flow backgrounds and shadows are painted
before any text; it is not understood on text, an inset shadow can paint the
text colour behind it.)

Allowlist (what Gmail, Outlook desktop/web/mobile, Apple Mail/iOS, Thunderbird,
QQ and NetEase write in replies; values are checked where they could hide):

- fonts: ``font-family``, ``font-weight``, ``font-style``, ``font-variant*``,
  ``font-stretch``, ``font-kerning``, ``font-feature-settings``,
  ``font-size`` (computed ≥ 6px; 0 hides), ``font`` (its size and line
  height checked), ``line-height`` (``normal``, ≥ 0.8 of the font size),
  ``letter-spacing``/``word-spacing`` (−2px..20px), ``text-transform``;
- colour: ``color``, ``background-color``, ``background`` (a colour only),
  ``caret-color``; visible when the contrast ratio (WCAG) of every text
  colour against every background in effect is ≥ 2.0;
- box: ``margin*`` (0..400px, ≤ 25%: a negative margin moves a box over
  other text), ``padding*`` (0..400px; on inline text at most 4px, more
  paints its background over the lines around it),
  ``border*`` (widths ≤ 20px, styles, colours), ``border-radius``,
  ``width``/``min-*``/``max-width`` (``auto``, ``none``, %, ≥ 8px),
  ``height``/``max-height`` as lengths only on table parts and images
  (elsewhere a fixed height lets text spill under what follows),
  ``display`` (block, inline, inline-block, list-item, table parts),
  ``float``/``clear``, ``box-sizing``, ``vertical-align`` (keywords),
  ``position: static|relative`` with zero/auto offsets, ``overflow: visible``;
- text: ``text-align``, ``text-decoration*`` (keywords, colours, ≤ 3px
  thick), ``text-indent`` (−60..200px),
  ``white-space`` (``pre*`` keeps line breaks), ``word-wrap``,
  ``overflow-wrap``, ``word-break``, ``direction``, ``unicode-bidi``
  (normal/embed/isolate/plaintext), ``list-style*`` (no image), table
  layout properties, ``orphans``/``widows``, ``page-break-*``;
- harmless client noise: ``-webkit-text-size-adjust``, ``-ms-text-size-adjust``,
  ``-webkit-nbsp-mode``, ``-webkit-line-break``, ``line-break``,
  ``-webkit-font-smoothing``, ``-webkit-tap-highlight-color``,
  ``-webkit-text-stroke-width: 0``, ``cursor``, ``user-select``, ``page``,
  and Outlook's ``mso-*`` bookkeeping (styles, fonts, languages, list
  numbering, alt margins/padding/borders, line-height rule) and its
  ``behavior:url(#default#VML)``;
- any property set to ``inherit``, ``initial``, ``unset`` or ``revert``
  except the colours (``initial`` text is black).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum

from . import css as C


class Verdict(Enum):
    VISIBLE = "visible"
    HIDES = "hides"
    UNKNOWN = "not understood"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    escapes: bool = False  # not understood and able to paint over other elements


OK = Judgement(Verdict.VISIBLE)
HIDES = Judgement(Verdict.HIDES)
UNKNOWN = Judgement(Verdict.UNKNOWN)
ESCAPES = Judgement(Verdict.UNKNOWN, escapes=True)

DEFAULT_FONT_PX = 16.0
MIN_FONT_PX = 6.0
HIDDEN_CONTRAST = 1.25  # below: the same colour as the background, text dropped
VISIBLE_CONTRAST = 2.0  # from here: clearly visible; in between: not understood

_GLOBAL_VALUES = frozenset({"inherit", "initial", "unset", "revert", "revert-layer"})
_FORBIDDEN_IN_VALUES = (
    "var(",
    "calc(",
    "env(",
    "attr(",
    "expression(",
    "url(",
    "image(",
    "gradient(",
    "\\",
    "min(",
    "max(",
    "clamp(",
    "image-set(",
    "element(",
)

# Properties whose value cannot hide or move text (checked only for the forbidden functions above).
_FREE = frozenset(
    {
        "font-family",
        "font-weight",
        "font-style",
        "font-variant",
        "font-variant-caps",
        "font-variant-ligatures",
        "font-variant-numeric",
        "font-variant-east-asian",
        "font-stretch",
        "font-kerning",
        "font-feature-settings",
        "font-synthesis",
        "font-optical-sizing",
        "text-transform",
        "text-align",
        "text-align-last",
        "text-decoration-line",
        "text-decoration-style",
        "text-decoration-color",
        "text-decoration-skip-ink",
        "text-underline-position",
        "text-rendering",
        "word-wrap",
        "overflow-wrap",
        "word-break",
        "hyphens",
        "line-break",
        "orphans",
        "widows",
        "direction",
        "caret-color",
        "cursor",
        "user-select",
        "-webkit-user-select",
        "-moz-user-select",
        "-ms-user-select",
        "box-sizing",
        "-webkit-box-sizing",
        "-moz-box-sizing",
        "float",
        "clear",
        "border-collapse",
        "table-layout",
        "empty-cells",
        "caption-side",
        "list-style-type",
        "list-style-position",
        "page",
        "page-break-before",
        "page-break-after",
        "page-break-inside",
        "break-before",
        "break-after",
        "break-inside",
        "-webkit-nbsp-mode",
        "-webkit-line-break",
        "-webkit-font-smoothing",
        "-moz-osx-font-smoothing",
        "-webkit-tap-highlight-color",
        "-webkit-text-size-adjust",
        "-ms-text-size-adjust",
        "text-size-adjust",
        "background-repeat",
        "background-position",
        "background-attachment",
        "background-size",
        "background-clip",
        "background-origin",
        "tab-size",
        "-moz-tab-size",
        "pointer-events",
        "outline-style",
        "border-style",
        "border-color",
        "border-top-color",
        "border-right-color",
        "border-bottom-color",
        "border-left-color",
        "border-top-style",
        "border-right-style",
        "border-bottom-style",
        "border-left-style",
        "speak",
        "text-justify",
        "font-size-adjust",
        "quotes",
    }
)
_MSO_PREFIXES = (
    "mso-style-",
    "mso-fareast-",
    "mso-bidi-",
    "mso-ascii-",
    "mso-hansi-",
    "mso-ansi-",
    "mso-margin-",
    "mso-padding-",
    "mso-border-",
    "mso-font-",
    "mso-generic-font-",
    "mso-table-",
    "mso-yfti-",
    "mso-para-margin",
)
_MSO_FREE = frozenset(
    {
        "mso-ligatures",
        "mso-no-proof",
        "mso-list",
        "mso-line-height-rule",
        "mso-pagination",
        "mso-layout-grid-align",
        "mso-outline-level",
        "mso-spacerun",
        "mso-tab-count",
        "mso-default-props",
        "mso-level-number-format",
        "mso-level-text",
        "mso-level-tab-stop",
        "mso-level-number-position",
        "mso-level-legacy",
        "mso-level-start-at",
        "mso-list-id",
        "mso-list-type",
        "mso-list-template-ids",
        "mso-char-type",
        "mso-height-source",
        "mso-width-source",
        "mso-cellspacing",
        "mso-element",
        "mso-element-wrap",
        "mso-element-anchor-vertical",
        "mso-element-anchor-horizontal",
        "mso-element-frame-hspace",
        "mso-element-left",
        "mso-element-top",
        "mso-add-space",
        "mso-hyphenate",
        "mso-kerning",
        "mso-themecolor",
        "mso-themeshade",
        "mso-themetint",
        "mso-data-placement",
        "mso-number-format",
        "mso-displayed-decimal-separator",
    }
)
_KEYWORDS: dict[str, frozenset[str]] = {
    "display": frozenset(
        {
            "block",
            "inline",
            "inline-block",
            "list-item",
            "table",
            "inline-table",
            "table-row",
            "table-cell",
            "table-row-group",
            "table-header-group",
            "table-footer-group",
            "table-column",
            "table-column-group",
            "table-caption",
            "run-in",
            "contents",
        }
    ),
    "visibility": frozenset({"visible"}),
    "position": frozenset({"static", "relative"}),
    "overflow": frozenset({"visible"}),
    "overflow-x": frozenset({"visible"}),
    "overflow-y": frozenset({"visible"}),
    "vertical-align": frozenset(
        {"baseline", "top", "middle", "bottom", "sub", "super", "text-top", "text-bottom", "0", "0px"}
    ),
    "unicode-bidi": frozenset({"normal", "embed", "isolate", "plaintext"}),
    "white-space": frozenset({"normal", "nowrap", "pre", "pre-wrap", "pre-line", "break-spaces"}),
    "content-visibility": frozenset({"visible"}),
    "text-shadow": frozenset({"none"}),
    "box-shadow": frozenset({"none"}),
    "transform": frozenset({"none"}),
    "translate": frozenset({"none"}),
    "rotate": frozenset({"none"}),
    "scale": frozenset({"none", "1"}),
    "perspective": frozenset({"none"}),
    "filter": frozenset({"none"}),
    "backdrop-filter": frozenset({"none"}),
    "mix-blend-mode": frozenset({"normal"}),
    "isolation": frozenset({"auto"}),
    "clip": frozenset({"auto"}),
    "clip-path": frozenset({"none"}),
    "mask": frozenset({"none"}),
    "-webkit-mask": frozenset({"none"}),
    "mask-image": frozenset({"none"}),
    "-webkit-mask-image": frozenset({"none"}),
    "z-index": frozenset({"auto"}),
    "zoom": frozenset({"1", "normal", "100%"}),
    "outline": frozenset({"none", "0", "0px"}),
    "outline-width": frozenset({"0", "0px"}),
    "animation": frozenset({"none"}),
    "animation-name": frozenset({"none"}),
    "transition": frozenset({"none"}),
    "content": frozenset({"normal", "none"}),
    "background-image": frozenset({"none"}),
    "list-style-image": frozenset({"none"}),
    "border-image": frozenset({"none"}),
    "-webkit-text-stroke-width": frozenset({"0", "0px"}),
    "text-overflow": frozenset({"clip"}),
    "writing-mode": frozenset({"horizontal-tb", "lr-tb"}),
    "mso-hide": frozenset({"none"}),
}
# Not understood and able to paint over other elements' text: refuse wherever they are.
_ESCAPING = frozenset(
    {
        "position",
        "top",
        "right",
        "bottom",
        "left",
        "inset",
        "inset-block",
        "inset-inline",
        "transform",
        "translate",
        "rotate",
        "scale",
        "perspective",
        "z-index",
        "outline",
        "outline-width",
        "outline-offset",
        "text-shadow",
        "filter",
        "backdrop-filter",
        "mix-blend-mode",
        "zoom",
        "margin",
        "margin-top",
        "margin-right",
        "margin-bottom",
        "margin-left",
        "animation",
        "animation-name",
        "transition",
        "border-image",
        "-webkit-box-reflect",
    }
)
_OFFSETS = frozenset({"top", "right", "bottom", "left", "inset", "inset-block", "inset-inline"})
_MARGINS = frozenset(
    {
        "margin",
        "margin-top",
        "margin-right",
        "margin-bottom",
        "margin-left",
        "margin-block",
        "margin-inline",
        "margin-block-start",
        "margin-block-end",
        "margin-inline-start",
        "margin-inline-end",
    }
)
_PADDINGS = frozenset(
    {
        "padding",
        "padding-top",
        "padding-right",
        "padding-bottom",
        "padding-left",
        "padding-block",
        "padding-inline",
        "padding-block-start",
        "padding-block-end",
        "padding-inline-start",
        "padding-inline-end",
    }
)
_SIZES = frozenset(
    {"width", "height", "min-width", "min-height", "max-width", "max-height", "inline-size", "block-size"}
)
_BORDER_KEYWORDS = frozenset(
    {
        "none",
        "hidden",
        "solid",
        "dotted",
        "dashed",
        "double",
        "groove",
        "ridge",
        "inset",
        "outset",
        "thin",
        "medium",
        "thick",
        "currentcolor",
        "auto",
    }
)
_FONT_KEYWORDS = {
    "xx-small": 9.0,
    "x-small": 10.0,
    "small": 13.0,
    "medium": 16.0,
    "large": 18.0,
    "x-large": 24.0,
    "xx-large": 32.0,
    "xxx-large": 48.0,
}


def forbidden_function(value: str) -> bool:
    """Whether a value uses something this module never evaluates (``var()``, ``url()``, escapes...)."""
    return any(f in value for f in _FORBIDDEN_IN_VALUES)


def font_size_px(value: str, parent_px: float) -> float | None:
    """Computed font size in px, or None when not understood."""
    v = value.strip(C.CSS_WS)
    if v in _FONT_KEYWORDS:
        return _FONT_KEYWORDS[v]
    if v == "smaller":
        return parent_px / 1.2
    if v == "larger":
        return parent_px * 1.2
    if v in _GLOBAL_VALUES:
        return parent_px if v != "initial" else DEFAULT_FONT_PX
    if forbidden_function(v):
        return None
    px = C.length_px(v, parent_px)
    return None if px is None or px < 0 else px


def font_shorthand(value: str) -> tuple[str, str | None] | None:
    """``(size, line_height)`` of a ``font`` shorthand, or None when not found."""
    tokens = C.split_tokens(value)
    for i, token in enumerate(tokens):
        size, _, line = token.partition("/")
        if not line and i + 1 < len(tokens) and tokens[i + 1].startswith("/"):
            line = tokens[i + 1][1:] or (tokens[i + 2] if i + 2 < len(tokens) else "")
        if size in _FONT_KEYWORDS or size in ("smaller", "larger") or C.length_px(size, DEFAULT_FONT_PX) is not None:
            if size in ("0",) and not line:
                continue  # a bare 0 is not a font size here
            return size, line or None
    return None


def line_height_ok(value: str, font_px: float) -> bool:
    v = value.strip(C.CSS_WS)
    if v in ("normal",) or v in _GLOBAL_VALUES:
        return True
    num = C.number(v)
    if num is not None:
        return num >= 0.8
    px = C.length_px(v, font_px)
    return px is not None and px >= 0.8 * font_px


def _lengths_within(value: str, font_px: float, low: float, high: float, max_percent: float) -> bool:
    tokens = C.split_tokens(value)
    if not tokens or len(tokens) > 4:
        return False
    for token in tokens:
        if token == "auto":
            continue
        pct = C.percent(token)
        if pct is not None:
            if not 0 <= pct <= max_percent:
                return False
            continue
        px = C.length_px(token, font_px)
        if px is None or not low <= px <= high:
            return False
    return True


def _border_ok(value: str, font_px: float) -> bool:
    for token in C.split_tokens(value):
        if token in _BORDER_KEYWORDS:
            continue
        px = C.length_px(token, font_px)
        if px is not None:
            if not 0 <= px <= 20:
                return False
            continue
        if C.parse_color(token) is None:
            return False
    return True


_DECORATION_KEYWORDS = frozenset(
    {
        "none",
        "underline",
        "overline",
        "line-through",
        "solid",
        "double",
        "dotted",
        "dashed",
        "wavy",
        "auto",
        "from-font",
        "currentcolor",
        "blink",
    }
)


def _decoration_ok(value: str, font_px: float) -> bool:
    for token in C.split_tokens(value):
        if token in _DECORATION_KEYWORDS or C.parse_color(token) is not None:
            continue
        px = C.length_px(token, font_px)
        if px is None or not 0 <= px <= 3:
            return False
    return True


def _size_ok(value: str, font_px: float) -> bool:
    v = value.strip(C.CSS_WS)
    if v in ("auto", "none", "fit-content", "max-content", "min-content"):
        return True
    pct = C.percent(v)
    if pct is not None:
        return pct >= 10
    px = C.length_px(v, font_px)
    return px is not None and px >= 8


def _mso(prop: str) -> bool:
    return prop in _MSO_FREE or prop.startswith(_MSO_PREFIXES)


@functools.lru_cache(maxsize=4096)
def judge(prop: str, value: str, font_px: float = DEFAULT_FONT_PX) -> Judgement:
    """The verdict for one declaration other than colours and font size (see the module docstring)."""
    escaping = ESCAPES if prop in _ESCAPING else UNKNOWN
    if prop == "behavior" and value == "url(#default#vml)":
        return OK  # Office's VML switch (``v\\:* {behavior:url(#default#VML)}``), read by old IE only
    if forbidden_function(value) or not prop.replace("-", "").isalpha():
        return escaping
    if value in _GLOBAL_VALUES or prop.startswith("--"):
        return OK  # a custom property does nothing until var() reads it, and var() is not understood
    if prop == "display":
        return HIDES if value == "none" else (OK if value in _KEYWORDS[prop] else UNKNOWN)
    if prop == "visibility":
        return HIDES if value in ("hidden", "collapse") else (OK if value == "visible" else UNKNOWN)
    if prop == "mso-hide":
        return HIDES if value == "all" else (OK if value == "none" else UNKNOWN)
    if prop == "content-visibility":
        return HIDES if value == "hidden" else (OK if value == "visible" else UNKNOWN)
    if prop == "opacity":
        num = C.number(value)
        pct = C.percent(value)
        level = num if num is not None else (pct / 100 if pct is not None else None)
        if level is None:
            return UNKNOWN
        return HIDES if level <= 0 else (OK if level >= 1 else UNKNOWN)
    if prop in _FREE or _mso(prop):
        return OK
    if prop in _KEYWORDS:
        return OK if value in _KEYWORDS[prop] else escaping
    if prop in _OFFSETS:
        return OK if all(t in ("auto", "0") or C.length_px(t, font_px) == 0 for t in C.split_tokens(value)) else ESCAPES
    if prop in _MARGINS:
        return OK if _lengths_within(value, font_px, 0, 400, 25) else ESCAPES
    if prop in _PADDINGS:
        return OK if _lengths_within(value, font_px, 0, 400, 25) else UNKNOWN
    if prop == "text-indent":
        return OK if _lengths_within(value, font_px, -60, 200, 25) and len(value.split()) == 1 else UNKNOWN
    if prop in ("letter-spacing", "word-spacing"):
        return OK if value == "normal" or _lengths_within(value, font_px, -2, 20, 0) else UNKNOWN
    if prop in _SIZES:
        return OK if _size_ok(value, font_px) else UNKNOWN
    if prop == "line-height":
        return OK if line_height_ok(value, font_px) else UNKNOWN
    if prop.startswith("border") and prop not in ("border-image", "border-spacing"):
        if "radius" in prop:
            return OK if _lengths_within(value.replace("/", " "), font_px, 0, 10_000, 100) else UNKNOWN
        return OK if _border_ok(value, font_px) else UNKNOWN
    if prop in ("text-decoration", "text-decoration-thickness", "text-underline-offset"):
        # A line-through 1em thick in the background colour paints over the glyphs.
        return OK if _decoration_ok(value, font_px) else UNKNOWN
    if prop == "border-spacing":
        return OK if _lengths_within(value, font_px, 0, 20, 0) else UNKNOWN
    if prop == "list-style":
        return OK
    return escaping


def composite(color: C.RGBA, under: tuple[int, int, int]) -> tuple[int, int, int]:
    """``color`` painted over the opaque ``under``."""
    r, g, b, a = color
    return (round(r * a + under[0] * (1 - a)), round(g * a + under[1] * (1 - a)), round(b * a + under[2] * (1 - a)))


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: C.RGBA, bg: tuple[int, int, int]) -> float:
    """WCAG contrast ratio (1..21) of text colour ``fg`` painted on ``bg``."""
    a, b = _luminance(composite(fg, bg)), _luminance(bg)
    high, low = max(a, b), min(a, b)
    return (high + 0.05) / (low + 0.05)


def background_color(value: str) -> C.RGBA | None:
    """The colour a ``background``/``background-color`` value paints, TRANSPARENT for none, None if not understood."""
    v = value.strip(C.CSS_WS)
    if v in ("none", "transparent", "inherit", "unset", "initial", "revert"):
        return C.TRANSPARENT
    if forbidden_function(v):
        return None
    whole = C.parse_color(v)
    if whole is not None:
        return whole
    colours = []
    for token in C.split_tokens(v):
        if token in (
            "none",
            "no-repeat",
            "repeat",
            "repeat-x",
            "repeat-y",
            "scroll",
            "fixed",
            "left",
            "right",
            "center",
            "top",
            "bottom",
            "0",
            "0%",
        ):
            continue
        parsed = C.parse_color(token)
        if parsed is None:
            return None
        colours.append(parsed)
    if len(colours) > 1:
        return None
    return colours[0] if colours else C.TRANSPARENT
