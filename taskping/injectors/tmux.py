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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import libtmux

from taskping.faults import fault_point
from taskping.injectors.base import InjectionOutcome, InjectionResult, ScreenState, Target
from taskping.injectors.screen import ScreenReading, box_holds, box_is_part_of, read_screen
from taskping.injectors.terminal_guard import forbidden_characters

MIN_ENTER_DELAY_MS = 150
CHUNK_BYTES = 200  # well under claude's ~800-byte paste detection, even if 3 chunks coalesce
CHUNK_PAUSE = 0.03
TAB_AS_SPACES = "    "
PROBE_KEY = "i"  # vim NORMAL: enter INSERT; anywhere else: the letter i, erased again
PROBE_TIMEOUT = 3.0  # only reached when the probe shows nothing; generous for a loaded machine
SHOW_TIMEOUT = 5.0  # typed text must be drawn in the box within this long (only waited out on failure)

_registry_lock = threading.Lock()
_pane_locks: dict[tuple[str, str], threading.Lock] = {}


def _thread_lock(target: Target) -> threading.Lock:
    key = (target.socket, target.pane)
    with _registry_lock:
        return _pane_locks.setdefault(key, threading.Lock())


class _Refused(Exception):
    """Internal: stop the injection with this result."""

    def __init__(self, result: InjectionResult) -> None:
        super().__init__(result.detail)
        self.result = result


