"""`taskping relay --once`: every newcomer's mistake ends in one line naming what to check,
with a distinct exit status (2 config, 3 cannot connect, 4 login rejected), against real servers."""

from __future__ import annotations

import pytest

from tests.ops.conftest import Ops, PlainImap, SilentServer, json_lines, relay_env
from tests.support.mailstack import MailStack


def human(ops: Ops, env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    out = ops.run("relay", "--once", "--log-format", "human", *args, env=env)
    return out.returncode, out.stderr.splitlines()


def failure_line(lines: list[str]) -> str:
    fails = [line for line in lines if line.startswith("relay: ")]
    assert len(fails) == 1, lines
    assert not any("Traceback" in line for line in lines), lines
    return fails[0]


def test_wrong_host(ops: Ops, mail_stack: MailStack) -> None:
    code, lines = human(ops, relay_env(mail_stack, IMAP_HOST="no-such-host.invalid"))
    port = mail_stack.imaps_port
    assert code == 3
    assert (
        failure_line(lines) == f"relay: cannot connect to no-such-host.invalid:{port}: host not found (check IMAP_HOST)"
    )


def test_refused_port(ops: Ops, mail_stack: MailStack, closed_port: int) -> None:
    code, lines = human(ops, relay_env(mail_stack, IMAP_PORT=closed_port))
    assert code == 3
    assert failure_line(lines) == (
        f"relay: cannot connect to {mail_stack.host}:{closed_port}: connection refused (check IMAP_PORT and IMAP_HOST)"
    )


def test_tls_on_a_plain_port(ops: Ops, mail_stack: MailStack) -> None:
    """IMAP_SECURE=ssl against Dovecot's plain port: WRONG_VERSION_NUMBER, said in words."""
    code, lines = human(ops, relay_env(mail_stack, IMAP_PORT=mail_stack.imap_port, IMAP_SECURE="ssl"))
    assert code == 3
    line = failure_line(lines)
    assert "does not speak TLS on this port" in line and "IMAP_SECURE=starttls" in line, line


def test_untrusted_certificate(ops: Ops, mail_stack: MailStack) -> None:
    code, lines = human(ops, relay_env(mail_stack, SSL_CERT_FILE=None))
    assert code == 3
    line = failure_line(lines)
    assert "TLS certificate is not trusted" in line and "SSL_CERT_FILE" in line, line


def test_wrong_password(ops: Ops, mail_stack: MailStack) -> None:
    code, lines = human(ops, relay_env(mail_stack, IMAP_PASS="wrong-password"))
    assert code == 4
    assert failure_line(lines) == (
        f"relay: cannot log in to {mail_stack.host}:{mail_stack.imaps_port} as taskping: "
        "AUTHENTICATIONFAILED (check IMAP_USER and IMAP_PASS)"
    )


def test_missing_folder(ops: Ops, mail_stack: MailStack) -> None:
    code, lines = human(ops, relay_env(mail_stack, IMAP_FOLDER="Replies"))
    assert code == 2
    line = failure_line(lines)
    assert line.startswith(
        f"relay: cannot open folder 'Replies' on {mail_stack.host}: no such folder (check IMAP_FOLDER"
    ), line
    assert "INBOX" in line  # the folders the server does have


def test_silent_server_times_out(ops: Ops, mail_stack: MailStack, silent_server: SilentServer) -> None:
    """A server that accepts and says nothing: the TLS handshake gives up after 15 s, in one line."""
    code, lines = human(ops, relay_env(mail_stack, IMAP_PORT=silent_server.port))
    assert code == 3
    assert failure_line(lines) == (
        f"relay: cannot connect to {mail_stack.host}:{silent_server.port}: no answer within 15 s "
        "(check IMAP_HOST and IMAP_PORT, and IMAP_SECURE=ssl: an implicit-TLS port stays silent to a plain client)"
    )


def test_starttls_required(ops: Ops, mail_stack: MailStack, plain_imap: PlainImap) -> None:
    """IMAP_SECURE=starttls and a server that offers no STARTTLS: refused before any password is sent."""
    env = relay_env(mail_stack, IMAP_PORT=plain_imap.port, IMAP_SECURE="starttls", IMAP_PASS=plain_imap.password)
    code, lines = human(ops, env)
    assert code == 3
    line = failure_line(lines)
    assert "does not offer STARTTLS" in line and "never sent in clear" in line, line


def test_secure_none_warns_and_works(ops: Ops, mail_stack: MailStack, plain_imap: PlainImap) -> None:
    env = relay_env(mail_stack, IMAP_PORT=plain_imap.port, IMAP_SECURE="none", IMAP_PASS=plain_imap.password)
    code, lines = human(ops, env)
    assert code == 0, lines
    warnings = [line for line in lines if line.startswith("relay: warning: IMAP_SECURE=none")]
    assert len(warnings) == 1, lines
    assert "in clear" in warnings[0]


@pytest.mark.parametrize(
    ("old", "new", "port_attr"), [("true", "ssl", "imaps_port"), ("false", "starttls", "imap_port")]
)
def test_old_imap_secure_values(ops: Ops, mail_stack: MailStack, old: str, new: str, port_attr: str) -> None:
    env = relay_env(mail_stack, IMAP_SECURE=old, IMAP_PORT=getattr(mail_stack, port_attr))
    code, lines = human(ops, env)
    assert code == 0, lines
    assert f"relay: warning: IMAP_SECURE={old} is deprecated: write IMAP_SECURE={new}" in lines


def test_traceback_only_with_debug(ops: Ops, mail_stack: MailStack) -> None:
    env = relay_env(mail_stack, IMAP_PASS="wrong-password")
    quiet = ops.run("relay", "--once", "--log-format", "human", env=env)
    loud = ops.run("relay", "--once", "--log-format", "human", "--log-level", "debug", env=env)
    assert quiet.returncode == loud.returncode == 4
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "LoginError" in loud.stderr


def test_json_stream_is_only_json(ops: Ops, mail_stack: MailStack) -> None:
    """Off a terminal (the journal, a pipe) every stderr line is JSON, the failure included."""
    out = ops.run("relay", "--once", env=relay_env(mail_stack, IMAP_PASS="wrong-password"))
    assert out.returncode == 4
    events = json_lines(out.stderr)
    failed = [e for e in events if e["event"] == "relay_failed"]
    assert len(failed) == 1 and failed[0]["exit"] == 4 and failed[0]["level"] == "error"
    assert str(failed[0]["line"]).startswith("relay: cannot log in to ")
    assert events[0]["event"] == "config"


def test_config_error_is_exit_2(ops: Ops, mail_stack: MailStack) -> None:
    out = ops.run("relay", "--once", env=relay_env(mail_stack, IMAP_SECURE="tls"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        "config error: IMAP_SECURE: expected one of ssl, starttls, none, got 'tls'"
    )


def test_help_documents_exit_codes(ops: Ops) -> None:
    out = ops.run("relay", "--help", env={})
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    for fragment in ("2 configuration", "3 cannot connect", "4 login rejected", "78 login rejected 3 times"):
        assert fragment in text, out.stdout


@pytest.mark.parametrize(
    ("host", "hint"),
    [
        ("imap.gmail.com", "Gmail needs an app password"),
        ("imap.mail.me.com", "iCloud needs an app-specific password"),
        ("imap.fastmail.com", "Fastmail needs an app password"),
        ("mail.example.org", "check IMAP_USER and IMAP_PASS"),
    ],
)
def test_provider_hints(host: str, hint: str) -> None:
    from taskping.mail_errors import provider_hint

    assert provider_hint(host, "IMAP").startswith(hint)
