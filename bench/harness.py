"""What the relay benchmarks share: a loopback mail stack, a private tmux
server, an env file, tracked sessions, and `taskping-relay` run from a given
install — each started here and ended here.

The harness runs in the repository's dev venv (it reuses tests/support: the
Dovecot + SMTP stack); the TaskPing being measured is the one in ``--bin``
(bench/run passes a fresh non-editable install), started as its own process
exactly as a user starts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: an installed taskping still wins over the checkout

from taskping.session_map import connect, sessions
from taskping.tokens import new_token
from tests.support.mailstack import MailStack

HOST_ID = "bench-host"


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between the closest ranks."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` and all its descendants, in KiB (0 once gone)."""
    total = 0
    try:
        total = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(rss_kb(int(child)) for child in children)
    return total


def end_processes_under(directory: Path, timeout: float = 5.0) -> None:
    """Wait for (then kill) any process whose command line names ``directory``.

    ``directory`` is a benchmark's own mkdtemp() dir, so what names it was
    started by the benchmark: a hook claude ran on its way out, a detached
    `taskping send-outbox`. Run before removing the directory, which they
    would otherwise write into again.
    """
    marker = str(directory).encode()
    deadline = time.monotonic() + timeout
    while True:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if marker in (entry / "cmdline").read_bytes():
                        pids.append(int(entry.name))
                except OSError:
                    continue
        if not pids:
            return
        if time.monotonic() >= deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        time.sleep(0.05)


@dataclass
class Tmux:
    """A private tmux server on its own socket (never the user's)."""

    socket: Path
    started: bool = False

    def run(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(
            ["tmux", "-S", str(self.socket), "-f", "/dev/null", *args], capture_output=True, text=True, check=False
        )
        if check and out.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout.strip()

    def new_window(self, command: str, *, name: str) -> str:
        """A new pane running ``command``; returns its pane id (``%N``)."""
        if not self.started:
            self.started = True
            return self.run("new-session", "-d", "-s", name, "-x", "100", "-y", "40", "-P", "-F", "#{pane_id}", command)
        return self.run("new-window", "-d", "-t", self.first_session(), "-n", name, "-P", "-F", "#{pane_id}", command)

    def first_session(self) -> str:
        return self.run("list-sessions", "-F", "#{session_name}").splitlines()[0]

    def kill_pane(self, pane: str) -> None:
        self.run("kill-pane", "-t", pane)

    def kill(self) -> None:
        if self.started:
            self.run("kill-server", check=False)


@dataclass
class RelayWorld:
    """The mail stack, an env file for it, and relays started from ``bin_dir``."""

    stack: MailStack
    root: Path
    bin_dir: Path
    overrides: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = self.stack.taskping_env(
            **{
                "SENDER_AUTH": "none",
                "TASKPING_HOST_ID": HOST_ID,
                "SESSION_MAP_PATH": str(self.root / "state" / "taskping.db"),
                **self.overrides,
            }
        )
        self.env_file = self.root / "taskping.env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))
        self.env_file.chmod(0o600)  # it holds passwords: TaskPing refuses it readable by others
        self.db = Path(self.env["SESSION_MAP_PATH"])
        self.db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def track(self, tmux: Tmux, pane: str, name: str) -> sessions.Session:
        """Register a session for ``pane`` in the session map, as the SessionStart hook does."""
        conn = connect(self.db)
        try:
            return sessions.create(
                conn,
                token=new_token(HOST_ID),
                name=name,
                kind="tmux",
                target_socket=str(tmux.socket),
                target_pane=pane,
                ttl=86400,
                state="idle",
            )
        finally:
            conn.close()

    def start_relay(self) -> subprocess.Popen[bytes]:
        """Start `taskping-relay` as a user does and wait for its heartbeat."""
        env = {
            "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "SSL_CERT_FILE": self.env.get("SSL_CERT_FILE", ""),
        }
        proc = subprocess.Popen(
            [str(self.bin_dir / "taskping-relay"), "--env-file", str(self.env_file)],
            env=env,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "relay.stderr", "ab"),  # noqa: SIM115 - the child owns it
            start_new_session=True,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"taskping-relay exited {proc.returncode}: {self.relay_log()}")
            if self.db.exists():
                conn = connect(self.db)
                try:
                    row = conn.execute("SELECT pid FROM daemons WHERE role = 'relay'").fetchone()
                finally:
                    conn.close()
                if row and row[0] == proc.pid:
                    return proc
            time.sleep(0.05)
        raise RuntimeError(f"taskping-relay wrote no heartbeat in 30 s: {self.relay_log()}")

    def stop_relay(self, proc: subprocess.Popen[bytes]) -> int:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=10)

    def relay_log(self) -> str:
        path = self.root / "relay.stderr"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        """End every relay started here (and a detached sender in our state dir), nothing else."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        lock = self.db.parent / "send-outbox.lock"
        try:
            pid = int(lock.read_text().strip())
            if (
                b"send-outbox" in Path(f"/proc/{pid}/cmdline").read_bytes()
                and str(self.env_file).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
            ):
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass
