"""`taskping doctor` against the test Dovecot: a good config, a wrong password, a missing
folder, SMTP down, and the local checks (hooks, relay, outbox, a pane that is gone)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from taskping.session_map import connect, outbox, sessions
from taskping.session_map.vocabulary import EmailKind
from tests.ops.conftest import Ops, relay_env
from tests.support.claude_fixtures import claude_binary_or_skip
from tests.support.mailstack import MailStack

AUTHSERV = "mx.example.test"


def doctor_env(stack: MailStack, **overrides: str | int | None) -> dict[str, str]:
    return relay_env(stack, TRUSTED_AUTHSERV_ID=AUTHSERV, **overrides)


def doctor(ops: Ops, env: dict[str, str], *args: str, path_extra: str | None = None) -> tuple[int, dict[str, dict]]:
    extra = {"PATH": f"{path_extra}:{os.environ['PATH']}"} if path_extra else None
    out = ops.run("doctor", "--json", *args, env=env, extra_environ=extra)
    report = json.loads(out.stdout)
    assert report["ok"] == (out.returncode == 0), out.stdout
    return out.returncode, {c["name"]: c for c in report["checks"]}


def reply_from_me(stack: MailStack, authserv: str = AUTHSERV) -> None:
    raw = (
        f"Authentication-Results: {authserv}; dmarc=pass header.from=example.test\r\n"
        f"From: me@example.test\r\nTo: taskping@example.test\r\nSubject: Re: hello\r\n"
        f"Message-ID: <r1@example.test>\r\n\r\nhi\r\n"
    ).encode()
    stack.deliver(raw, "taskping", from_="me@example.test")


def test_good_config(ops: Ops, mail_stack: MailStack) -> None:
    reply_from_me(mail_stack)
    code, checks = doctor(ops, doctor_env(mail_stack), "--send-test")
    for name in (
        "config",
        "keys",
        "imap-connect",
        "imap-login",
        "imap-folder",
        "imap-idle",
        "smtp-connect",
        "smtp-login",
        "smtp-send",
        "authserv-id:me@example.test",
        "tmux",
    ):
        assert checks[name]["status"] == "ok", checks[name]
    assert checks["imap-connect"]["detail"].startswith(
        f"IMAP connect: {mail_stack.host}:{mail_stack.imaps_port}, implicit TLS (TLSv1."
    )
    assert checks["imap-folder"]["detail"] == "IMAP folder: INBOX (1 message)"
    assert checks["authserv-id:me@example.test"]["detail"] == (
        f"authserv-id of mail from me@example.test: {AUTHSERV}; TRUSTED_AUTHSERV_ID={AUTHSERV}"
    )
    assert checks["config"]["detail"].endswith("(mode 0600, owner you)")
    # The relay is not running and the hooks are not installed: the doctor says so and fails.
    assert checks["relay"]["status"] == "fail" and checks["hooks"]["status"] == "fail"
    assert code == 1
    # --send-test sent a real message to EMAIL_TO.
    (msg,) = mail_stack.wait_for_messages("me", 1)
    assert b"Subject: TaskPing doctor: test message" in msg.raw
    # Read-only: the reply is neither flagged nor seen, and no relay state was written.
    (stored,) = mail_stack.messages("taskping")
    assert b"\\Seen" not in stored.flags and b"$TaskPingDone" not in stored.flags, stored.flags
    assert not Path(doctor_env(mail_stack)["SESSION_MAP_PATH"]).exists()


def wait_for_heartbeat(db: Path, relay: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while True:
        assert relay.poll() is None and time.monotonic() < deadline, "the relay did not start"
        if db.exists():
            conn = connect(db)
            try:
                if conn.execute("SELECT 1 FROM daemons WHERE role = 'relay'").fetchone():
                    return
            finally:
                conn.close()
        time.sleep(0.1)


def test_everything_green(ops: Ops, mail_stack: MailStack) -> None:
    """Relay running, hooks installed for this env file, claude on PATH: exit 0, and the human lines."""
    claude_dir = str(Path(claude_binary_or_skip()).parent)
    env = doctor_env(mail_stack)
    reply_from_me(mail_stack)
    hooks = ops.run("install-hooks", env=env)
    assert hooks.returncode == 0, hooks.stderr
    relay = ops.relay(env)
    try:
        wait_for_heartbeat(Path(env["SESSION_MAP_PATH"]), relay)
        code, checks = doctor(ops, env, path_extra=claude_dir)
        assert code == 0, {n: c for n, c in checks.items() if c["status"] == "fail"}
        assert checks["relay"]["detail"].startswith(f"relay: running (pid {relay.pid} ")
        assert checks["hooks"]["detail"].endswith(f"reading {ops.tmp / 'env'}")
        assert checks["claude"]["detail"].startswith(f"claude: {claude_dir}/claude (")
        human = ops.run("doctor", env=env, extra_environ={"PATH": f"{claude_dir}:{os.environ['PATH']}"})
        assert human.returncode == 0
        lines = human.stdout.splitlines()
        assert lines[-1] == "all checks passed"
        assert all(line[0] in "✓-" for line in lines[:-1] if not line.startswith("    ")), lines
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(30)


def test_wrong_password(ops: Ops, mail_stack: MailStack) -> None:
    code, checks = doctor(ops, doctor_env(mail_stack, IMAP_PASS="wrong-password", SMTP_PASS="wrong-too"))
    assert code == 1
    login = checks["imap-login"]
    assert login["status"] == "fail"
    assert login["detail"] == (
        f"IMAP login: cannot log in to {mail_stack.host}:{mail_stack.imaps_port} as taskping: "
        "AUTHENTICATIONFAILED (check IMAP_USER and IMAP_PASS)"
    )
    assert login["fix"] == "check IMAP_USER and IMAP_PASS"
    assert checks["imap-folder"]["status"] == "skip" and checks["imap-connect"]["status"] == "ok"
    smtp = checks["smtp-login"]
    assert smtp["status"] == "fail" and smtp["detail"].startswith(
        f"SMTP login: cannot log in to {mail_stack.host}:{mail_stack.smtp_port} as taskping: 535"
    )
    assert smtp["fix"] == "check SMTP_USER and SMTP_PASS"


def test_missing_folder(ops: Ops, mail_stack: MailStack) -> None:
    code, checks = doctor(ops, doctor_env(mail_stack, IMAP_FOLDER="Replies"))
    assert code == 1
    folder = checks["imap-folder"]
    assert folder["status"] == "fail"
    assert folder["detail"] == (
        f"IMAP folder: cannot open folder 'Replies' on {mail_stack.host}: no such folder "
        "(check IMAP_FOLDER; the server has: INBOX)"
    )
    assert checks["imap-idle"]["status"] == "skip" and checks["imap-login"]["status"] == "ok"


def test_smtp_down(ops: Ops, mail_stack: MailStack) -> None:
    mail_stack.stop_smtp()
    code, checks = doctor(ops, doctor_env(mail_stack))
    assert code == 1
    smtp = checks["smtp-connect"]
    assert smtp["status"] == "fail"
    assert smtp["detail"] == (
        f"SMTP connect: cannot connect to {mail_stack.host}:{mail_stack.smtp_port}: "
        "connection refused (check SMTP_PORT and SMTP_HOST)"
    )
    assert checks["smtp-login"]["status"] == "skip"
    assert checks["imap-login"]["status"] == "ok"  # the IMAP side is still checked


def test_untrusted_authserv_id(ops: Ops, mail_stack: MailStack) -> None:
    reply_from_me(mail_stack, authserv="mx.elsewhere.test")
    code, checks = doctor(ops, doctor_env(mail_stack))
    check = checks["authserv-id:me@example.test"]
    assert check["status"] == "fail" and code == 1
    assert check["detail"] == (
        f"authserv-id of mail from me@example.test: mx.elsewhere.test; TRUSTED_AUTHSERV_ID={AUTHSERV}"
    )


def test_outbox_failures_and_gone_panes(ops: Ops, mail_stack: MailStack, tmp_path: Path) -> None:
    env = doctor_env(mail_stack)
    conn = connect(env["SESSION_MAP_PATH"])
    socket = str(tmp_path / "tmux.sock")
    try:
        subprocess.run(["tmux", "-S", socket, "new-session", "-d", "-s", "keep"], check=True)
        subprocess.run(["tmux", "-S", socket, "new-session", "-d", "-s", "gone"], check=True)
        panes = {}
        for name in ("keep", "gone"):
            out = subprocess.run(
                ["tmux", "-S", socket, "display-message", "-p", "-t", name, "#{pane_id}"],
                capture_output=True,
                text=True,
                check=True,
            )
            panes[name] = out.stdout.strip()
            sessions.create(
                conn,
                token=f"tok-{name}",
                name=name,
                kind="tmux",
                target_socket=socket,
                target_pane=panes[name],
                ttl=3600,
            )
        subprocess.run(["tmux", "-S", socket, "kill-session", "-t", "gone"], check=True)
        row_id = outbox.enqueue(
            conn,
            message_id="<m1@example.test>",
            session_id=None,
            kind=EmailKind.STOP,
            to_addr="me@example.test",
            raw=b"x",
        )
        outbox.mark_failed(conn, row_id, "recipients refused: 550 5.1.1 no such user")
        code, checks = doctor(ops, env)
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True)
        conn.close()
    assert code == 1
    assert checks["sessions"]["status"] == "fail"
    assert checks["sessions"]["detail"] == "sessions: 1 of 2 tracked have no tmux pane any more: gone"
    assert checks["sessions"]["fix"] == "taskping sessions --prune"
    assert checks["outbox"]["status"] == "fail"
    assert checks["outbox"]["detail"] == (
        "outbox: 0 queued, 1 failed: failed <m1@example.test> after 0 attempt(s): "
        "recipients refused: 550 5.1.1 no such user"
    )


def test_bad_config_is_one_failure(ops: Ops, mail_stack: MailStack) -> None:
    code, checks = doctor(ops, doctor_env(mail_stack, IMAP_SECURE="tls"))
    assert code == 1 and list(checks) == ["config"]
    assert checks["config"]["detail"] == "config: IMAP_SECURE: expected one of ssl, starttls, none, got 'tls'"
