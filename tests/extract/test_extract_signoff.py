"""Closings after the new text: sign-offs, names, the signature blocks of
Chinese mail clients (issue 9, "Reply text: signatures"). Dropped when they
follow the new text; never at the cost of the text itself."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskping.extract import extract_eml, extract_reply
from taskping.marker import marker_line

MARKER = marker_line("abcd-efghijkmnpqrstuv")
GMAIL_QUOTE = f"\n\nOn Fri, Nov 20, 2026 at 8:15 PM TaskPing <tp@example.com> wrote:\n\n> {MARKER}\n> Claude stopped.\n"
ZH_QUOTE = f"\n\n------------------ 原始邮件 ------------------\n发件人: TaskPing <tp@example.com>\n发送时间: 2026年11月20日 20:15\n主题: [TaskPing] stopped\n\n{MARKER}\nClaude 已停止。\n"

COMMANDS = [
    "run the tests",
    "yes, go ahead and merge it",
    "Please fix the failing test in tests/test_api.py.\n\nThen push.",
    "```\nnpm test -- --watch\n```",
    "继续",
    "好的，继续吧",
]

ENGLISH_SIGNOFFS = [
    "Best regards,\nJane",
    "Thanks,\nBob",
    "Cheers",
    "Cheers,\nJane",
    "--\nJane",
    "-- \nJane Doe\nCEO @ Acme",
    "Regards, Roman",
    "Kind regards\n\nJane Doe\nCEO @ Acme !",
    "Sincerely,\nJane Doe",
    "Thanks & regards,\nRavi Kumar",
    "Many thanks,\nbob",
    "Thanks\nBob",
    "Best,\nJ.",
    "Thanks,\nBob\nbob@example.com\n(123) 456-7890",
]

CHINESE_BLOCKS = [
    "zhangsan@foxmail.com",  # Foxmail's default signature: the address alone
    "张三\nzhangsan@163.com",
    "张三\n邮箱：zhangsan@163.com",
    "| |\n张三\n|\n|\nzhangsan@163.com\n|\n签名由网易邮箱大师定制",  # NetEase Mail Master's card, as text
    "| |\n张三\n|\n|\nzhangsan@163.com\n|",
    "------------------\n张三\nzhangsan@qq.com",
    "此致\n张三",
    "谢谢\n张三\nzhangsan@qq.com",
]


def new_text(body: str, *, keep_english_signoffs: bool = False) -> str | None:
    return extract_reply(text=body, keep_english_signoffs=keep_english_signoffs).text


QUOTES = {"gmail-quote": GMAIL_QUOTE, "qq-quote": ZH_QUOTE, "no-quote": ""}


@pytest.mark.parametrize("signoff", ENGLISH_SIGNOFFS + CHINESE_BLOCKS)
def test_a_closing_after_the_new_text_is_dropped(signoff: str) -> None:
    wrong = {
        (command, name): got
        for command in COMMANDS
        for name, quote in QUOTES.items()
        if (got := new_text(f"{command}\n\n{signoff}{quote}")) != command
    }
    assert wrong == {}


@pytest.mark.parametrize(
    "body",
    [
        "run the tests\nBest regards,\nJane",  # no blank line between the text and the sign-off
        "run the tests\nThanks,\nBob",
        "run the tests\n\nThanks,\n\nBob",
    ],
)
def test_a_signoff_glued_to_the_text_is_dropped(body: str) -> None:
    assert new_text(body + GMAIL_QUOTE) == "run the tests"


@pytest.mark.parametrize(
    "body",
    [
        "Thanks",  # nothing else: the reply is the thanks
        "Thanks!",
        "Cheers",
        "Thanks,\nBob",
        "Best regards,\nJane",
        "Thanks, that fixed it",
        "run the tests\n\nThanks!",  # thanks on their own are said to the reader
        "run the tests\n\nthank you",
        "run the tests\n\nThanks, that fixed it",
        "run the tests\n\nCheers\nnow run the linter too",  # text after the valediction: not a sign-off
        "run the tests\n\nThanks,\nand then deploy to staging",
        "run the tests\n\nBest practice is to pin versions",
        "run the tests\n\nBest",  # a weak closing alone could be a word of the text
        "invite him as a reviewer:\n\nbob@example.com",  # the text introduces the address
        "invite him\nbob@example.com",  # the address is part of the paragraph
        "run the tests\n\nbob@example.com\nand then deploy",  # text after the address
        "add these reviewers\n\nalice@example.com\nbob@example.com",  # a list, not a signature
        "rename the column\n\nRegards to the team",
        "run the tests\n\n```\nThanks,\nBob\n```",  # fenced lines are never a closing
        "please check\n\n-- first point\n-- second point",
        "继续\n\n张三",  # a name alone, no address, no valediction
    ],
)
def test_text_that_only_looks_like_a_closing_is_kept(body: str) -> None:
    assert new_text(body + GMAIL_QUOTE) == body


def test_a_bottom_post_loses_its_signoff_too() -> None:
    body = f"On Fri, Nov 20, 2026 at 8:15 PM TaskPing <tp@example.com> wrote:\n> {MARKER}\n> Claude stopped.\n\nrun the tests\n\nThanks,\nBob\n"
    assert new_text(body) == "run the tests"


def test_keep_english_signoffs_keeps_only_the_english_ones() -> None:
    body = "run the tests\n\nThanks,\nBob" + GMAIL_QUOTE
    assert new_text(body, keep_english_signoffs=True) == "run the tests\n\nThanks,\nBob"
    assert new_text("继续\n\n张三\nzhangsan@163.com" + ZH_QUOTE, keep_english_signoffs=True) == "继续"
    assert new_text("Svar.\n\nMvh,\nOla" + GMAIL_QUOTE, keep_english_signoffs=True) == "Svar."


def test_netease_html_signature_table_is_dropped() -> None:
    html = (
        "<div>继续跑测试</div><div><br></div>"
        '<table style="border-collapse:collapse"><tr><td><img src="cid:avatar" alt=""></td>'
        "<td><div>张三</div><div>zhangsan@163.com</div></td></tr></table>"
        '<div>签名由<a href="https://mail.163.com/dashi/">网易邮箱大师</a>定制</div>'
        '<div class="J-reply" style="background-color:#f2f2f2">在 2026-11-20 20:15:00，"TaskPing" &lt;tp@example.com&gt; 写道：</div>'
        f"<blockquote>{MARKER}<br>Claude 已停止。</blockquote>"
    )
    assert extract_reply(html=html).text == "继续跑测试"


def test_english_signoff_in_a_whole_message() -> None:
    raw = (
        "From: Jane <jane@example.com>\r\nTo: tp@example.com\r\nSubject: Re: [TaskPing #abcd-efghijkmnpqrstuv] done\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"run the tests again\r\n\r\nBest regards,\r\nJane\r\n{GMAIL_QUOTE.replace(chr(10), chr(13) + chr(10))}"
    ).encode()
    assert extract_eml(raw).text == "run the tests again"


_WORDS = st.sampled_from(
    ["run", "the", "tests", "npm", "deploy", "staging", "fix", "it", "好的", "继续", "--flag", "x=1"]
)
_LINE = st.lists(_WORDS, min_size=2, max_size=6).map(" ".join)
_CLOSING = st.sampled_from(ENGLISH_SIGNOFFS + CHINESE_BLOCKS + [""])


@settings(max_examples=100, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=4), _CLOSING, st.sampled_from([GMAIL_QUOTE, ZH_QUOTE, ""]))
def test_the_text_above_a_closing_survives_whole(lines: list[str], closing: str, quote: str) -> None:
    command = "\n".join(lines)
    body = f"{command}\n\n{closing}{quote}" if closing else f"{command}{quote}"
    assert new_text(body) == command
