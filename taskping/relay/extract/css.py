"""Just enough CSS to know what a reader cannot see.

Hidden text is the attack: a stranger sends HTML whose visible part looks
harmless and whose invisible part is a command. So this module answers one
question per element — could a person see this text? — and errs towards "no"
(dropping visible text only costs a refusal; keeping hidden text costs a
compromise).

Hidden when any of:
- ``display:none``, ``visibility:hidden|collapse``, ``mso-hide:all``,
  ``opacity`` below 0.1, ``content-visibility:hidden``;
- ``font-size`` below 3px/3pt (0.2em, 20%), ``width``/``height``/``max-width``/
  ``max-height`` of zero, any ``clip``/``clip-path``, ``transform: scale(0...)``;
- pushed off-screen: ``text-indent`` or ``left``/``top``/``margin-left``/
  ``margin-top`` at -100px or less;
- text colour transparent, or (nearly) equal to the background colour in
  effect (default: black on white), e.g. white on white.

``<style>`` sheets are honoured by over-approximation: a rule applies to an
element when the element has every class, id and attribute named in the last
compound of one of the rule's selectors and the tag matches (combinators,
pseudo-classes and media queries are ignored, so more elements match than in a
browser: that can only hide more).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

RGB = tuple[int, int, int]

_NAMED: dict[str, RGB] = {
    "white": (255, 255, 255), "black": (0, 0, 0), "red": (255, 0, 0), "green": (0, 128, 0),
    "blue": (0, 0, 255), "yellow": (255, 255, 0), "gray": (128, 128, 128), "grey": (128, 128, 128),
    "silver": (192, 192, 192), "lightgray": (211, 211, 211), "lightgrey": (211, 211, 211),
    "gainsboro": (220, 220, 220), "whitesmoke": (245, 245, 245), "snow": (255, 250, 250),
    "ivory": (255, 255, 240), "linen": (250, 240, 230), "azure": (240, 255, 255),
    "ghostwhite": (248, 248, 255), "floralwhite": (255, 250, 240), "mintcream": (245, 255, 250),
    "aliceblue": (240, 248, 255), "seashell": (255, 245, 238), "honeydew": (240, 255, 240),
    "navy": (0, 0, 128), "maroon": (128, 0, 0), "purple": (128, 0, 128), "teal": (0, 128, 128),
    "olive": (128, 128, 0), "lime": (0, 255, 0), "aqua": (0, 255, 255), "cyan": (0, 255, 255),
    "fuchsia": (255, 0, 255), "magenta": (255, 0, 255), "orange": (255, 165, 0),
    "windowtext": (0, 0, 0), "window": (255, 255, 255), "canvas": (255, 255, 255), "canvastext": (0, 0, 0),
}
TRANSPARENT = (-1, -1, -1)
DEFAULT_BG: RGB = (255, 255, 255)
DEFAULT_FG: RGB = (0, 0, 0)
_COLOR_TOLERANCE = 24  # max channel difference still read as "same colour"

_HEX_RE = re.compile(r"#([0-9a-f]{3,8})\b")
_RGB_RE = re.compile(r"rgba?\(\s*([\d.]{1,8})%?\s*[, ]\s*([\d.]{1,8})%?\s*[, ]\s*([\d.]{1,8})%?\s*(?:[,/]\s*([\d.]{1,8})(%?)\s*)?\)")
_NUM_RE = re.compile(r"^\s*(-?[\d.]{1,12})\s*([a-z%]{0,4})")
_WORD_RE = re.compile(r"[a-z]{3,20}")


def parse_color(value: str) -> RGB | None:
    """An RGB triple, TRANSPARENT, or None when not understood."""
    v = value.strip().lower()
    if not v:
        return None
    if v.startswith("transparent"):
        return TRANSPARENT
    m = _HEX_RE.search(v)
    if m:
        h = m.group(1)
        if len(h) in (3, 4):
            if len(h) == 4 and h[3] == "0":
                return TRANSPARENT
            return (int(h[0] * 2, 16), int(h[1] * 2, 16), int(h[2] * 2, 16))
        if len(h) in (6, 8):
            if len(h) == 8 and int(h[6:8], 16) < 26:
                return TRANSPARENT
            return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
        return None
    m = _RGB_RE.search(v)
    if m:
        try:
            r, g, b = (min(255, int(float(x))) for x in m.group(1, 2, 3))
            if m.group(4) is not None:
                alpha = float(m.group(4)) / (100.0 if m.group(5) else 1.0)
                if alpha < 0.1:
                    return TRANSPARENT
        except ValueError:
            return None
        return (r, g, b)
    for word in _WORD_RE.findall(v):
        if word in _NAMED:
            return _NAMED[word]
    return None


def same_color(a: RGB, b: RGB) -> bool:
    return all(abs(x - y) <= _COLOR_TOLERANCE for x, y in zip(a, b))


def parse_style(style: str) -> dict[str, str]:
    """Declarations of a style attribute: lower-cased property -> lower-cased value."""
    out: dict[str, str] = {}
    for decl in style.split(";"):
        if ":" not in decl:
            continue
        prop, _, value = decl.partition(":")
        prop = prop.strip().lower()
        if prop:
            out[prop] = value.replace("!important", "").strip().lower()
    return out


def _length(value: str) -> tuple[float, str] | None:
    m = _NUM_RE.match(value)
    if not m:
        return None
    try:
        return float(m.group(1)), m.group(2)
    except ValueError:
        return None


def _tiny_font(value: str) -> bool:
    if value.strip() in ("0", "xx-small-0"):
        return True
    parsed = _length(value)
    if parsed is None:
        return False
    num, unit = parsed
    if unit in ("em", "rem", "ex", "ch"):
        return num < 0.2
    if unit == "%":
        return num < 20
    if unit in ("vw", "vh", "vmin", "vmax"):
        return num < 0.3
    return num < 3  # px, pt, unitless 0


def _zero(value: str) -> bool:
    parsed = _length(value)
    return parsed is not None and parsed[0] == 0


def _far_negative(value: str) -> bool:
    parsed = _length(value)
    return parsed is not None and parsed[0] <= -100 and parsed[1] != "%" or (
        parsed is not None and parsed[1] == "%" and parsed[0] <= -50
    )


def hides(decls: Mapping[str, str]) -> bool:
    """Whether these declarations alone make an element invisible."""
    if decls.get("display", "").startswith("none"):
        return True
    if decls.get("visibility", "").startswith(("hidden", "collapse")):
        return True
    if decls.get("mso-hide", "").startswith("all"):
        return True
    if decls.get("content-visibility", "").startswith("hidden"):
        return True
    if "opacity" in decls:
        parsed = _length(decls["opacity"])
        if parsed is not None and (parsed[0] < 0.1 if parsed[1] != "%" else parsed[0] < 10):
            return True
    if "font-size" in decls and _tiny_font(decls["font-size"]):
        return True
    if "font" in decls and _tiny_font(decls["font"].split("/")[0].split()[-1] if decls["font"].split() else ""):
        return True
    for prop in ("width", "height", "max-width", "max-height"):
        if prop in decls and _zero(decls[prop]):
            return True
    if "clip" in decls or "clip-path" in decls:
        return True
    if "scale(0" in decls.get("transform", "").replace(" ", ""):
        return True
    for prop in ("text-indent", "left", "top", "margin-left", "margin-top", "right"):
        if prop in decls and _far_negative(decls[prop]):
            return True
    return False


_RELEVANT = frozenset({
    "display", "visibility", "mso-hide", "content-visibility", "opacity", "font-size", "font", "width",
    "height", "max-width", "max-height", "clip", "clip-path", "transform", "text-indent", "left", "top",
    "margin-left", "margin-top", "right", "color", "background", "background-color",
})


@dataclass(frozen=True)
class _Compound:
    tag: str | None
    classes: frozenset[str]
    ids: frozenset[str]
    attrs: frozenset[str]


@dataclass
class StyleSheet:
    """Rules from ``<style>`` elements that matter for visibility or colour."""

    rules: list[tuple[_Compound, dict[str, str]]] = field(default_factory=list)

    def add(self, css: str) -> None:
        """Parse a style sheet in one linear pass (no regex over the whole sheet)."""
        css = _strip_comments(css[:200_000]).replace("<!--", " ").replace("-->", " ")
        stack: list[tuple[str, int, bool]] = []  # (selector text, body start, has nested block)
        last = 0
        for pos, ch in enumerate(css):
            if ch == "{":
                if stack:
                    sel, start, _ = stack[-1]
                    stack[-1] = (sel, start, True)
                stack.append((css[last:pos], pos + 1, False))
                last = pos + 1
            elif ch == "}":
                if stack:
                    selectors, start, nested = stack.pop()
                    if not nested:
                        self._rule(selectors, css[start:pos])
                last = pos + 1
            elif ch == ";" and not stack:
                last = pos + 1  # "@import ...;" and friends

    def _rule(self, selectors: str, body: str) -> None:
        decls = {k: v for k, v in parse_style(body).items() if k in _RELEVANT}
        if not decls or selectors.strip().startswith("@"):
            return
        for sel in selectors.split(","):
            compound = _last_compound(sel[:2000])
            if compound is not None:
                self.rules.append((compound, decls))

    def declarations_for(self, tag: str, attrs: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        if not self.rules:
            return out
        classes = set(attrs.get("class", "").lower().split())
        ident = attrs.get("id", "").lower()
        for comp, decls in self.rules:
            if comp.tag is not None and comp.tag != tag:
                continue
            if not comp.classes <= classes:
                continue
            if comp.ids and comp.ids != {ident}:
                continue
            if not all(a in attrs for a in comp.attrs):
                continue
            out.update(decls)
        return out


def _strip_comments(css: str) -> str:
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


_COMBINATOR_RE = re.compile(r"[\s>+~]+")
_PSEUDO_RE = re.compile(r"::?[a-z-]{1,40}(?:\([^)]{0,200}\))?", re.IGNORECASE)


def _last_compound(selector: str) -> _Compound | None:
    sel = _PSEUDO_RE.sub("", selector.strip().lower())
    # Attribute selectors may contain spaces; pull them out before splitting.
    attrs = frozenset(a.split("=")[0].strip(" ~|^$*") for a in re.findall(r"\[([^\]]{1,200})\]", sel))
    sel = re.sub(r"\[[^\]]{0,200}\]", "", sel)
    parts = [p for p in _COMBINATOR_RE.split(sel) if p]
    if not parts:
        return _Compound(None, frozenset(), frozenset(), attrs) if attrs else None
    last = parts[-1]
    tag_m = re.match(r"^([a-z][a-z0-9-]{0,30}|\*)", last)
    tag = tag_m.group(1) if tag_m and tag_m.group(1) != "*" else None
    classes = frozenset(re.findall(r"\.([a-z0-9_-]{1,100})", last))
    ids = frozenset(re.findall(r"#([a-z0-9_-]{1,100})", last))
    return _Compound(tag, classes, ids, attrs)
