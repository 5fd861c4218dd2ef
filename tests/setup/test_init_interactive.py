"""`taskping init` at a terminal: it asks for what no flag gave, the password without echo,
and asks before replacing an existing file. A real pseudo-terminal (pexpect)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pexpect

from taskping.config import load_settings
from tests.support.cli import BIN


def spawn(home: Path, *args: str) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k not in ("TASKPING_ENV_FILE", "XDG_STATE_HOME")}
    return pexpect.spawn(
        str(BIN / "taskping"), ["init", *args], env={**env, "HOME": str(home)}, encoding="utf-8", timeout=30
    )


def test_questions_then_a_private_file(tmp_path: Path) -> None:
    child = spawn(tmp_path, "--no-check")
    shown = io.StringIO()
    child.logfile_read = shown  # everything the terminal displayed
    try:
        child.expect("Provider of TaskPing's mailbox")
        child.sendline("icloud")
        child.expect("App-Specific Passwords")
        child.expect("TaskPing's mailbox address")
        child.sendline("relay@icloud.com")
        child.expect("The address you will reply from")
        child.sendline("me@example.net")
        child.expect(r"App password \(not shown\): ")
        child.sendline("abcd-efgh-ijkl-mnop")
        child.expect("wrote")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert "relay@icloud.com" in shown.getvalue()  # typed answers echo…
    assert "abcd-efgh-ijkl-mnop" not in shown.getvalue()  # …the password does not
    path = tmp_path / ".config" / "taskping" / "env"
    s = load_settings(path, environ={})
    assert (s.imap_host, s.smtp_port, s.smtp_secure, s.imap_pass, s.email_to) == (
        "imap.mail.me.com",
        587,
        "starttls",
        "abcd-efgh-ijkl-mnop",
        "me@example.net",
    )


def test_an_existing_file_is_replaced_only_on_yes(tmp_path: Path) -> None:
    path = tmp_path / ".config" / "taskping" / "env"
    path.parent.mkdir(parents=True)
    path.write_text("IMAP_HOST=mine\n")
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    flags = (
        "--provider",
        "gmail",
        "--address",
        "r@gmail.com",
        "--phone",
        "me@example.net",
        "--password-file",
        str(pw),
        "--no-check",
    )
    for answer, code, host in (("n", 2, None), ("y", 0, "imap.gmail.com")):
        child = spawn(tmp_path, *flags)
        try:
            child.expect(r"exists\. Replace it\? \[y/N\] ")
            child.sendline(answer)
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == code
        if host is None:
            assert path.read_text() == "IMAP_HOST=mine\n"
        else:
            assert load_settings(path, environ={}).imap_host == host
            assert path.stat().st_mode & 0o777 == 0o600
