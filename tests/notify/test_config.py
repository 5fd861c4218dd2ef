"""The configuration contract: file resolution, overlay, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskping.config import ConfigError, load_settings


def test_defaults_and_types(tmp_path: Path) -> None:
    s = load_settings(environ={"HOME": str(tmp_path)})
    assert s.imap_port == 993 and s.imap_secure == "ssl" and s.imap_folder == "INBOX"
    assert s.smtp_port == 465 and s.smtp_secure == "ssl"
    assert s.injection_mode == "tmux" and s.tmux_session_prefix == "taskping" and s.token_ttl == 86400
    assert s.allowed_slash_commands == ("compact", "clear", "cost", "context")


def test_environment_overrides_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "tp.env"
    env_file.write_text("IMAP_HOST=file.example\nIMAP_PORT=143\nALLOWED_SENDERS=Me@Example.com, you@example.org\n")
    s = load_settings(env_file, environ={"IMAP_PORT": "1993"})
    assert s.imap_host == "file.example"
    assert s.imap_port == 1993
    assert s.allowed_senders == ("me@example.com", "you@example.org")
    assert s.env_file == env_file.resolve()


def test_env_file_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    (home / ".config" / "taskping").mkdir(parents=True)
    (home / ".config" / "taskping" / "env").write_text("IMAP_HOST=from-home\n")
    monkeypatch.setenv("HOME", str(home))
    assert load_settings(environ={}).imap_host == "from-home"
    (tmp_path / ".env").write_text("IMAP_HOST=from-cwd\n")
    assert load_settings(environ={}).imap_host == "from-home"  # ./.env is never a source
    named = tmp_path / "named.env"
    named.write_text("IMAP_HOST=from-var\n")
    assert load_settings(environ={"TASKPING_ENV_FILE": str(named)}).imap_host == "from-var"
    explicit = tmp_path / "explicit.env"
    explicit.write_text("IMAP_HOST=from-flag\n")
    assert load_settings(explicit, environ={"TASKPING_ENV_FILE": str(named)}).imap_host == "from-flag"


def test_dot_env_in_the_current_directory_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repository's .env must not redirect Claude's replies: with EMAIL_TO only in ./.env, it is unset."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    (tmp_path / ".env").write_text("EMAIL_TO=attacker@evil.example\nSESSION_MAP_PATH=/tmp/evil.db\n")
    settings = load_settings(environ={})
    assert settings.email_to is None and settings.env_file is None
    assert settings.session_map_path != Path("/tmp/evil.db")


@pytest.mark.parametrize(
    ("environ", "key", "fragment"),
    [
        ({"IMAP_PORT": "abc"}, "IMAP_PORT", "whole number"),
        ({"IMAP_PORT": "70000"}, "IMAP_PORT", "between 1 and 65535"),
        ({"SMTP_SECURE": "tls"}, "SMTP_SECURE", "ssl, starttls, none"),
        ({"IMAP_SECURE": "maybe"}, "IMAP_SECURE", "ssl, starttls, none"),
        ({"EMAIL_FROM": "Me <me@x.com>"}, "EMAIL_FROM", "plain address"),
        ({"ALLOWED_SENDERS": " , "}, "ALLOWED_SENDERS", "at least one"),
        ({"INJECTION_MODE": "screen"}, "INJECTION_MODE", "tmux, pty"),
        ({"TOKEN_TTL": "5"}, "TOKEN_TTL", "between"),
        ({"TMUX_SESSION_PREFIX": "a.b"}, "TMUX_SESSION_PREFIX", "without"),
    ],
)
def test_bad_values_name_the_key(environ: dict[str, str], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=environ)
    assert info.value.key == key
    assert str(info.value).startswith(f"config error: {key}: ")
    assert fragment in str(info.value)


def test_missing_named_env_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/nonexistent/taskping.env", environ={})


def test_secrets_never_printed(tmp_path: Path) -> None:
    s = load_settings(environ={"IMAP_PASS": "hunter2-secret", "SMTP_PASS": "smtp-secret"})
    assert "hunter2" not in repr(s) and "smtp-secret" not in repr(s)
    assert s.public_dict()["IMAP_PASS"] == "********"


def test_require_names_missing_key() -> None:
    s = load_settings(environ={})
    with pytest.raises(ConfigError, match="SMTP_HOST: is required"):
        s.require("smtp_host")
    with pytest.raises(ConfigError, match="SENDER_AUTH"):
        s.require_sender_auth()
    assert load_settings(environ={"TRUSTED_AUTHSERV_ID": "mx.example"}).require_sender_auth() == "authres"


def test_cli_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "IMAP_PORT": "nope", "HOME": str(tmp_path), "SMTP_PASS": "s3cret-value"}
    out = subprocess.run(
        [sys.executable, "-m", "taskping", "sessions"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 2
    assert out.stderr.strip() == "config error: IMAP_PORT: expected a whole number, got 'nope'"
    assert "s3cret" not in out.stdout + out.stderr


# --- an env file holding a password must be private (as ssh insists for keys)


def _password_file(tmp_path: Path, mode: int, body: str = "SMTP_PASS=s3cret-value\nEMAIL_TO=me@example.test\n") -> Path:
    path = tmp_path / "pw.env"
    path.write_text(body)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("mode", "how"), [(0o644, "readable"), (0o640, "readable"), (0o604, "readable"), (0o620, "writable")]
)
def test_password_file_open_to_others_is_refused(tmp_path: Path, mode: int, how: str) -> None:
    path = _password_file(tmp_path, mode)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value) == (f"config error: {path}: holds a password and is {how} by others; run: chmod 600 {path}")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("key", ["IMAP_PASS", "SMTP_PASS"])
def test_each_password_key_counts(tmp_path: Path, key: str) -> None:
    path = _password_file(tmp_path, 0o644, f"{key}=pw\n")
    with pytest.raises(ConfigError, match="holds a password"):
        load_settings(path, environ={})


def test_private_password_file_and_shared_file_without_password_are_read(tmp_path: Path) -> None:
    assert load_settings(_password_file(tmp_path, 0o600), environ={}).smtp_pass == "s3cret-value"
    assert load_settings(_password_file(tmp_path, 0o400), environ={}).smtp_pass == "s3cret-value"
    # No password in the file (an empty one is none): addresses and hosts may be shared.
    shared = _password_file(tmp_path, 0o644, "EMAIL_TO=me@example.test\nSMTP_PASS=\n")
    settings = load_settings(shared, environ={"SMTP_PASS": "from-environment"})
    assert settings.email_to == "me@example.test" and settings.smtp_pass == "from-environment"


def test_password_file_check_follows_a_symlink_to_the_real_file(tmp_path: Path) -> None:
    real = _password_file(tmp_path, 0o644)
    link = tmp_path / "link.env"
    link.symlink_to(real)
    with pytest.raises(ConfigError) as info:
        load_settings(link, environ={})
    assert str(info.value).endswith(f"run: chmod 600 {real}")


def test_password_file_with_a_space_gets_a_quoted_chmod_line(tmp_path: Path) -> None:
    path = tmp_path / "my config.env"
    path.write_text("IMAP_PASS=pw\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value).endswith(f"run: chmod 600 '{path}'")


def test_cli_refuses_readable_password_file_in_one_line_exit_2(tmp_path: Path) -> None:
    path = _password_file(tmp_path, 0o644)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "taskping", "--env-file", str(path), "sessions"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"config error: {path}: holds a password and is readable by others; run: chmod 600 {path}\n"


# --- every interactive command names its config file on stderr; the hook says nothing


def _cli(
    tmp_path: Path, *args: str, cwd: Path | None = None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8", **(extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "taskping", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=cwd or tmp_path,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def named_env(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "taskping.env"
    path.parent.mkdir()
    path.write_text(
        f"SESSION_MAP_PATH={tmp_path}/state/taskping.db\nEMAIL_FROM=tp@example.test\nEMAIL_TO=me@example.test\n"
        "SMTP_HOST=127.0.0.1\nSMTP_PORT=9\nSMTP_SECURE=none\nSMTP_PASS=pw\n"
    )
    path.chmod(0o600)
    return path


# Each command with arguments that make it finish at once after loading the configuration.
COMMANDS = {
    "sessions": ("sessions",),
    "install-hooks": ("install-hooks", "--settings", "{tmp}/claude/settings.json"),
    "send-outbox": ("send-outbox", "--max-seconds", "0"),
    "spawn": ("spawn", "--cwd", "{tmp}/no-such-dir", "--", "true"),
    "relay": ("relay", "--once", "--log-format", "human"),  # stops at the missing IMAP settings, after loading the file
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_interactive_commands_name_their_config_file(tmp_path: Path, named_env: Path, command: str) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[command]]
    out = _cli(tmp_path, "--env-file", str(named_env), *args)
    assert out.stderr.splitlines()[0] == f"config: {named_env}", out.stderr
    assert "config:" not in out.stdout
    by_variable = _cli(tmp_path, *args, extra={"TASKPING_ENV_FILE": str(named_env)})
    assert by_variable.stderr.splitlines()[0] == f"config: {named_env}", by_variable.stderr


def test_no_config_file_is_said_and_a_dot_env_is_named_as_not_read(tmp_path: Path) -> None:
    out = _cli(tmp_path, "sessions", extra={"SESSION_MAP_PATH": str(tmp_path / "state" / "taskping.db")})
    default = tmp_path / "home" / ".config" / "taskping" / "env"
    assert out.returncode == 0
    assert out.stderr == f"config: no env file (none given, {default} absent): environment and defaults only\n"
    (tmp_path / ".env").write_text("EMAIL_TO=attacker@evil.example\n")
    out = _cli(tmp_path, "sessions", extra={"SESSION_MAP_PATH": str(tmp_path / "state" / "taskping.db")})
    assert out.returncode == 0
    assert out.stderr.splitlines() == [
        (
            f"config: no env file (none given, {default} absent): environment and defaults only; "
            "./.env is not read (pass --env-file .env to use it)"
        )
    ]


def test_send_outbox_quiet_prints_nothing(tmp_path: Path, named_env: Path) -> None:
    out = _cli(tmp_path, "--env-file", str(named_env), "send-outbox", "--max-seconds", "0", "--quiet")
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


def test_hook_does_not_name_its_config_file(tmp_path: Path, named_env: Path) -> None:
    """The hook runs inside Claude: silent on stdout and stderr (it logs to the file)."""
    out = _cli(tmp_path, "--env-file", str(named_env), "hook", "Stop")
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
