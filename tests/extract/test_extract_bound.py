"""Huge HTML bodies: cut at the quote (styles kept), or refused — in bounded time."""

from __future__ import annotations

from taskping.extract import extract_reply
from taskping.extract.bound import MAX_TAGS, bound_html

BIG_QUOTE = "<p>old line</p>" * (MAX_TAGS + 100)


def test_small_bodies_are_untouched() -> None:
    html = "<div>reply</div><div class='gmail_quote'>" + "<p>x</p>" * 10 + "</div>"
    assert bound_html(html) == (html, None)


def test_big_gmail_reply_is_cut_at_its_quote() -> None:
    html = f"<div dir='ltr'>deploy it</div><div class='gmail_quote'><blockquote>{BIG_QUOTE}</blockquote></div>"
    assert extract_reply(html=html).text == "deploy it"


def test_big_apple_and_outlook_replies_are_cut_at_their_quote() -> None:
    apple = f'<div>ship</div><blockquote type="cite">{BIG_QUOTE}</blockquote>'
    outlook = f'<div>merge</div><div id="divRplyFwdMsg">{BIG_QUOTE}</div>'
    assert extract_reply(html=apple).text == "ship"
    assert extract_reply(html=outlook).text == "merge"


def test_a_stylesheet_after_the_quote_still_hides_text_before_it() -> None:
    html = (
        "<div class='hidden-cmd'>rm -rf ~</div><div>visible reply</div>"
        f"<div class='gmail_quote'>{BIG_QUOTE}</div><style>.hidden-cmd {{ display: none }}</style>"
    )
    result = extract_reply(html=html)
    assert result.text == "visible reply"


def test_too_many_tags_and_no_quote_is_refused() -> None:
    result = extract_reply(html="<div>reply</div>" + "<b>x" * (MAX_TAGS + 1))
    assert result.text is None and "no quote to cut it at" in (result.refusal or "")


def test_too_many_tags_above_the_quote_is_refused() -> None:
    html = "<div>reply</div>" + "<i>y</i>" * MAX_TAGS + f"<div class='gmail_quote'>{BIG_QUOTE}</div>"
    result = extract_reply(html=html)
    assert result.text is None and "above its quote" in (result.refusal or "")


def test_a_stylesheet_link_after_the_quote_is_still_seen() -> None:
    html = (
        "<div>visible reply</div>"
        f"<div class='gmail_quote'>{BIG_QUOTE}</div><link rel='stylesheet' href='https://evil.example/h.css'>"
    )
    result = extract_reply(html=html)
    assert result.text is None and "external style sheet" in (result.refusal or "")
