"""Trimming the audit log and taskping.log in place (taskping.log_retention): old leading lines go,
nothing appended meanwhile is lost or torn, and a descriptor held open goes on appending."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

from taskping import log_retention
from taskping.private_files import open_private

NOW = 1_800_000_000.0
DAY = 86400.0


def _line(at: float, n: int) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(at))
    return (json.dumps({"time": stamp, "n": n}) + "\n").encode()


def test_drops_only_the_leading_lines_older_than_the_cutoff(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = [_line(NOW - 40 * DAY, 0), _line(NOW - 31 * DAY, 1), _line(NOW - 2 * DAY, 2), _line(NOW, 3)]
    path.write_bytes(b"".join(lines))
    assert log_retention.trim(path, older_than=NOW - 30 * DAY) == 2
    assert path.read_bytes() == b"".join(lines[2:])
    assert log_retention.trim(path, older_than=NOW - 30 * DAY) == 0
    assert path.read_bytes() == b"".join(lines[2:])


def test_structlog_timestamps_and_local_times_are_read() -> None:
    assert log_retention.line_time(b'{"timestamp": "2027-01-15T08:00:00.123456Z", "event": "x"}\n') == 1800000000.123456
    assert log_retention.line_time(b'{"time": "2027-01-15T09:00:00+0100"}') == 1800000000.0
    assert log_retention.line_time(b"not json\n") is None
    assert log_retention.line_time(b'{"time": "yesterday"}') is None


def test_an_unreadable_line_stops_the_trim_so_nothing_after_it_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "taskping.log"
    path.write_bytes(_line(NOW - 90 * DAY, 0) + b"garbage\n" + _line(NOW - 90 * DAY, 1))
    assert log_retention.trim(path, older_than=NOW) == 1
    assert path.read_bytes() == b"garbage\n" + _line(NOW - 90 * DAY, 1)


def test_a_missing_file_is_nothing_to_trim(tmp_path: Path) -> None:
    assert log_retention.trim(tmp_path / "nope.jsonl", older_than=NOW) == 0
    dropped = log_retention.trim_all([tmp_path / "a.jsonl"], days=30, now=NOW)
    assert log_retention.report_line(dropped, 30) == "retention: no log line older than 30 days"


def test_a_descriptor_held_open_appends_at_the_new_end(tmp_path: Path) -> None:
    path = tmp_path / "taskping.log"
    path.write_bytes(_line(NOW - 60 * DAY, 0) * 1000)
    fd = open_private(path)  # the relay keeps its log open for days
    try:
        assert log_retention.trim(path, older_than=NOW - DAY) == 1000
        log_retention.append_line(fd, _line(NOW, 1))
    finally:
        os.close(fd)
    assert path.read_bytes() == _line(NOW, 1)


def _writer(path: str, first: int, count: int) -> None:
    fd = open_private(Path(path))
    try:
        for n in range(first, first + count):
            log_retention.append_line(fd, _line(NOW, n)[:-1] + b" " * (n % 300) + b"\n")  # lines of many lengths
    finally:
        os.close(fd)


def test_lines_appended_by_other_processes_during_trims_are_all_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    old_block = b"".join(_line(NOW - 60 * DAY, -1) for _ in range(2000))  # ~80 KB to copy down per trim
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_writer, args=(str(path), k * 1500, 1500)) for k in range(2)]
    for w in writers:
        w.start()
    fd = open_private(path)
    trims = 0
    try:
        while any(w.is_alive() for w in writers) or trims == 0:
            log_retention.append_line(fd, old_block)  # old lines for the next trim to drop and copy past
            log_retention.trim(path, older_than=NOW - DAY)
            trims += 1
    finally:
        os.close(fd)
    for w in writers:
        w.join(timeout=30)
        assert w.exitcode == 0
    records = [json.loads(line) for line in path.read_bytes().splitlines()]  # a torn line fails here
    numbers = sorted(r["n"] for r in records if r["n"] >= 0)
    assert numbers == list(range(3000)), f"{len(numbers)} of 3000 lines kept whole after {trims} trims"