@dataclass(frozen=True)
class _Tmux:
    """The few tmux commands the injector needs, on one server socket."""

    server: libtmux.Server

    def run(self, *args: str) -> tuple[int, list[str], list[str]]:
        proc = self.server.cmd(*args)
        return int(proc.returncode or 0), list(proc.stdout), list(proc.stderr)

    def check(self, *args: str) -> list[str]:
        code, out, err = self.run(*args)
        if code != 0 or err:
            raise RuntimeError(f"tmux {args[0]} failed: {' '.join(err) or f'exit {code}'}")
        return out

    def pane_alive(self, pane: str) -> bool:
        return self.pane_flags(pane) is not None

    def pane_flags(self, pane: str) -> tuple[bool, bool] | None:
        """(in a mode such as copy-mode, synchronize-panes on), or None if the pane is gone/dead."""
        code, out, _err = self.run(
            "display-message", "-p", "-t", pane, "#{pane_id} #{pane_dead} #{pane_in_mode} #{pane_synchronized}"
        )
        if code != 0 or len(out) != 1:
            return None
        fields = out[0].split(" ")
        if len(fields) != 4 or fields[0] != pane or fields[1] != "0":
            return None
        return fields[2] == "1", fields[3] == "1"

    def capture(self, pane: str) -> list[str]:
        return self.check("capture-pane", "-p", "-t", pane)

    def keys(self, pane: str, *keys: str) -> None:
        self.check("send-keys", "-t", pane, *keys)

    def type_text(
        self,
        pane: str,
        text: str,
        *,
        between: Callable[[], None] = lambda: None,
        chunk_bytes: int = CHUNK_BYTES,
        pause: float = CHUNK_PAUSE,
    ) -> int:
        """Type ``text`` as raw UTF-8 bytes (``send-keys -H``); returns the chunk count.

        ``between`` runs before every chunk but the first (it raises to stop).
        """
        chunks = list(_utf8_chunks(text, chunk_bytes))
        for index, chunk in enumerate(chunks):
            if index:
                time.sleep(pause)
                between()
            self.check("send-keys", "-t", pane, "-H", *(f"{byte:02x}" for byte in chunk))
            fault_point("during-inject")  # crash tests: after a typed chunk, before the next one or Enter
        return len(chunks)

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
                self.run("delete-buffer", "-b", name)


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
        tmux_bin: str | None = None,
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
        bad = forbidden_characters(text)
        if bad:
            shown = ", ".join(f"U+{ord(c):04X}" for c in sorted(bad))
            return InjectionResult(InjectionOutcome.FAILED, f"refused: text holds forbidden characters ({shown})")
        if not text.strip():
            return InjectionResult(InjectionOutcome.FAILED, "refused: nothing to type")
        try:
            with self._locked(target):
                return self._inject_locked(target, text, submitted)
        except _Refused as refused:
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
                tmux = self._tmux(target)
                reading = self._reading(tmux, target.pane)
                if reading.state is ScreenState.PERMISSION_DIALOG or reading.input_lines is None:
                    return False
                ours = reading.input_text == PROBE_KEY or box_is_part_of(reading, text.replace("\t", TAB_AS_SPACES))
                if reading.input_empty or not ours:  # the mode probe's key, or a piece of the text
                    return False
                return self._erase(tmux, target.pane)
        except _Refused:
            return False
        except Exception:  # noqa: BLE001 - terminal trouble: nothing erased
            return False

    # -- internals --------------------------------------------------------
    def _tmux(self, target: Target) -> _Tmux:
        return _Tmux(libtmux.Server(socket_path=target.socket, tmux_bin=self.tmux_bin))

    @contextlib.contextmanager
    def _locked(self, target: Target) -> Iterator[None]:
        lock = _thread_lock(target)
        if not lock.acquire(timeout=self.lock_timeout):
            raise _Refused(InjectionResult(InjectionOutcome.FAILED, "another injection holds this pane (thread lock)"))
        try:
            self.lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            digest = hashlib.sha256(f"{target.socket}\0{target.pane}".encode()).hexdigest()[:24]
            with open(self.lock_dir / f"tmux-{digest}.lock", "a+") as handle:
                deadline = time.monotonic() + self.lock_timeout
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise _Refused(
                                InjectionResult(InjectionOutcome.FAILED, "another process holds this pane (file lock)")
                            ) from None
                        time.sleep(self.poll_interval)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            lock.release()

    def _reading(self, tmux: _Tmux, pane: str) -> ScreenReading:
        if not tmux.pane_alive(pane):
            raise _Refused(InjectionResult(InjectionOutcome.TARGET_GONE, f"pane {pane} does not exist"))
        return read_screen(tmux.capture(pane))

    def _wait(self, tmux: _Tmux, pane: str, timeout: float, done: Callable[[ScreenReading], bool]) -> ScreenReading:
        deadline = time.monotonic() + timeout
        while True:
            reading = self._reading(tmux, pane)
            if done(reading) or time.monotonic() >= deadline:
                return reading
            time.sleep(self.poll_interval)

    def _prepare_pane(self, tmux: _Tmux, pane: str) -> None:
        """Keys must reach claude and only claude: leave copy-mode, refuse synchronized panes."""
        flags = tmux.pane_flags(pane)
        if flags is None:
            raise _Refused(InjectionResult(InjectionOutcome.TARGET_GONE, f"pane {pane} does not exist"))
        in_mode, synchronized = flags
        if synchronized:
            raise _Refused(
                InjectionResult(InjectionOutcome.FAILED, "synchronize-panes is on: keys would reach other panes")
            )
        if in_mode:
            tmux.check("copy-mode", "-q", "-t", pane)  # cancel copy-mode (or any mode) so keys go to claude
            flags = tmux.pane_flags(pane)
            if flags is None or flags[0]:
                raise _Refused(InjectionResult(InjectionOutcome.FAILED, "could not leave the pane's copy-mode"))

    def _gate(self, reading: ScreenReading, when: str) -> None:
        """Refuse unless the screen is READY: an empty box, claude idle, no dialog.

        Every refusal here types nothing. What is not READY is either a
        dialog (its own outcome: the relay must not wait on it silently) or a
        state worth waiting on (BUSY): claude working, a person's draft in the
        box, shell or vim command mode, a screen without the box (starting,
        a menu, a picker). Only the relay's wait bounds it.
        """
        state = reading.state
        if state is ScreenState.READY:
            return
        if state is ScreenState.PERMISSION_DIALOG:
            raise _Refused(
                InjectionResult(InjectionOutcome.DIALOG_OPEN, f"permission dialog open ({when}); nothing typed")
            )
        why = {
            ScreenState.BUSY: "claude is working",
            ScreenState.HAS_INPUT: "the input box holds a draft typed at the keyboard (kept, not cleared)",
            ScreenState.SHELL_MODE: "the input box is in ! shell mode",
            ScreenState.VIM_COMMAND: f"vim {reading.vim_mode} mode: typed letters would be commands",
        }.get(state, "no claude input box on screen (starting, a menu or picker, or not claude)")
        raise _Refused(InjectionResult(InjectionOutcome.BUSY, f"not ready ({when}): {why}; nothing typed"))

    def _enter_insert(self, tmux: _Tmux, pane: str, reading: ScreenReading) -> str | None:
        """Make sure typed letters are text, not vim commands; returns the vim mode to keep seeing.

        ``-- INSERT --`` on screen: nothing to do. No indicator is either the
        default editor or vim NORMAL mode (they look the same), so one probe
        key settles it: ``i`` in NORMAL mode enters INSERT (and the indicator
        appears); anywhere else it is typed as the letter i and erased again.
        If neither shows (vim with ``hideVimModeIndicator``), nothing more is
        typed.
        """
        if reading.vim_mode == "INSERT":
            return "INSERT"

        def settled(r: ScreenReading) -> bool:
            return r.vim_mode == "INSERT" or r.input_text == PROBE_KEY or r.state not in (
                ScreenState.READY,
                ScreenState.HAS_INPUT,
            )

        tmux.check("send-keys", "-t", pane, "-H", PROBE_KEY.encode().hex())
        after = self._wait(tmux, pane, PROBE_TIMEOUT, settled)
        if after.state is ScreenState.READY and after.vim_mode == "INSERT":
            return "INSERT"
        if after.input_text == PROBE_KEY and after.vim_mode is None and after.state is ScreenState.HAS_INPUT:
            tmux.keys(pane, "BSpace")
            back = self._wait(tmux, pane, PROBE_TIMEOUT, lambda r: r.input_empty or not settled(r))
            if back.state is ScreenState.READY and back.vim_mode is None:
                return None
            raise _Refused(self._abandon(tmux, pane, PROBE_KEY, back, "could not erase the mode probe key"))
        if after.state is ScreenState.PERMISSION_DIALOG:
            raise _Refused(
                InjectionResult(
                    InjectionOutcome.DIALOG_OPEN, "permission dialog opened during the mode probe; Enter not pressed"
                )
            )
        if after.input_text == PROBE_KEY or after.busy:
            raise _Refused(self._abandon(tmux, pane, PROBE_KEY, after, "the screen changed during the mode probe"))
        raise _Refused(
            InjectionResult(
                InjectionOutcome.FAILED,
                f"could not tell the editing mode: the probe key {PROBE_KEY!r} neither showed in the box nor "
                f"turned vim to -- INSERT -- (vim with its mode indicator hidden?); nothing else typed",
            )
        )

    def _still_ours(self, reading: ScreenReading, text: str, vim_mode: str | None) -> bool:
        """While typing: same editing mode, claude idle, no dialog, and the box holds only our text."""
        return (
            reading.state in (ScreenState.READY, ScreenState.HAS_INPUT)
            and reading.vim_mode == vim_mode
            and box_is_part_of(reading, text)
        )

    def _ready_for_enter(self, reading: ScreenReading, text: str, vim_mode: str | None) -> bool:
        """The last check before Enter: the box holds exactly ``text`` and Enter can only submit it."""
        return reading.state is ScreenState.HAS_INPUT and reading.vim_mode == vim_mode and box_holds(reading, text)

    def _erase(self, tmux: _Tmux, pane: str) -> bool:
        """Empty the input box (C-u per line, C-k/BSpace to join lines); True when it shows empty.

        Only called with no dialog on screen and nothing but our own typing
        in the box: these keys only edit the box (a dialog ignores them).
        """
        for _attempt in range(4):
            reading = self._reading(tmux, pane)
            if reading.state is ScreenState.PERMISSION_DIALOG or reading.input_lines is None:
                return False
            if reading.input_empty:
                if reading.state is ScreenState.SHELL_MODE:
                    tmux.keys(pane, "BSpace")  # BSpace in an empty "!" box leaves shell mode
                    time.sleep(0.1)
                    continue
                return True
            rows = len(reading.input_lines) + reading.hidden_rows + 1
            # C-k at a line end joins the next line, C-u kills to line start,
            # BSpace at a line start joins the previous line.
            tmux.keys(pane, "C-u", *(["C-k"] * (2 * rows)), *(["C-u", "BSpace"] * rows), "C-u")
            time.sleep(0.1)
        final = self._reading(tmux, pane)
        return final.input_empty and final.state is not ScreenState.SHELL_MODE

    def _abandon(self, tmux: _Tmux, pane: str, text: str, reading: ScreenReading, why: str) -> InjectionResult:
        """Stop without pressing Enter; erase what we typed when the box holds only our text.

        BUSY when claude started working meanwhile (the relay may try again),
        FAILED otherwise. A dialog is never touched: its keys choose options.
        """
        if reading.state is ScreenState.PERMISSION_DIALOG:
            return InjectionResult(
                InjectionOutcome.FAILED,
                f"{why}: a permission dialog opened; Enter not pressed, typed text left behind it",
            )
        if reading.input_lines is None or not box_is_part_of(reading, text):
            return InjectionResult(
                InjectionOutcome.FAILED,
                f"{why}: the input box does not hold only our text ({reading.reason}); Enter not pressed, left as is",
            )
        erased = self._erase(tmux, pane)
        after = self._reading(tmux, pane)
        state = "our text erased" if erased else "could not erase our text"
        if erased and (reading.busy or after.busy):
            return InjectionResult(InjectionOutcome.BUSY, f"{why}: claude started working; Enter not pressed, {state}")
        return InjectionResult(InjectionOutcome.FAILED, f"{why} ({reading.reason}); Enter not pressed, {state}")

    def _type(self, tmux: _Tmux, pane: str, text: str, vim_mode: str | None) -> str:
        if self.method == "paste":
            tmux.paste(pane, text)
            return "paste"

        def still_ours() -> None:
            # a dialog opening mid-typing would take the next keys as choices ("1" = Yes)
            reading = self._reading(tmux, pane)
            if not self._still_ours(reading, text, vim_mode):
                why = "the screen changed while typing; stopped typing"
                raise _Refused(self._abandon(tmux, pane, text, reading, why))

        chunks = tmux.type_text(pane, text, between=still_ours)
        return f"keys ({chunks} chunk{'s' if chunks != 1 else ''})"

    def _inject_locked(self, target: Target, text: str, submitted: Callable[[], bool] | None) -> InjectionResult:
        tmux = self._tmux(target)
        pane = target.pane
        text = text.replace("\t", TAB_AS_SPACES)
        self._prepare_pane(tmux, pane)
        self._gate(self._reading(tmux, pane), "before typing")
        vim_mode = self._enter_insert(tmux, pane, self._reading(tmux, pane))
        self._gate(self._reading(tmux, pane), "after the mode check")

        method = self._type(tmux, pane, text, vim_mode)
        def drawn_or_changed(r: ScreenReading) -> bool:
            return self._ready_for_enter(r, text, vim_mode) or not self._still_ours(r, text, vim_mode)

        shown = self._wait(tmux, pane, SHOW_TIMEOUT, drawn_or_changed)
        if not self._ready_for_enter(shown, text, vim_mode):
            return self._abandon(tmux, pane, text, shown, f"typed text ({method}) did not show as typed")
        presses = 0
        for attempt in (1, 2):
            time.sleep(self.enter_delay)
            before_enter = self._reading(tmux, pane)
            if not self._ready_for_enter(before_enter, text, vim_mode):
                if presses:
                    break  # the box changed after our first Enter: do not press again
                return self._abandon(tmux, pane, text, before_enter, f"re-check before Enter failed ({method})")
            tmux.keys(pane, "Enter")
            presses += 1
            window = self.confirm_timeout if attempt == 2 else min(0.8, self.confirm_timeout)
            result = self._confirm(tmux, pane, window, submitted, method, presses)
            if result is not None:
                return result
        result = self._confirm(tmux, pane, self.confirm_timeout, submitted, method, presses)
        if result is not None:
            return result
        return InjectionResult(
            InjectionOutcome.UNCONFIRMED,
            f"typed via {method}, Enter pressed {presses}x, submission not seen",
            enter_presses=presses,
        )

    def _confirm(
        self,
        tmux: _Tmux,
        pane: str,
        timeout: float,
        submitted: Callable[[], bool] | None,
        method: str,
        presses: int,
    ) -> InjectionResult | None:
        deadline = time.monotonic() + timeout
        while True:
            if submitted is not None and _safe_call(submitted):
                return InjectionResult(
                    InjectionOutcome.SUBMITTED, f"typed via {method}; confirmed by hook", enter_presses=presses
                )
            reading = self._reading(tmux, pane)
            if reading.input_empty:
                return InjectionResult(
                    InjectionOutcome.SUBMITTED, f"typed via {method}; input box emptied", enter_presses=presses
                )
            if reading.state is ScreenState.PERMISSION_DIALOG:
                return InjectionResult(
                    InjectionOutcome.SUBMITTED,
                    f"typed via {method}; claude opened a permission dialog for it",
                    enter_presses=presses,
                )
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll_interval)


def _utf8_chunks(text: str, limit: int) -> Iterator[bytes]:
    """UTF-8 encoding of ``text`` in pieces of at most ``limit`` bytes, never splitting a character."""
    piece = bytearray()
    for char in text:
        encoded = char.encode("utf-8")
        if piece and len(piece) + len(encoded) > limit:
            yield bytes(piece)
            piece = bytearray()
        piece += encoded
    if piece:
        yield bytes(piece)


def _safe_call(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - a broken confirmation source is just "no"
        return False


__all__ = ["TmuxInjector"]
