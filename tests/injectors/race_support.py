"""Run injections against the dialog-race stand-in (``standin_claude.py``) and count what happened.

Used by ``test_busy_race.py`` and, to measure the code before the fix, as a
script: ``python -m tests.injectors.race_support TRIES`` run from outside the
repository with ``PYTHONPATH=DIR:REPO``, DIR an export of the old
``taskping`` package (``git archive <commit> taskping | tar -x -C DIR``). It prints one line per try and the
count of tries in which an Enter from the injector approved the dialog.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libtmux

from taskping.injectors.base import Target

HERE = Path(__file__).parent
STANDIN = HERE / "standin_claude.py"
SCREENS = HERE / "screens"


@dataclass(frozen=True)
class RaceTry:
    """One injection into one fresh stand-in pane."""

    seed: int
    outcome: str
    detail: str
    enter_presses: int
    events: tuple[str, ...]

    @property
    def approved(self) -> bool:
        return any(event.startswith("approved") for event in self.events)

    @property
    def typed(self) -> bool:
        return any(event.startswith("typed") for event in self.events)


def start_standin(server: libtmux.Server, log: Path, seed: int, *extra: str) -> Target:
    """A new tmux window running the stand-in; returns its target once the box is drawn."""
    command = shlex.join([sys.executable, str(STANDIN), str(SCREENS), str(log), "--seed", str(seed), *extra])
    pane = server.new_session(f"standin-{seed}", window_command=command, x=100, y=40).active_window.active_pane
    assert pane is not None
    deadline = time.monotonic() + 10
    while not any(line.startswith("❯\u00a0") for line in pane.cmd("capture-pane", "-p").stdout):
        if time.monotonic() > deadline:
            raise TimeoutError("stand-in never drew its screen")
        time.sleep(0.05)
    return Target("tmux", socket=str(server.socket_path), pane=str(pane.pane_id))


def run_tries(
    server: libtmux.Server, injector: Any, workdir: Path, seeds: range, text: str, *extra: str
) -> list[RaceTry]:
    """Inject ``text`` once into a fresh stand-in per seed; let any dialog draw; collect the events."""
    if not server.is_alive() or not server.has_session("keep"):
        server.new_session("keep")  # the server outlives each try's session
    tries = []
    for seed in seeds:
        log = workdir / f"standin-{seed}.log"
        target = start_standin(server, log, seed, *extra)
        result = injector.inject(target, text)
        time.sleep(0.6)  # past the longest modelled draw lag
        events = tuple(log.read_text().splitlines()) if log.exists() else ()
        tries.append(RaceTry(seed, result.outcome.value, result.detail, result.enter_presses, events))
        server.cmd("kill-session", "-t", f"standin-{seed}")
    return tries


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    from taskping.injectors.tmux import TmuxInjector

    work = Path(tempfile.mkdtemp(prefix="tp-race-"))
    server = libtmux.Server(socket_path=str(work / "sock"), config_file="/dev/null")
    try:
        tries = run_tries(server, TmuxInjector(work / "locks", enter_delay_ms=200), work, range(count), "please go on")
    finally:
        if server.is_alive():
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    for attempt in tries:
        print(
            attempt.seed,
            attempt.outcome,
            attempt.enter_presses,
            "APPROVED" if attempt.approved else "-",
            attempt.detail,
        )
    print(f"approved by the injector's keys: {sum(t.approved for t in tries)} of {len(tries)}")


if __name__ == "__main__":
    main()
