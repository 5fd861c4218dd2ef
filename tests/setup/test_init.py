"""`taskping init` with flags: the file written for each provider, its mode, and refusals.

The real CLI in a subprocess with a throw-away HOME; each written file is read
back with TaskPing's own loader (:func:`taskping.config.load_settings`), which
also enforces the 0600 rule for a file holding a password.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from taskping.config import load_settings
from tests.support.cli import BIN

PASSWORD = "abcd efgh ijkl mnop"


@dataclass
class Ran:
    code: int
    out: str
    err: str


def init(home: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Ran:
    clean = {k: v for k, v in os.environ.items() if k not in ("TASKPING_ENV_FILE", "XDG_STATE_HOME", "SSL_CERT_FILE")}
    proc = subprocess.run(
        [str(BIN / "taskping"), "init", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "HOME": str(home), **(env or {})},
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr)


def scripted(home: Path, provider: str, *extra: str) -> Ran:
    pw = home / "pw"
    pw.write_text(PASSWORD + "\n")
    return init(
        home,
        "--provider",
        provider,
        "--address",
        "relay@example.org",
        "--phone",
        "me@example.net",
        "--password-file",
        str(pw),
        "--no-check",
        *extra,
    )


def default_file(home: Path) -> Path:
    return home / ".config" / "taskping" / "env"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# provider: (IMAP host, port, secure, SMTP host, port, secure, SENDER_AUTH, TRUSTED_AUTHSERV_ID)
EXPECTED = {
    "gmail": ("imap.gmail.com", 993, "ssl", "smtp.gmail.com", 465, "ssl", "authres", ("mx.google.com",)),
    "fastmail": (
        "imap.fastmail.com",
        993,
        "ssl",
        "smtp.fastmail.com",
        465,
        "ssl",
        "authres",
        ("*.messagingengine.com",),
    ),
    "icloud": ("imap.mail.me.com", 993, "ssl", "smtp.mail.me.com", 587, "starttls", "authres", ("*.icloud.com",)),
    "yahoo": ("imap.mail.yahoo.com", 993, "ssl", "smtp.mail.yahoo.com", 465, "ssl", "authres", ("*.yahoo.com",)),
}


@pytest.mark.parametrize("provider", sorted(EXPECTED))
def test_each_provider_writes_a_private_config_taskping_reads(tmp_path: Path, provider: str) -> None:
    ran = scripted(tmp_path, provider)
    assert ran.code == 0, ran.err
    path = default_file(tmp_path)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    s = load_settings(path, environ={})
    assert (
        s.imap_host,
        s.imap_port,
        s.imap_secure,
        s.smtp_host,
        s.smtp_port,
        s.smtp_secure,
        s.sender_auth,
        s.trusted_authserv_id,
    ) == EXPECTED[provider]
    assert (s.imap_user, s.smtp_user, s.imap_pass, s.smtp_pass) == (
        "relay@example.org",
        "relay@example.org",
        PASSWORD,
        PASSWORD,
    )
    assert (s.email_from, s.email_to, s.allowed_senders) == ("relay@example.org", "me@example.net", ("me@example.net",))
    assert s.require_sender_auth() == "authres"
    assert PASSWORD not in ran.out + ran.err


def test_gmail_says_two_step_verification_comes_first(tmp_path: Path) -> None:
    ran = scripted(tmp_path, "gmail")
    assert "2-Step Verification" in ran.out and "myaccount.google.com/apppasswords" in ran.out


def test_outlook_says_plainly_it_is_not_supported_and_writes_nothing(tmp_path: Path) -> None:
    ran = scripted(tmp_path, "outlook")
    assert ran.code == 2
    assert len(ran.err.strip().splitlines()) == 1
    assert "OAuth2" in ran.err and "not supported yet" in ran.err and "SENDER_AUTH=dkim" in ran.err
    assert not default_file(tmp_path).exists()


def test_other_needs_hosts_and_defaults_to_dkim(tmp_path: Path) -> None:
    missing = scripted(tmp_path, "other")
    assert missing.code == 2 and "--imap-host is required" in missing.err
    assert not default_file(tmp_path).exists()
    ran = scripted(
        tmp_path,
        "other",
        "--imap-host",
        "mail.example.org",
        "--smtp-host",
        "mail.example.org",
        "--smtp-port",
        "587",
        "--smtp-secure",
        "starttls",
        "--user",
        "relay",
    )
    assert ran.code == 0, ran.err
    s = load_settings(default_file(tmp_path), environ={})
    assert (s.imap_host, s.smtp_port, s.smtp_secure, s.imap_user, s.sender_auth, s.trusted_authserv_id) == (
        "mail.example.org",
        587,
        "starttls",
        "relay",
        "dkim",
        (),
    )


def test_an_explicit_authserv_id_means_authres(tmp_path: Path) -> None:
    ran = scripted(
        tmp_path,
        "other",
        "--imap-host",
        "h.example.org",
        "--smtp-host",
        "h.example.org",
        "--trusted-authserv-id",
        "mail.example.org",
    )
    assert ran.code == 0, ran.err
    s = load_settings(default_file(tmp_path), environ={})
    assert (s.sender_auth, s.trusted_authserv_id) == ("authres", ("mail.example.org",))


def test_an_existing_file_is_never_replaced_without_force(tmp_path: Path) -> None:
    path = default_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("IMAP_HOST=mine\n")
    path.chmod(0o644)
    ran = scripted(tmp_path, "gmail")
    assert ran.code == 2 and "already exists" in ran.err and "--force" in ran.err
    assert path.read_text() == "IMAP_HOST=mine\n"
    forced = scripted(tmp_path, "gmail", "--force")
    assert forced.code == 0, forced.err
    assert mode(path) == 0o600
    assert load_settings(path, environ={}).imap_host == "imap.gmail.com"
    assert [p.name for p in path.parent.iterdir()] == ["env"]  # no temporary file left


def test_env_file_flag_and_variable_choose_the_file(tmp_path: Path) -> None:
    chosen = tmp_path / "elsewhere" / "taskping.env"
    ran = scripted(tmp_path, "fastmail", "--env-file", str(chosen))
    assert ran.code == 0, ran.err
    assert mode(chosen) == 0o600 and not default_file(tmp_path).exists()
    by_variable = tmp_path / "by-var.env"
    pw = tmp_path / "pw"
    ran = init(
        tmp_path,
        "--provider",
        "yahoo",
        "--address",
        "r@example.org",
        "--phone",
        "me@example.net",
        "--password-file",
        str(pw),
        "--no-check",
        env={"TASKPING_ENV_FILE": str(by_variable)},
    )
    assert ran.code == 0, ran.err
    assert load_settings(by_variable, environ={}).imap_host == "imap.mail.yahoo.com"


def test_a_password_from_stdin_with_awkward_characters_reads_back_the_same(tmp_path: Path) -> None:
    awkward = "a#b 'c\" d\\e$f"
    ran = init(
        tmp_path,
        "--provider",
        "gmail",
        "--address",
        "r@example.org",
        "--phone",
        "me@example.net",
        "--password-stdin",
        "--no-check",
        stdin=awkward + "\n",
    )
    assert ran.code == 0, ran.err
    assert load_settings(default_file(tmp_path), environ={}).imap_pass == awkward


def test_values_that_cannot_be_stored_or_are_bad_are_refused_with_the_key(tmp_path: Path) -> None:
    expands = init(
        tmp_path,
        "--provider",
        "gmail",
        "--address",
        "r@example.org",
        "--phone",
        "me@example.net",
        "--password-stdin",
        "--no-check",
        stdin="pa${HOME}ss\n",
    )
    assert expands.code == 2 and "IMAP_PASS" in expands.err and "${...}" in expands.err
    assert "pa${HOME}ss" not in expands.err
    bad_phone = scripted(tmp_path, "gmail", "--phone", "not an address")
    assert bad_phone.code == 2 and "EMAIL_TO" in bad_phone.err
    same = scripted(tmp_path, "gmail", "--phone", "relay@example.org")
    assert same.code == 2 and "--phone must differ" in same.err
    no_password = init(
        tmp_path, "--provider", "gmail", "--address", "r@example.org", "--phone", "me@example.net", "--no-check"
    )
    assert no_password.code == 2 and "--password-file or --password-stdin" in no_password.err
    assert not default_file(tmp_path).exists()
