"""The test mail stack itself: real Dovecot, real SMTP, real TLS."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.support import prereqs
from tests.support.mail_fixtures import BrokenSMTP
from tests.support.mailstack import MailStack, _pgrp_members

pytestmark = pytest.mark.mail


def make_message(subject: str, to: str = "me@example.test", from_: str = "taskping@example.test") -> bytes:
    """A small RFC 5322 message as bytes with CRLF line ends."""
    msg = EmailMessage()
    msg["From"] = from_
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(f"body of {subject}\n")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


# --------------------------------------------------------------------- SMTP


def test_submission_with_auth_over_starttls_reaches_imap(mail_stack: MailStack) -> None:
    ctx = ssl.create_default_context(cafile=str(mail_stack.ca_file))
    with smtplib.SMTP(mail_stack.host, mail_stack.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth"), "AUTH must not be offered before STARTTLS"
        smtp.starttls(context=ctx)
        smtp.ehlo()
        assert smtp.has_extn("auth")
        smtp.login("taskping", mail_stack.users["taskping"])
        smtp.sendmail("taskping@example.test", ["me@example.test"], make_message("over starttls"))

    (msg,) = mail_stack.wait_for_messages("me", 1, timeout=5)
    assert b"Subject: over starttls" in msg.raw
    assert b"\\Seen" not in msg.flags
    (sub,) = mail_stack.submissions
    assert sub.login == "taskping" and sub.tls and sub.rcpt_tos == ["me@example.test"]


def test_submission_requires_auth(mail_stack: MailStack) -> None:
    ctx = ssl.create_default_context(cafile=str(mail_stack.ca_file))
    with smtplib.SMTP(mail_stack.host, mail_stack.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("taskping@example.test", ["me@example.test"], make_message("no auth"))
        assert refused.value.smtp_code == 530
    with smtplib.SMTP(mail_stack.host, mail_stack.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("taskping", "wrong password")
    assert mail_stack.messages("me") == []


def test_implicit_tls_and_plain_smtp_ports(mail_stack: MailStack) -> None:
    ctx = ssl.create_default_context(cafile=str(mail_stack.ca_file))
    with smtplib.SMTP_SSL(mail_stack.host, mail_stack.smtps_port, context=ctx, timeout=10) as smtp:
        smtp.login("taskping", mail_stack.users["taskping"])
        smtp.sendmail("taskping@example.test", ["me@example.test"], make_message("implicit tls"))
    with smtplib.SMTP(mail_stack.host, mail_stack.smtp_plain_port, timeout=10) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        smtp.login("taskping", mail_stack.users["taskping"])
        smtp.sendmail("taskping@example.test", ["me@example.test"], make_message("plain"))
    subjects = [m.raw.split(b"Subject: ")[1].split(b"\r\n")[0] for m in mail_stack.wait_for_messages("me", 2)]
    assert subjects == [b"implicit tls", b"plain"]


def test_stack_without_smtp_auth() -> None:
    prereqs.require("dovecot")
    with MailStack([("me", "pw")], smtp_auth=False) as stack:
        with smtplib.SMTP(stack.host, stack.smtp_plain_port, timeout=10) as smtp:
            smtp.sendmail("phone@elsewhere.test", ["me@example.test"], make_message("open relay"))
        assert len(stack.wait_for_messages("me", 1)) == 1


def test_unknown_recipients_land_in_sink(mail_stack: MailStack) -> None:
    raw = make_message("mixed", to="me@example.test, someone@elsewhere.test")
    mail_stack.send(raw, ["someone@elsewhere.test", "me@example.test", "nobody@example.test"], "taskping@example.test")
    sink = mail_stack.wait_for_sink(2)
    assert sorted(m.rcpt_to for m in sink) == ["nobody@example.test", "someone@elsewhere.test"]
    assert all(m.raw == raw and m.mail_from == "taskping@example.test" for m in sink)
    assert len(mail_stack.wait_for_messages("me", 1)) == 1


def test_smtp_outage_and_recovery_on_same_port(mail_stack: MailStack) -> None:
    port = mail_stack.smtp_port
    mail_stack.stop_smtp()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((mail_stack.host, port), timeout=2).close()
    mail_stack.start_smtp()
    assert mail_stack.smtp_port == port
    mail_stack.send(make_message("after outage"), "me", "taskping@example.test")
    assert len(mail_stack.wait_for_messages("me", 1)) == 1


def test_stop_smtp_cuts_open_connections(mail_stack: MailStack) -> None:
    ctx = ssl.create_default_context(cafile=str(mail_stack.ca_file))
    smtp = smtplib.SMTP(mail_stack.host, mail_stack.smtp_port, timeout=5)
    try:
        smtp.starttls(context=ctx)
        smtp.login("taskping", mail_stack.users["taskping"])
        mail_stack.stop_smtp()
        with pytest.raises((smtplib.SMTPServerDisconnected, OSError)):
            smtp.sendmail("taskping@example.test", ["me@example.test"], make_message("cut"))
    finally:
        smtp.close()


# --------------------------------------------------------------------- IMAP


def test_imap_implicit_tls_login_with_the_ca(mail_stack: MailStack) -> None:
    ctx = ssl.create_default_context(cafile=str(mail_stack.ca_file))
    with IMAPClient(mail_stack.host, port=mail_stack.imaps_port, ssl=True, ssl_context=ctx, timeout=10) as client:
        client.login("taskping", mail_stack.users["taskping"])
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(
            mail_stack.host,
            port=mail_stack.imaps_port,
            ssl=True,
            ssl_context=ssl.create_default_context(cafile=None),
            timeout=10,
        )
    with IMAPClient(mail_stack.host, port=mail_stack.imaps_port, ssl=True, ssl_context=ctx, timeout=10) as client:
        with pytest.raises(IMAPClient.Error):
            client.login("taskping", "wrong password")


def test_imap_plain_port_offers_starttls(mail_stack: MailStack) -> None:
    with IMAPClient(mail_stack.host, port=mail_stack.imap_port, ssl=False, timeout=10) as client:
        assert b"STARTTLS" in client.capabilities()
        client.starttls(ssl.create_default_context(cafile=str(mail_stack.ca_file)))
        client.login("me", mail_stack.users["me"])
        client.select_folder("INBOX")


def test_messages_do_not_set_seen(mail_stack: MailStack) -> None:
    mail_stack.deliver(make_message("peek"), "me")
    for _ in range(2):
        (msg,) = mail_stack.messages("me")
        assert msg.uid == 1 and b"\\Seen" not in msg.flags
        assert msg.raw.endswith(b"body of peek\r\n")


def test_idle_wakes_up_on_delivery(mail_stack: MailStack) -> None:
    with mail_stack.imap("taskping") as client:
        client.select_folder("INBOX")
        client.idle()
        started = time.monotonic()
        mail_stack.deliver(make_message("wake up", to="taskping@example.test"), "taskping")
        responses = client.idle_check(timeout=5)
        elapsed = time.monotonic() - started
        client.idle_done()
    assert (1, b"EXISTS") in responses, responses
    assert elapsed < 3


def test_kick_drops_the_connection(mail_stack: MailStack) -> None:
    client = mail_stack.imap("taskping")
    try:
        client.select_folder("INBOX")
        client.idle()
        assert mail_stack.kick("taskping") is True
        deadline = time.monotonic() + 5
        dropped = False
        while time.monotonic() < deadline and not dropped:
            try:
                responses = client.idle_check(timeout=1)
            except (OSError, IMAPClient.AbortError):
                dropped = True
                break
            dropped = any(r and r[0] == b"BYE" for r in responses)
        assert dropped
        with pytest.raises((OSError, IMAPClient.AbortError, IMAPClient.Error)):
            client.idle_done()
            client.noop()
    finally:
        client.shutdown()
    assert mail_stack.imap("taskping").logout()  # a new login still works
    assert mail_stack.kick("taskping") is False  # nobody left to kick


def test_restart_keeps_uidvalidity_and_mail(mail_stack: MailStack) -> None:
    mail_stack.deliver(make_message("before restart"), "me")
    before = mail_stack.uidvalidity("me")
    old_pid = mail_stack.dovecot_pid
    client = mail_stack.imap("me")
    mail_stack.restart_dovecot()
    assert mail_stack.dovecot_pid != old_pid
    with pytest.raises((OSError, IMAPClient.AbortError, IMAPClient.Error)):
        client.noop()
    client.shutdown()
    assert mail_stack.uidvalidity("me") == before
    mail_stack.deliver(make_message("after restart"), "me")
    assert [m.uid for m in mail_stack.messages("me")] == [1, 2]


def test_set_uidvalidity_changes_it(mail_stack: MailStack) -> None:
    mail_stack.deliver(make_message("one"), "me")
    before = mail_stack.uidvalidity("me")
    mail_stack.set_uidvalidity("me", "INBOX", before + 1000)
    assert mail_stack.uidvalidity("me") == before + 1000


def test_add_user_after_start(mail_stack: MailStack) -> None:
    address = mail_stack.add_user("late", "late-pw")
    assert address == "late@example.test"
    mail_stack.send(make_message("to late", to=address), address, "me@example.test")
    assert len(mail_stack.wait_for_messages("late", 1)) == 1


def test_wait_for_messages_times_out(mail_stack: MailStack) -> None:
    with pytest.raises(TimeoutError):
        mail_stack.wait_for_messages("me", 1, timeout=0.2)


# ---------------------------------------------------------- TaskPing config


def test_taskping_env_is_valid_config(mail_stack: MailStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from taskping.config import load_settings

    env = mail_stack.taskping_env(IMAP_FOLDER="Replies", ACK_EMAILS=None)
    assert env["SMTP_SECURE"] == "starttls" and env["SMTP_PORT"] == str(mail_stack.smtp_port)
    assert env["IMAP_PORT"] == str(mail_stack.imaps_port) and env["IMAP_SECURE"] == "ssl"
    assert env["EMAIL_TO"] == "me@example.test" and env["IMAP_FOLDER"] == "Replies"
    monkeypatch.chdir(mail_stack.dir)  # no stray ./.env
    settings = load_settings(environ={**env, "TASKPING_ENV_FILE": ""})
    assert settings.imap_user == "taskping" and settings.email_from == "taskping@example.test"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ctx = settings.tls_context()
    with socket.create_connection((mail_stack.host, mail_stack.imaps_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=env["IMAP_HOST"]) as tls:
            assert tls.recv(100).startswith(b"* OK")


# ------------------------------------------------------------- broken SMTP


@pytest.mark.parametrize(
    ("broken_smtp", "error"),
    [
        ("421-connect", smtplib.SMTPConnectError),
        ("drop", smtplib.SMTPServerDisconnected),
        ("535-auth", smtplib.SMTPAuthenticationError),
        ("451-mail", smtplib.SMTPSenderRefused),
        ("550-rcpt", smtplib.SMTPRecipientsRefused),
        ("451-data", smtplib.SMTPDataError),
    ],
    indirect=["broken_smtp"],
)
def test_broken_smtp_refuses(broken_smtp: BrokenSMTP, error: type[Exception]) -> None:
    with pytest.raises(error):
        with smtplib.SMTP(broken_smtp.host, broken_smtp.port, timeout=5) as smtp:
            smtp.login("taskping", "x")
            smtp.sendmail("taskping@example.test", ["me@example.test"], make_message("refused"))
    assert broken_smtp.connections == 1


def test_broken_smtp_silent_times_out() -> None:
    with BrokenSMTP("silent") as server:
        with pytest.raises((TimeoutError, socket.timeout, smtplib.SMTPServerDisconnected)):
            smtplib.SMTP(server.host, server.port, timeout=0.3)


def test_broken_smtp_offers_starttls_with_the_stack_ca(mail_stack: MailStack, broken_smtp: BrokenSMTP) -> None:
    assert mail_stack.taskping_env(**broken_smtp.env())["SMTP_PORT"] == str(broken_smtp.port)
    with smtplib.SMTP(broken_smtp.host, broken_smtp.port, timeout=5) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=str(mail_stack.ca_file)))
        smtp.login("taskping", "x")
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("taskping@example.test", ["me@example.test"], make_message("refused"))
    assert refused.value.smtp_code == 451
    auth = [i for i, c in enumerate(broken_smtp.commands) if c.startswith("AUTH ")]
    assert auth and broken_smtp.commands.index("STARTTLS") < auth[0], broken_smtp.commands  # credentials over TLS


# ----------------------------------------------------------------- cleanup


def test_start_is_fast_and_stop_cleans_everything() -> None:
    prereqs.require("dovecot")
    stack = MailStack([("me", "pw")])
    stack.start()
    try:
        master = stack.dovecot_pid
        assert master is not None
        directory = stack.dir
        assert directory is not None and directory.is_dir()
        stack.deliver(make_message("x"), "me")
        stack.imap("me").logout()
        started = set(_pgrp_members(master))
        assert master in started and len(started) > 1
        assert stack.startup_seconds is not None and stack.startup_seconds < 2.0
    finally:
        stack.stop()
    assert stack.stop_seconds is not None and stack.stop_seconds < 3.0
    assert not any(_alive(pid) for pid in started), "a Dovecot process outlived stop()"
    assert _pgrp_members(master) == []
    assert not directory.exists()
    stack.stop()  # idempotent


def test_stack_in_a_given_base_dir_leaves_nothing(tmp_path: Path) -> None:
    prereqs.require("dovecot")
    stack = MailStack([("me", "pw")], base=tmp_path)
    stack.start()
    stack.stop()
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- prereqs


def test_require_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="bin/test"):
        prereqs.require("no-such-tool-taskping")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="bin/test"):
        prereqs.require("no-such-tool-taskping")
    assert prereqs.require("openssl").endswith("openssl")


def test_claude_binary_checks_the_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("TASKPING_TEST_CLAUDE", str(fake))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"2\.1\.328"):
        prereqs.claude_binary()
    good = tmp_path / "claude-good"
    good.write_text("#!/bin/sh\necho '2.1.328 (Claude Code)'\n")
    good.chmod(0o755)
    monkeypatch.setenv("TASKPING_TEST_CLAUDE", str(good))
    assert prereqs.claude_binary() == str(good)


def test_stop_still_stops_dovecot_when_smtp_stop_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    prereqs.require("dovecot")
    stack = MailStack([("me", "pw")]).start()
    master = stack.dovecot_pid
    assert master is not None
    directory = stack.dir
    real_stop = stack._smtp.stop

    def failing_stop() -> None:
        real_stop()
        raise RuntimeError("SMTP stop failed")

    monkeypatch.setattr(stack._smtp, "stop", failing_stop)
    with pytest.raises(RuntimeError, match="SMTP stop failed"):
        stack.stop()
    assert _pgrp_members(master) == [] and not _alive(master)
    assert directory is not None and not directory.exists()
