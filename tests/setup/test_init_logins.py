"""`taskping init`'s login checks and --learn-from-reply against the test Dovecot + SMTP front.

Real IMAP and SMTP servers on loopback (tests/support/mailstack.py) with a
throw-away CA given through SSL_CERT_FILE, as a person with a private CA
would. Each check must print ✓/✗ with the fix, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
from email.message import EmailMessage
from email.policy import SMTP as smtp_policy
from pathlib import Path

import pytest

from taskping.relay.parse import parse
from taskping.session_map import connect, ledger
from tests.support.cli import BIN
from tests.support.mail_fixtures import TASKPING_PASSWORD
from tests.support.mailstack import MailStack, free_ports


def args_for(
    stack: MailStack,
    home: Path,
    password: str = TASKPING_PASSWORD,
    *,
    imap_port: int | None = None,
    smtp_port: int | None = None,
    imap_secure: str = "ssl",
    smtp_secure: str = "ssl",
) -> list[str]:
    pw = home / "pw"
    pw.write_text(password + "\n")
    return [
        "--provider",
        "other",
        "--address",
        stack.address("taskping"),
        "--user",
        "taskping",
        "--phone",
        stack.address("me"),
        "--password-file",
        str(pw),
        "--imap-host",
        stack.host,
        "--imap-port",
        str(imap_port or stack.imaps_port),
        "--imap-secure",
        imap_secure,
        "--smtp-host",
        stack.host,
        "--smtp-port",
        str(smtp_port or stack.smtps_port),
        "--smtp-secure",
        smtp_secure,
        "--force",
    ]


def env_for(stack: MailStack | None, home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("TASKPING_ENV_FILE", "XDG_STATE_HOME", "SSL_CERT_FILE")}
    return {**clean, "HOME": str(home), **({"SSL_CERT_FILE": str(stack.ca_file)} if stack else {})}


def init(home: Path, args: list[str], stack: MailStack | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "taskping"), "init", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=env_for(stack, home),
        stdin=subprocess.DEVNULL,
    )


def lines(out: str, service: str) -> str:
    found = [line for line in out.splitlines() if line[2:].startswith(service)]
    assert len(found) == 1, out
    return found[0]


def test_good_logins_over_implicit_tls(mail_stack: MailStack, tmp_path: Path) -> None:
    ran = init(tmp_path, args_for(mail_stack, tmp_path), mail_stack)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(ran.stdout, "IMAP").startswith("✓") and "logged in as taskping" in lines(ran.stdout, "IMAP")
    assert lines(ran.stdout, "SMTP").startswith("✓")
    assert "Traceback" not in ran.stderr


def test_good_logins_over_starttls(mail_stack: MailStack, tmp_path: Path) -> None:
    args = args_for(
        mail_stack,
        tmp_path,
        imap_port=mail_stack.imap_port,
        imap_secure="starttls",
        smtp_port=mail_stack.smtp_port,
        smtp_secure="starttls",
    )
    ran = init(tmp_path, args, mail_stack)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(ran.stdout, "IMAP").startswith("✓") and lines(ran.stdout, "SMTP").startswith("✓")


def test_wrong_password_gives_the_app_password_hint(mail_stack: MailStack, tmp_path: Path) -> None:
    ran = init(tmp_path, args_for(mail_stack, tmp_path, password="not-the-password"), mail_stack)
    assert ran.returncode == 1
    for service in ("IMAP", "SMTP"):
        line = lines(ran.stdout, service)
        assert line.startswith("✗") and "login was refused for taskping" in line and "app password" in line
    assert "Traceback" not in ran.stderr
    assert (tmp_path / ".config" / "taskping" / "env").is_file()  # written; the check says what to fix


def test_closed_ports_are_named(mail_stack: MailStack, tmp_path: Path) -> None:
    imap, smtp = free_ports(2)
    ran = init(tmp_path, args_for(mail_stack, tmp_path, imap_port=imap, smtp_port=smtp), mail_stack)
    assert ran.returncode == 1
    assert lines(ran.stdout, "IMAP").startswith("✗") and f"nothing listens on port {imap}" in ran.stdout
    assert lines(ran.stdout, "SMTP").startswith("✗") and f"nothing listens on port {smtp}" in ran.stdout
    assert "Traceback" not in ran.stderr


def test_tls_problems_say_which_setting_to_check(mail_stack: MailStack, tmp_path: Path) -> None:
    wrong_mode = init(tmp_path, args_for(mail_stack, tmp_path, imap_port=mail_stack.imap_port), mail_stack)
    assert wrong_mode.returncode == 1
    assert "TLS failed" in lines(wrong_mode.stdout, "IMAP") and "IMAP_SECURE" in lines(wrong_mode.stdout, "IMAP")
    untrusted = init(tmp_path, args_for(mail_stack, tmp_path), None)  # no SSL_CERT_FILE: the test CA is unknown
    assert untrusted.returncode == 1
    for service in ("IMAP", "SMTP"):
        assert "certificate is not trusted" in lines(untrusted.stdout, service)
    assert "Traceback" not in wrong_mode.stderr + untrusted.stderr


def test_no_check_tries_nothing(mail_stack: MailStack, tmp_path: Path) -> None:
    imap, smtp = free_ports(2)
    ran = init(tmp_path, [*args_for(mail_stack, tmp_path, imap_port=imap, smtp_port=smtp), "--no-check"], mail_stack)
    assert ran.returncode == 0 and "IMAP" not in ran.stdout


def _reply_to(stack: MailStack, test_mail: bytes, header: str) -> bytes:
    note = parse(test_mail)
    msg = EmailMessage()
    msg["From"] = f"Me <{stack.address('me')}>"
    msg["To"] = stack.address("taskping")
    msg["Subject"] = f"Re: {note.subject}"
    msg["Message-ID"] = "<learn-reply@example.test>"
    msg["In-Reply-To"] = note.message_id or ""
    msg.set_content("ok\n\nSent from my iPhone")
    return f"Authentication-Results: {header}\r\n".encode() + msg.as_bytes(policy=smtp_policy)


LEARN_CASES = [
    (
        "mx.example.test; dkim=pass header.d=example.test; dmarc=pass header.from=example.test",
        0,
        "TRUSTED_AUTHSERV_ID='mx.example.test'",
        "SENDER_AUTH='authres'",
    ),
    (
        (
            "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.test; dkim=pass header.d=example.test; "
            "dmarc=pass action=none header.from=example.test"
        ),
        0,
        "SENDER_AUTH='dkim'",
        None,
    ),
    (
        "mx.example.test; dkim=fail header.d=example.test; dmarc=fail header.from=example.test",
        1,
        "SENDER_AUTH='dkim'",
        "would be refused",
    ),
]


@pytest.mark.parametrize(("header", "code", "in_file", "said"), LEARN_CASES, ids=["provider-id", "microsoft", "fails"])
def test_learn_from_reply_reads_the_real_header(
    mail_stack: MailStack, tmp_path: Path, header: str, code: int, in_file: str, said: str | None
) -> None:
    args = [*args_for(mail_stack, tmp_path), "--learn-from-reply", "--learn-timeout", "60"]
    proc = subprocess.Popen(
        [str(BIN / "taskping"), "init", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env_for(mail_stack, tmp_path),
    )
    try:
        test_mail = mail_stack.wait_for_messages("me", 1, timeout=30)[0].raw
        mail_stack.deliver(_reply_to(mail_stack, test_mail, header), "taskping", from_=mail_stack.address("me"))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, out + err
    assert "Traceback" not in err
    text = (tmp_path / ".config" / "taskping" / "env").read_text()
    assert in_file in text
    if said:
        assert said in text or said in out
    assert f"Authentication-Results: {header}" in out  # the header it used, shown
    db = tmp_path / ".local" / "state" / "taskping" / "taskping.db"  # the default under init's HOME
    assert db.is_file()
    conn = connect(db)
    try:
        recorded = [e for e in ledger.entries(conn) if e.message_id == "<learn-reply@example.test>"]
    finally:
        conn.close()
    assert [e.status for e in recorded] == ["dropped"]  # the relay's first run will not answer it
