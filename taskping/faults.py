"""Fault points for crash tests: SIGKILL this process at a named place.

``$TASKPING_FAULT`` lists the points, comma-separated; ``name@N`` kills at the
N-th time this process reaches ``name`` (default: the first). Example::

    TASKPING_FAULT=after-claim@37          # the 37th claimed message
    TASKPING_FAULT=during-inject,before-flag

Points: after-fetch, after-claim, before-inject, during-inject (after a typed
chunk, before the next one or Enter), after-inject, before-flag (relay and
injector), during-send (the SMTP server accepted the message, the outbox row is
not yet marked sent). Unset (always, outside tests) it costs one dict lookup.

Shared by :mod:`taskping.relay` and :mod:`taskping.injectors` (which must not
import the relay), so it imports nothing of TaskPing.
"""

from __future__ import annotations

import os
import signal
import threading

FAULT_ENV = "TASKPING_FAULT"

_hits: dict[str, int] = {}
_lock = threading.Lock()


def _parse(spec: str) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for item in spec.split(","):
        name, _, count = item.strip().partition("@")
        if name:
            wanted[name] = int(count) if count.strip().isdigit() and int(count) > 0 else 1
    return wanted


def fault_point(name: str) -> None:
    """SIGKILL this process here when $TASKPING_FAULT asks for ``name`` (at this hit)."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    at = _parse(spec).get(name)
    if at is None:
        return
    with _lock:
        _hits[name] = hit = _hits.get(name, 0) + 1
    if hit >= at:
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["FAULT_ENV", "fault_point"]
