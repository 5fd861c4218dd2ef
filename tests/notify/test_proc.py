"""taskping.hooks.proc: the hook's subprocess-free way to start the sender."""

from __future__ import annotations

import os
import time
from pathlib import Path

from taskping.hooks import proc


def test_a_missing_program_is_not_started() -> None:
    assert proc.detach(["taskping-no-such-program-here"]) is False


def test_detach_runs_in_its_own_session_with_the_given_environment(tmp_path: Path) -> None:
    out = tmp_path / "seen"
    script = f'echo "$(ps -o sid= -p $$ | tr -d " ") $$ $MARK" > {out}.tmp; mv {out}.tmp {out}'
    assert proc.detach(["sh", "-c", script], {"PATH": os.environ["PATH"], "MARK": "given"})
    deadline = time.monotonic() + 20
    while not out.exists():
        assert time.monotonic() < deadline, "the detached process did not run"
        time.sleep(0.05)
    sid, pid, mark = out.read_text().split()
    assert sid == pid and mark == "given"  # a session leader: no terminal, not our process group
    os.waitpid(int(pid), 0)  # our child: reap it
