"""Running a program from a hook without importing ``subprocess``.

The Stop hook asks tmux whether the person is at the terminal and may start a
detached ``taskping send-outbox``; importing ``subprocess`` for that costs
~6 ms (it pulls in ``locale``, ``signal``, ``threading``, ``selectors``), more
than the programs take to start. ``os.posix_spawnp`` and a pipe do the same
two jobs: read a short output with a deadline, and start a process in its own
session with its standard streams on /dev/null.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Mapping


def output(argv: list[str], timeout: float = 2.0) -> tuple[int, str] | None:
    """``(exit status, stdout)`` of ``argv`` (stderr dropped), or None when it cannot be run
    or does not finish within ``timeout`` seconds (it is then killed)."""
    read_end, write_end = os.pipe()
    try:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, write_end, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        try:
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
        except OSError:
            return None
    finally:
        os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def detach(argv: list[str], environ: Mapping[str, str] | None = None) -> bool:
    """Start ``argv`` in a new session (no terminal, stdio on /dev/null) and do not wait for it."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    try:
        os.posix_spawnp(argv[0], argv, dict(environ) if environ is not None else os.environ,
                        file_actions=actions, setsid=True)
    except OSError:
        return False
    return True
