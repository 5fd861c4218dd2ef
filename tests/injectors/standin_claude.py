"""A stand-in for claude 2.1.328 that opens a permission dialog just after the first typed byte.

Run in a tmux pane (100x40): ``python standin_claude.py SCREENS LOG --start busy|ready --seed N``.
It draws the captured ``busy.txt`` (a turn running, empty box) or
``ready_fresh.txt`` screen, echoes typed text into the box the way claude
does, and models the race of issue 8 item 5:

* a few ms (``--focus-ms``, uniform) after the first typed byte, the running
  turn asks for a tool: from then on keys go to the dialog (``1``-``3`` and
  Enter approve "1. Yes", ``4`` and Esc refuse, other keys are ignored);
* the dialog reaches the screen ``--lag-ms`` (uniform) later: Ink renders
  asynchronously, and on a loaded machine the frame that shows the dialog can
  trail the state change that moved the focus. Until then the screen still
  shows the box with the typed text.

Everything observable is appended to LOG, one event a line: ``typed <n>``
(bytes that reached the box), ``dialog-focus``, ``dialog-drawn``,
``approved <key>``, ``refused``, ``submitted <text>``. A test counts
``approved`` lines. ``--extra TEXT`` instead appends TEXT to the box after
the first typed byte (a person typing at the same moment) and opens no
dialog. ``--after N`` moves the trigger to the N-th printable byte.
``--draw-ms MS`` draws each key MS ms after the one before (a loaded claude,
behind on the keys it was sent, drawing them at last).

Not a mock of claude's logic: a fixed, documented timing model, so the
injector's guarantees can be measured against a race the real CLI only hits
occasionally.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import termios
import threading
import time
import tty
from pathlib import Path

NBSP = "\u00a0"
PROMPT = "❯" + NBSP


class StandIn:
    def __init__(self, screens: Path, log: Path, start: str, rng: random.Random, args: argparse.Namespace) -> None:
        self.screens = screens
        self.log_path = log
        self.rng = rng
        self.args = args
        self.lines = (screens / ("busy.txt" if start == "busy" else "ready_fresh.txt")).read_text().split("\n")
        self.dialog_lines = (screens / "permission_dialog_bash.txt").read_text().split("\n")
        self.box_row = max(i for i, line in enumerate(self.lines) if line.startswith(PROMPT))
        self.box = ""
        self.focus_on_dialog = False
        self.dialog_drawn = False
        self.triggered = False
        self.printable = 0
        self.lock = threading.Lock()

    def log(self, event: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(event + "\n")

    def draw(self) -> None:
        lines = list(self.dialog_lines if self.dialog_drawn else self.lines)
        if not self.dialog_drawn:
            lines[self.box_row] = PROMPT + self.box
        frame = "\x1b[H\x1b[2J" + "\r\n".join(line[:100] for line in lines[:40])
        os.write(1, frame.encode("utf-8"))

    def open_dialog(self) -> None:
        time.sleep(self.rng.uniform(*self.args.focus_ms) / 1000)
        with self.lock:
            self.focus_on_dialog = True
            self.log("dialog-focus")
        time.sleep(self.rng.uniform(*self.args.lag_ms) / 1000)
        with self.lock:
            self.dialog_drawn = True
            self.log("dialog-drawn")
            self.draw()

    def trigger(self) -> None:
        self.triggered = True
        if self.args.extra:
            self.box += self.args.extra
            return
        threading.Thread(target=self.open_dialog, daemon=True).start()

    def key(self, char: str) -> None:
        if self.focus_on_dialog:
            if char in "123\r":
                self.log(f"approved {char!r}")
            elif char in "4\x1b":
                self.log("refused")
            return
        if char == "\r":
            self.log(f"submitted {self.box}")
            self.box = ""
        elif char == "\x15":  # C-u
            self.box = self.box.rsplit("\n", 1)[0] if "\n" in self.box else ""
        elif char == "\x7f":
            self.box = self.box[:-1]
        elif char >= " " or char == "\n":
            self.box += char

    def run(self) -> None:
        self.draw()
        pending = b""
        while True:
            data = os.read(0, 4096)
            if not data:
                return
            pending += data
            try:
                text = pending.decode("utf-8")
                pending = b""
            except UnicodeDecodeError:
                continue
            with self.lock:
                typed = 0
                for char in text:
                    if not self.triggered and char >= " ":
                        self.printable += 1
                        if self.printable >= self.args.after:
                            self.trigger()
                    if not self.focus_on_dialog and char >= " ":
                        typed += 1
                    self.key(char)
                    if self.args.draw_ms:
                        time.sleep(self.args.draw_ms / 1000)
                        self.draw()
                if typed:
                    self.log(f"typed {typed}")
                self.draw()


def _range(value: str) -> tuple[float, float]:
    low, _, high = value.partition(",")
    return float(low), float(high or low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("screens", type=Path)
    parser.add_argument("log", type=Path)
    parser.add_argument("--start", choices=("busy", "ready"), default="busy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--focus-ms", type=_range, default=(2.0, 20.0))
    parser.add_argument("--lag-ms", type=_range, default=(0.0, 400.0))
    parser.add_argument("--extra", default="")
    parser.add_argument("--after", type=int, default=1, help="trigger on this printable byte (1 = the first)")
    parser.add_argument("--draw-ms", type=float, default=0.0, help="draw each key this long after the one before")
    args = parser.parse_args()
    old = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        StandIn(args.screens, args.log, args.start, random.Random(args.seed), args).run()
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, old)


if __name__ == "__main__":
    sys.exit(main())
