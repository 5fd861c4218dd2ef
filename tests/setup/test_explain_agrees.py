"""`explain` must say what the relay decides: the same messages through both.

For each message, :func:`taskping.relay.explain.explain` runs first against a
read-only snapshot of the map, then the real :meth:`Pipeline.plan` decides it
on the map itself. They must agree: would type ⇔ planned, the same text, and
a refusal's reason carrying the pipeline's. Messages: real client replies
from the shared reply corpus (talon's standard replies, re-addressed to a
session), the hidden-HTML cases of the extractor suite, and crafted refusals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.relay.explain import explain, snapshot
from taskping.relay.pipeline import Outcome, Planned
from tests.extract.test_extract_hidden import CASES as HIDDEN_CASES
from tests.support.inprocess import Map, in_process_map, reply_to

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "reply-corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/reply-corpus")
KEEP = re.compile(rb"^(content-|mime-version)", re.IGNORECASE)


def corpus_emls() -> list[Path]:
    cases = CORPUS / "cases.jsonl"
    if not cases.is_file():
        return []
    rows = [json.loads(line) for line in cases.read_text().splitlines() if line.strip()]
    return [CORPUS / r["input"] for r in rows if r["format"] == "eml"]


def readdress(raw: bytes, m: Map, n: int) -> bytes:
    """The message with its routing headers replaced: from me, replying to session 0's notification."""
    nl = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    head, _, body = raw.partition(nl + nl)
    kept: list[bytes] = []
    keeping = False
    for line in head.split(nl):
        if line[:1] in (b" ", b"\t"):
            if keeping:
                kept.append(line)
            continue
        keeping = bool(KEEP.match(line))
        if keeping:
            kept.append(line)
    fresh = [
        b"From: Me <me@example.test>",
        b"To: taskping@example.test",
        b"Subject: Re: [TaskPing #" + m.tokens[0].encode() + b"] finished",
        f"Message-ID: <corpus-{n}@example.test>".encode(),
        b"In-Reply-To: " + m.notes[0].encode(),
    ]
    return nl.join(fresh + kept) + nl + nl + body


def html_reply(m: Map, html: str, n: int) -> bytes:
    return (
        b"From: me@example.test\r\nSubject: Re: [TaskPing #"
        + m.tokens[1].encode()
        + b"] x\r\n"
        + f"Message-ID: <hidden-{n}@example.test>\r\n".encode()
        + b"In-Reply-To: "
        + m.notes[1].encode()
        + b"\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html.encode()
        + b"\r\n"
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Map]:
    with in_process_map(tmp_path) as m:
        yield m


def messages(m: Map) -> list[tuple[str, bytes]]:
    out = [(f"corpus:{p.name}", readdress(p.read_bytes(), m, i)) for i, p in enumerate(corpus_emls())]
    out += [(f"hidden:{name}", html_reply(m, html, i)) for i, (name, html, _word) in enumerate(HIDDEN_CASES)]
    out += [
        ("lone-cr", reply_to(m, 0, body=b"a\rb", mid=b"<cr@example.test>")),
        ("stranger", reply_to(m, 0, sender=b"eve@example.test", mid=b"<eve@example.test>")),
        ("nul-header", b"From: me@example.test\r\nSubject: x\x00\r\nMessage-ID: <nul@example.test>\r\n\r\nhi\r\n"),
        ("control-bytes", reply_to(m, 1, body=b"ls \x1b[31m-la", mid=b"<esc@example.test>")),
        ("bang", reply_to(m, 1, body=b"!rm -rf ~", mid=b"<bang@example.test>")),
    ]
    return out


def test_explain_and_the_pipeline_decide_alike(world: Map) -> None:
    cases = messages(world)
    assert len(cases) > 20
    typed = 0
    for name, raw in cases:
        copy = snapshot(world.settings.session_map_path)
        try:
            said = explain(raw, world.settings, copy)
        finally:
            copy.close()
        decided = world.pipeline.plan(raw)
        if isinstance(decided, Planned):
            assert said.would_type == decided.guarded.text, name
            typed += 1
        else:
            assert isinstance(decided, Outcome)
            assert said.would_type is None, (name, decided)
            failing = [s for s in said.steps if not s.ok]
            assert len(failing) == 1 and failing[0] is said.steps[-1], (name, said.steps)
            assert decided.reason.split(" (judged on the header")[0] in failing[0].reason, (name, decided, failing)
            assert failing[0].code == decided.code, (name, decided, failing)  # one vocabulary: the same code
    assert typed >= 10  # the corpus's genuine replies come through both
