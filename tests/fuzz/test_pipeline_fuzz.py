"""Fuzz parse → authenticate → dedupe → route → extract → guard (``Pipeline.plan``).

Generated messages (headers and MIME built by hand, so they can be malformed)
and byte-level mutations of realistic replies. For every one: no exception
escapes, and the message ends in the ledger with a final decision — or is a
planned injection (row ``received``) whose text the injector would accept, into
a live session — or is another machine's reply, left untouched by design.
"""

from __future__ import annotations

import base64
import os
import quopri
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskping.injectors.terminal_guard import forbidden_characters
from taskping.relay.parse import parse
from taskping.relay.pipeline import Outcome, Planned, Position
from taskping.session_map import ledger
from taskping.session_map.vocabulary import Code
from tests.fuzz.conftest import FuzzMap
from tests.support.inprocess import ME

pytestmark = pytest.mark.slow

COUNTS: dict[str, int] = {}

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1250"))
VARIANTS = 3  # cheap seeded byte mutations of each hypothesis example, besides the example itself
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
INSERTS = [
    b"\x00",
    b"\r\n",
    b"\r\n\r\n",
    b":",
    b"=?",
    b"?=",
    b"--",
    b"\xff\xfe",
    b"<",
    b">",
    b"\x1b[",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
]


def seeded_mutation(raw: bytes, seed: int) -> bytes:
    """A byte-level mutation, reproducible from ``seed`` (cheaper than a hypothesis draw)."""
    rng = random.Random(seed)
    out = bytearray(raw)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(len(out) + 1)
        op = rng.choice(["flip", "insert", "delete", "dup", "truncate"])
        if op == "flip" and pos < len(out):
            out[pos] = rng.randrange(256)
        elif op == "insert":
            out[pos:pos] = rng.choice(INSERTS)
        elif op == "delete":
            del out[pos : pos + rng.randint(1, 40)]
        elif op == "dup":
            out[pos:pos] = out[pos : pos + rng.randint(1, 200)]
        elif op == "truncate" and rng.random() < 0.3:
            del out[pos:]
    return bytes(out)


nasty_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)
lines = st.lists(
    st.one_of(
        nasty_text,
        st.sampled_from(
            [
                "",
                "> quoted line",
                ">> deeper",
                "-- ",
                "Sent from my iPhone",
                "发自我的iPhone",
                "On Sat, Nov 21, 2026 at 9:00 AM TaskPing <taskping@example.test> wrote:",
                "-----Original Message-----",
                "From: TaskPing",
                "________________________________",
                "!rm -rf /",
                "/clear",
                "\x1b[31mred\x1b[0m",
                "run it;",
                "```",
                "\t\tindented",
                "x" * 9000,
                "Reply to this email to continue.",
            ]
        ),
    ),
    max_size=12,
)


def _addr(fm: FuzzMap):  # type: ignore[no-untyped-def]
    return st.sampled_from(
        [
            f"Me <{ME}>",
            ME,
            "evil@example.test",
            f'"{ME}" <evil@example.test>',
            f"{ME}, other@example.test",
            "",
            "<>",
            "Me <me@EXAMPLE.test>",
            "=?utf-8?b?8J+YgA==?= <me@example.test>",
            "me@example.test (comment)",
            "@@@",
            "Me <me@example.test",
        ]
    )


