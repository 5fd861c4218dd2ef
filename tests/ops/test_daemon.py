"""The daemon under a service manager: login rejections end it with 78 (not retried blindly),
network failures are retried, and it speaks systemd's notify protocol on $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.conftest import Ops, json_lines, relay_env
from tests.support.mailstack import MailStack


def wait_exit(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return wait_exit(proc, 30)


class NotifyListener:
    """The service manager's end of $NOTIFY_SOCKET: a datagram socket the test reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[dict[str, str]] = []

    def next(self, timeout: float = 30) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines())
        self.messages.append(fields)
        return fields

    def until(self, key: str, timeout: float = 30) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.next(max(0.1, deadline - time.monotonic()))
            if msg is not None and key in msg:
                return msg
        raise AssertionError(f"no {key} within {timeout} s; got {self.messages}")

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifyListener]:
    listener = NotifyListener(tmp_path / "notify.sock")
    try:
        yield listener
    finally:
        listener.close()


def auth_failures(stack: MailStack) -> int:
    return stack.log_file.read_text(errors="replace").count("auth failed")


def test_three_rejected_logins_end_the_daemon_with_78(
    ops: Ops, mail_stack: MailStack, notify_socket: NotifyListener
) -> None:
    before = auth_failures(mail_stack)
    proc = ops.relay(
        relay_env(mail_stack, IMAP_PASS="wrong-password"), extra_environ={"NOTIFY_SOCKET": str(notify_socket.path)}
    )
    code = wait_exit(proc)
    assert code == 78
    events = json_lines((ops.tmp / "relay.stderr").read_text())
    failed = [e for e in events if e["event"] == "relay_failed"]
    assert len(failed) == 1 and failed[0]["exit"] == 78
    assert str(failed[0]["line"]).endswith(
        "AUTHENTICATIONFAILED (check IMAP_USER and IMAP_PASS); gave up after 3 rejections in a row"
    )
    assert sum(1 for e in events if e["event"] == "imap_failed") == 2
    # Dovecot saw exactly three attempts: no blind retries after that.
    deadline = time.monotonic() + 5
    while auth_failures(mail_stack) - before < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert auth_failures(mail_stack) - before == 3
    # Never READY: a wrong password must not look like a running service.
    seen = []
    while (msg := notify_socket.next(0.2)) is not None:
        seen.append(msg)
    assert not any("READY" in m for m in seen), seen
    assert any(m.get("STOPPING") == "1" for m in seen), seen


def test_network_failures_keep_retrying(ops: Ops, mail_stack: MailStack, closed_port: int) -> None:
    proc = ops.relay(relay_env(mail_stack, IMAP_PORT=closed_port))
    try:
        stderr = ops.tmp / "relay.stderr"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if stderr.read_text().count('"imap_failed"') >= 4:
                break
            assert proc.poll() is None, stderr.read_text()
            time.sleep(0.1)
        assert proc.poll() is None
    finally:
        code = stop(proc)
    assert code == 0
    events = json_lines((ops.tmp / "relay.stderr").read_text())
    retries = [e for e in events if e["event"] == "imap_failed"]
    assert len(retries) >= 4
    assert all(e["kind"] == "connect" and "connection refused" in str(e["line"]) for e in retries)
    delays = [float(e["retry_in"]) for e in retries]  # type: ignore[arg-type]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]


def test_notify_protocol(ops: Ops, mail_stack: MailStack, notify_socket: NotifyListener) -> None:
    """READY=1 with STATUS= after the first pass, WATCHDOG=1 when asked for, STOPPING=1 at SIGTERM."""
    proc = ops.relay(
        relay_env(mail_stack),
        extra_environ={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "400000"},
    )
    try:
        ready = notify_socket.until("READY")
        assert ready["READY"] == "1"
        assert ready["STATUS"] == "watching INBOX; 0 sessions; no message yet"
        notify_socket.until("WATCHDOG")
        notify_socket.until("WATCHDOG")  # again: it keeps pinging
        # A message arrives (a stranger's, refused): STATUS= says what happened to it.
        mail_stack.deliver(
            b"From: stranger@example.test\r\nTo: taskping@example.test\r\nSubject: hi\r\n"
            b"Message-ID: <s1@example.test>\r\n\r\nls\r\n",
            "taskping",
        )
        deadline = time.monotonic() + 30
        while "last message" not in (status := notify_socket.until("STATUS")["STATUS"]):
            assert time.monotonic() < deadline, notify_socket.messages
        assert status.startswith("watching INBOX; 0 sessions; last message "), status
        assert proc.poll() is None
    finally:
        code = stop(proc)
    assert code == 0
    stopping = notify_socket.until("STOPPING", timeout=5)
    assert stopping["STOPPING"] == "1"
    assert sum(1 for m in notify_socket.messages if "READY" in m) == 1
    json_lines((ops.tmp / "relay.stderr").read_text())  # the daemon's stderr: JSON only


def test_watchdog_for_another_pid_is_ignored(ops: Ops, mail_stack: MailStack, notify_socket: NotifyListener) -> None:
    """WATCHDOG_PID names the process the watchdog is for; the relay pings only when that is itself."""
    proc = ops.relay(
        relay_env(mail_stack),
        extra_environ={
            "NOTIFY_SOCKET": str(notify_socket.path),
            "WATCHDOG_USEC": "200000",
            "WATCHDOG_PID": str(os.getpid()),
        },
    )
    try:
        notify_socket.until("READY")
        while (msg := notify_socket.next(1.0)) is not None:
            assert "WATCHDOG" not in msg, msg
    finally:
        assert stop(proc) == 0
