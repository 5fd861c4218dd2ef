"""Running `taskping demo` as a user would: a child process, its output, its exit status.

Helpers here find what a run started (the PIDs and the temp dir it prints)
and check that nothing of it is left afterwards: no process with the demo's
temp dir in its command line or environment (the relay, tmux, claude, the
stand-in and every hook all carry it), and no temp dir.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import BIN

RUN_TIMEOUT = 240

#: The step lines of a successful run, in order (see taskping/demo/steps.py).
STEP_LABELS = [
    "mail server up",
    "model endpoint up",
    "config and hooks written",
    "relay started",
    "Claude Code session started",
    "first prompt typed at the keyboard",
    "notification received",
    "reply sent from the phone",
    "reply typed into the pane",
    "acknowledgement received",
    "Claude's answer mailed back",
]


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def root(self) -> Path:
        found = re.search(r"in (/\S*taskping-demo-\S+)", self.stdout)
        assert found, f"no temp dir in the output:\n{self.stdout}"
        return Path(found.group(1))

    def pid(self, pattern: str) -> int:
        found = re.search(pattern, self.stdout)
        assert found, f"{pattern!r} not in the output:\n{self.stdout}"
        return int(found.group(1))

    @property
    def step_lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith(("✓ ", "✗ "))]


def demo_env(path: str | None = None) -> dict[str, str]:
    """The test's environment for the demo, with PATH replaced when given."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    if path is not None:
        env["PATH"] = path
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_demo(*args: str, path: str | None = None) -> DemoRun:
    out = subprocess.run(
        [str(BIN / "taskping"), "demo", *args],
        env=demo_env(path),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    return DemoRun(out.returncode, out.stdout, out.stderr)


def path_without_claude() -> str:
    """PATH with every directory that holds a `claude` taken out."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "claude").exists()]
    return os.pathsep.join(dirs or ["/usr/bin", "/bin"])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie has exited: only its parent has not reaped it yet
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


def processes_mentioning(text: str) -> list[str]:
    """``pid: command`` of every live process whose command line or environment contains ``text``."""
    needle = text.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if (needle in cmdline or needle in environ) and pid_alive(int(entry.name)):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
            found.append(f"{entry.name}: {command}")
    return found


def assert_nothing_left(run: DemoRun) -> None:
    root = run.root
    left = processes_mentioning(str(root))
    assert not left, "still running after the demo exited:\n" + "\n".join(left)
    assert not root.exists(), f"{root} was not removed"
