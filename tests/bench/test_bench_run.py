"""`bench/run --quick` end to end: the one benchmark command works and writes valid results.

Runs the real command (fresh non-editable install, Dovecot, tmux, the real
claude CLI, the relay as its own process) with reduced sizes, then checks the
results file: the machine and date, every figure with a number and a target, a
verdict for each, no benchmark failed, nothing typed twice in the backlog, and
nothing left behind (temp dir, processes). No figure is compared with its target
here: a slow, busy machine must not fail this test, and a missed target is
reported by the table, not hidden.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.prereqs import require

ROOT = Path(__file__).resolve().parent.parent.parent
FIGURES = {
    "reply median",
    "reply p95",
    "hook Stop median",
    "pipeline throughput",
    "backlog after restart",
    "relay RSS idle",
    "approval round trip",
}

BENCH_PREFIXES = (
    "taskping-bench-",
    "taskping-backlog-bench-",
    "taskping-rss-bench-",
    "taskping-pipeline-bench-",
    "taskping-hook-bench-",
    "tp-bench-",
)

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow, pytest.mark.timeout(900)]


def bench_temp_dirs() -> set[str]:
    """The temp dirs bench/run and its benchmarks make (their prefixes are theirs alone)."""
    return {p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(BENCH_PREFIXES)}


def our_processes(marker: str) -> list[str]:
    """Command lines of running processes that mention ``marker`` (our temp dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if marker in cmdline:
                found.append(cmdline)
    return found


def test_bench_run_quick_writes_results(tmp_path: Path) -> None:
    for tool in ("dovecot", "tmux", "claude"):
        require(tool)
    out = tmp_path / "results.json"
    env = {**os.environ, "TASKPING_TEST_CLAUDE": require("claude")}
    left_before = bench_temp_dirs()
    before = datetime_now()
    proc = subprocess.run(
        [str(ROOT / "bench" / "run"), "--quick", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert proc.returncode == 0, f"bench/run failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

    report = json.loads(out.read_text())
    assert report["quick"] is True
    assert dt.datetime.fromisoformat(report["date"]) >= before
    m = report["machine"]
    assert m["cpu_count"] >= 1 and m["memory_mb"] > 0 and m["cpu_model"]
    assert m["python"].startswith("Python 3.") and m["tmux"].startswith("tmux ")
    assert m["dovecot"][:1].isdigit()  # "2.3.19.1 (9b53102964)"
    assert m["claude"].startswith("2.1.328")
    assert "non-editable" in report["install"]["how"]

    lines = proc.stdout.splitlines()
    table = lines[max(i for i, line in enumerate(lines) if line.startswith("figure ")) + 1 :]
    figures = {f["figure"]: f for f in report["figures"]}
    assert set(figures) == FIGURES
    for name, fig in figures.items():
        assert isinstance(fig["value"], (int, float)) and fig["value"] > 0, (name, fig)
        assert fig["target"] > 0 and fig["verdict"] in ("ok", "MISSED"), (name, fig)
        # the table shows every figure next to its target and verdict
        line = next(line for line in table if line.startswith(name))
        assert f"{fig['target']:g} {fig['unit']}" in line and fig["verdict"] in line

    benches = report["benchmarks"]
    assert not [k for k, r in benches.items() if "error" in r]
    backlog = benches["backlog"]
    assert backlog["all_decided"] is True
    assert backlog["typed_twice"] == 0 and backlog["delivered_rows_twice"] == 0 and backlog["typed_unexpected"] == 0
    assert backlog["typed_once"] == backlog["typed_expected"] == 20
    assert backlog["ledger"]["delivered"] == 20
    assert benches["pipeline"]["outcomes"] == {"planned": benches["pipeline"]["messages"]}
    assert benches["hook"]["sender_started"] is True
    # measured from the fresh install, not from the checkout
    assert not benches["pipeline"]["taskping_from"].startswith(str(ROOT))
    assert benches["rss"]["sessions"] == 100

    # everything it started is gone: its temp dirs (the venv included) and every process run from them
    assert bench_temp_dirs() - left_before == set()
    assert our_processes(f"{tempfile.gettempdir()}/taskping-bench-") == []


def datetime_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
