"""The session map under a 10,000-reply stream, with and without retention.

Simulated time, real SQLite: the clock of :mod:`taskping.session_map.db` is
moved instead of waited for, and every row is written by TaskPing's own
session-map functions, as the hooks and the relay write them. Per reply:

- a Stop notification composed by the hook's own composer
  (:func:`taskping.hooks.compose.compose`: text + HTML, base64) around a
  Claude answer of realistic size (log-normal, median 1,200 characters,
  capped at 30,000; mean about 2 KB), queued and marked sent;
- the inbound ledger row (claimed, replay keys recorded: one content key and
  one DKIM signature key, decided ``delivered`` with its 120-character
  preview);
- the acknowledgement ("Delivered to …"), queued as the relay queues it and
  marked sent.

Sessions take 5 to 20 replies each, spread over a few hours, then end. The
replies are spread evenly over ``--days`` simulated days (default 10,000 over
200 days: 50 a day). With retention on, :func:`retention.forget` runs every
``--every-hours`` simulated hours (the relay runs it hourly) with
``--retention-days``; with ``--no-retention`` nothing is ever deleted (TaskPing
before issue 9), and one ``forget`` runs at the end: the first run on an old
store, which is when the VACUUM is worthwhile.

Printed and written (``--json``): the file size (database + WAL) at the end
of every 10th simulated day, its maximum, free pages, row counts, the time of
each ``forget`` run (median, max) and of the final one.

    .venv/bin/python bench/retention_bench.py [--replies 10000] [--days 200] [--retention-days 30]
                                              [--every-hours 1] [--no-retention] [--json OUT] [--dir DIR]

The bench's connection uses ``synchronous=NORMAL`` (the session map uses FULL):
file sizes do not depend on it, and 70,000 fsyncs would only measure the disk.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from taskping.hooks.compose import compose
from taskping.hooks.notices import Notice
from taskping.outgoing import build
from taskping.relay.audit import preview
from taskping.session_map import connect, daemons, db, ledger, notifications, outbox, reply_keys, retention, sessions
from taskping.tokens import new_token

DAY = 86400.0
START = 1_800_000_000.0
EMAIL_FROM = "taskping@example.com"
EMAIL_TO = "me@example.com"
WORDS = (
    "the",
    "test",
    "suite",
    "passes",
    "now",
    "I",
    "changed",
    "module",
    "function",
    "retention",
    "sqlite",
    "file",
    "rows",
    "ledger",
    "reply",
    "session",
    "because",
    "and",
    "then",
    "config",
    "error",
    "fixed",
)


class Clock:
    """Replaces the ``time`` module inside taskping.session_map.db (``db.now()`` reads ``time.time()``)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def time(self) -> float:
        return self.t


class WriterProbe:
    """Another process's view of a retention run: a short write transaction every 10 ms on its own
    connection (what a hook does), timed; ``max_ms`` is the longest it waited for the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.max_ms = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = connect(self.path)
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                daemons.beat(conn, "retention-bench-probe")
                self.max_ms = max(self.max_ms, (time.perf_counter() - started) * 1000)
                self._stop.wait(0.01)
            daemons.clear(conn, "retention-bench-probe")
        finally:
            conn.close()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


def answer(rng: random.Random) -> str:
    """Claude's last message: log-normal length, median 1,200 characters, at most 30,000."""
    size = min(30_000, int(math.exp(rng.gauss(math.log(1200), 1.0))))
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    return "\n".join(lines)


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def counts(conn) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out = {
        t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("sessions", "notifications", "outbox", "inbound", "reply_keys", "reply_signatures")
    }
    out["outbox_with_raw"] = conn.execute("SELECT COUNT(*) FROM outbox WHERE length(raw) > 0").fetchone()[0]
    out["free_pages"] = conn.execute("PRAGMA freelist_count").fetchone()[0]
    out["pages"] = conn.execute("PRAGMA page_count").fetchone()[0]
    return out


def run(
    replies: int, days: int, retention_days: int, every_hours: float, keep: bool, seed: int, where: Path | None = None
) -> dict:  # type: ignore[type-arg]
    rng = random.Random(seed)
    clock = Clock(START)
    db.time = clock  # type: ignore[assignment]  # the session map's clock, moved by this loop
    work = Path(tempfile.mkdtemp(prefix="taskping-retention-bench-", dir=where))
    path = work / "state" / "taskping.db"
    conn = connect(path)
    conn.execute("PRAGMA synchronous = NORMAL")
    gap = days * DAY / replies
    forget_every = every_hours * 3600
    next_forget = START + forget_every
    forget_ms: list[float] = []
    forgotten: dict[str, int] = {}
    sizes: list[tuple[int, int]] = []
    next_sample = START + DAY
    session = None
    left = 0
    t0 = time.perf_counter()
    body_bytes = raw_bytes = 0
    try:
        for n in range(replies):
            clock.t = START + n * gap
            while not keep and clock.t >= next_forget:  # the relay's hourly run, at its own time
                at = clock.t
                clock.t = next_forget
                started = time.perf_counter()
                report = retention.forget(conn, days=retention_days)
                forget_ms.append((time.perf_counter() - started) * 1000)
                for k, v in report.counts().items():
                    if isinstance(v, int) and not isinstance(v, bool) and k.endswith(("_erased", "_deleted")):
                        forgotten[k] = forgotten.get(k, 0) + v
                clock.t = at
                next_forget += forget_every
            while clock.t >= next_sample:
                sizes.append((round((next_sample - START) / DAY), file_bytes(path)))
                next_sample += DAY
            if left == 0:
                if session is not None:
                    sessions.end(conn, session.id, reason="SessionEnd")
                session = sessions.create(
                    conn,
                    token=new_token("bench"),
                    name=f"s{n}",
                    kind="tmux",
                    target_socket="/bench",
                    target_pane=f"%{n}",
                    ttl=86400,
                    cwd="/home/me/project",
                )
                left = rng.randint(5, 20)
            left -= 1
            assert session is not None
            # The Stop notification, as the hook composes and queues it.
            text = answer(rng)
            mail = compose(
                Notice("stop", text.splitlines()[0][:60], text),
                session,
                email_from=EMAIL_FROM,
                email_to=EMAIL_TO,
                reply_window_until=clock.t + 86400,
                state="idle",
            )
            row = notifications.queue(
                conn,
                session_id=session.id,
                message_id=mail.message_id,
                kind="stop",
                body_text=mail.text,
                to_addr=EMAIL_TO,
                raw=mail.raw,
                ttl=86400,
                turn=n,
            )
            outbox.mark_sent(conn, row)
            session = sessions.get(conn, session.id)
            assert session is not None
            body_bytes += len(mail.text)
            raw_bytes += len(mail.raw)
            # The reply, a few minutes later: ledger row, replay keys, decision.
            clock.t += min(gap / 2, 300)
            typed = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
            entry, _ = ledger.claim(
                conn,
                message_key=f"<reply{n}@mail.example.com>",
                message_id=f"<reply{n}@mail.example.com>",
                content_hash=f"{n:064x}",
                folder="INBOX",
                uidvalidity=1,
                uid=n + 1,
                sender=EMAIL_TO,
            )
            reply_keys.record_and_find(
                conn, entry.id, content_key=f"content-{n:058x}", signature_keys=[f"dkim-{n:061x}"]
            )
            ledger.set_decision(conn, entry.id, "delivered", "typed", session_id=session.id, preview=preview(typed))
            # The acknowledgement, as the relay queues it.
            ack_text = f"Delivered to {session.name} at 14:03:07.\n"
            ack = build(
                email_from=EMAIL_FROM,
                email_to=EMAIL_TO,
                subject=f"Re: {mail.subject}",
                text=ack_text,
                html=f"<div><p>{ack_text}</p></div>",
                kind="ack",
                thread_root=session.thread_root,
                in_reply_to=f"<reply{n}@mail.example.com>",
            )
            row = notifications.queue(
                conn,
                session_id=session.id,
                message_id=ack.message_id,
                kind="ack",
                body_text=ack_text,
                to_addr=EMAIL_TO,
                raw=ack.raw,
                ttl=None,
            )
            outbox.mark_sent(conn, row)
            raw_bytes += len(ack.raw)
        assert session is not None
        sessions.end(conn, session.id, reason="SessionEnd")
        clock.t = START + days * DAY
        sizes.append((days, file_bytes(path)))
        stream_s = time.perf_counter() - t0
        before_final = counts(conn)
        with WriterProbe(path) as forget_probe:
            started = time.perf_counter()
            final = retention.forget(conn, days=retention_days, reclaim=False)
            final_ms = (time.perf_counter() - started) * 1000
        with WriterProbe(path) as vacuum_probe:
            started = time.perf_counter()
            reclaim = retention.forget(conn, days=retention_days)  # nothing left to forget: the VACUUM alone, if any
            reclaim_ms = (time.perf_counter() - started) * 1000
        after_final = counts(conn)
        return {
            "replies": replies,
            "days": days,
            "retention_days": retention_days,
            "retention": not keep,
            "every_hours": every_hours,
            "stream_seconds": round(stream_s, 1),
            "notification_text_bytes": body_bytes,
            "raw_mail_bytes": raw_bytes,
            "size_by_day": sizes,
            "max_bytes": max(s for _, s in sizes),
            "end_bytes": sizes[-1][1],
            "forget_runs": len(forget_ms),
            "forget_ms_median": round(statistics.median(forget_ms), 2) if forget_ms else None,
            "forget_ms_max": round(max(forget_ms), 2) if forget_ms else None,
            "forgotten": forgotten,
            "rows_at_end": before_final,
            "final_forget": {
                **final.counts(),
                "ms": round(final_ms, 1),
                "vacuumed": reclaim.vacuumed,
                "vacuum_ms": round(reclaim_ms, 1),
                "bytes_after": reclaim.bytes_after,
                "writer_max_wait_ms": round(forget_probe.max_ms, 1),
                "writer_max_wait_vacuum_ms": round(vacuum_probe.max_ms, 1),
            },
            "rows_after_final_forget": after_final,
        }
    finally:
        conn.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replies", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=200, help="simulated days the replies are spread over")
    ap.add_argument("--retention-days", type=int, default=30)
    ap.add_argument("--every-hours", type=float, default=1.0, help="simulated hours between retention runs")
    ap.add_argument("--no-retention", action="store_true", help="never forget during the stream (the old behaviour)")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--dir", type=Path, help="where the temporary database goes (default: the system temp dir)")
    args = ap.parse_args()
    result = run(args.replies, args.days, args.retention_days, args.every_hours, args.no_retention, args.seed, args.dir)
    mode = (
        "no retention" if args.no_retention else f"RETENTION_DAYS={args.retention_days}, every {args.every_hours:g} h"
    )
    print(f"{args.replies:,} replies over {args.days} simulated days, {mode}; stream took {result['stream_seconds']} s")
    print(
        f"  written: {result['notification_text_bytes']:,} bytes of notification text, "
        f"{result['raw_mail_bytes']:,} bytes of raw mail"
    )
    print("  day   file bytes (db + wal)")
    for day, size in result["size_by_day"]:
        if day % 10 == 0 or day == args.days:
            print(f"  {day:>4}  {size:>14,}")
    print(f"  max {result['max_bytes']:,} bytes; at the end {result['end_bytes']:,} bytes")
    if result["forget_runs"]:
        print(
            f"  {result['forget_runs']} forget runs: median {result['forget_ms_median']} ms, "
            f"max {result['forget_ms_max']} ms; forgotten {result['forgotten']}"
        )
    rows = result["rows_at_end"]
    print(f"  rows at the end: {rows}")
    final = result["final_forget"]
    print(
        f"  final forget: {final['bytes_before']:,} → {final['bytes_after']:,} bytes in {final['ms']} ms, then "
        f"vacuumed {final['vacuumed']} in {final['vacuum_ms']} ms; rows after: {result['rows_after_final_forget']}"
    )
    print(
        f"  a writer beside it (a hook's heartbeat-sized transaction every 10 ms) waited at most "
        f"{final['writer_max_wait_ms']} ms during the forget, {final['writer_max_wait_vacuum_ms']} ms during the VACUUM"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
