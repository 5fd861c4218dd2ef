"""The demo's step printer: one line per step, as it happens, with its time.

``✓ notification received 1.2 s`` on success; ``✗ notification received:
<reason>`` and a :class:`StepFailed` on failure, which ``taskping demo`` turns
into a non-zero exit naming the step. Every step has a short key; the
``--fail-at KEY`` option makes that step fail on purpose, so tests (and the
curious) can see a failure reported the way a real one would be.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

#: Every step of the demo, in order: key → what the line says once it is done.
STEPS: dict[str, str] = {
    "mail": "mail server up",
    "model": "model endpoint up",
    "config": "config and hooks written",
    "relay": "relay started",
    "session": "Claude Code session started",
    "prompt": "first prompt typed at the keyboard",
    "notification": "notification received",
    "reply": "reply sent from the phone",
    "typed": "reply typed into the pane",
    "ack": "acknowledgement received",
    "answer": "Claude's answer mailed back",
}


class StepFailed(Exception):
    """A step did not work. ``str()`` is the reason, for the person running the demo."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(reason)


@dataclass
class Step:
    """The running step: ``note`` is appended to its line (e.g. a PID or port)."""

    key: str
    note: str = ""

    def fail(self, reason: str) -> StepFailed:
        return StepFailed(self.key, reason)


class Printer:
    def __init__(self, out: TextIO | None = None, *, fail_at: str | None = None) -> None:
        self.out = out or sys.stdout
        self.fail_at = fail_at
        self.started = time.monotonic()

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def detail(self, lines: list[str], *, limit: int = 40) -> None:
        """Indented lines under a step (an email, the pane)."""
        for line in lines[:limit]:
            self.say(f"    │ {line}")
        if len(lines) > limit:
            self.say(f"    │ … ({len(lines) - limit} more lines)")

    @contextmanager
    def step(self, key: str) -> Iterator[Step]:
        label = STEPS[key]
        step = Step(key)
        started = time.monotonic()
        try:
            if key == self.fail_at:
                raise step.fail(f"failed on purpose (--fail-at {key})")
            yield step
        except StepFailed as exc:
            self.say(f"✗ {label}: {exc.reason}")
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - a server or socket error: one line naming the step
            reason = f"{type(exc).__name__}: {exc}"
            self.say(f"✗ {label}: {reason}")
            raise StepFailed(key, reason) from None
        note = f" ({step.note})" if step.note else ""
        self.say(f"✓ {label}{note} {time.monotonic() - started:.1f} s")

    def total(self) -> float:
        return time.monotonic() - self.started
