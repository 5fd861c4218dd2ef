"""HTML bodies: quote containers, and hidden content that must never come out."""

from __future__ import annotations

import pytest

from taskping.extract import extract_reply
from taskping.extract.html import html_to_text


def new_html(html: str) -> str | None:
    result = extract_reply(html=html)
    if result.ok:
        assert result.source == "html"
    return result.text


QUOTES = [
    (
        "gmail",
        '<div dir="ltr">run it</div><br><div class="gmail_quote"><div class="gmail_attr">On Fri, Nov 20, 2026 at 8:15 PM X &lt;x@y&gt; wrote:<br></div><blockquote class="gmail_quote"><div>old</div></blockquote></div>',
    ),
    (
        "apple",
        '<html><body dir="auto"><div>run it</div><div><br><blockquote type="cite"><div>old</div></blockquote></div></body></html>',
    ),
    (
        "outlook-divRplyFwdMsg",
        '<div>run it</div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg"><b>From:</b> X<br><b>Sent:</b> Friday<br></div><div>old text</div>',
    ),
    ("outlook-appendonsend", '<div>run it</div><div id="appendonsend"></div><div>old text without any header</div>'),
    ("hr-header", "<div>run it</div><hr><b>From:</b> X<br><b>Date:</b> y<br><b>To:</b> z<br>old"),
    ("yahoo", '<div>run it</div><div class="yahoo_quoted"><div>On Friday X wrote:</div><div>old</div></div>'),
    ("protonmail", '<div>run it</div><div class="protonmail_quote">old</div>'),
    (
        "outlook-mobile-signature",
        '<div>run it</div><div id="ms-outlook-mobile-signature">Get Outlook for iOS</div><div id="divRplyFwdMsg">From: X</div><div>old</div>',
    ),
    (
        "qq",
        '<div>run it</div><div><div style="font-size:12px">------------------&nbsp;原始邮件&nbsp;------------------</div><div><b>发件人:</b>&nbsp;"X"&lt;x@y&gt;;</div><div><b>发送时间:</b>&nbsp;2026年11月20日</div></div><div>旧</div>',
    ),
    (
        "netease",
        '<div>run it</div><div id="isReplyContent"><div>在 2026-11-20 20:15:00，"X" &lt;x@y&gt; 写道：</div><blockquote>旧</blockquote></div>',
    ),
]


@pytest.mark.parametrize(("name", "html"), QUOTES, ids=[q[0] for q in QUOTES])
def test_quote_containers_are_cut(name: str, html: str) -> None:
    assert new_html(html) == "run it"


HIDDEN = [
    ("display-none", '<div style="display:none">rm -rf ~</div>'),
    ("display-none-important", '<div style="DISPLAY: none !important">rm -rf ~</div>'),
    ("visibility", '<span style="visibility:hidden">rm -rf ~</span>'),
    ("font-size-0", '<span style="font-size:0">rm -rf ~</span>'),
    ("font-size-0px", '<span style="font-size: 0px">rm -rf ~</span>'),
    ("zero-height", '<div style="height:0;overflow:hidden">rm -rf ~</div>'),
    ("zero-width", '<div style="width:0px">rm -rf ~</div>'),
    ("max-height", '<div style="max-height:0">rm -rf ~</div>'),
    ("opacity", '<div style="opacity:0">rm -rf ~</div>'),
    ("white-on-white", '<span style="color:#ffffff">rm -rf ~</span>'),
    ("white-on-white-short", '<span style="color:#FFF">rm -rf ~</span>'),
    ("font-color-white", '<font color="white">rm -rf ~</font>'),
    ("same-as-bg", '<div style="background-color:#123456"><span style="color:rgb(18,52,86)">rm -rf ~</span></div>'),
    ("bgcolor-attr", '<table bgcolor="#000000"><tr><td><font color="#000">rm -rf ~</font></td></tr></table>'),
    ("transparent", '<span style="color:transparent">rm -rf ~</span>'),
    ("rgba-0", '<span style="color:rgba(0,0,0,0)">rm -rf ~</span>'),
    ("script", "<script>rm -rf ~</script>"),
    ("style", "<style>rm -rf ~</style>"),
    ("head", "<head><title>rm -rf ~</title></head>"),
    ("template", "<template>rm -rf ~</template>"),
    ("comment", "<!-- rm -rf ~ -->"),
    ("hidden-attr", "<div hidden>rm -rf ~</div>"),
    ("offscreen", '<div style="position:absolute;left:-9999px">rm -rf ~</div>'),
    ("text-indent", '<div style="text-indent:-9999px">rm -rf ~</div>'),
    ("class-hidden", '<style>.x { display: none }</style><div class="x">rm -rf ~</div>'),
    ("id-hidden", '<style>@media all { #y { font-size: 0 } }</style><div id="y">rm -rf ~</div>'),
    ("tag-hidden", "<style>span{visibility:hidden}</style><span>rm -rf ~</span>"),
    ("mso-hide", '<div style="mso-hide:all">rm -rf ~</div>'),
    ("nested", '<div style="display:none"><div style="display:block">rm -rf ~</div></div>'),
    ("details", "<details><summary>s</summary>rm -rf ~</details>"),
]


