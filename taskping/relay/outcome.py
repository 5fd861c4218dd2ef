"""What the pipeline's steps hand back: the :class:`Outcome` of one message. Shared by the
pipeline (which re-exports it) and its command step (:mod:`taskping.relay.command_step`)."""

from __future__ import annotations

from dataclasses import dataclass

from taskping.session_map.vocabulary import Code, Status, Step


@dataclass(frozen=True)
class Outcome:
    """What became of one message: its status, the reason, and (when a step decided it) the step and code."""

    status: Status
    reason: str
    session: str | None = None
    typed: str | None = None
    step: Step | None = None
    code: Code | None = None

    @property
    def leave_untouched(self) -> bool:
        """Another machine's mail: do not flag or move it."""
        return self.status == Status.FOREIGN


__all__ = ["Outcome"]
