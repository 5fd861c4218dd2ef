"""Score TaskPing's reply extractor on the shared reply corpus.

The corpus projects keep English sign-offs ("Thanks,\nAlex") as part of the reply;
TaskPing drops them. The per-project table scores the extractor with them kept
(keep_english_signoffs=True: the same metric as the anchors in the corpus README);
the line under it scores it as the relay runs it, and --failures lists the cases
that differ.

Metric (from the corpus README):
- text and eml cases: exact match after collapsing every whitespace run to one space;
- html cases: visible text of output and expectation compared with all whitespace removed.
A refusal counts as the empty string.

Also measures time per message, throughput on typical phone replies, and the
time for 1 MB bodies (the "no regex blow-up" property).

Usage:
    .venv/bin/python bench/extract_bench.py [--corpus DIR] [--failures] [--project NAME]
The corpus defaults to $TASKPING_REPLY_CORPUS, else ../shared/reply-corpus relative
to the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

from taskping.extract import Extraction, extract_eml, extract_reply

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "reply-corpus"
_WS = re.compile(r"\s+")


class _Visible(HTMLParser):
    """Visible text of an expectation written as HTML (independent of the extractor)."""

    SKIP = frozenset({"script", "style", "head", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible(html: str) -> str:
    p = _Visible()
    p.feed(html)
    p.close()
    return "".join(p.parts)


def score(fmt: str, got: str, expected: str) -> bool:
    if fmt == "html":
        exp = visible(expected) if "<" in expected else expected
        return _WS.sub("", got.replace("\u00a0", " ")) == _WS.sub("", exp.replace("\u00a0", " "))
    return _WS.sub(" ", got).strip() == _WS.sub(" ", expected).strip()


def run_case(fmt: str, data: bytes, *, keep_english_signoffs: bool = False) -> Extraction:
    if fmt == "eml":
        return extract_eml(data, keep_english_signoffs=keep_english_signoffs)
    text = data.decode("utf-8", errors="replace")
    if fmt == "html":
        return extract_reply(html=text, keep_english_signoffs=keep_english_signoffs)
    return extract_reply(text=text, keep_english_signoffs=keep_english_signoffs)


PHONE_REPLIES: list[bytes] = [
    (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Re: [TaskPing #abcd-efghijkmnpqrstuv] done\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"yes, run the tests again\r\n\r\nSent from my iPhone\r\n\r\n"
        b"> On Nov 20, 2026, at 20:15, TaskPing <tp@example.com> wrote:\r\n>\r\n"
        b"> ## Reply above this line ## [TaskPing #abcd-efghijkmnpqrstuv]\r\n> Claude stopped.\r\n"
        + b"> context line\r\n"
        * 30
    ),
    (
        "From: a@example.com\r\nSubject: Re: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n好的，继续\r\n\r\n发自我的iPhone\r\n\r\n"
        "在 2026年11月20日，20:15，TaskPing <tp@example.com> 写道：\r\n\r\n> ## Reply above this line ## [TaskPing #abcd-efghijkmnpqrstuv]\r\n"
        "> Claude 已停止。\r\n"
    ).encode(),
    (
        b"From: a@example.com\r\nSubject: Re: x\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<html><head><style>p{margin:0}</style></head><body><div dir="ltr">```<br>npm test -- --watch<br>```</div>'
        b'<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Fri, Nov 20, 2026 at 8:15 PM TaskPing '
        b'&lt;tp@example.com&gt; wrote:<br></div><blockquote class="gmail_quote"><div>## Reply above this line ## '
        b"[TaskPing #abcd-efghijkmnpqrstuv]</div>" + b"<p>old text</p>" * 30 + b"</blockquote></div></body></html>"
    ),
    (
        b"From: a@example.com\r\nSubject: RE: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Go ahead.\r\n\r\nGet Outlook for Android\r\n________________________________\r\nFrom: TaskPing <tp@example.com>\r\n"
        b"Sent: Friday, November 20, 2026 8:15 PM\r\nTo: me@example.com\r\nSubject: [TaskPing] stopped\r\n\r\n"
        b"## Reply above this line ## [TaskPing #abcd-efghijkmnpqrstuv]\r\n" + b"old text\r\n" * 30
    ),
]


def big_bodies() -> dict[str, tuple[str, str]]:
    """1 MB bodies, including shapes that would hurt a backtracking regex."""
    mb = 1 << 20
    return {
        "text, 1 MB quoted": ("text", "reply\n\n" + ("> " + "word " * 15 + "\n") * (mb // 80)),
        "text, 1 MB one line": ("text", "On " + "1 " * (mb // 2) + "wrote"),
        "text, 1 MB spaces/colons": ("text", ("From: " + " " * 70 + ":\n") * (mb // 78)),
        "text, 1 MB sign-off line": (
            "text",
            "reply\n\n" + "Thanks, Bob | bob@example.com " * (mb // 30) + "\n\nBest regards,\nJane",
        ),
        "html, 1 MB paragraphs": (
            "html",
            "<div>reply</div><blockquote>" + "<p>quoted words here</p>" * (mb // 24) + "</blockquote>",
        ),
        "html, 1 MB nested/broken": ("html", "<div><span style='color:" + "<b>x" * (mb // 4)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.environ.get("TASKPING_REPLY_CORPUS", str(DEFAULT_CORPUS)))
    ap.add_argument("--failures", action="store_true", help="list the failing cases")
    ap.add_argument("--project", help="only this project")
    ap.add_argument("--no-speed", action="store_true", help="skip the throughput and 1 MB measurements")
    args = ap.parse_args(argv)
    corpus = Path(args.corpus)
    if not (corpus / "cases.jsonl").is_file():
        print(
            f"extract_bench: no cases.jsonl in {corpus}; pass --corpus DIR or set TASKPING_REPLY_CORPUS",
            file=sys.stderr,
        )
        return 2
    cases = [json.loads(line) for line in (corpus / "cases.jsonl").read_text().splitlines() if line.strip()]

    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    typed: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # as TaskPing types it
    times: list[float] = []
    failures: list[str] = []
    signoffs: list[str] = []
    for case in cases:
        if case.get("expected") is None or (args.project and case["project"] != args.project):
            continue
        fmt = case["format"]
        data = (corpus / case["input"]).read_bytes()
        column = "html" if fmt == "html" else "text/eml"
        # The corpus projects keep English sign-offs ("Thanks,\nAlex"); TaskPing drops them.
        # Scored both ways: the table with them kept, the line after it as typed.
        result = run_case(fmt, data, keep_english_signoffs=True)
        got = result.text or ""
        ok = score(fmt, got, case["expected"])
        totals[(case["project"], column)][0] += ok
        totals[(case["project"], column)][1] += 1
        if not ok:
            failures.append(
                f"{case['project']}/{case['id']} [{fmt}] refusal={result.refusal!r}\n  got: {got[:300]!r}\n  exp: {case['expected'][:300]!r}"
            )
        t0 = time.perf_counter()
        as_typed = run_case(fmt, data)
        times.append(time.perf_counter() - t0)
        typed_ok = score(fmt, as_typed.text or "", case["expected"])
        typed[column][0] += typed_ok
        typed[column][1] += 1
        if ok != typed_ok:
            dropped = got[len(as_typed.text or "") :].strip() if got.startswith(as_typed.text or "") else "?"
            signoffs.append(f"{case['project']}/{case['id']} [{fmt}] {'lost' if ok else 'won'}: {dropped[:80]!r}")

    projects = sorted({p for p, _ in totals})
    print(f"{'project':34} {'text/eml':>14} {'html':>14}")
    col_sum: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in projects:
        cells = []
        for column in ("text/eml", "html"):
            ok, n = totals.get((p, column), [0, 0])
            col_sum[column][0] += ok
            col_sum[column][1] += n
            cells.append(f"{ok:>3}/{n:<3} {100 * ok / n:5.1f}%" if n else f"{'-':>14}")
        print(f"{p:34} {cells[0]:>14} {cells[1]:>14}")
    cells = [
        f"{c[0]:>3}/{c[1]:<3} {100 * c[0] / c[1]:5.1f}%" if c[1] else "-"
        for c in (col_sum["text/eml"], col_sum["html"])
    ]
    print(f"{'OVERALL':34} {cells[0]:>14} {cells[1]:>14}")
    cells = [
        f"{c[0]:>3}/{c[1]:<3} {100 * c[0] / c[1]:5.1f}%" if c[1] else "-" for c in (typed["text/eml"], typed["html"])
    ]
    print(f"{'OVERALL as typed (sign-offs cut)':34} {cells[0]:>14} {cells[1]:>14}")
    print(f"  cases scored differently once English sign-offs are cut: {len(signoffs)} (listed with --failures)")
    if times:
        print(
            f"\ntime per message (corpus, {len(times)} cases): mean {1000 * statistics.mean(times):.2f} ms, "
            f"median {1000 * statistics.median(times):.2f} ms, max {1000 * max(times):.2f} ms"
        )
    if not args.no_speed:
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 1.0:
            for raw in PHONE_REPLIES:
                r = extract_eml(raw)
                assert r.ok, r.refusal
                n += 1
        elapsed = time.perf_counter() - t0
        print(
            f"throughput, typical phone replies (eml, {len(PHONE_REPLIES)} shapes): {n / elapsed:.0f} messages/s (target >= 500/s)"
        )
        for name, (fmt, body) in big_bodies().items():
            t0 = time.perf_counter()
            extract_reply(**{fmt: body})
            print(f"1 MB body: {name:28} {time.perf_counter() - t0:.3f} s (target < 0.2 s)")
    if args.failures:
        print("\nFAILURES\n" + "\n".join(failures))
        print("\nSCORED DIFFERENTLY ONCE ENGLISH SIGN-OFFS ARE CUT (what was cut)\n" + "\n".join(signoffs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
