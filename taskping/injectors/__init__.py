"""Injectors type text into a terminal running Claude Code.

The relay only sees :class:`Injector` and :class:`Target`; it never learns how
a terminal is driven. ``tmux`` (:class:`~taskping.tmux_server.TmuxServer`) implements it.
"""

from taskping.injectors.base import (
    InjectionOutcome,
    InjectionResult,
    Injector,
    ScreenState,
    Target,
)

__all__ = ["InjectionOutcome", "InjectionResult", "Injector", "ScreenState", "Target"]
