"""The notification page's pieces that are not markdown: the mailto: quick replies."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from taskping.hooks.notification_html import mailto


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
