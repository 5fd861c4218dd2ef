"""SMTP failures are stored and reported in the same one-line words as IMAP's (send-outbox, the relay)."""

from __future__ import annotations

from taskping.session_map import connect, outbox
from taskping.session_map.vocabulary import EmailKind
from tests.ops.conftest import Ops, relay_env
from tests.support.mailstack import MailStack


def queue_one(env: dict[str, str]) -> None:
    conn = connect(env["SESSION_MAP_PATH"])
    try:
        outbox.enqueue(
            conn,
            message_id="<n1@example.test>",
            session_id=None,
            kind=EmailKind.STOP,
            to_addr="me@example.test",
            raw=b"Subject: hi\r\n\r\nhello\r\n",
        )
    finally:
        conn.close()


def last_error(env: dict[str, str]) -> str:
    conn = connect(env["SESSION_MAP_PATH"])
    try:
        (row,) = outbox.rows(conn)
        assert row.status == "queued" and row.attempts == 1, row  # kept for a retry, not lost
        return str(row.last_error)
    finally:
        conn.close()


def test_smtp_down(ops: Ops, mail_stack: MailStack) -> None:
    env = relay_env(mail_stack)
    queue_one(env)
    mail_stack.stop_smtp()
    ops.run("send-outbox", "--max-seconds", "0", env=env)
    assert last_error(env) == (
        f"cannot connect to {mail_stack.host}:{mail_stack.smtp_port}: connection refused "
        "(check SMTP_PORT and SMTP_HOST)"
    )


def test_smtp_wrong_password(ops: Ops, mail_stack: MailStack) -> None:
    env = relay_env(mail_stack, SMTP_PASS="wrong-password")
    queue_one(env)
    ops.run("send-outbox", "--max-seconds", "0", env=env)
    error = last_error(env)
    assert error.startswith(f"cannot log in to {mail_stack.host}:{mail_stack.smtp_port} as taskping: 535"), error
    assert error.endswith("(check SMTP_USER and SMTP_PASS)"), error


def test_smtp_tls_mismatch(ops: Ops, mail_stack: MailStack) -> None:
    """SMTP_SECURE=ssl against the STARTTLS port."""
    env = relay_env(mail_stack, SMTP_SECURE="ssl")
    queue_one(env)
    ops.run("send-outbox", "--max-seconds", "0", env=env)
    error = last_error(env)
    assert error.startswith(f"cannot connect to {mail_stack.host}:{mail_stack.smtp_port}: "), error
    assert "SMTP_SECURE" in error and "\n" not in error, error
