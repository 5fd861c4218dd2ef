"""Claude's markdown in the notification's HTML: what is rendered, and that nothing the model
writes becomes markup of its own (scripts, raw HTML, remote images, javascript: links)."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from taskping.hooks.markdown_html import render

#: Every tag and attribute the renderer may emit.
ALLOWED: dict[str, set[str]] = {
    **{
        tag: {"style"}
        for tag in (
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "p",
            "ul",
            "li",
            "blockquote",
            "code",
            "pre",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
            "hr",
            "div",
        )
    },
    "ol": {"style", "start"},
    "a": {"href", "style", "title"},
    "em": set(),
    "strong": set(),
    "s": set(),
    "br": set(),
}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


def assert_safe(html: str) -> None:
    for tag, attrs in elements(html).found:
        assert tag in ALLOWED, f"unexpected <{tag}> in {html!r}"
        assert set(attrs) <= ALLOWED[tag], f"unexpected attributes {attrs} on <{tag}>"
        href = (attrs.get("href") or "").strip().lower()
        assert not href.startswith(BAD_SCHEMES), href


MARKDOWN = (
    "## What changed\n\nIt took **15 minutes** and *one* `grep`; see [the docs](https://example.test/a?b=1&c=2).\n\n"
    "1. first\n2. second\n\n- a\n- b\n\n> quoted\n\n"
    "| file | lines |\n| :--- | ---: |\n| a.py | 12 |\n\n"
    "```python\nprint('<not a tag>' + \"x\" * 200)\n```\n\n~~gone~~\n"
)


def test_markdown_is_rendered() -> None:
    html = render(MARKDOWN)
    tags = [tag for tag, _ in elements(html).found]
    for tag in ("h2", "strong", "em", "code", "a", "ol", "ul", "li", "blockquote", "table", "th", "td", "pre", "s"):
        assert tag in tags, tag
    assert "&lt;not a tag&gt;" in html  # code is escaped, monospace, scrolls sideways
    (pre,) = [attrs for tag, attrs in elements(html).found if tag == "pre"]
    assert "overflow-x:auto" in str(pre["style"]) and "white-space:pre" in str(pre["style"])
    assert "text-align:right" in html  # table alignment kept
    assert_safe(html)


def test_raw_html_from_the_model_is_text() -> None:
    html = render(
        '<script>alert(1)</script>\n\n<img src="https://t.example/p.gif"> <b onclick="x()">b</b>\n\n'
        '<div style="display:none">hidden</div>'
    )
    assert "<script" not in html and "<img" not in html and "<b " not in html and "<div" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, not dropped
    assert_safe(html)


def test_images_become_links_never_loaded() -> None:
    html = render("![chart](https://example.test/chart.png) ![pixel](data:image/png;base64,AAAA) ![x](/local.png)")
    assert "<img" not in html
    assert '<a href="https://example.test/chart.png"' in html and "[image: chart]" in html
    assert "data:image" not in html and "[image: pixel]" in html and "[image: x]" in html


def test_dangerous_links_are_not_links() -> None:
    html = render(
        "[a](javascript:alert(1)) [b](vbscript:x) [c](file:///etc/passwd) [d](JAVASCRIPT:alert(1))"
        " <javascript:alert(1)> [ok](mailto:me@example.test)"
    )
    assert 'href="javascript' not in html.lower() and "vbscript:" not in html.split("[b]")[0]
    hrefs = [attrs["href"] for tag, attrs in elements(html).found if tag == "a"]
    assert hrefs == ["mailto:me@example.test"]
    assert_safe(html)


PIECES = st.sampled_from(
    [
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        "<a href='javascript:x'>",
        "javascript:",
        "data:",
        "[",
        "]",
        "(",
        ")",
        "![",
        "<",
        ">",
        "&",
        '"',
        "'",
        "`",
        "```",
        "\n",
        "\n\n",
        "*",
        "_",
        "#",
        "|",
        "-",
        ":",
        "http://x.test/",
        "<http://x.test>",
        "<style>",
        "<iframe>",
        "onload=",
        " ",
        "text",
        "\t",
        "    ",
        "\\",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_any_markdown_renders_only_allowed_markup(markdown: str) -> None:
    assert_safe(render(markdown))
