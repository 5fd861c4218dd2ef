"""One :class:`~taskping.injectors.base.Injector` for every kind of target.

The relay holds one injector; each session's target says its kind (``tmux``
or ``pty``, the session's mode), and this passes each call to the injector of
that kind. The relay never learns which one typed.
"""

from __future__ import annotations

from collections.abc import Callable

from taskping.injectors.base import InjectionOutcome, InjectionResult, Injector, ScreenState, Target


class InjectorByKind:
    """Implements :class:`Injector` by handing each target to the injector of its kind."""

    def __init__(self, **by_kind: Injector) -> None:
        self.by_kind = by_kind

    def _for(self, target: Target) -> Injector | None:
        return self.by_kind.get(target.kind)

    def exists(self, target: Target) -> bool:
        injector = self._for(target)
        return injector is not None and injector.exists(target)

    def screen_state(self, target: Target) -> ScreenState:
        injector = self._for(target)
        return ScreenState.UNKNOWN if injector is None else injector.screen_state(target)

    def discard(self, target: Target, text: str) -> bool:
        injector = self._for(target)
        return injector is not None and injector.discard(target, text)

    def press_escape(self, target: Target) -> bool:
        injector = self._for(target)
        return injector is not None and injector.press_escape(target)

    def remove_dead(self, target: Target) -> bool:
        injector = self._for(target)
        return injector is not None and injector.remove_dead(target)

    def read_lines(self, target: Target, n: int) -> list[str] | None:
        injector = self._for(target)
        return None if injector is None else injector.read_lines(target, n)

    def inject(self, target: Target, text: str, *, submitted: Callable[[], bool] | None = None) -> InjectionResult:
        injector = self._for(target)
        if injector is None:
            return InjectionResult(InjectionOutcome.FAILED, f"no injector for {target.kind} sessions")
        return injector.inject(target, text, submitted=submitted)
