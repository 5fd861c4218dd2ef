"""Forgetting old lines of TaskPing's JSON-lines files (the audit log and ``taskping.log``).

Both hold previews of what people typed and whom they wrote from, so they are
kept as long as the session map keeps its previews (``RETENTION_DAYS``,
:mod:`taskping.session_map.retention`) and no longer.

The files are appended to by several processes at once, and the relay keeps
its log open for days, so the file is trimmed **in place** (same inode, so an
open ``O_APPEND`` descriptor goes on writing at the new end) under an exclusive
``flock``; every writer appends one whole line under a shared ``flock``
(:func:`append_line`), so no line is lost or torn while a trim copies the kept
tail to the front. Lines are in time order: the trim drops the leading lines
older than the cut-off and keeps everything from the first newer (or
unreadable) line on. The copy is streamed, so a large file costs no memory.

Standard library only: the hook writes its log through :func:`append_line`.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime
from pathlib import Path

CHUNK = 1 << 16
#: The field holding a line's time: the audit log's ``time``, structlog's ``timestamp``.
TIME_FIELDS = ("time", "timestamp")


def append_line(fd: int, data: bytes) -> None:
    """Append one whole line to ``fd`` (opened ``O_APPEND``) under a shared lock, so a trim
    (which holds the exclusive lock) never runs in the middle of it."""
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def line_time(line: bytes) -> float | None:
    """The POSIX time a JSON line records, or None when it has none that can be read."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    for name in TIME_FIELDS:
        value = record.get(name)
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return None
            if moment.tzinfo is None:  # written in local time without an offset
                moment = moment.astimezone()
            return moment.timestamp()
    return None


def trim(path: Path, *, older_than: float) -> int:
    """Drop the leading lines of ``path`` recorded before ``older_than`` (POSIX time); returns
    how many were dropped (0 when the file does not exist)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "rb") as reader:
            dropped, keep_from = 0, 0
            for line in reader:
                moment = line_time(line)
                if moment is None or moment >= older_than or not line.endswith(b"\n"):
                    break
                dropped += 1
                keep_from += len(line)
        if dropped:
            _shift_down(fd, keep_from)
        return dropped
    finally:
        os.close(fd)  # releases the lock


def _shift_down(fd: int, start: int) -> None:
    """Move the bytes from ``start`` to the end of the file to its beginning, then cut the rest."""
    read_at, write_at = start, 0
    while True:
        chunk = os.pread(fd, CHUNK, read_at)
        if not chunk:
            break
        os.pwrite(fd, chunk, write_at)
        read_at += len(chunk)
        write_at += len(chunk)
    os.ftruncate(fd, write_at)


def trim_all(paths: list[Path], *, days: int, now: float) -> dict[str, int]:
    """Trim each of ``paths`` to its last ``days`` days; the lines dropped, by file name."""
    cutoff = now - days * 86400
    return {path.name: trim(path, older_than=cutoff) for path in paths}


def report_line(dropped: dict[str, int], days: int) -> str:
    """For people: what the trim dropped, one line."""
    if not any(dropped.values()):
        return f"retention: no log line older than {days} days"
    parts = ", ".join(f"{count} line(s) of {name}" for name, count in dropped.items())
    return f"retention ({days} days): dropped {parts}"
