"""Every benchmark, one command (what `bench/run` executes).

1. Installs TaskPing as a user has it: a fresh venv in a temp dir,
   ``pip install`` of a copy of the checkout's package files (non-editable; the
   checkout gets no build/ directory), then ``python -m compileall``.
2. Runs each benchmark as its own process, from outside the checkout, against
   that install: the hook and pipeline benchmarks with the install's own
   interpreter; the relay benchmarks (reply latency, backlog, RSS) with the dev
   venv's interpreter as the harness (Dovecot, SMTP front, fake Messages API,
   tmux from tests/support) and ``--bin`` pointing at the install, whose
   `taskping` / `taskping-relay` they start as processes.
3. Writes the results (machine, date, every figure with its target, each
   benchmark's own numbers) to a JSON file and prints a table. A figure that
   misses its target says MISSED; a benchmark that could not run says FAILED
   and the command exits 1. Missing a target does not change the exit status.

Everything started is ended by the benchmark that started it; the temp dir
(venv included) is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.append(str(ROOT))

from tests.support.mailstack import find_tool
from tests.support.prereqs import CLAUDE_VERSION, claude_candidates

PACKAGE_FILES = ("pyproject.toml", "README.md", "taskping")


@dataclass(frozen=True)
class Bench:
    key: str
    script: str
    harness: bool  # run by the dev venv with --bin (True) or by the install's own interpreter
    full: tuple[str, ...]
    quick: tuple[str, ...]


BENCHES = (
    Bench("pipeline", "pipeline_bench.py", False, ("--messages", "2000"), ("--messages", "200")),
    Bench("hook", "hook_bench.py", False, ("--runs", "30"), ("--runs", "5", "--pause", "0.05")),
    Bench("rss", "rss_bench.py", True, ("--sessions", "100"), ("--sessions", "100", "--settle", "1", "--seconds", "1")),
    Bench("reply_latency", "reply_latency.py", True, ("--replies", "20"), ("--replies", "3")),
    Bench("backlog", "backlog_bench.py", True, ("--replies", "5000"), ("--replies", "400")),
    Bench("approval", "approval_latency.py", True, ("--runs", "10"), ("--runs", "2")),
)


@dataclass(frozen=True)
class Figure:
    name: str
    bench: str
    unit: str
    target: float
    higher_is_better: bool

    def value(self, results: dict[str, dict]) -> float | None:  # type: ignore[type-arg]
        r = results.get(self.bench, {})
        if "error" in r and self.bench != "pipeline":
            return None
        pick = {
            "reply median": lambda: r["median_s"],
            "reply p95": lambda: r["p95_s"],
            "hook Stop median": lambda: r["hook_median_ms"],
            "pipeline throughput": lambda: r["per_second"],
            "backlog after restart": lambda: r["seconds"] if r["all_decided"] and r["typed_twice"] == 0 else None,
            "relay RSS idle": lambda: r["max_mb"],
            "approval round trip": lambda: r["median_s"],
        }[self.name]
        try:
            return pick()
        except (KeyError, TypeError):
            return None


FIGURES = (
    Figure("reply median", "reply_latency", "s", 1.0, False),
    Figure("reply p95", "reply_latency", "s", 1.5, False),
    Figure("hook Stop median", "hook", "ms", 100.0, False),
    Figure("pipeline throughput", "pipeline", "msg/s", 500.0, True),
    Figure("backlog after restart", "backlog", "s", 60.0, False),
    Figure("relay RSS idle", "rss", "MB", 80.0, False),
    Figure("approval round trip", "approval", "s", 1.0, False),
)


def first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc.__class__.__name__})"
    return ((out.stdout or out.stderr).strip().splitlines() or ["?"])[0]


def machine(python: Path, claude: str) -> dict[str, object]:
    """What the figures depend on: the hardware, its load, and the versions of every real part."""
    cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace") if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
        platform.processor() or "?",
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    dovecot = find_tool("dovecot")
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = bool(
        subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", *PACKAGE_FILES],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_mb": mem_kb // 1024,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(),
        "python": first_line([str(python), "--version"]),
        "tmux": first_line(["tmux", "-V"]),
        "dovecot": first_line([dovecot, "--version"]) if dovecot else "not found",
        "claude": first_line([claude, "--version"]),
        "taskping_commit": commit + ("+local changes" if dirty else ""),
    }


def prerequisites() -> str:
    """The claude CLI path; exits with one line naming what is missing (run bin/test first)."""
    missing = [tool for tool in ("tmux", "dovecot", "doveadm") if find_tool(tool) is None]
    if missing:
        raise SystemExit(
            f"bench/run: {', '.join(missing)} not found; run bin/test once (it installs the prerequisites)"
        )
    for claude in claude_candidates():
        if first_line([claude, "--version"]).split()[:1] == [CLAUDE_VERSION]:
            return claude
    raise SystemExit(
        f"bench/run: the claude CLI {CLAUDE_VERSION} was not found (TASKPING_TEST_CLAUDE, "
        ".tools/claude-code, PATH); run bin/test once, which installs it"
    )


def install(tmp: Path) -> tuple[Path, float]:
    """A fresh venv with TaskPing installed non-editable and compiled; returns its bin dir and the seconds taken."""
    started = time.monotonic()
    src = tmp / "src"
    src.mkdir()
    for name in PACKAGE_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    venv = tmp / "venv"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            str(src),
        ],
        [str(venv / "bin" / "python"), "-m", "compileall", "-q", str(venv / "lib")],
    ]
    print("==> installing TaskPing non-editable into a fresh venv (pip install, compileall)", flush=True)
    for argv in steps:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp)
        if out.returncode != 0:
            noise = "WARNING: Location"
            err = "\n".join(line for line in out.stderr.splitlines() if not line.startswith(noise))
            raise SystemExit(f"bench/run: {' '.join(argv[:4])} failed ({out.returncode}):\n{err[-2000:]}")
    return venv / "bin", time.monotonic() - started


def run_bench(bench: Bench, bin_dir: Path, tmp: Path, quick: bool) -> dict:  # type: ignore[type-arg]
    """One benchmark as its own process; its --json figures, or {"error": ...}."""
    out = tmp / f"{bench.key}.json"
    python = sys.executable if bench.harness else str(bin_dir / "python")
    argv = [python, str(BENCH / bench.script), *(bench.quick if quick else bench.full), "--json", str(out)]
    if bench.harness:
        argv += ["--bin", str(bin_dir)]
    print(f"\n==> {bench.key}: {' '.join(argv[1:])}", flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # TMPDIR stays as it is: Dovecot's unix sockets live under the mail stack's
    # temp dir, and a deeper one pushes their paths past the 108-byte limit.
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=tmp, env=env, check=False)
    took = round(time.monotonic() - started, 1)
    result: dict = json.loads(out.read_text()) if out.exists() else {}  # type: ignore[type-arg]
    if proc.returncode != 0 or not result:
        result["error"] = f"{bench.script} exited {proc.returncode}" + ("" if result else " without figures")
    result["wall_seconds"] = took
    return result


def verdict(fig: Figure, value: float | None) -> str:
    if value is None:
        return "FAILED"
    met = value >= fig.target if fig.higher_is_better else value <= fig.target
    return "ok" if met else "MISSED"


def table(results: dict[str, dict], quick: bool) -> tuple[list[dict], str]:  # type: ignore[type-arg]
    rows, lines = [], []
    lines.append(f"{'figure':<24}{'value':>14}  {'target':<14}{'':<8}notes")
    for fig in FIGURES:
        if fig.bench not in results:  # left out with --only
            continue
        value = fig.value(results)
        v = verdict(fig, value)
        r = results.get(fig.bench, {})
        note = {
            "hook": f"bare python {r.get('bare_median_ms')} ms",
            "backlog": (
                f"{r.get('replies')} replies, typed twice {r.get('typed_twice')}, "
                f"typed once {r.get('typed_once')}/{r.get('typed_expected')}"
            ),
            "rss": f"{r.get('sessions')} sessions",
            "reply_latency": f"{r.get('replies')} replies",
            "pipeline": f"{r.get('messages')} replies",
            "approval": f"median of {r.get('runs')} approvals, max {r.get('max_s')} s",
        }[fig.bench]
        if "error" in r:
            note += f"; {r['error']}"
        shown = "-" if value is None else f"{value:g} {fig.unit}"
        target = f"{'≥' if fig.higher_is_better else '≤'} {fig.target:g} {fig.unit}"
        lines.append(f"{fig.name:<24}{shown:>14}  {target:<14}{v:<8}{note}")
        rows.append(
            {
                "figure": fig.name,
                "value": value,
                "unit": fig.unit,
                "target": fig.target,
                "higher_is_better": fig.higher_is_better,
                "verdict": v,
            }
        )
    if quick:
        lines.append(
            "(--quick: reduced sizes; the figures show the command works, they are not comparable with the targets)"
        )
    return rows, "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes: proves the command works (~2 min)")
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH / "results.json",
        help="where to write the results (default bench/results.json)",
    )
    parser.add_argument(
        "--only", action="append", choices=[b.key for b in BENCHES], help="run only this benchmark (repeatable)"
    )
    args = parser.parse_args()
    claude = prerequisites()
    os.environ["TASKPING_TEST_CLAUDE"] = claude  # the reply latency harness spawns this claude
    tmp = Path(tempfile.mkdtemp(prefix="taskping-bench-"))
    started = dt.datetime.now(dt.UTC)
    try:
        bin_dir, install_seconds = install(tmp)
        info = machine(bin_dir / "python", claude)
        results = {
            b.key: run_bench(b, bin_dir, tmp, args.quick) for b in BENCHES if not args.only or b.key in args.only
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows, text = table(results, args.quick)
    report = {
        "date": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": info,
        "install": {
            "how": "fresh venv, pip install (non-editable), python -m compileall",
            "seconds": round(install_seconds, 1),
        },
        "figures": rows,
        "benchmarks": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print()
    print(
        f"TaskPing benchmarks, {report['date']}, {info['cpu_count']} × {info['cpu_model']}, "
        f"{info['memory_mb']} MB, {info['python']}, load {info['load_average_at_start']}"
    )
    print(text)
    print(f"\nresults: {args.out}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
