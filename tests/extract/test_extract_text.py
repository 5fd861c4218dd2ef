"""Plain-text replies from the clients TaskPing's users run (synthetic fixtures)."""

from __future__ import annotations

import pytest

from taskping.extract import extract_reply
from taskping.marker import marker_line

TOKEN = "abcd-efghijkmnpqrstuv"
MARKER = marker_line(TOKEN)


def new_text(body: str, **kw: object) -> str | None:
    return extract_reply(text=body, **kw).text  # type: ignore[arg-type]


CASES: list[tuple[str, str, str]] = [
    (
        "gmail-en",
        "run the tests\n\nOn Fri, Nov 20, 2026 at 8:15 PM TaskPing <tp@example.com> wrote:\n\n> "
        + MARKER
        + "\n> Claude stopped.\n",
        "run the tests",
    ),
    (
        "gmail-en-wrapped-attribution",
        "yes\n\nOn Fri, Nov 20, 2026 at 8:15 PM Some Very Long Sender Name <\nsome.very.long.address@example.com> wrote:\n\n> old\n",
        "yes",
    ),
    (
        "gmail-zh",
        "继续吧\n\nTaskPing <tp@example.com> 于2026年11月20日周五 20:15写道：\n\n> 旧内容\n",
        "继续吧",
    ),
    (
        "gmail-zh-wrapped",
        "继续吧\n\nTaskPing <tp@example.com> 于2026年11月20日周五\n20:15写道：\n\n> 旧内容\n",
        "继续吧",
    ),
    (
        "ios-en",
        "Looks good, ship it\n\nSent from my iPhone\n\nOn Nov 20, 2026, at 20:15, TaskPing <tp@example.com> wrote:\n\n> old\n",
        "Looks good, ship it",
    ),
    (
        "ios-zh-unquoted-attribution",
        "好的\n\n发自我的iPhone\n\n在 2026年11月20日，20:15，TaskPing <tp@example.com> 写道：\n\n旧内容\n",
        "好的",
    ),
    (
        "outlook-desktop",
        "Approved.\n\n-----Original Message-----\nFrom: TaskPing <tp@example.com>\nSent: Friday, November 20, 2026 8:15 PM\nTo: me\nSubject: stopped\n\nold text\n",
        "Approved.",
    ),
    (
        "outlook-mobile",
        "ok go\n\nGet Outlook for iOS\n________________________________\nFrom: TaskPing <tp@example.com>\nSent: Friday, November 20, 2026 8:15:00 PM\nTo: me@example.com\nSubject: stopped\n\nold\n",
        "ok go",
    ),
    (
        "outlook-zh",
        "可以\n\n从 Outlook for iOS 发送\n________________________________\n发件人: TaskPing <tp@example.com>\n发送时间: 2026年11月20日 20:15\n收件人: me\n主题: stopped\n\n旧\n",
        "可以",
    ),
    (
        "outlook-zh-fullwidth",
        "可以\n\n发件人：TaskPing <tp@example.com>\n发送时间：2026年11月20日 20:15\n收件人：me\n主题：stopped\n\n旧\n",
        "可以",
    ),
    (
        "samsung",
        "sure\n\nSent from my Galaxy\n\n\n-------- Original message --------\nFrom: TaskPing <tp@example.com>\nDate: 11/20/26 20:15 (GMT+08:00)\nTo: me\nSubject: stopped\n\nold\n",
        "sure",
    ),
    (
        "thunderbird",
        "fine by me\n\nOn 20/11/2026 20:15, TaskPing wrote:\n> old\n",
        "fine by me",
    ),
    (
        "qq-foxmail",
        '收到\n\n------------------ 原始邮件 ------------------\n发件人: "TaskPing"<tp@example.com>;\n发送时间: 2026年11月20日(星期五) 晚上8:15\n收件人: "me"<me@example.com>;\n主题: stopped\n\n旧\n',
        "收到",
    ),
    (
        "netease-163",
        '好\n\n在 2026-11-20 20:15:00，"TaskPing" <tp@example.com> 写道：\n> 旧\n',
        "好",
    ),
    (
        "netease-mail-master",
        "好\n\n---- 回复的原邮件 ----\n| 发件人 | TaskPing<tp@example.com> |\n旧\n",
        "好",
    ),
    (
        "huawei-tagline",
        "行\n发自我的华为手机\n\n-------- 原始邮件 --------\n旧\n",
        "行",
    ),
    (
        "signature",
        "please retry\n\n-- \nJane Doe\nACME\n\nOn Fri, Nov 20, 2026 at 8:15 PM TaskPing <tp@example.com> wrote:\n> old\n",
        "please retry",
    ),
    (
        "forwarded",
        "FYI, run this\n\n---------- Forwarded message ---------\nFrom: X <x@example.com>\nDate: Fri, Nov 20, 2026\nSubject: y\n\nbody\n",
        "FYI, run this",
    ),
    (
        "marker-unquoted",
        "do it\n\n" + MARKER + "\nClaude stopped in ~/proj.\n",
        "do it",
    ),
]


@pytest.mark.parametrize(("name", "body", "expected"), CASES, ids=[c[0] for c in CASES])
def test_client_replies(name: str, body: str, expected: str) -> None:
    result = extract_reply(text=body)
    assert result.ok, result.refusal
    assert result.text == expected
    assert result.source == "text"


def test_fence_is_untouched_by_quote_and_signature_rules() -> None:
    body = "```\n> out.txt\n-- \n  --flag -v\nOn Mon wrote:\n```\n\nOn Fri, Nov 20, 2026 at 8:15 PM X <x@y> wrote:\n> old\n"
    assert new_text(body) == "```\n> out.txt\n-- \n  --flag -v\nOn Mon wrote:\n```"


def test_indentation_is_kept() -> None:
    assert new_text("    indented\n  two\n\n> old\n") == "    indented\n  two"


def test_crlf_bodies() -> None:
    assert new_text("go\r\n\r\nOn Fri, Nov 20, 2026 at 8:15 PM X <x@y> wrote:\r\n> old\r\n") == "go"


def test_bottom_post_single_block_is_accepted() -> None:
    body = "On Fri, Nov 20, 2026 at 8:15 PM X <x@y> wrote:\n> " + MARKER + "\n> old\n\nrun it\n"
    assert new_text(body) == "run it"


def test_inline_reply_with_several_blocks_is_refused() -> None:
    body = "> question one\n\nanswer one\n\n> question two\n\nanswer two\n"
    result = extract_reply(text=body)
    assert not result.ok
    assert result.refusal and "inline" in result.refusal


def test_text_above_and_between_quotes_is_refused() -> None:
    body = "top text\n\n> quoted a\n\nsneaky answer\n\n> quoted b\n"
    result = extract_reply(text=body)
    assert not result.ok and result.refusal and "ambiguous" in result.refusal


def test_lazy_continuation_line_is_quote() -> None:
    body = "top\n\n> a long quoted line that the client\nwrapped without a prefix\n> and goes on\n"
    assert new_text(body) == "top"


@pytest.mark.parametrize(
    "body", ["", "   \n\n", "> only quote\n> more\n", "On Fri, Nov 20, 2026 at 8:15 PM X <x@y> wrote:\n> q\n"]
)
def test_nothing_new_is_refused(body: str) -> None:
    result = extract_reply(text=body)
    assert not result.ok and result.text is None and result.refusal


def test_signature_only_is_refused() -> None:
    result = extract_reply(text="Sent from my iPhone\n\n> old\n")
    assert not result.ok


def test_sent_text_copy_is_quote_even_unquoted() -> None:
    sent = "Claude finished the refactor of the billing module and is waiting for you.\nLast message: all tests pass."
    body = "merge it\n\nClaude finished the refactor of the billing\nmodule and is waiting for you.\nLast message: all tests pass.\n"
    assert new_text(body) == body.rstrip()  # without the sent text, nothing marks it as quote
    assert new_text(body, sent_texts=[sent]) == "merge it"


def test_short_reply_that_is_also_in_sent_text_is_kept() -> None:
    sent = "Should I continue? Reply yes or no.\n" + "x" * 50
    assert new_text("yes\n\n> old\n", sent_texts=[sent]) == "yes"


def test_embedded_header_block_without_delimiter() -> None:
    body = "This is the reply.\n\nFrom: Someone <a@b.c>\nDate: Monday, February 8, 2016 11:44 AM\nTo: X\nSubject: Y\n\nold\n"
    assert new_text(body) == "This is the reply."


def test_single_from_line_in_text_is_not_a_header_block() -> None:
    assert new_text("From: the logs, it looks fine\nship it\n") == "From: the logs, it looks fine\nship it"


def test_attribution_glued_to_reply_line_is_split() -> None:
    assert new_text("reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n> Hi\n") == "reply"
    assert new_text("reply--- On Wed, Apr 4, 2012 at 3:59 PM, me@domain.com wrote:\n> Hi\n") == "reply"


def test_glued_attribution_inside_fence_is_not_split() -> None:
    body = "```\necho On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n```\n"
    assert new_text(body) == body.rstrip()


def test_header_block_starting_with_date() -> None:
    body = "Blah\n\nDate: Wed, 16 May 2012 00:15:02 -0600\nTo: someone@example.com\n\nold\n"
    assert new_text(body) == "Blah"


@pytest.mark.parametrize(
    "attribution",
    [
        "Am 03.02.2016 3:35 nachm. schrieb Max Mustermann <noreply@example.org>:",
        "Le 2016-11-16 02:22, Erlend a écrit\u00a0:",
        '26.06.2014, 14:41, "Alexander L" <abc@example.com>:',
        "2022年1月1日(金) 9:00 田中太郎 <taro.tanaka@example.com>:",
        "---- On Tue, 22 Dec 2015 14:17:36 +0530 Sam <info@example.org> wrote ----",
        "2013/7/20 sam via Discourse Meta <info@example.org>",
        "Max Mustermann <try@example.com> schrieb am Fr., 28.\nApr. 2017 um 11:53 Uhr:",
        "Am So., 1. Jan. 2023 um 17:22 Uhr schrieb John Doe <\nnoreply@github.com>:",
    ],
)
def test_attribution_variants(attribution: str) -> None:
    assert new_text(f"the reply\n\n{attribution}\n\nold text\n") == "the reply"


def test_lone_dash_name_signoff_is_cut() -> None:
    assert new_text("Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona\n\n> old") == (
        "Oh thanks.\n\nHaving the function would be great."
    )


def test_mvh_signoff_is_cut_but_body_kept() -> None:
    assert new_text("Hej,\n\nSvar.\n\nMvh,\nPerson B\n") == "Hej,\n\nSvar."


def test_sentence_mentioning_sent_from_is_not_a_tagline() -> None:
    body = (
        "Here is another email\n\nSent from my desk, is much easier than my mobile phone, really, truly, honestly ok."
    )
    assert new_text(body) == body
