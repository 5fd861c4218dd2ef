"""`taskping demo --keep`: more replies typed by hand, then Ctrl-C tears everything down."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time

import pytest

from tests.demo.conftest import BIN, DemoRun, assert_nothing_left, demo_env, path_without_claude
from tests.support import prereqs

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

WAIT = 120.0  # a guard against hanging, not a measurement


class Lines:
    """The demo's stdout, read on a thread so the test can wait for a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, count: int = 1) -> None:
        deadline = time.monotonic() + WAIT
        while sum(text in line for line in self.seen) < count:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"{text!r} (x{count}) never came; output so far:\n" + "\n".join(self.seen))
            self.seen.append(line)

    def rest(self) -> str:
        while (line := self._queue.get(timeout=WAIT)) is not None:
            self.seen.append(line)
        return "\n".join(self.seen)


def test_keep_takes_replies_by_hand_and_ctrl_c_stops_everything() -> None:
    prereqs.require("tmux")
    proc = subprocess.Popen(
        [str(BIN / "taskping"), "demo", "--keep"],
        env=demo_env(path_without_claude()),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = Lines(proc)
        lines.wait_for("Still running (--keep)")
        lines.wait_for("or reply from any mail client")
        out = "\n".join(lines.seen)
        assert "tmux -S " in out and " attach -t demo-demo" in out
        assert "send more replies:" in out
        assert proc.poll() is None  # still running, as asked

        assert proc.stdin is not None
        proc.stdin.write("A second reply, typed by hand\n")
        proc.stdin.flush()
        lines.wait_for("✓ acknowledgement received", count=2)
        lines.wait_for("✓ Claude's answer mailed back", count=2)
        lines.wait_for("project: Stand-in received: A second reply, typed by hand")  # the answer's subject

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 130
        stdout = lines.rest()
    finally:
        if proc.poll() is None:  # a failed assertion above: let the demo tear down what it started
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert "interrupted: stopping everything the demo started" in stdout
    assert "Traceback" not in stderr
    assert_nothing_left(DemoRun(130, stdout, stderr))