@pytest.mark.parametrize(("name", "hidden"), HIDDEN, ids=[h[0] for h in HIDDEN])
def test_hidden_content_never_reaches_output(name: str, hidden: str) -> None:
    """Dropped with the visible reply kept, or (for sizes/overflow a browser may still
    show, off-screen moves, ``@media``) the HTML refused naming the style: see test_extract_hidden."""
    html = f"<html><body><div>ls</div>{hidden}<div>pwd</div></body></html>"
    result = extract_reply(html=html)
    if name in ("zero-height", "zero-width", "max-height", "id-hidden", "offscreen", "text-indent"):
        assert result.text is None and "cannot tell what you saw" in (result.refusal or "")
        return
    out = result.text
    assert out is not None
    assert "rm" not in out
    assert "ls" in out and "pwd" in out


def test_visible_colours_are_kept() -> None:
    html = (
        '<div style="background:#000"><span style="color:#fff">visible</span></div><span style="color:#333">also</span>'
    )
    assert new_html(html) == "visible\nalso"


def test_only_hidden_text_is_refused() -> None:
    result = extract_reply(html='<div style="display:none">rm -rf ~</div>')
    assert not result.ok and result.refusal


def test_nbsp_indentation_and_pre_kept() -> None:
    assert html_to_text("<div>&nbsp;&nbsp;two</div>").split("\n")[0] == "  two"
    out = new_html("<pre>  a\n    b</pre>")
    assert out == "  a\n    b"


def test_text_part_preferred_over_html() -> None:
    assert extract_reply(text="plain", html="<div>html</div>").text == "plain"
    assert extract_reply(text="  \n", html="<div>html</div>").text == "html"


def test_broken_html_does_not_raise() -> None:
    for html in ["<div", "<<>>", "<div style='", "</div></div>x", '<a href="x>y</a>', "<!--", "<![CDATA[x"]:
        extract_reply(html=html)


def test_deep_nesting_does_not_recurse() -> None:
    html = "<div>" * 50_000 + "deep" + "</div>" * 50_000
    assert html_to_text(html).strip() == "deep"  # the renderer itself copes with any depth
    # through extract_reply a body of 100,000 tags is refused in bounded time (see bound.py)
    result = extract_reply(html=html)
    assert result.text is None and "too large to read safely" in (result.refusal or "")


def test_bare_blockquote_after_ordinary_text_is_the_writers_formatting() -> None:
    assert new_html("<div>Reply</div><blockquote>indented part</blockquote>") == "Reply\nindented part"


def test_bare_blockquote_after_attribution_is_quote() -> None:
    html = "<div>Reply</div><div>On 11-Apr-2011, at 6:54 PM, Bob &lt;bob@example.com&gt; wrote:</div><blockquote>Test</blockquote>"
    assert new_html(html) == "Reply"


def test_marker_inside_bare_blockquote_still_cuts() -> None:
    html = "<div>go</div><blockquote>## Reply above this line ## [TaskPing #abcd-efghijkmnpqrstuv]<br>rm -rf ~</blockquote>"
    assert new_html(html) == "go"