@st.composite
def messages(draw, fm: FuzzMap) -> bytes:  # type: ignore[no-untyped-def]
    token = draw(st.sampled_from([*fm.tokens, "otherhost-abcdefghjkmnpqrs", f"{fm.tokens[0][:-1]}z", ""]))
    subject = draw(
        st.one_of(
            st.just(f"Re: [TaskPing #{token}] done"),
            nasty_text.map(lambda t: t.replace("\n", " ")),
            st.just("=?utf-8?q?Re=3A_=5BTaskPing?="),
        )
    )
    irt = draw(st.one_of(st.sampled_from(fm.notes), st.just("<unknown@example.test>"), st.just(""), st.just("<<>>")))
    headers = [
        ("From", draw(_addr(fm))),
        ("To", "taskping@example.test"),
        ("Subject", subject),
    ]
    if draw(st.booleans()):
        headers.append(
            (
                "Message-ID",
                draw(
                    st.one_of(
                        st.uuids().map(lambda u: f"<{u}@example.test>"), st.just(""), st.just("<dup@example.test>")
                    )
                ),
            )
        )
    if irt:
        headers.append(("In-Reply-To", irt))
    if draw(st.booleans()):
        headers.append(
            ("References", " ".join(draw(st.lists(st.sampled_from([*fm.notes, "<x@y>", "garbage"]), max_size=4))))
        )
    if draw(st.booleans()):
        headers.append(
            (
                "Authentication-Results",
                draw(
                    st.sampled_from(
                        [
                            "mx.example.test; dmarc=pass header.from=example.test",
                            "evil; dkim=pass",
                            "",
                            "mx.example.test; dkim=fail",
                        ]
                    )
                ),
            )
        )
    text = "\n".join(draw(lines))
    if draw(st.booleans()):
        text += "\n\n" + "\n".join("> " + line for line in draw(st.sampled_from(fm.bodies)).splitlines())
    charset = draw(st.sampled_from(["utf-8", "iso-8859-1", "gb2312", "bogus-charset", "", "utf-7"]))
    cte = draw(st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-unknown", ""]))
    payload = text.encode("utf-8", "surrogatepass")
    if cte == "base64" and draw(st.booleans()):
        payload = base64.encodebytes(payload)
    elif cte == "quoted-printable" and draw(st.booleans()):
        payload = quopri.encodestring(payload)
    kind = draw(st.sampled_from(["plain", "html", "alternative", "mixed-broken", "empty"]))
    ct = f"text/plain; charset={charset}" if charset else "text/plain"
    if kind == "plain":
        headers += [("Content-Type", ct), ("Content-Transfer-Encoding", cte)]
        body = payload
    elif kind == "html":
        headers += [("Content-Type", "text/html; charset=utf-8")]
        body = (
            "<div>" + text.replace("\n", "<br>") + "</div><blockquote>quoted</blockquote><style>p{}</style>"
        ).encode()
    elif kind == "alternative":
        b = draw(st.sampled_from(["BOUND", "", "a" * 80]))
        headers += [("MIME-Version", "1.0"), ("Content-Type", f'multipart/alternative; boundary="{b}"')]
        body = (
            (f"--{b}\r\nContent-Type: {ct}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").encode()
            + payload
            + (f"\r\n--{b}\r\nContent-Type: text/html\r\n\r\n<p>{text[:200]}</p>\r\n--{b}--\r\n").encode()
        )
    elif kind == "mixed-broken":
        headers += [("Content-Type", "multipart/mixed; boundary=")]
        body = b"--\r\n" + payload + b"\r\n--"
    else:
        body = b""
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    raw = eol.join(f"{k}: {v}".encode("utf-8", "surrogatepass") for k, v in headers) + eol + eol + body
    return raw


@st.composite
def mutated(draw, fm: FuzzMap) -> bytes:  # type: ignore[no-untyped-def]
    raw = bytearray(draw(messages(fm)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "dup", "truncate"]))
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"\x00",
                        b"\r\n",
                        b"\r\n\r\n",
                        b":",
                        b"=?",
                        b"?=",
                        b"--",
                        b"\xff\xfe",
                        b"Content-Type: multipart/mixed; boundary=x\r\n",
                        b"<",
                        b">",
                    ]
                )
            )
        elif op == "delete" and raw:
            del raw[pos : pos + draw(st.integers(1, 40))]
        elif op == "dup":
            raw[pos:pos] = raw[pos : pos + draw(st.integers(1, 200))]
        elif op == "truncate":
            del raw[pos:]
    return bytes(raw)


def _check(fm: FuzzMap, raw: bytes) -> None:
    COUNTS["messages"] = COUNTS.get("messages", 0) + 1
    mail = parse(raw)  # must not raise
    result = fm.pipeline.plan(raw, Position("INBOX", 1, 1))
    if isinstance(result, Planned):
        row = ledger.get(fm.conn, result.entry.id)  # type: ignore[arg-type]
        assert row is not None and row.status == "received"
        assert result.guarded.text.strip() and not forbidden_characters(result.guarded.text)
        assert result.session.live and result.sender == ME
        COUNTS["planned"] = COUNTS.get("planned", 0) + 1
        return
    assert isinstance(result, Outcome)
    COUNTS[result.status] = COUNTS.get(result.status, 0) + 1
    if result.code == Code.INTERNAL_ERROR:
        # a step raised and the pipeline's safety net recorded it. Known cause (parse/extract,
        # reported): lone surrogates from undecodable headers or bodies (e.g. charset=utf-7)
        # reach code that encodes to UTF-8. Anything else is a new bug.
        COUNTS["step-raised"] = COUNTS.get("step-raised", 0) + 1
        assert "UnicodeEncodeError" in result.reason, result.reason
    key = mail.message_key.encode("utf-8", "replace").decode()
    row = fm.conn.execute("SELECT status FROM inbound WHERE message_key = ?", (key,)).fetchone()  # type: ignore[attr-defined]
    assert row is not None, result
    assert row[0] in ledger.FINAL or (result.status == "duplicate" and row[0] == "received"), (row[0], result)
    assert result.code is not None and result.step is not None, result  # every ending has its step and code


def test_generated_messages(fuzz_map: FuzzMap) -> None:
    @FUZZ
    @given(messages(fuzz_map), st.integers(0, 2**32))
    def run(raw: bytes, seed: int) -> None:
        _check(fuzz_map, raw)
        for k in range(VARIANTS):
            _check(fuzz_map, seeded_mutation(raw, seed + k))

    run()


def test_mutated_messages(fuzz_map: FuzzMap) -> None:
    @FUZZ
    @given(mutated(fuzz_map), st.integers(0, 2**32))
    def run(raw: bytes, seed: int) -> None:
        _check(fuzz_map, raw)
        for k in range(VARIANTS):
            _check(fuzz_map, seeded_mutation(raw, seed + k))

    run()
    total = fuzz_map.conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0]  # type: ignore[attr-defined]
    print(f"\nMETRIC pipeline-fuzz outcomes={dict(sorted(COUNTS.items()))} ledger_rows={total}")
    if EXAMPLES >= 1250:
        assert COUNTS["messages"] >= 10_000
