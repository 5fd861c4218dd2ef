"""Property tests: the extractor never invents text and never crashes.

Speed is measured by bench/extract_bench.py; the time guard here is generous
(2 s) and only catches catastrophic regex backtracking.
"""

from __future__ import annotations

import re
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskping.extract import extract_eml, extract_reply, to_command

LINE_PIECES = st.sampled_from(
    [
        "> ",
        ">> ",
        "-- ",
        "--",
        "```",
        "~~~",
        "On Fri, Nov 20, 2026 at 8:15 PM X <x@y> wrote:",
        "wrote:",
        "写道：",
        "From: a",
        "Sent: b",
        "发件人：",
        "-----Original Message-----",
        "____",
        "Sent from my iPhone",
        "CMD: ",
        "## Reply above this line ## [TaskPing #abcd-efghijkmnpqrstuv]",
        "    ",
        "\t",
        "ls -la",
        "好的",
    ]
)
LINES = st.lists(st.one_of(LINE_PIECES, st.text(max_size=30)), max_size=30)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(LINES)
def test_text_output_lines_come_from_input(lines: list[str]) -> None:
    body = "\n".join(lines)
    result = extract_reply(text=body)
    assert (result.text is None) != (result.refusal is None)
    if result.text is not None:
        input_lines = set(body.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        stripped = {line.rstrip() for line in input_lines}
        for line in result.text.split("\n"):
            assert line in input_lines or line in stripped
        for part in to_command(result.text).split("\n"):
            assert part in body


WORDS = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "delta", "npm", "test", "好的", "继续"]), min_size=1, max_size=5
)
TAGS = st.sampled_from(["div", "p", "span", "blockquote", "b", "pre", "br", "td", "hr", "font", "x-unknown"])


@st.composite
def html_docs(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 12))):
        tag = draw(TAGS)
        words = " ".join(draw(WORDS))
        attr = draw(st.sampled_from(["", ' class="gmail_quote"', ' style="color:red"', ' type="cite"', ' id="x"']))
        close = draw(st.booleans())
        parts.append(f"<{tag}{attr}>{words}" + (f"</{tag}>" if close else ""))
    return "".join(parts)


@SETTINGS
@given(html_docs())
def test_html_output_words_come_from_input(html: str) -> None:
    result = extract_reply(html=html)
    if result.text is not None:
        visible = re.sub(r"\s+", "", re.sub(r"<[^>]*>", "", html))
        for word in result.text.split():
            assert word.lstrip(">") in visible


@SETTINGS
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    extract_eml(raw)
    text = raw.decode("utf-8", errors="replace")
    extract_reply(text=text)
    extract_reply(html=text)


MIME_PIECES = st.sampled_from(
    [
        b"Content-Type: multipart/alternative; boundary=B\r\n",
        b"Content-Type: text/plain; charset=bogus\r\n",
        b"Content-Type: text/html; charset=utf-8\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"--B\r\n",
        b"--B--\r\n",
        b"\r\n",
        b"=E4=BD=A0=\r\n",
        b"5L2g5aW9\r\n",
        b"<div>hi</div>\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Subject: =?utf-8?b?broken\r\n",
        b"Content-Disposition: attachment\r\n",
        b"format=flowed; delsp=yes\r\n",
        b"\xff\xfe\x00",
    ]
)


@SETTINGS
@given(st.lists(MIME_PIECES, max_size=25))
def test_broken_mime_never_raises(pieces: list[bytes]) -> None:
    result = extract_eml(b"".join(pieces))
    assert (result.text is None) != (result.refusal is None)


@SETTINGS
@given(st.text(alphabet=st.sampled_from("<>/=\"' abdivstylecolr:;#f0-!\n&;"), max_size=400))
def test_broken_html_never_raises(html: str) -> None:
    extract_reply(html=html)


def test_megabyte_bodies_have_no_backtracking_blowup() -> None:
    mb = 1 << 20
    bodies = [
        {"text": "reply\n\n" + ("> " + "word " * 15 + "\n") * (mb // 80)},
        {"text": "On " + "1 " * (mb // 2) + "wrote"},
        {"text": ("From: " + " " * 70 + ":\n") * (mb // 78)},
        {"text": "-" * mb},
        {"text": "\u3000" * mb + "写道"},
        {"text": "reply\n\n" + "Thanks, Bob | bob@example.com " * (mb // 30) + "\n\nBest regards,\nJane"},  # signoff.py
        {"text": "reply\n\n" + "x@" * (mb // 2) + "\n\nRegards, " + "A " * (mb // 2)},
        {"html": "<div>reply</div><blockquote>" + "<p>quoted words here</p>" * (mb // 24) + "</blockquote>"},
        {"html": "<style>" + "/*" * (mb // 4) + "{" * (mb // 4) + "</style>"},
    ]
    for body in bodies:
        t0 = time.perf_counter()
        extract_reply(**body)
        assert time.perf_counter() - t0 < 2.0, next(iter(body))
