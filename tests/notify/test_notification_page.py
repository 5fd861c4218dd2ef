"""The notification page's pieces that are not markdown: the mailto: quick replies, and how the
reply extractor reads the page when a reply quotes it."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from taskping.extract import extract_reply
from taskping.hooks.compose import compose
from taskping.hooks.notices import stop_notice
from taskping.hooks.notification_html import mailto
from taskping.session_map.sessions import Session


def test_mailto_carries_subject_body_and_thread_and_cannot_add_headers() -> None:
    subject = "Re: [TaskPing #k3-7fqpzt2m9xwc4hvrnj] api: 100% done & ok?\r\nBcc: evil@example.test"
    url = mailto("task+ping@example.test", subject=subject, body="continue", in_reply_to="<tp.1.ab@example.test>")
    assert url.startswith("mailto:task%2Bping@example.test?subject=Re%3A%20%5BTaskPing%20%23k3-")
    assert "\r" not in url and "\n" not in url and " " not in url
    parts = urlsplit(url)
    fields = parse_qs(parts.query)
    assert unquote(parts.path) == "task+ping@example.test"
    assert fields == {"subject": [subject], "body": ["continue"], "In-Reply-To": ["<tp.1.ab@example.test>"]}
    assert set(fields) == {"subject", "body", "In-Reply-To"}  # the CRLF in the subject added no Bcc field


def test_mailto_without_thread() -> None:
    fields = parse_qs(urlsplit(mailto("a@b.test", subject="s", body="stop")).query)
    assert fields == {"subject": ["s"], "body": ["stop"]}


# ---------------------------------------------------------------- read back by the reply extractor


def _notification(first_line: str) -> tuple[str, str]:
    """(text, html) of a Stop notification whose reply starts with ``first_line``."""
    now = time.time()
    session = Session(
        id=1,
        token="k3-7fqpzt2m9xwc4hvrnj",
        name="taskping-api",
        kind="tmux",
        target_socket="/s",
        target_pane="%3",
        claude_session_id=None,
        cwd="/home/me/src/api",
        claude_pid=None,
        state="idle",
        last_event="Stop",
        last_event_at=now,
        turn=1,
        notified_turn=0,
        last_prompt_at=now - 60,
        thread_root=None,
        created_at=now,
        updated_at=now,
        expires_at=now + 3600,
    )
    reply = f"{first_line}\n\n## What changed\n\n- **one**\n- `two`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    mail = compose(
        stop_notice(reply, summary="1 min · ran 1 command"),
        session,
        email_from="t@example.test",
        email_to="me@example.test",
        reply_window_until=now + 3600,
        state="idle",
    )
    return mail.text, re.search(r"<body[^>]*>(.*)</body>", mail.html, re.DOTALL).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("first_line", ["Done.", "All 214 tests pass now; here is what changed and why it matters."])
@pytest.mark.parametrize("container", ["<div class='gmail_quote'>{}</div>", "<blockquote type='cite'>{}</blockquote>"])
def test_a_quoted_notification_is_cut_from_an_html_reply(first_line: str, container: str) -> None:
    text, body = _notification(first_line)
    result = extract_reply(html="<div>yes please</div><br>" + container.format(body), sent_texts=[text])
    assert (result.text, result.refusal) == ("yes please", None)


@pytest.mark.parametrize("first_line", ["Done.", "All 214 tests pass now; here is what changed and why it matters."])
def test_a_quote_with_its_styles_stripped_leaks_no_preheader(first_line: str) -> None:
    """A client that quotes the page with no container and no styles shows the hidden preheader:
    it shares the marker's line, so it is read as the marker, not as new text."""
    text, body = _notification(first_line)
    stripped = re.sub(r' style="[^"]*"', "", body)
    result = extract_reply(html=f"<div>yes please</div><br><div>{stripped}</div>", sent_texts=[text])
    assert (result.text, result.refusal) == ("yes please", None)
