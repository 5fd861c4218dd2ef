"""Type replies into a Claude Code session held in a PTY by ``taskping spawn --mode pty``.

The PTY belongs to its host process (:mod:`taskping.injectors.pty_host`); this
injector only talks to the host's control socket (``Target.socket``), with the
session's secret, which ``secret_for`` looks up (the relay reads it from the
session map). The typing rules are the tmux injector's, the very same code
(:class:`taskping.injectors.guarded_typing.GuardedTyping`): keys only into a
READY screen, never into a dialog, Enter only when the box holds exactly our
text, submission confirmed. Nothing listening on the socket means the host
has exited: TARGET_GONE.

Text is typed with ``method="keys"`` only (chunks of at most 200 bytes, the
same as tmux): claude takes a larger burst for a paste.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from taskping.injectors.base import InjectionOutcome, InjectionResult, ScreenState, Target
from taskping.injectors.guarded_typing import (
    MIN_ENTER_DELAY_MS,
    GuardedTyping,
    Key,
    Refused,
    target_lock,
    text_problem,
)
from taskping.injectors.pty_control import ControlError, request
from taskping.injectors.screen import ScreenReading, read_screen


class NotInjectable(Exception):
    """Raised by ``secret_for``: the session is tracked but cannot be typed into (the reason)."""


@dataclass(frozen=True)
class _Remote:
    """The host's PTY as a :class:`taskping.injectors.guarded_typing.Terminal`."""

    path: str
    secret: str

    def alive(self) -> bool:
        try:
            request(self.path, self.secret, "ping")
        except ControlError as exc:
            if exc.gone:
                return False
            raise
        return True

    def capture(self) -> list[str]:
        lines = request(self.path, self.secret, "screen").get("lines")
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            raise ControlError("the PTY session sent no screen")
        return lines

    def type_bytes(self, data: bytes) -> None:
        request(self.path, self.secret, "type", text=data.decode("utf-8"))

    def press(self, *keys: Key) -> None:
        request(self.path, self.secret, "press", keys=list(keys))

    def paste(self, text: str) -> None:
        raise ControlError("the PTY injector types keys only")


class PtyInjector:
    """Implements :class:`taskping.injectors.base.Injector` for PTY sessions."""

    def __init__(
        self,
        lock_dir: Path | str,
        secret_for: Callable[[Target], str | None],
        *,
        enter_delay_ms: int = 250,
        confirm_timeout: float = 2.0,
        lock_timeout: float = 10.0,
        poll_interval: float = 0.05,
    ) -> None:
        if enter_delay_ms < MIN_ENTER_DELAY_MS:
            raise ValueError(f"enter_delay_ms must be >= {MIN_ENTER_DELAY_MS}")
        self.lock_dir = Path(lock_dir)
        self.secret_for = secret_for
        self.lock_timeout = lock_timeout
        self.poll_interval = poll_interval
        self.rules = GuardedTyping(
            enter_delay=enter_delay_ms / 1000, confirm_timeout=confirm_timeout, poll_interval=poll_interval
        )

    # -- protocol ---------------------------------------------------------
    def exists(self, target: Target) -> bool:
        remote = self._remote(target)
        if remote is None:
            return False
        try:
            return remote.alive()
        except ControlError:
            return True  # something listens there, but refused us

    def screen_state(self, target: Target) -> ScreenState:
        reading = self.read(target)
        return ScreenState.GONE if reading is None else reading.state

    def read(self, target: Target) -> ScreenReading | None:
        """The current screen reading, or None when the session's PTY is gone."""
        remote = self._remote(target)
        if remote is None:
            return None
        try:
            return read_screen(remote.capture())
        except ControlError as exc:
            return None if exc.gone else ScreenReading(ScreenState.UNKNOWN, reason=str(exc))

    def inject(
        self,
        target: Target,
        text: str,
        *,
        submitted: Callable[[], bool] | None = None,
    ) -> InjectionResult:
        """Type ``text`` and submit it, under the same rules as tmux (see the module docstring)."""
        if target.kind != "pty" or not target.socket:
            return InjectionResult(InjectionOutcome.FAILED, f"not a PTY target: {target.describe()}")
        problem = text_problem(text)
        if problem is not None:
            return problem
        try:
            remote = self._remote(target, strict=True)
        except NotInjectable as why:
            return InjectionResult(InjectionOutcome.FAILED, f"not injectable: {why}")
        if remote is None:
            return InjectionResult(InjectionOutcome.FAILED, "no control secret recorded for this PTY session")
        try:
            with self._locked(target):
                return self.rules.inject(remote, _gone(target), text, submitted)
        except Refused as refused:
            return refused.result
        except ControlError as error:
            if error.gone:
                return InjectionResult(InjectionOutcome.TARGET_GONE, f"PTY session vanished: {error}")
            return InjectionResult(InjectionOutcome.FAILED, str(error))
        except Exception as error:  # noqa: BLE001 - never raise for terminal trouble
            return InjectionResult(InjectionOutcome.FAILED, f"{type(error).__name__}: {error}")

    def discard(self, target: Target, text: str) -> bool:
        """Erase the rest of a stopped injection of ``text``: only a piece of it, never a dialog."""
        remote = self._remote(target)
        if target.kind != "pty" or remote is None or not text.strip():
            return False
        try:
            with self._locked(target):
                return self.rules.discard(remote, _gone(target), text)
        except Exception:  # noqa: BLE001 - terminal trouble (or Refused): nothing erased
            return False

    def press_escape(self, target: Target) -> bool:
        """Press Escape in the PTY (the ``#esc`` reply command), under the session's lock."""
        remote = self._remote(target)
        if remote is None:
            return False
        try:
            with self._locked(target):
                remote.press("Escape")
            return True
        except Exception:  # noqa: BLE001 - terminal trouble (or Refused): no key sent
            return False

    def remove_dead(self, target: Target) -> bool:
        """A PTY session ends with its command (the wrapper exits): nothing to remove."""
        return not self.exists(target)

    def read_lines(self, target: Target, n: int) -> list[str] | None:
        """The PTY's screen (its host keeps no scrollback, so ``n`` beyond the screen gives the screen)."""
        remote = self._remote(target)
        if remote is None:
            return None
        try:
            return remote.capture()
        except ControlError:
            return None

    # -- internals --------------------------------------------------------
    def _remote(self, target: Target, *, strict: bool = False) -> _Remote | None:
        if target.kind != "pty" or not target.socket:
            return None
        try:
            secret = self.secret_for(target)
        except NotInjectable:
            if strict:
                raise
            secret = None
        except Exception:  # noqa: BLE001 - a failed lookup is "no secret"
            secret = None
        return _Remote(target.socket, secret) if secret else None

    def _locked(self, target: Target) -> contextlib.AbstractContextManager[None]:
        return target_lock(self.lock_dir, "pty", target.socket, timeout=self.lock_timeout, poll=self.poll_interval)


def _gone(target: Target) -> str:
    return f"no PTY session listens on {target.socket}"


__all__ = ["PtyInjector"]
