"""The injector protocol shared by every way of driving a terminal."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class Target:
    """Where a session's Claude Code prompt lives.

    ``kind == "tmux"``: ``socket`` is the tmux server socket path and ``pane``
    the pane id (``%3``). ``kind == "pty"``: ``socket`` is the control socket of
    the PTY TaskPing holds and ``pane`` is empty.
    """

    kind: Literal["tmux", "pty"]
    socket: str
    pane: str = ""

    def describe(self) -> str:
        return f"{self.kind}:{self.socket}:{self.pane}" if self.pane else f"{self.kind}:{self.socket}"


class ScreenState(enum.Enum):
    """What the terminal shows right now, read off the screen."""

    READY = "ready"  # the input prompt is showing and empty
    HAS_INPUT = "has-input"  # the prompt is showing with text in it
    PERMISSION_DIALOG = "permission-dialog"  # a "Do you want to proceed?" or AskUserQuestion dialog is open
    BUSY = "busy"  # Claude is working; typed text would be queued
    SHELL_MODE = "shell-mode"  # the box is in "!" shell mode: Enter would run its text as a shell command
    VIM_COMMAND = "vim-command"  # vim mode shows a mode where letters are commands (e.g. -- VISUAL --)
    UNKNOWN = "unknown"  # nothing recognisable (e.g. still starting)
    GONE = "gone"  # the pane/pty no longer exists


class InjectionOutcome(enum.Enum):
    SUBMITTED = "submitted"  # typed, Enter pressed, submission confirmed
    UNCONFIRMED = "unconfirmed"  # typed and Enter pressed, but no confirmation seen
    TARGET_GONE = "target-gone"  # nothing typed: the pane/pty does not exist
    DIALOG_OPEN = "dialog-open"  # nothing typed: a permission dialog is open
    BUSY = "busy"  # nothing typed: claude is working (or the screen is not READY); try again later
    FAILED = "failed"  # nothing (or not everything) typed: terminal error


@dataclass(frozen=True)
class InjectionResult:
    outcome: InjectionOutcome
    detail: str = ""
    enter_presses: int = 0

    @property
    def delivered(self) -> bool:
        return self.outcome in (InjectionOutcome.SUBMITTED, InjectionOutcome.UNCONFIRMED)


class Injector(Protocol):
    """Types already-guarded text into a target and presses Enter."""

    def exists(self, target: Target) -> bool: ...

    def screen_state(self, target: Target) -> ScreenState: ...

    def discard(self, target: Target, text: str) -> bool:
        """Erase what a stopped injection of ``text`` left in the input box: only when the box
        holds nothing but a piece of ``text`` and no dialog is open. True when something was erased."""
        ...

    def press_escape(self, target: Target) -> bool:
        """Press Escape once (claude stops its current turn). False when the target is gone or the
        key could not be sent. Never raises for terminal trouble."""
        ...

    def read_lines(self, target: Target, n: int) -> list[str] | None:
        """The terminal's rows as plain text: the screen, plus up to ``n`` rows of scrollback
        where the terminal keeps one. None when the target is gone or cannot be read."""
        ...

    def inject(
        self,
        target: Target,
        text: str,
        *,
        submitted: Callable[[], bool] | None = None,
    ) -> InjectionResult:
        """Type ``text`` (already sanitised by the terminal guard) and submit it.

        ``submitted`` is an extra confirmation source (the relay passes "a
        UserPromptSubmit hook arrived since we started typing"); the injector
        also checks the screen. Types only into a READY screen: refuses
        (DIALOG_OPEN) without typing when a permission dialog is on screen,
        returns BUSY without typing for any other screen that is not READY
        (claude working, a draft in the box, no box yet), and TARGET_GONE
        when the target does not exist. Presses Enter only when the box holds
        exactly ``text``. Never raises for terminal trouble: returns FAILED.
        """
        ...
