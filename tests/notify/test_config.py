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
    assert s.imap_port == 993 and s.imap_secure is True and s.imap_folder == "INBOX"
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
    assert load_settings(environ={}).imap_host == "from-cwd"
    named = tmp_path / "named.env"
    named.write_text("IMAP_HOST=from-var\n")
    assert load_settings(environ={"TASKPING_ENV_FILE": str(named)}).imap_host == "from-var"


@pytest.mark.parametrize(
    ("environ", "key", "fragment"),
    [
        ({"IMAP_PORT": "abc"}, "IMAP_PORT", "whole number"),
        ({"IMAP_PORT": "70000"}, "IMAP_PORT", "between 1 and 65535"),
        ({"SMTP_SECURE": "tls"}, "SMTP_SECURE", "ssl, starttls, none"),
        ({"IMAP_SECURE": "maybe"}, "IMAP_SECURE", "true or false"),
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
