"""Issue 8 item 9: hidden HTML text. Text is visible only when every style on it is understood.

Each case hides ``rm -rf ~`` between two genuine visible lines. The outcome
must be one of two: the hidden text is dropped and the visible reply comes
out, or the HTML part is refused with a reason naming what was not understood.
Real replies from phone and desktop clients must still come out whole.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskping.extract import extract_eml, extract_reply

HIDDEN = "rm -rf ~"


def around(hidden: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><div>ls</div>{hidden}<div>pwd</div></body></html>"


# (name, html, a word the refusal must contain, or None when dropping is the outcome)
CASES = [
    (
        "webkit-text-fill-color",
        around(f'<span style="-webkit-text-fill-color:#fff">{HIDDEN}</span>'),
        "-webkit-text-fill-color",
    ),
    ("hsl-white", around(f'<span style="color:hsl(0, 0%, 100%)">{HIDDEN}</span>'), "hsl("),
    ("hsla-transparent", around(f'<span style="color:hsla(0,0%,0%,0)">{HIDDEN}</span>'), "hsla("),
    ("var-colour", around(f'<span style="color:var(--bg)">{HIDDEN}</span>', "<style>:root{--bg:#fff}</style>"), "var("),
    ("color-mix", around(f'<span style="color:color-mix(in srgb, white 100%, black)">{HIDDEN}</span>'), "color-mix("),
    ("translate-offscreen", around(f'<div style="transform:translateX(-9999px)">{HIDDEN}</div>'), "transform"),
    ("scale-zero", around(f'<div style="transform:scale(0)">{HIDDEN}</div>'), "transform"),
    ("translate-property", around(f'<div style="translate:-9999px">{HIDDEN}</div>'), "translate"),
    ("absolute-offscreen", around(f'<div style="position:absolute;left:-9999px">{HIDDEN}</div>'), "position"),
    ("fixed-top", around(f'<div style="position:fixed;top:-500px">{HIDDEN}</div>'), "position"),
    ("relative-offset", around(f'<div style="position:relative;left:-5000px">{HIDDEN}</div>'), "left"),
    ("text-indent", around(f'<div style="text-indent:-9999px">{HIDDEN}</div>'), "text-indent"),
    ("margin-offscreen", around(f'<div style="margin-left:-9999px">{HIDDEN}</div>'), "margin-left"),
    ("margin-far-right", around(f'<div style="margin-left:9999px">{HIDDEN}</div>'), "margin-left"),
    ("clip", around(f'<div style="position:static;clip:rect(0,0,0,0)">{HIDDEN}</div>'), "clip"),
    ("clip-path", around(f'<div style="clip-path:inset(50%)">{HIDDEN}</div>'), "clip-path"),
    ("opacity-low", around(f'<div style="opacity:0.01">{HIDDEN}</div>'), "opacity"),
    ("line-height-zero", around(f'<div style="line-height:0">{HIDDEN}</div>'), "line-height"),
    ("max-height-overflow", around(f'<div style="max-height:0;overflow:hidden">{HIDDEN}</div>'), "max-height"),
    ("height-clips-second-line", around(f'<div style="height:20px;overflow:hidden">ok<br>{HIDDEN}</div>'), "height"),
    (
        "width-nowrap-clip",
        around(f'<div style="width:40px;white-space:nowrap;overflow:hidden">ok {HIDDEN}</div>'),
        "overflow",
    ),
    ("filter", around(f'<div style="filter:opacity(0)">{HIDDEN}</div>'), "filter"),
    ("mix-blend-mode", around(f'<div style="mix-blend-mode:screen">{HIDDEN}</div>'), "mix-blend-mode"),
    (
        "content-visibility-auto",
        around(f'<div style="content-visibility:auto;contain-intrinsic-size:0">{HIDDEN}</div>'),
        "content-visibility",
    ),
    ("zoom", around(f'<div style="zoom:0.01">{HIDDEN}</div>'), "zoom"),
    ("tiny-font", around(f'<span style="font-size:1px">{HIDDEN}</span>'), "too small"),
    ("tiny-font-em", around(f'<span style="font-size:.05em">{HIDDEN}</span>'), "too small"),
    ("nested-small", around("<small>" * 12 + HIDDEN + "</small>" * 12), "too small"),
    ("letter-spacing-collapse", around(f'<span style="letter-spacing:-1em">{HIDDEN}</span>'), "letter-spacing"),
    (
        "text-shadow-ghost",
        around(f'<span style="color:transparent;text-shadow:9999px 0 #000">{HIDDEN}</span>'),
        "text-shadow",
    ),
    ("bidi-override", around('<span style="unicode-bidi:bidi-override;direction:rtl">~ fr- mr</span>'), "unicode-bidi"),
    ("flex-order", around(f'<div style="display:flex"><span style="order:2">{HIDDEN}</span></div>'), "display"),
    ("background-image", around(f'<div style="background:url(x.png)">{HIDDEN}</div>'), "background"),
    ("background-attr", around(f'<table background="white.png"><tr><td>{HIDDEN}</td></tr></table>'), "background="),
    ("near-white", around(f'<span style="color:#fefefe">{HIDDEN}</span>'), None),
    ("low-contrast", around(f'<span style="color:#e0e0e0">{HIDDEN}</span>'), "contrast"),
    ("rgba-faint", around(f'<span style="color:rgba(0,0,0,0.05)">{HIDDEN}</span>'), None),
    ("body-text-white", f'<html><body text="#ffffff"><div>{HIDDEN}</div></body></html>', "no visible text"),
    (
        "body-link-white",
        around(f'<a href="https://x">{HIDDEN}</a>').replace("<body>", '<body link="#fff" vlink="#fff">'),
        None,
    ),
    ("font-color-near-white", around(f'<font color="#fffffe">{HIDDEN}</font>'), None),
    ("unknown-named-colour", around(f'<span style="color:papayawhip">{HIDDEN}</span>'), "papayawhip"),
    ("display-none-important", around(f'<div style="display:none !important">{HIDDEN}</div>'), None),
    ("important-beats-later", around(f'<span style="color:#fff !important; color:#000">{HIDDEN}</span>'), "contrast"),
    (
        "sheet-important-beats-inline",
        around(f'<span class="w" style="color:#000">{HIDDEN}</span>', "<style>.w{color:#fff!important}</style>"),
        "contrast",
    ),
    (
        "inexact-rule-black-over-white",
        around(f'<p style="color:#fff"><span>{HIDDEN}</span></p>', "<style>table span{color:#000}</style>"),
        "contrast",
    ),
    (
        "media-query-hides",
        around(
            f'<div class="m">{HIDDEN}</div>', "<style>@media screen and (max-width:600px){.m{display:none}}</style>"
        ),
        "may hide",
    ),
    (
        "media-query-colour",
        around(f'<div class="m">{HIDDEN}</div>', "<style>@media (prefers-color-scheme:light){.m{color:#fff}}</style>"),
        "contrast",
    ),
    (
        "media-query-transform",
        around(f'<div class="m">{HIDDEN}</div>', "<style>@media all{.m{transform:scale(0)}}</style>"),
        "transform",
    ),
    ("unclosed-style-block", around(f'<div class="u">{HIDDEN}</div>', "<style>.u{display:none</style>"), None),
    (
        "css-nesting",
        around(f'<div class="a"><span class="b">{HIDDEN}</span></div>', "<style>.a{ .b{display:none} }</style>"),
        "nested",
    ),
    (
        "import",
        around(f"<div>{HIDDEN}</div>", "<style>@import url(https://evil.example/h.css);</style>"),
        "external style sheet",
    ),
    (
        "link-stylesheet",
        around(f"<div>{HIDDEN}</div>", '<link rel="stylesheet" href="https://evil.example/h.css">'),
        "external style sheet",
    ),
    ("escaped-property", around(f'<span style="c\\olor:#fff">{HIDDEN}</span>'), "c\\olor"),
    ("mso-if-revealed", around(f"<![if !mso]><div>{HIDDEN}</div><![endif]>"), "Outlook"),
    ("mso-if-not-mso-comment", around(f"<!--[if !mso]><!--><div>{HIDDEN}</div><!--<![endif]-->"), "Outlook"),
    ("mso-only", around(f"<!--[if mso]><div>{HIDDEN}</div><![endif]-->"), "Outlook"),
    (
        "mso-style-hides-from-outlook",
        around(f'<div class="o">{HIDDEN}</div>', "<!--[if mso]><style>.o{mso-hide:all}</style><![endif]-->"),
        "may hide",
    ),
    ("hidden-attr", around(f"<div hidden>{HIDDEN}</div>"), None),
    ("late-body-attributes", f'<div>ls</div>{HIDDEN}<div>pwd</div><body style="color:#fff">', "<body> tag after"),
    ("second-body-tag", f'<body><div>ls</div>{HIDDEN}<body text="#ffffff"><div>pwd</div></body>', "<body> tag after"),
    (
        "print-only-sheet",
        around(f'<p style="color:#fff"><span>{HIDDEN}</span></p>', '<style media="print">span{color:#000}</style>'),
        "contrast",
    ),
    (
        "sheet-of-another-type",
        around(f'<p style="color:#fff"><span>{HIDDEN}</span></p>', '<style type="text/less">span{color:#000}</style>'),
        "contrast",
    ),
    (
        "blank-web-font",
        around(
            f'<span style="font-family:Blank,serif">{HIDDEN}</span>',
            "<style>@font-face{font-family:'Blank';src:url(data:font/woff2;base64,AAAA)}</style>",
        ),
        "downloaded font",
    ),
    ("wingdings", around(f'<span style="font-family:Wingdings">{HIDDEN}</span>'), "symbol font"),
    ("font-face-webdings", around(f'<font face="Webdings">{HIDDEN}</font>'), "symbol font"),
    (
        "font-shorthand-wingdings",
        around(f'<span style="font:bold 12px/1.2 Zapf Dingbats">{HIDDEN}</span>'),
        "symbol font",
    ),
    (
        "thick-line-through",
        around(f'<span style="text-decoration:line-through #fff 2em">{HIDDEN}</span>'),
        "text-decoration",
    ),
    ("root-rule-no-body", f"<style>:root{{color:#fff}}</style>{HIDDEN}", "contrast"),
    ("body-rule-without-body-tag", f"<style>body{{color:#fff}}</style>{HIDDEN}", "no visible text"),
    ("universal-rule-root-text", f"<style>*{{display:none}}</style>{HIDDEN}", "no visible text"),
    ("escaped-selector", around(f"<span>{HIDDEN}</span>", "<style>sp\\61 n{color:#fff}</style>"), "contrast"),
    (
        "negative-margin-overlap",
        around(f'<div>{HIDDEN}</div><div style="margin-top:-18px;background:#fff">x</div>'),
        "margin-top",
    ),
    (
        "inline-padding-overlay",
        around(f'<div>{HIDDEN}</div><div><span style="background:#fff;padding:30px 0">x</span></div>'),
        "padding",
    ),
    (
        "big-font-under-small-line-height",
        f'<div style="line-height:16px"><div>ls</div><div>{HIDDEN}</div><span style="font-size:200px;background:#fff">x</span><div>pwd</div></div>',
        "line height",
    ),
    (
        "fixed-height-spill",
        around(f'<div style="height:10px">ok<br>{HIDDEN}</div><div style="background:#fff">x</div>'),
        "fixed height",
    ),
    ("duplicate-style-first-wins", around(f'<span style="color:#fff" style="color:#000">{HIDDEN}</span>'), None),
    ("noembed", around(f"<noembed>{HIDDEN}</noembed>"), None),
    ("ruby-rp", around(f"<ruby>x<rp>{HIDDEN}</rp><rt>y</rt></ruby>"), None),
    ("closed-dialog", around(f"<dialog>{HIDDEN}</dialog>"), None),
    ("bdo-reversed", around("<bdo dir=rtl>~ fr- mr</bdo>"), "<bdo>"),
    ("style-end-tag-with-space", around(f"<style></ style><div>{HIDDEN}</div>.x{{}}</style>"), "</ tag>"),
    ("script-end-tag-with-space", around(f"<script></ script>{HIDDEN}</script>"), "</ tag>"),
    ("end-tag-with-space-is-a-comment", around(f'<span style="display:none">x</ span>{HIDDEN}'), "</ tag>"),
    ("noframes-end-tag-with-space", around(f"<noframes></ noframes>{HIDDEN}</noframes>"), "</ tag>"),
    ("self-closing-span-stays-open", f'<div>ls</div><div>pwd</div><span style="display:none"/>{HIDDEN}', None),
    ("unclosed-comment-at-end", f"<div>ls</div><div>pwd</div><!-- {HIDDEN}", None),
    ("unclosed-comment-with-gt-at-end", f"<div>ls</div><div>pwd</div><!-- a > {HIDDEN}", None),
    ("unclosed-cdata-at-end", f"<div>ls</div><div>pwd</div><![CDATA[ {HIDDEN}", None),
    ("unclosed-tag-at-end", f'<div>ls</div><div>pwd</div><span style="display:none"\n{HIDDEN}', None),
    ("comment-end-with-space", around(f"<!-- a -- > {HIDDEN} -->"), "-- >"),
    ("comment-end-with-space-after-a-comment", around(f"<!-- x --><!-- a --\n> {HIDDEN} -->"), "-- >"),
    (
        "font-size-zero-em-child",
        around(f'<div style="font-size:0"><span style="font-size:1em">{HIDDEN}</span></div>'),
        None,
    ),
    (
        "box-shadow-paints-behind-text",
        around(f'<span style="box-shadow:inset 0 0 0 99px #000">{HIDDEN}</span>'),
        "box-shadow",
    ),
    (
        "styled-beyond-max-depth",
        around("<div>" * 450 + f'<span style="color:#fff">{HIDDEN}</span>' + "</div>" * 450),
        "nested deeper",
    ),
    (
        "overlay-from-the-quote",
        '<div>ls</div><div>pwd</div><div class="gmail_quote"><div style="position:absolute;top:0;left:0;background:#fff">cover</div></div>',
        "position",
    ),
]


@pytest.mark.parametrize(("name", "html", "reason"), CASES, ids=[c[0] for c in CASES])
def test_hidden_text_is_dropped_or_the_html_refused(name: str, html: str, reason: str | None) -> None:
    result = extract_reply(html=html)
    if reason is None:
        assert result.ok, result.refusal
        assert result.text is not None and "rm" not in result.text and "fr-" not in result.text
        assert "ls" in result.text and "pwd" in result.text
    else:
        assert result.text is None
        assert result.refusal is not None and reason in result.refusal
        assert "TaskPing cannot tell what you saw" in result.refusal or "no visible text" in result.refusal


def test_the_text_part_is_used_when_the_html_part_is_refused() -> None:
    raw = (
        b"Subject: re\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nls\r\n"
        b"--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<div>ls</div><span style="-webkit-text-fill-color:#fff">rm -rf ~</span>\r\n--B--\r\n'
    )
    result = extract_eml(raw)
    assert result.text == "ls" and result.source == "text"


def test_an_html_only_message_is_refused_naming_the_style() -> None:
    raw = (
        b"Subject: re\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<div>ls</div><span style="color:hsl(0 0% 100%)">rm -rf ~</span>\r\n'
    )
    result = extract_eml(raw)
    assert result.text is None and result.source == "html"
    assert "color: hsl(0 0% 100%)" in (result.refusal or "")


def test_body_rules_apply_once_with_or_without_a_body_tag() -> None:
    sheet = "<style>body{font-size:.5em} html{font-size:80%}</style>"
    assert extract_reply(html=f"<html><head>{sheet}</head><body><div>deploy it</div></body></html>").text == "deploy it"
    assert extract_reply(html=f"{sheet}deploy it").text == "deploy it"


def test_a_px_size_under_font_size_zero_is_seen_again() -> None:
    html = '<div style="font-size:0">x <span style="font-size:14px">deploy it</span></div>'
    assert extract_reply(html=html).text == "deploy it"


def test_the_refusal_quotes_the_style_on_one_bounded_line() -> None:
    result = extract_reply(html='<span style="color:hsl(0,\n0%,\t100%)\x07' + "x" * 300 + '">rm -rf ~</span>')
    assert result.refusal is not None and "\n" not in result.refusal and "\x07" not in result.refusal
    assert "color: hsl(0, 0%, 100%)" in result.refusal and len(result.refusal) < 300


def test_styles_inside_the_quote_do_not_matter_unless_they_can_cover_text() -> None:
    html = (
        '<div>deploy it</div><blockquote type="cite"><div style="color:hsl(0,0%,50%);opacity:.5;'
        '-webkit-text-fill-color:red">old newsletter</div><!--[if mso]><p>outlook only</p><![endif]-->'
        "<![if !mso]><p>old</p><![endif]></blockquote>"
    )
    assert extract_reply(html=html).text == "deploy it"


# -- real clients still extract ---------------------------------------------------

REAL = [
    (
        "gmail-android",
        (
            '<div dir="auto">Yes, run the migration</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            'On Fri, Nov 20, 2026, 20:15 TaskPing &lt;tp@example.com&gt; wrote:<br></div><blockquote class="gmail_quote" '
            'style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">old</blockquote></div>'
        ),
        "Yes, run the migration",
    ),
    (
        "gmail-web-default-font",
        (
            '<div dir="ltr"><div class="gmail_default" style="font-family:arial,sans-serif;font-size:small;color:#000000">'
            'Yes, run the migration</div></div><br><div class="gmail_quote"><blockquote class="gmail_quote">old</blockquote></div>'
        ),
        "Yes, run the migration",
    ),
    (
        "ios-mail",
        (
            '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body dir="auto">'
            '<div dir="ltr"></div><div dir="ltr"><span style="caret-color: rgb(0, 0, 0); color: rgb(0, 0, 0); '
            "font-family: -apple-system, HelveticaNeue; font-size: 17px; font-style: normal; font-variant-caps: normal; "
            "font-weight: 400; letter-spacing: normal; orphans: auto; text-align: start; text-indent: 0px; "
            "text-transform: none; white-space: normal; widows: auto; word-spacing: 0px; -webkit-text-stroke-width: 0px; "
            "text-decoration: none; -webkit-text-size-adjust: auto; background-color: rgba(0, 0, 0, 0); "
            '-webkit-tap-highlight-color: rgba(26, 26, 26, 0.3)">Yes, run the migration</span></div><div dir="ltr"><br>'
            '<blockquote type="cite">On 20 Nov 2026, at 20:15, TaskPing wrote:<br><br></blockquote></div>'
            '<blockquote type="cite"><div dir="ltr">old</div></blockquote></body></html>'
        ),
        "Yes, run the migration",
    ),
    (
        "outlook-desktop",
        (
            '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta name=Generator content="Microsoft Word 15">'
            "<!--[if !mso]><style>v\\:* {behavior:url(#default#VML);} o\\:* {behavior:url(#default#VML);} "
            ".shape {behavior:url(#default#VML);}</style><![endif]-->"
            "<style><!-- @font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;} p.MsoNormal, li.MsoNormal, "
            'div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif; mso-fareast-language:EN-US;} '
            "a:link, span.MsoHyperlink {mso-style-priority:99; color:#0563C1; text-decoration:underline;} "
            'span.EmailStyle17 {mso-style-type:personal-compose; font-family:"Calibri",sans-serif; color:windowtext;} '
            '.MsoChpDefault {mso-style-type:export-only; font-family:"Calibri",sans-serif;} '
            "@page WordSection1 {size:612.0pt 792.0pt; margin:72.0pt 72.0pt 72.0pt 72.0pt;} "
            'div.WordSection1 {page:WordSection1;} --></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" '
            'spidmax="1026" /></xml><![endif]--></head><body lang=EN-GB link="#0563C1" vlink="#954F72" '
            'style="word-wrap:break-word"><div class=WordSection1><p class=MsoNormal>Yes, run the migration<o:p></o:p></p>'
            '<p class=MsoNormal><o:p>&nbsp;</o:p></p><div style="border:none;border-top:solid #E1E1E1 1.0pt;'
            'padding:3.0pt 0cm 0cm 0cm"><p class=MsoNormal><b><span lang=EN-US>From:</span></b><span lang=EN-US> '
            "TaskPing &lt;tp@example.com&gt; <br><b>Sent:</b> 20 November 2026 20:15<br><b>Subject:</b> x<o:p></o:p>"
            "</span></p></div><p class=MsoNormal>old<o:p></o:p></p></div></body></html>"
        ),
        "Yes, run the migration",
    ),
    (
        "outlook-desktop-numbered-list",
        (
            '<html><body><div class=WordSection1><p class=MsoListParagraph style="text-indent:-18.0pt;mso-list:l0 level1 lfo1;'
            'margin-left:36.0pt"><![if !supportLists]><span style="mso-list:Ignore">1.<span style="font:7.0pt &quot;Times '
            'New Roman&quot;">&nbsp;&nbsp;&nbsp; </span></span><![endif]>run the migration<o:p></o:p></p></div></body></html>'
        ),
        "1.    run the migration",
    ),  # Word's fallback numbering, as every reader shows it
    (
        "outlook-ios",
        (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>'
            '<div dir="ltr">Yes, run the migration</div><div id="ms-outlook-mobile-signature"><div dir="ltr">Get Outlook for iOS'
            '</div></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr">'
            '<font face="Calibri, sans-serif" style="font-size:11pt" color="#000000"><b>From:</b> TaskPing<br></font></div>'
            "<div>old</div></body></html>"
        ),
        "Yes, run the migration",
    ),
    (
        "outlook-web",
        (
            '<html><head><style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style></head>'
            '<body dir="ltr"><div class="elementToProof" style="font-family: Aptos, Aptos_EmbeddedFont, '
            'Aptos_MSFontService, Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);">'
            'Yes, run the migration</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
            '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">'
            "<b>From:</b> TaskPing</font></div><div>old</div></body></html>"
        ),
        "Yes, run the migration",
    ),
    (
        "qq-mail",
        (
            '<div style="font-family: &quot;lucida Grande&quot;, Verdana, &quot;Microsoft YaHei&quot;; font-size: 14px;">'
            '好的，继续</div><div><br></div><div><div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">'
            '------------------&nbsp;原始邮件&nbsp;------------------</div><div style="font-size: 12px;background:#efefef;'
            'padding:8px;"><div><b>发件人:</b>&nbsp;"TaskPing"&lt;tp@example.com&gt;;</div></div></div><div>旧</div>'
        ),
        "好的，继续",
    ),
    (
        "netease-163",
        (
            '<div style="line-height:1.7;color:#000000;font-size:14px;font-family:Arial"><div>好的，继续</div><br>'
            '<div style="position:relative;zoom:1"></div><div id="isReplyContent"><div>在 2026-11-20 20:15:00，"TaskPing" '
            '&lt;tp@example.com&gt; 写道：</div><blockquote id="isReplyContent" style="PADDING-LEFT: 1ex; MARGIN: 0px 0px '
            '0px 0.8ex; BORDER-LEFT: #ccc 1px solid">旧</blockquote></div></div>'
        ),
        "好的，继续",
    ),
    (
        "thunderbird",
        (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>'
            '<p>Yes, run the migration<br></p><div class="moz-cite-prefix">On 20/11/2026 20:15, TaskPing wrote:<br></div>'
            '<blockquote type="cite" cite="mid:x@example.com">old</blockquote></body></html>'
        ),
        "Yes, run the migration",
    ),
    (
        "outlook-emoji-font",
        (
            '<p class=MsoNormal>Yes, run the migration <span style="font-family:&quot;Segoe UI Emoji&quot;,sans-serif">'
            "\U0001f44d</span></p>"
        ),
        "Yes, run the migration \U0001f44d",
    ),
    (
        "dark-signature-grey",
        '<div>Yes, run the migration</div><div style="color:#888888;font-size:12px">-- <br>Ana</div>',
        "Yes, run the migration",
    ),
]


@pytest.mark.parametrize(("name", "html", "expected"), REAL, ids=[r[0] for r in REAL])
def test_real_client_replies_still_extract(name: str, html: str, expected: str) -> None:
    result = extract_reply(html=html)
    assert result.refusal is None, result.refusal
    assert result.text == expected


# -- property: text under any hiding style never comes out -------------------------

HIDING = [
    "display:none",
    "visibility:hidden",
    "font-size:0",
    "opacity:0",
    "opacity:.02",
    "color:#fff",
    "color:hsl(0,0%,100%)",
    "-webkit-text-fill-color:transparent",
    "color:var(--w)",
    "transform:scale(0)",
    "position:absolute;left:-9999px",
    "text-indent:-9999px",
    "margin-left:-5000px",
    "clip-path:inset(50%)",
    "max-height:0;overflow:hidden",
    "line-height:0",
    "font-size:1px",
    "filter:opacity(0)",
    "zoom:.01",
    "mix-blend-mode:screen",
    "letter-spacing:-1em",
    "color:rgba(0,0,0,.03)",
    "mso-hide:all",
    "content-visibility:hidden",
    "width:1px;overflow:hidden",
    "color:#fefefe",
    "color:color-mix(in srgb,#fff,#fff)",
]
HARMLESS = [
    "font-family:Arial",
    "font-size:13px",
    "color:#222",
    "margin:0",
    "padding:0 0 0 4px",
    "text-align:left",
    "font-weight:bold",
    "line-height:1.4",
    "border:none",
    "word-wrap:break-word",
    "mso-fareast-language:EN-US",
]


@st.composite
def style_attr(draw: st.DrawFn, hiding: bool) -> str:
    decls = draw(st.lists(st.sampled_from(HARMLESS), max_size=3))
    if hiding:
        decls.insert(draw(st.integers(0, len(decls))), draw(st.sampled_from(HIDING)))
    decls = [d.upper() if draw(st.booleans()) and "var" not in d else d for d in decls]
    if draw(st.booleans()):
        decls = [d + " !important" for d in decls]
    return ";".join(decls)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    parts = ["<div>visible words</div>"]
    for _ in range(draw(st.integers(1, 5))):
        tag = draw(st.sampled_from(["div", "span", "p", "font", "td"]))
        hidden = f'<{tag} style="{draw(style_attr(True))}">SECRET</{tag}>'
        wrap = draw(st.sampled_from(["{}", "<span>{}</span>", '<div style="{s}">{}</div>', "<b><i>{}</i></b>"]))
        parts.append(wrap.replace("{s}", draw(style_attr(False))).replace("{}", hidden))
        parts.append(f'<div style="{draw(style_attr(False))}">more words</div>')
    return "".join(draw(st.permutations(parts)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_text_under_a_hiding_style_never_comes_out(html: str) -> None:
    result = extract_reply(html=html)
    assert "SECRET" not in (result.text or "")
    assert (result.text is None) != (result.refusal is None)


@pytest.mark.parametrize("space", ["\u2003", "\u00a0", "\u3000", "\v"])
def test_a_value_with_non_css_whitespace_is_not_understood(space: str) -> None:
    """A browser rejects ``color:\\u2003#000`` and the text keeps its inherited white."""
    html = f'<div>ls</div><div style="color:#fff"><span style="color:{space}#000">rm -rf ~</span></div>'
    for css in (f"color:{space}#000", f"color:rgb(0,{space}0,0)"):
        result = extract_reply(html=html.replace(f"color:{space}#000", css))
        assert result.text is None or "rm" not in result.text


def test_dashes_before_a_gt_outside_a_comment_are_text_to_both_readers() -> None:
    """A quoted signature line ("--") followed by a quoted line ("> ...") is no comment end."""
    html = "<div>run the tests</div><div>--\n> earlier text</div><!-- a note --><div>then deploy</div>"
    result = extract_reply(html=html)
    assert result.ok and result.text is not None, result.refusal
    assert "run the tests" in result.text and "then deploy" in result.text
