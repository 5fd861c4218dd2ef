"""taskping.hooks.proc: the hook's subprocess-free way to run tmux and start the sender."""

from __future__ import annotations

import os
import time
from pathlib import Path

from taskping.hooks import proc


def test_output_and_status() -> None:
    assert proc.output(["sh", "-c", "printf 'a b\\n'; echo err >&2; exit 3"]) == (3, "a b\n")


def test_a_missing_program_is_none() -> None:
    assert proc.output(["taskping-no-such-program-here"]) is None
    assert proc.detach(["taskping-no-such-program-here"]) is False


def test_a_program_past_its_deadline_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    assert proc.output(["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"], timeout=0.5) is None
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass  # killed and reaped
    else:
        raise AssertionError(f"pid {pid} still exists")


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
