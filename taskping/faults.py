"""Fault points for crash tests: SIGKILL this process at a named place.

``$TASKPING_FAULT`` lists the points, comma-separated; ``name@N`` kills at the
N-th time this process reaches ``name`` (default: the first); ``name:raise``
raises :class:`FaultInjected` there instead (for the safety nets that must
catch a step that raised). Example::

    TASKPING_FAULT=after-claim@37          # the 37th claimed message
    TASKPING_FAULT=during-inject,before-flag
    TASKPING_FAULT=parse:raise             # the relay's parse step raises

Points: after-fetch, after-claim, before-inject, during-inject (after a typed
chunk, before the next one or Enter), after-inject, before-flag (relay and
injector), during-send (the SMTP server accepted the message, the outbox row is
not yet marked sent), parse (the relay, before parsing a message), before-new (``#new``:
the ledger row is ``injecting``, the session not started yet). Unset (always, outside tests) it costs one dict lookup.

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


class FaultInjected(RuntimeError):
    """Raised at a ``name:raise`` fault point."""


def _parse(spec: str) -> dict[str, tuple[int, bool]]:
    """{point: (at which hit, raise instead of SIGKILL)}"""
    wanted: dict[str, tuple[int, bool]] = {}
    for item in spec.split(","):
        point, _, action = item.strip().partition(":")
        name, _, count = point.strip().partition("@")
        if name:
            at = int(count) if count.strip().isdigit() and int(count) > 0 else 1
            wanted[name] = (at, action.strip() == "raise")
    return wanted


def fault_point(name: str) -> None:
    """SIGKILL this process here (or raise) when $TASKPING_FAULT asks for ``name`` (at this hit)."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    wanted = _parse(spec).get(name)
    if wanted is None:
        return
    at, raise_it = wanted
    with _lock:
        _hits[name] = hit = _hits.get(name, 0) + 1
    if hit >= at:
        if raise_it:
            raise FaultInjected(f"fault point {name} (${FAULT_ENV})")
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["FAULT_ENV", "FaultInjected", "fault_point"]
