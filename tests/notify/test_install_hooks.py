"""`taskping install-hooks`: the real console script editing a settings.json.

That claude actually runs the installed hooks is covered by test_notify_e2e.py.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from taskping.hooks.payload import EVENTS
from tests.notify.conftest import HookRig, taskping_bin

OTHER_STOP = {"type": "command", "command": "/usr/local/bin/say-done --loud", "timeout": 5}
OTHER_PRE = {"type": "command", "command": "echo pre"}
ORIGINAL: dict[str, Any] = {
    "permissions": {"defaultMode": "default", "allow": ["Bash(ls:*)"]},
    "model": "opus",
    "hooks": {
        "Stop": [{"matcher": "", "hooks": [OTHER_STOP]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [OTHER_PRE]}],
    },
}


def install(
    tmp_path: Path, *args: str, cwd: Path | None = None, addresses: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; ``addresses``: EMAIL_FROM/EMAIL_TO in the environment (install-hooks needs them)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    if addresses:
        env.update({"EMAIL_FROM": "tp@example.test", "EMAIL_TO": "me@example.test"})
    return subprocess.run(
        [taskping_bin(), *args],
        env=env,
        cwd=cwd or tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def ours(settings: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [
        h
        for group in settings.get("hooks", {}).get(event, [])
        for h in group.get("hooks", [])
        if " hook " in h.get("command", "") and "taskping" in h.get("command", "")
    ]


def backups(settings_path: Path) -> list[Path]:
    return sorted(settings_path.parent.glob(settings_path.name + ".taskping-backup-*"))


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    path = tmp_path / "claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(ORIGINAL, indent=4))
    return path


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "taskping.env"
    path.parent.mkdir()
    path.write_text("EMAIL_FROM=tp@example.test\nEMAIL_TO=me@example.test\n")
    return path


def test_merge_keeps_other_hooks_and_uses_absolute_paths(tmp_path: Path, settings_path: Path, env_file: Path) -> None:
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path), "--env-file", str(env_file))
    assert proc.returncode == 0, proc.stderr
    assert f"installed TaskPing hooks into {settings_path}" in proc.stdout
    assert str(env_file) in proc.stdout
    new = json.loads(settings_path.read_text())

    # Everything that was there is still there.
    assert new["permissions"] == ORIGINAL["permissions"] and new["model"] == "opus"
    assert new["hooks"]["PreToolUse"] == ORIGINAL["hooks"]["PreToolUse"]
    assert new["hooks"]["Stop"][0] == {"matcher": "", "hooks": [OTHER_STOP]}

    for event in EVENTS:
        (hook,) = ours(new, event)
        words = shlex.split(hook["command"])
        assert words == [taskping_bin(), "--env-file", str(env_file), "hook", event]
        assert all(Path(w).is_absolute() for w in (words[0], words[2]))
        assert hook["type"] == "command" and isinstance(hook.get("timeout"), int) and hook["timeout"] <= 60
    assert len(new["hooks"]["Stop"]) == 2


def test_a_relative_env_file_is_made_absolute(tmp_path: Path, settings_path: Path, env_file: Path) -> None:
    proc = install(
        tmp_path, "--env-file", "taskping.env", "install-hooks", "--settings", str(settings_path), cwd=env_file.parent
    )
    assert proc.returncode == 0, proc.stderr
    (hook,) = ours(json.loads(settings_path.read_text()), "Stop")
    assert shlex.split(hook["command"])[1:3] == ["--env-file", str(env_file.resolve())]


def test_second_run_changes_nothing(tmp_path: Path, settings_path: Path, env_file: Path) -> None:
    args = ("install-hooks", "--settings", str(settings_path), "--env-file", str(env_file))
    assert install(tmp_path, *args).returncode == 0
    after_first = settings_path.read_bytes()
    mtime = settings_path.stat().st_mtime_ns
    assert len(backups(settings_path)) == 1

    proc = install(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{settings_path}: already up to date"
    assert settings_path.read_bytes() == after_first
    assert settings_path.stat().st_mtime_ns == mtime
    assert len(backups(settings_path)) == 1  # no second backup


def test_backup_holds_the_original(tmp_path: Path, settings_path: Path) -> None:
    original = settings_path.read_bytes()
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path))
    assert proc.returncode == 0, proc.stderr
    (backup,) = backups(settings_path)
    assert backup.read_bytes() == original
    assert f"(backup: {backup})" in proc.stdout


def test_without_env_file_the_command_carries_none(tmp_path: Path, settings_path: Path) -> None:
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path))
    assert proc.returncode == 0, proc.stderr
    assert "env file: (none" in proc.stdout
    (hook,) = ours(json.loads(settings_path.read_text()), "Stop")
    assert shlex.split(hook["command"]) == [taskping_bin(), "hook", "Stop"]


def test_changing_the_env_file_replaces_our_entries(tmp_path: Path, settings_path: Path, env_file: Path) -> None:
    assert install(tmp_path, "install-hooks", "--settings", str(settings_path)).returncode == 0
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path), "--env-file", str(env_file))
    assert proc.returncode == 0 and "already up to date" not in proc.stdout
    new = json.loads(settings_path.read_text())
    for event in EVENTS:
        (hook,) = ours(new, event)  # replaced, not added beside the old one
        assert str(env_file) in hook["command"]
    assert len(backups(settings_path)) >= 1


def test_a_moved_install_is_updated(tmp_path: Path, settings_path: Path) -> None:
    data = json.loads(settings_path.read_text())
    data["hooks"]["Stop"].append(
        {"matcher": "", "hooks": [{"type": "command", "command": "/old/venv/bin/taskping hook Stop"}]}
    )
    settings_path.write_text(json.dumps(data))
    assert install(tmp_path, "install-hooks", "--settings", str(settings_path)).returncode == 0
    (hook,) = ours(json.loads(settings_path.read_text()), "Stop")
    assert hook["command"].startswith(shlex.quote(taskping_bin()))


def test_missing_settings_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / ".claude" / "settings.json"
    proc = install(tmp_path, "install-hooks", "--settings", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "backup" not in proc.stdout and backups(path) == []
    assert set(json.loads(path.read_text())["hooks"]) == set(EVENTS)


def test_uninstall_removes_only_ours(tmp_path: Path, settings_path: Path, env_file: Path) -> None:
    assert (
        install(tmp_path, "install-hooks", "--settings", str(settings_path), "--env-file", str(env_file)).returncode
        == 0
    )
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path), "--uninstall")
    assert proc.returncode == 0, proc.stderr
    assert f"removed TaskPing hooks from {settings_path}" in proc.stdout
    assert json.loads(settings_path.read_text()) == ORIGINAL
    again = install(tmp_path, "install-hooks", "--settings", str(settings_path), "--uninstall")
    assert again.returncode == 0 and "already up to date" in again.stdout


def test_uninstall_of_a_taskping_only_file_leaves_no_empty_hooks(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"permissions": {"defaultMode": "default"}}))
    assert install(tmp_path, "install-hooks", "--settings", str(path)).returncode == 0
    assert install(tmp_path, "install-hooks", "--settings", str(path), "--uninstall").returncode == 0
    assert json.loads(path.read_text()) == {"permissions": {"defaultMode": "default"}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"hooks": {"Stop": [}', "cannot read"),
        ("[1, 2, 3]", "does not hold a JSON object"),
        ('{"hooks": []}', "'hooks' in the settings file is not an object"),
        ('{"hooks": {"Stop": {"matcher": ""}}}', "'hooks.Stop' in the settings file is not a list"),
        (b"\xff\xfe{}", "cannot read"),
    ],
    ids=["bad-json", "not-an-object", "hooks-not-object", "event-not-list", "not-utf8"],
)
def test_malformed_settings_is_a_clear_error(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "settings.json"
    raw = content.encode() if isinstance(content, str) else content
    path.write_bytes(raw)
    proc = install(tmp_path, "install-hooks", "--settings", str(path))
    assert proc.returncode == 1
    config_line, error = proc.stderr.splitlines()
    assert config_line.startswith("config: ")
    assert error.startswith("install-hooks: ") and message in error
    assert "Traceback" not in proc.stderr  # two lines: which config, and the one error
    assert path.read_bytes() == raw  # untouched
    assert backups(path) == []


def test_a_dot_env_in_the_current_directory_is_not_baked_in(tmp_path: Path, settings_path: Path) -> None:
    """install-hooks run inside a repository with a .env: the hooks carry no --env-file (the old
    lookup read ./.env and wrote it into every hook command)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".env").write_text("EMAIL_TO=attacker@evil.example\n")
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    for event in EVENTS:
        (hook,) = ours(json.loads(settings_path.read_text()), event)
        assert "--env-file" not in hook["command"] and ".env" not in hook["command"]
    assert "env file: (none: environment only)" in proc.stdout
    assert proc.stderr.splitlines()[0].endswith("./.env is not read (pass --env-file .env to use it)")


