"""Type replies into a Claude Code session running in a tmux pane.

One injection, under a per-pane lock (a threading lock for this process and
an ``fcntl`` lock file for all processes):

1. refuse text holding control/invisible characters (the guard should have
   removed them; this is defence in depth); leave copy-mode if the user
   left the pane scrolled back, and refuse a pane with synchronize-panes on
   (our keys would be typed into every pane of the window);
2. keys go only into a READY screen (an empty input box, claude idle, no
   dialog). The pane must exist (else TARGET_GONE); a permission dialog
   means DIALOG_OPEN; anything else not READY means BUSY, nothing typed:
   claude working (a running turn can open a dialog at any moment, and a
   dialog takes keys: digits select, Enter approves "1. Yes"), a draft
   typed at the keyboard (kept: clearing it would destroy a person's work
   and mix our keys with theirs), shell mode, a vim command mode, or no box
   at all (starting, a menu). The relay retries BUSY later, in order;
3. vim mode: NORMAL mode looks like the default editor on screen, so unless
   ``-- INSERT --`` shows, one probe key ``i`` is sent: vim NORMAL enters
   INSERT (and says so), the default editor shows the letter, which is
   erased. Neither: refuse (FAILED), nothing else typed;
4. type the text (see below), checking between chunks that the screen still
   shows only our text in the same mode, no dialog, claude idle;
5. re-check right before Enter: Enter is pressed only when the box holds
   exactly the typed text (modulo how the box draws it, see
   :func:`taskping.injectors.screen.box_holds`) in the same editing mode,
   with claude idle. Anything else: no Enter, our text erased when the box
   holds nothing else, BUSY if claude started working, FAILED otherwise;
6. confirm: ``submitted()`` or an empty input box (or a dialog that opened
   because the prompt started a tool call). If the text still sits in the
   box, the re-check runs again and Enter is pressed once more.

How text is typed (observed on claude 2.1.328, tmux 3.3a):

* ``method="keys"`` (default): the UTF-8 bytes go through ``send-keys -H``
  in chunks of at most ``CHUNK_BYTES`` with a short pause between them. LF
  inserts a newline in the box, so single- and multi-line text take the same
  path and the model receives exactly the text. ``-H`` is used instead of
  ``-l`` because tmux parses its argv: an argument ending in ``;`` is a
  command separator, so ``send-keys -l -- "run it;"`` types ``run it``.
  Chunks stay small because claude treats a read of more than about 800
  bytes as a paste and hands it to the model wrapped in
  ``<pasted_content id=...>`` tags.
* ``method="paste"``: a private, uniquely named buffer loaded from a 0600
  temp file, then ``paste-buffer -p -d`` (bracketed paste, buffer deleted).
  Claude wraps pastes of more than a couple of lines in
  ``<pasted_content>`` tags, so this is not the default.

Tabs become four spaces: claude does that itself for pasted text and drops a
typed Tab (it is a key binding), so this keeps what the model sees stable.

Never raises for terminal trouble: every failure is an InjectionResult.

Steps 2 to 6 are not tmux's: they live in :mod:`taskping.injectors.guarded_typing`
and the PTY injector applies them too. This module keeps what is tmux's:
step 1, the tmux commands, the paste method.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from taskping.injectors.base import InjectionOutcome, InjectionResult, ScreenState, Target
from taskping.injectors.guarded_typing import (
    CHUNK_BYTES,
    CHUNK_PAUSE,
    MIN_ENTER_DELAY_MS,
    PROBE_KEY,
    PROBE_TIMEOUT,
    SHOW_TIMEOUT,
    TAB_AS_SPACES,
    GuardedTyping,
    Key,
    Refused,
    target_lock,
    text_problem,
)
from taskping.injectors.guarded_typing import utf8_chunks as _utf8_chunks
from taskping.injectors.screen import ScreenReading, read_screen
from taskping.tmux_server import TmuxServer


@dataclass(frozen=True)
class _Tmux:
    """What the injector does with one pane's server, on :class:`~taskping.tmux_server.TmuxServer`."""

    server: TmuxServer

    def check(self, *args: str) -> list[str]:
        return self.server.check(*args)

    def pane_alive(self, pane: str) -> bool:
        return self.pane_flags(pane) is not None

    def pane_flags(self, pane: str) -> tuple[bool, bool] | None:
        """(in a mode such as copy-mode, synchronize-panes on), or None if the pane is gone/dead."""
        result = self.server.run(
            "display-message", "-p", "-t", pane, "#{pane_id} #{pane_dead} #{pane_in_mode} #{pane_synchronized}"
        )
        if not result.ok or len(result.stdout) != 1:
            return None
        fields = result.stdout[0].split(" ")
        if len(fields) != 4 or fields[0] != pane or fields[1] != "0":
            return None
        return fields[2] == "1", fields[3] == "1"

    def capture(self, pane: str, history: int = 0) -> list[str]:
        return self.server.capture(pane, history=history)

    def paste(self, pane: str, text: str) -> None:
        name = f"taskping-{uuid.uuid4().hex}"
        with tempfile.TemporaryDirectory(prefix="taskping-paste-") as tmp:
            path = Path(tmp) / "text"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            try:
                self.check("load-buffer", "-b", name, str(path))
                self.check("paste-buffer", "-p", "-d", "-b", name, "-t", pane)
            finally:
                # -d deletes it after pasting; make sure it is gone on failure too
                self.server.delete_buffer(name)


