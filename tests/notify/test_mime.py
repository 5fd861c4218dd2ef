"""The hook's MIME writer (taskping.hooks.mime) read back by Python's ``email``
package, the standard reading: what was written is what a mail client shows."""

from __future__ import annotations

import email
import email.policy
import html
import re
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from taskping.hooks import compose, mime
from taskping.outgoing import build as outgoing_build
from taskping.outgoing import new_message_id as outgoing_message_id
from taskping.tokens import ALPHABET, HOST_LEN, message_id_host, subject_tag

FROM, TO = "taskping@notify.example.test", "me@phone.example.test"


def _parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _bodies(msg: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}  # type: ignore[misc]


def _header_block(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii")


def _build(subject: str, text: str = "body", html_: str = "<p>body</p>", root: str | None = None) -> bytes:
    return mime.build(
        email_from=FROM, email_to=TO, subject=subject, text=text, html=html_, kind="stop", thread_root=root
    )[1]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_subject_reads_back_exactly(subject: str) -> None:
    raw = _build(subject)
    assert str(_parse(raw)["Subject"]) == subject
    block = _header_block(raw)
    for line in block.split("\r\n"):
        assert len(line) <= 78, line
        assert "\n" not in line and "\r" not in line
    # One Subject header however the text looks (a newline in it never starts a header of its own).
    assert len(re.findall(r"^Subject:", block, flags=re.MULTILINE)) == 1


@settings(max_examples=150, deadline=None)
@given(st.text(), st.text())
def test_both_parts_read_back_exactly(text: str, markup: str) -> None:
    """Read back exactly as the email package's own builder's message reads back (both put the
    text in set_content's form: its lines joined with CRLF and a final CRLF)."""
    msg = _parse(_build("s", text, markup))
    assert msg.get_content_type() == "multipart/alternative"
    reference = outgoing_build(email_from=FROM, email_to=TO, subject="s", text=text, html=markup, kind="stop")
    assert _bodies(msg) == _bodies(_parse(reference.raw))
    assert _bodies(msg)["text/plain"] == (b"\r\n".join(text.encode().splitlines()) + b"\r\n").decode()


def test_same_headers_as_the_email_package_build() -> None:
    subject = "[TaskPing #abcd-efghijkmnpqrstuv] myproject: Done — all 42 tests pass…"
    ours = _parse(_build(subject, "héllo\nworld", "<p>héllo</p>", root="<tp.1.aa@notify.example.test>"))
    theirs = _parse(
        outgoing_build(
            email_from=FROM,
            email_to=TO,
            subject=subject,
            text="héllo\nworld",
            html="<p>héllo</p>",
            kind="stop",
            thread_root="<tp.1.aa@notify.example.test>",
        ).raw
    )
    same = (
        "From",
        "To",
        "Subject",
        "In-Reply-To",
        "References",
        "Auto-Submitted",
        "X-Auto-Response-Suppress",
        "X-TaskPing",
        "MIME-Version",
    )
    assert {h: str(ours[h]) for h in same} == {h: str(theirs[h]) for h in same}
    assert set(ours.keys()) == set(theirs.keys())
    assert ours["Date"].datetime is not None and ours["Message-ID"].endswith("@notify.example.test>")
    assert _bodies(ours) == _bodies(theirs)
    assert ours.defects == [] and all(p.defects == [] for p in ours.walk())


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.none(), st.text(alphabet=ALPHABET, min_size=HOST_LEN, max_size=HOST_LEN)))
def test_message_ids_name_the_same_host(host: str | None) -> None:
    """Both writers put a token's host part in the Message-ID the same way, and the relay reads it
    back (``None``: no host, the older form, names no machine)."""
    hook_id = _parse(
        mime.build(email_from=FROM, email_to=TO, subject="s", text="t", html="h", kind="stop", host=host)[1]
    )
    package_id = _parse(
        outgoing_build(email_from=FROM, email_to=TO, subject="s", text="t", html="h", kind="stop", host=host).raw
    )
    for mid in (
        str(hook_id["Message-ID"]),
        str(package_id["Message-ID"]),
        mime.new_message_id(FROM, host=host),
        outgoing_message_id(FROM, host),
    ):
        assert message_id_host(mid) == host, mid
        assert re.fullmatch(r"<tp\.(?:[a-z2-9]{4}\.)?\d+\.[0-9a-f]{20}@notify\.example\.test>", mid), mid


def test_readable_words_stay_readable() -> None:
    block = _header_block(_build("[TaskPing #abcd-efghijkmnpqrstuv] api: all good"))
    assert "Subject: [TaskPing #abcd-efghijkmnpqrstuv] api: all good" in block
    block = _header_block(_build("[TaskPing #abcd-efghijkmnpqrstuv] api: Done — ok"))
    assert "Subject: [TaskPing #abcd-efghijkmnpqrstuv] api: Done =?utf-8?b?" in block


def test_date_is_english_and_utc() -> None:
    assert mime.rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000"


@given(st.text())
def test_compose_escape_is_html_escape(text: str) -> None:
    assert compose.escape(text) == html.escape(text)


def test_compose_subject_tag_is_the_one_the_relay_reads() -> None:
    assert compose.subject_tag("abcd-efghijkmnpqrstuv") == subject_tag("abcd-efghijkmnpqrstuv")