def test_a_password_file_others_can_read_is_not_installed(tmp_path: Path, settings_path: Path, env_file: Path) -> None:
    """Every hook would refuse it; install-hooks refuses it once, with the fix, and changes nothing."""
    env_file.write_text("EMAIL_TO=me@example.test\nSMTP_PASS=pw\n")
    env_file.chmod(0o644)
    before = settings_path.read_bytes()
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path), "--env-file", str(env_file))
    assert proc.returncode == 2
    assert (
        proc.stderr
        == f"config error: {env_file}: holds a password and is readable by others; run: chmod 600 {env_file}\n"
    )
    assert settings_path.read_bytes() == before and backups(settings_path) == []
    env_file.chmod(0o600)
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path), "--env-file", str(env_file))
    assert proc.returncode == 0 and proc.stderr == f"config: {env_file}\n"


def test_missing_env_file_is_a_config_error(tmp_path: Path, settings_path: Path) -> None:
    before = settings_path.read_bytes()
    proc = install(tmp_path, "install-hooks", "--settings", str(settings_path), "--env-file", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "--env-file" in proc.stderr and "does not exist" in proc.stderr
    assert settings_path.read_bytes() == before


@pytest.mark.tmux
def test_installed_command_runs_without_the_venv_on_path(tmp_path: Path, hook_rig: HookRig) -> None:
    """The command written into settings.json works from a shell whose PATH lacks the venv
    (as under claude): the config comes from the carried env file."""
    env_file = tmp_path / "hook.env"
    env_file.write_text(
        "".join(f"{k}={v}\n" for k, v in hook_rig.env.items() if k.startswith(("EMAIL_", "SESSION_", "SMTP_")))
    )
    env_file.chmod(0o600)
    settings = tmp_path / "settings.json"
    assert install(tmp_path, "install-hooks", "--settings", str(settings), "--env-file", str(env_file)).returncode == 0
    command = ours(json.loads(settings.read_text()), "Stop")[0]["command"]
    hook_rig.beat_relay()
    proc = subprocess.run(
        ["/bin/sh", "-c", command],
        input=json.dumps(
            {
                "hook_event_name": "Stop",
                "session_id": "s",
                "cwd": "/srv/app",
                "last_assistant_message": "installed hook ran",
            }
        ).encode(),
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **hook_rig.tmux_env()},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    session = hook_rig.session()
    assert session is not None and session.state == "idle" and session.cwd == "/srv/app"
    (row,) = hook_rig.outbox()
    assert b"installed hook ran" in row.raw


@pytest.mark.parametrize(
    ("content", "missing"),
    [
        ("", "EMAIL_TO and EMAIL_FROM"),
        ("EMAIL_FROM=tp@example.test\n", "EMAIL_TO"),
        ("EMAIL_TO=me@example.test\n", "EMAIL_FROM"),
    ],
)
def test_a_config_without_addresses_is_refused_unless_forced(
    tmp_path: Path, settings_path: Path, content: str, missing: str
) -> None:
    conf = tmp_path / "conf.env"
    conf.write_text(content)
    original = settings_path.read_bytes()
    proc = install(
        tmp_path, "--env-file", str(conf), "install-hooks", "--settings", str(settings_path), addresses=False
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [  # which config (every command says so), then the one error
        f"config: {conf.resolve()}",
        f"install-hooks: {missing} not set in {conf.resolve()}: the hooks would mail nothing; set it, or pass --force",
    ]
    assert settings_path.read_bytes() == original and backups(settings_path) == []

    forced = install(
        tmp_path, "--env-file", str(conf), "install-hooks", "--settings", str(settings_path), "--force", addresses=False
    )
    assert forced.returncode == 0, forced.stderr
    assert len(ours(json.loads(settings_path.read_text()), "Stop")) == 1
    # Uninstalling never needs addresses.
    removed = install(
        tmp_path,
        "--env-file",
        str(conf),
        "install-hooks",
        "--settings",
        str(settings_path),
        "--uninstall",
        addresses=False,
    )
    assert removed.returncode == 0 and ours(json.loads(settings_path.read_text()), "Stop") == []