@dataclass(frozen=True)
class _Pane:
    """One pane as a :class:`taskping.injectors.guarded_typing.Terminal`."""

    tmux: _Tmux
    pane: str

    def alive(self) -> bool:
        return self.tmux.pane_alive(self.pane)

    def capture(self) -> list[str]:
        return self.tmux.capture(self.pane)

    def type_bytes(self, data: bytes) -> None:
        # -H (hex bytes), not -l: tmux would parse an argument ending in ";" as a command separator
        self.tmux.check("send-keys", "-t", self.pane, "-H", *(f"{byte:02x}" for byte in data))

    def press(self, *keys: Key) -> None:
        self.tmux.check("send-keys", "-t", self.pane, *keys)

    def paste(self, text: str) -> None:
        self.tmux.paste(self.pane, text)


class TmuxInjector:
    """Implements :class:`taskping.injectors.base.Injector` for tmux panes."""

    def __init__(
        self,
        lock_dir: Path | str,
        *,
        enter_delay_ms: int = 250,
        confirm_timeout: float = 2.0,
        lock_timeout: float = 10.0,
        poll_interval: float = 0.05,
        method: Literal["keys", "paste"] = "keys",
        tmux_bin: str = "tmux",
    ) -> None:
        if enter_delay_ms < MIN_ENTER_DELAY_MS:
            raise ValueError(f"enter_delay_ms must be >= {MIN_ENTER_DELAY_MS}")
        if method not in ("keys", "paste"):
            raise ValueError(f"unknown typing method {method!r}")
        self.method = method
        self.lock_dir = Path(lock_dir)
        self.enter_delay = enter_delay_ms / 1000
        self.confirm_timeout = confirm_timeout
        self.lock_timeout = lock_timeout
        self.poll_interval = poll_interval
        self.tmux_bin = tmux_bin
        self.rules = GuardedTyping(
            enter_delay=self.enter_delay, confirm_timeout=confirm_timeout, poll_interval=poll_interval, method=method
        )

    # -- protocol ---------------------------------------------------------
    def exists(self, target: Target) -> bool:
        if target.kind != "tmux" or not target.pane:
            return False
        try:
            return self._tmux(target).pane_alive(target.pane)
        except Exception:  # noqa: BLE001 - terminal trouble means "not there"
            return False

    def screen_state(self, target: Target) -> ScreenState:
        reading = self.read(target)
        return ScreenState.GONE if reading is None else reading.state

    def read(self, target: Target) -> ScreenReading | None:
        """The current screen reading, or None when the pane is gone."""
        if not self.exists(target):
            return None
        try:
            return read_screen(self._tmux(target).capture(target.pane))
        except Exception:  # noqa: BLE001 - any capture failure reads as an unknown screen
            return None if not self.exists(target) else ScreenReading(ScreenState.UNKNOWN, reason="capture failed")

    def inject(
        self,
        target: Target,
        text: str,
        *,
        submitted: Callable[[], bool] | None = None,
    ) -> InjectionResult:
        """Type ``text`` into the pane and submit it (see the module docstring)."""
        if target.kind != "tmux" or not target.pane:
            return InjectionResult(InjectionOutcome.FAILED, f"not a tmux target: {target.describe()}")
        problem = text_problem(text)
        if problem is not None:
            return problem
        try:
            with self._locked(target):
                tmux = self._tmux(target)
                self._prepare_pane(tmux, target.pane)
                return self.rules.inject(_Pane(tmux, target.pane), _gone(target), text, submitted)
        except Refused as refused:
            return refused.result
        except Exception as error:  # noqa: BLE001 - never raise for terminal trouble
            if not self.exists(target):
                return InjectionResult(InjectionOutcome.TARGET_GONE, f"pane vanished: {error}")
            return InjectionResult(InjectionOutcome.FAILED, f"{type(error).__name__}: {error}")

    def discard(self, target: Target, text: str) -> bool:
        """Erase the rest of a stopped injection of ``text`` (see the protocol): never a person's
        draft (the box must hold only a piece of ``text``), never a dialog."""
        if target.kind != "tmux" or not target.pane or not text.strip():
            return False
        try:
            with self._locked(target):
                return self.rules.discard(_Pane(self._tmux(target), target.pane), _gone(target), text)
        except Refused:
            return False
        except Exception:  # noqa: BLE001 - terminal trouble: nothing erased
            return False

    def press_escape(self, target: Target) -> bool:
        """Press Escape in the pane (the ``#esc`` reply command), under the pane's lock."""
        if target.kind != "tmux" or not target.pane:
            return False
        try:
            with self._locked(target):
                tmux = self._tmux(target)
                self._prepare_pane(tmux, target.pane)
                _Pane(tmux, target.pane).press("Escape")
            return True
        except Exception:  # noqa: BLE001 - terminal trouble (or Refused): no key sent
            return False

    def remove_dead(self, target: Target) -> bool:
        """True when the pane is gone; a dead pane (its command exited, kept by remain-on-exit) is
        killed first. A pane whose command still runs (a shell claude was started from) stays."""
        if target.kind != "tmux" or not target.pane:
            return False
        try:
            server = TmuxServer(target.socket, tmux_bin=self.tmux_bin)
            shown = server.display(target.pane, "#{pane_id} #{pane_dead}")
            if shown is None or shown.split(" ")[0] != target.pane:
                return True
            if shown.split(" ")[-1] != "1":
                return False
            return server.run("kill-pane", "-t", target.pane).ok
        except Exception:  # noqa: BLE001 - terminal trouble: not known to be gone
            return False

    def read_lines(self, target: Target, n: int) -> list[str] | None:
        """The pane's screen with up to ``n`` rows of its history above it (no escapes: ``capture-pane -p``)."""
        if not self.exists(target):
            return None
        try:
            return self._tmux(target).capture(target.pane, history=max(0, n))
        except Exception:  # noqa: BLE001 - a capture that fails reads as "cannot be read"
            return None

    # -- internals --------------------------------------------------------
    def _tmux(self, target: Target) -> _Tmux:
        return _Tmux(TmuxServer(target.socket, tmux_bin=self.tmux_bin))

    def _locked(self, target: Target) -> contextlib.AbstractContextManager[None]:
        return target_lock(
            self.lock_dir, "tmux", f"{target.socket}\0{target.pane}", timeout=self.lock_timeout, poll=self.poll_interval
        )

    def _prepare_pane(self, tmux: _Tmux, pane: str) -> None:
        """Keys must reach claude and only claude: leave copy-mode, refuse synchronized panes."""
        flags = tmux.pane_flags(pane)
        if flags is None:
            raise Refused(InjectionResult(InjectionOutcome.TARGET_GONE, f"pane {pane} does not exist"))
        in_mode, synchronized = flags
        if synchronized:
            raise Refused(
                InjectionResult(InjectionOutcome.FAILED, "synchronize-panes is on: keys would reach other panes")
            )
        if in_mode:
            tmux.check("copy-mode", "-q", "-t", pane)  # cancel copy-mode (or any mode) so keys go to claude
            flags = tmux.pane_flags(pane)
            if flags is None or flags[0]:
                raise Refused(InjectionResult(InjectionOutcome.FAILED, "could not leave the pane's copy-mode"))


def _gone(target: Target) -> str:
    return f"pane {target.pane} does not exist"


__all__ = [
    "CHUNK_BYTES",
    "CHUNK_PAUSE",
    "PROBE_KEY",
    "PROBE_TIMEOUT",
    "SHOW_TIMEOUT",
    "TAB_AS_SPACES",
    "TmuxInjector",
    "_utf8_chunks",
]
