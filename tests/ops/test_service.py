"""`taskping install-service`: the unit's content, never overwriting without --force,
and `systemd-analyze verify --user` on the unit it writes (skipped where systemd-analyze is absent)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.conftest import Ops

REPO = Path(__file__).resolve().parents[2]
REQUIRED = (
    "Type=notify",
    "Restart=on-failure",
    "RestartPreventExitStatus=78",
    "WatchdogSec=60",
    "StandardOutput=journal",
    "StandardError=journal",
    "WantedBy=default.target",
)


def install(ops: Ops, env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "taskping"), "--env-file", str(env_file), "install-service", *args],
        env=ops.base_environ({"XDG_CONFIG_HOME": str(ops.tmp / "xdg")}),
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def env_file(ops: Ops) -> Path:
    (ops.tmp / "home").mkdir(exist_ok=True)
    return ops.env_file({"EMAIL_TO": "me@example.test", "IMAP_PASS": "pw"})


def unit_file(ops: Ops) -> Path:
    return ops.tmp / "xdg" / "systemd" / "user" / "taskping-relay.service"


def test_writes_the_unit_and_says_how_to_enable_it(ops: Ops, env_file: Path) -> None:
    out = install(ops, env_file)
    assert out.returncode == 0, out.stderr
    text = unit_file(ops).read_text()
    lines = text.splitlines()
    for directive in REQUIRED:
        assert directive in lines, directive
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert exec_start.endswith(f"taskping-relay --env-file {env_file} --log-format json")
    assert Path(exec_start.split("=", 1)[1].split()[0]).is_file()
    assert "systemctl --user enable --now taskping-relay" in out.stdout
    assert "loginctl enable-linger" in out.stdout


def test_never_overwrites_without_force(ops: Ops, env_file: Path) -> None:
    assert install(ops, env_file).returncode == 0
    unit_file(ops).write_text("# edited by hand\n")
    again = install(ops, env_file)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1] == (
        f"install-service: {unit_file(ops)} exists; rerun with --force to replace it"
    )
    assert unit_file(ops).read_text() == "# edited by hand\n"
    forced = install(ops, env_file, "--force")
    assert forced.returncode == 0
    assert "Type=notify" in unit_file(ops).read_text()


def test_needs_an_env_file(ops: Ops) -> None:
    (ops.tmp / "home").mkdir(exist_ok=True)
    out = subprocess.run(
        [str(Path(sys.executable).parent / "taskping"), "install-service"],
        env=ops.base_environ({"XDG_CONFIG_HOME": str(ops.tmp / "xdg")}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("config error: --env-file: the service needs an env file")
    assert not unit_file(ops).exists()


def test_systemd_analyze_verify(ops: Ops, env_file: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    assert install(ops, env_file).returncode == 0
    runtime = ops.tmp / "runtime"
    runtime.mkdir(mode=0o700)
    out = subprocess.run(
        [analyze, "verify", "--user", str(unit_file(ops))],
        env=ops.base_environ({"XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(ops.tmp / "xdg")}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "", out.stderr  # not even a warning (an unknown directive is only a warning)


def test_documented_unit_matches(ops: Ops) -> None:
    """docs/taskping-relay.service (for people who copy it by hand) has the same safety directives."""
    lines = (REPO / "docs" / "taskping-relay.service").read_text().splitlines()
    for directive in REQUIRED:
        assert directive in lines, directive
