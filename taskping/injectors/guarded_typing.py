"""The rules of typing into Claude Code, whatever the terminal (tmux pane or PTY).

Moved out of :mod:`taskping.injectors.tmux` so the tmux and the PTY injectors
apply the very same rules (documented there, steps 2 to 6): keys only into a
READY screen, the vim-mode probe, checks between chunks, Enter only when the
box holds exactly our text, confirmation, and erasing only our own typing.

A terminal is anything that implements :class:`Terminal`: read the screen as
plain text rows, type raw UTF-8 bytes, press a few named editing keys. What
is specific to one kind of terminal (tmux's copy-mode and synchronized
panes, the PTY's control socket) stays in its injector.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, Protocol

from taskping.faults import fault_point
from taskping.injectors.base import InjectionOutcome, InjectionResult, ScreenState
from taskping.injectors.screen import ScreenReading, box_holds, box_is_part_of, read_screen
from taskping.injectors.terminal_guard import forbidden_characters

MIN_ENTER_DELAY_MS = 150
CHUNK_BYTES = 200  # well under claude's ~800-byte paste detection, even if 3 chunks coalesce
CHUNK_PAUSE = 0.03
TAB_AS_SPACES = "    "
PROBE_KEY = "i"  # vim NORMAL: enter INSERT; anywhere else: the letter i, erased again
PROBE_TIMEOUT = 3.0  # only reached when the probe shows nothing; generous for a loaded machine
SHOW_TIMEOUT = 5.0  # typed text must be drawn in the box within this long of the box's last change
SHOW_LIMIT = 30.0  # ... and within this long in all (a loaded claude draws a long text slowly, but draws it)

#: The only keys the rules press by name (tmux key names; a PTY sends their bytes).
Key = Literal["Enter", "BSpace", "C-u", "C-k", "Escape"]
KEY_BYTES: dict[str, bytes] = {
    "Enter": b"\r",
    "BSpace": b"\x7f",
    "C-u": b"\x15",
    "C-k": b"\x0b",
    "Escape": b"\x1b",  # only the ``#esc`` reply command presses it (stops claude's turn)
}


class Terminal(Protocol):
    """One terminal running claude, as the typing rules see it."""

    def alive(self) -> bool:
        """False when the terminal is gone (the rules then stop with TARGET_GONE)."""
        ...

    def capture(self) -> list[str]:
        """The screen as plain text rows (no escapes), like ``tmux capture-pane -p``."""
        ...

    def type_bytes(self, data: bytes) -> None:
        """Write raw UTF-8 bytes as typed input."""
        ...

    def press(self, *keys: Key) -> None: ...

    def paste(self, text: str) -> None:
        """Bracketed paste (only used with ``method="paste"``)."""
        ...


class Refused(Exception):
    """Stop the injection with this result (nothing more is typed)."""

    def __init__(self, result: InjectionResult) -> None:
        super().__init__(result.detail)
        self.result = result


def text_problem(text: str) -> InjectionResult | None:
    """Defence in depth before any key: control/invisible characters, or nothing to type."""
    bad = forbidden_characters(text)
    if bad:
        shown = ", ".join(f"U+{ord(c):04X}" for c in sorted(bad))
        return InjectionResult(InjectionOutcome.FAILED, f"refused: text holds forbidden characters ({shown})")
    if not text.strip():
        return InjectionResult(InjectionOutcome.FAILED, "refused: nothing to type")
    return None


_registry_lock = threading.Lock()
_target_locks: dict[str, threading.Lock] = {}


@contextlib.contextmanager
def target_lock(lock_dir: Path, kind: str, key: str, *, timeout: float, poll: float) -> Iterator[None]:
    """One injection per terminal at a time: a thread lock for this process, an ``fcntl`` lock
    file ``KIND-HASH.lock`` (a hash of ``key``) for all processes. Raises :class:`Refused` on timeout."""
    with _registry_lock:
        lock = _target_locks.setdefault(f"{kind}\0{key}", threading.Lock())
    if not lock.acquire(timeout=timeout):
        raise Refused(InjectionResult(InjectionOutcome.FAILED, "another injection holds this terminal (thread lock)"))
    try:
        lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        with open(lock_dir / f"{kind}-{digest}.lock", "a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Refused(
                            InjectionResult(InjectionOutcome.FAILED, "another process holds this terminal (file lock)")
                        ) from None
                    time.sleep(poll)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        lock.release()


def utf8_chunks(text: str, limit: int) -> Iterator[bytes]:
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


class GuardedTyping:
    """Steps 2 to 6 of an injection (see :mod:`taskping.injectors.tmux`) on any :class:`Terminal`.

    The caller holds the terminal's lock and has done its own terminal-specific
    preparation; every refusal is raised as :class:`Refused`.
    """

    def __init__(
        self,
        *,
        enter_delay: float,
        confirm_timeout: float,
        poll_interval: float,
        method: Literal["keys", "paste"] = "keys",
        chunk_bytes: int = CHUNK_BYTES,
        chunk_pause: float = CHUNK_PAUSE,
    ) -> None:
        self.enter_delay = enter_delay
        self.confirm_timeout = confirm_timeout
        self.poll_interval = poll_interval
        self.method = method
        self.chunk_bytes = chunk_bytes
        self.chunk_pause = chunk_pause

    # -- reading -----------------------------------------------------------
    def reading(self, term: Terminal, gone: str) -> ScreenReading:
        if not term.alive():
            raise Refused(InjectionResult(InjectionOutcome.TARGET_GONE, gone))
        return read_screen(term.capture())

    def _wait(self, term: Terminal, gone: str, timeout: float, done: Callable[[ScreenReading], bool]) -> ScreenReading:
        deadline = time.monotonic() + timeout
        while True:
            reading = self.reading(term, gone)
            if done(reading) or time.monotonic() >= deadline:
                return reading
            time.sleep(self.poll_interval)

    def _wait_drawn(self, term: Terminal, gone: str, done: Callable[[ScreenReading], bool]) -> ScreenReading:
        """Like :meth:`_wait` for the typed text to be drawn: SHOW_TIMEOUT from the box's last
        change (claude is still drawing keys it was sent), at most SHOW_LIMIT in all."""
        started = time.monotonic()
        deadline, last = started + SHOW_TIMEOUT, None
        while True:
            reading = self.reading(term, gone)
            now = time.monotonic()
            if done(reading):
                return reading
            if reading.input_lines != last:
                last = reading.input_lines
                deadline = min(started + SHOW_LIMIT, now + SHOW_TIMEOUT)
            if now >= deadline:
                return reading
            time.sleep(self.poll_interval)

    # -- the rules -----------------------------------------------------------
    @staticmethod
    def gate(reading: ScreenReading, when: str) -> None:
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
            raise Refused(
                InjectionResult(InjectionOutcome.DIALOG_OPEN, f"permission dialog open ({when}); nothing typed")
            )
        why = {
            ScreenState.BUSY: "claude is working",
            ScreenState.HAS_INPUT: "the input box holds a draft typed at the keyboard (kept, not cleared)",
            ScreenState.SHELL_MODE: "the input box is in ! shell mode",
            ScreenState.VIM_COMMAND: f"vim {reading.vim_mode} mode: typed letters would be commands",
        }.get(state, "no claude input box on screen (starting, a menu or picker, or not claude)")
        raise Refused(InjectionResult(InjectionOutcome.BUSY, f"not ready ({when}): {why}; nothing typed"))

    def _enter_insert(self, term: Terminal, gone: str, reading: ScreenReading) -> str | None:
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
            return (
                r.vim_mode == "INSERT"
                or r.input_text == PROBE_KEY
                or r.state
                not in (
                    ScreenState.READY,
                    ScreenState.HAS_INPUT,
                )
            )

        term.type_bytes(PROBE_KEY.encode())
        after = self._wait(term, gone, PROBE_TIMEOUT, settled)
        if after.state is ScreenState.READY and after.vim_mode == "INSERT":
            return "INSERT"
        if after.input_text == PROBE_KEY and after.vim_mode is None and after.state is ScreenState.HAS_INPUT:
            term.press("BSpace")
            back = self._wait(term, gone, PROBE_TIMEOUT, lambda r: r.input_empty or not settled(r))
            if back.state is ScreenState.READY and back.vim_mode is None:
                return None
            raise Refused(self._abandon(term, gone, PROBE_KEY, back, "could not erase the mode probe key"))
        if after.state is ScreenState.PERMISSION_DIALOG:
            raise Refused(
                InjectionResult(
                    InjectionOutcome.DIALOG_OPEN, "permission dialog opened during the mode probe; Enter not pressed"
                )
            )
        if after.input_text == PROBE_KEY or after.busy:
            raise Refused(self._abandon(term, gone, PROBE_KEY, after, "the screen changed during the mode probe"))
        raise Refused(
            InjectionResult(
                InjectionOutcome.FAILED,
                f"could not tell the editing mode: the probe key {PROBE_KEY!r} neither showed in the box nor "
                f"turned vim to -- INSERT -- (vim with its mode indicator hidden?); nothing else typed",
            )
        )

    @staticmethod
    def _still_ours(reading: ScreenReading, text: str, vim_mode: str | None) -> bool:
        """While typing: same editing mode, claude idle, no dialog, and the box holds only our text."""
        return (
            reading.state in (ScreenState.READY, ScreenState.HAS_INPUT)
            and reading.vim_mode == vim_mode
            and box_is_part_of(reading, text)
        )

    @staticmethod
    def _ready_for_enter(reading: ScreenReading, text: str, vim_mode: str | None) -> bool:
        """The last check before Enter: the box holds exactly ``text`` and Enter can only submit it."""
        return reading.state is ScreenState.HAS_INPUT and reading.vim_mode == vim_mode and box_holds(reading, text)

    def erase(self, term: Terminal, gone: str) -> bool:
        """Empty the input box (C-u per line, C-k/BSpace to join lines); True when it shows empty.

        Only called with no dialog on screen and nothing but our own typing
        in the box: these keys only edit the box (a dialog ignores them).
        """
        for _attempt in range(4):
            reading = self.reading(term, gone)
            if reading.state is ScreenState.PERMISSION_DIALOG or reading.input_lines is None:
                return False
            if reading.input_empty:
                if reading.state is ScreenState.SHELL_MODE:
                    term.press("BSpace")  # BSpace in an empty "!" box leaves shell mode
                    time.sleep(0.1)
                    continue
                return True
            rows = len(reading.input_lines) + reading.hidden_rows + 1
            # C-k at a line end joins the next line, C-u kills to line start,
            # BSpace at a line start joins the previous line.
            term.press("C-u", *(["C-k"] * (2 * rows)), *(["C-u", "BSpace"] * rows), "C-u")  # type: ignore[arg-type]  # list of Key literals
            time.sleep(0.1)
        final = self.reading(term, gone)
        return final.input_empty and final.state is not ScreenState.SHELL_MODE

    def _abandon(self, term: Terminal, gone: str, text: str, reading: ScreenReading, why: str) -> InjectionResult:
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
        erased = self.erase(term, gone)
        after = self.reading(term, gone)
        state = "our text erased" if erased else "could not erase our text"
        if erased and (reading.busy or after.busy):
            return InjectionResult(InjectionOutcome.BUSY, f"{why}: claude started working; Enter not pressed, {state}")
        return InjectionResult(InjectionOutcome.FAILED, f"{why} ({reading.reason}); Enter not pressed, {state}")

    def _type(self, term: Terminal, gone: str, text: str, vim_mode: str | None) -> str:
        if self.method == "paste":
            term.paste(text)
            return "paste"
        chunks = list(utf8_chunks(text, self.chunk_bytes))
        for index, chunk in enumerate(chunks):
            if index:
                time.sleep(self.chunk_pause)
                # a dialog opening mid-typing would take the next keys as choices ("1" = Yes)
                reading = self.reading(term, gone)
                if not self._still_ours(reading, text, vim_mode):
                    why = "the screen changed while typing; stopped typing"
                    raise Refused(self._abandon(term, gone, text, reading, why))
            term.type_bytes(chunk)
            fault_point("during-inject")  # crash tests: after a typed chunk, before the next one or Enter
        return f"keys ({len(chunks)} chunk{'s' if len(chunks) != 1 else ''})"

    def inject(self, term: Terminal, gone: str, text: str, submitted: Callable[[], bool] | None) -> InjectionResult:
        """Steps 2 to 6 (``gone`` is the TARGET_GONE detail). Raises :class:`Refused`."""
        text = text.replace("\t", TAB_AS_SPACES)
        self.gate(self.reading(term, gone), "before typing")
        vim_mode = self._enter_insert(term, gone, self.reading(term, gone))
        self.gate(self.reading(term, gone), "after the mode check")

        method = self._type(term, gone, text, vim_mode)

        def drawn_or_changed(r: ScreenReading) -> bool:
            return self._ready_for_enter(r, text, vim_mode) or not self._still_ours(r, text, vim_mode)

        shown = self._wait_drawn(term, gone, drawn_or_changed)
        if not self._ready_for_enter(shown, text, vim_mode):
            return self._abandon(term, gone, text, shown, f"typed text ({method}) did not show as typed")
        presses = 0
        for attempt in (1, 2):
            time.sleep(self.enter_delay)
            before_enter = self.reading(term, gone)
            if not self._ready_for_enter(before_enter, text, vim_mode):
                if presses:
                    break  # the box changed after our first Enter: do not press again
                return self._abandon(term, gone, text, before_enter, f"re-check before Enter failed ({method})")
            term.press("Enter")
            presses += 1
            window = self.confirm_timeout if attempt == 2 else min(0.8, self.confirm_timeout)
            result = self._confirm(term, gone, window, submitted, method, presses)
            if result is not None:
                return result
        result = self._confirm(term, gone, self.confirm_timeout, submitted, method, presses)
        if result is not None:
            return result
        return InjectionResult(
            InjectionOutcome.UNCONFIRMED,
            f"typed via {method}, Enter pressed {presses}x, submission not seen",
            enter_presses=presses,
        )

    def discard(self, term: Terminal, gone: str, text: str) -> bool:
        """Erase what a stopped injection of ``text`` left: only a piece of it (or the probe key), no dialog."""
        reading = self.reading(term, gone)
        if reading.state is ScreenState.PERMISSION_DIALOG or reading.input_lines is None:
            return False
        ours = reading.input_text == PROBE_KEY or box_is_part_of(reading, text.replace("\t", TAB_AS_SPACES))
        if reading.input_empty or not ours:  # the mode probe's key, or a piece of the text
            return False
        return self.erase(term, gone)

    def _confirm(
        self,
        term: Terminal,
        gone: str,
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
            reading = self.reading(term, gone)
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
