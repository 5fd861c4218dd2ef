"""The demo's mail provider on its own: real pymap and aiosmtpd servers on loopback.

What the relay relies on: the SMTP front stamps a verdict only it could have
written (look-alikes with its id are deleted), says ``dmarc=pass`` only when
the From header is the logged-in user, refuses mail without a login or for
other domains, and IMAP IDLE wakes on delivery with whole lines (imapclient's
``idle_check`` rejects a half line).
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy

import imapclient
import pytest

from taskping.demo.mailhost import MailHost, start_mailhost
from taskping.demo.smtp import AUTHSERV_ID

YOU = "you@taskping-demo.test"
RELAY = "taskping@taskping-demo.test"


@pytest.fixture
def host() -> Iterator[MailHost]:
    mail = start_mailhost(("you", "taskping"))
    try:
        yield mail
    finally:
        mail.stop()


def _send(host: MailHost, login: str, raw: bytes, to: str = RELAY) -> None:
    with smtplib.SMTP("127.0.0.1", host.smtp_port, timeout=10) as smtp:
        smtp.login(login, host.passwords[login])
        smtp.sendmail(f"{login}@taskping-demo.test", [to], raw)


def _inbox(host: MailHost, user: str) -> list[bytes]:
    client = imapclient.IMAPClient("127.0.0.1", port=host.imap_port, ssl=False, timeout=10)
    try:
        client.login(user, host.passwords[user])
        client.select_folder("INBOX")
        uids = client.search(["ALL"])
        return [bytes(d[b"BODY[]"]) for _, d in sorted(client.fetch(uids, ["BODY.PEEK[]"]).items())] if uids else []
    finally:
        client.logout()


def _verdicts(raw: bytes) -> list[str]:
    msg = message_from_bytes(raw, policy=default_policy)
    return [" ".join(str(v).split()) for v in msg.get_all("Authentication-Results") or []]


def test_from_the_logged_in_user_passes(host: MailHost) -> None:
    _send(host, "you", f"From: You <{YOU}>\r\nTo: {RELAY}\r\nSubject: hi\r\n\r\nhello\r\n".encode())
    [raw] = _inbox(host, "taskping")
    assert _verdicts(raw) == [f"{AUTHSERV_ID}; auth=pass smtp.auth={YOU}; dmarc=pass header.from=taskping-demo.test"]
    assert raw.endswith(b"\r\n\r\nhello\r\n")  # the message itself is passed on as sent


def test_a_from_that_is_not_the_login_fails_dmarc(host: MailHost) -> None:
    # the relay's own account writes as if it were the phone: the verdict says so
    _send(host, "taskping", f"From: You <{YOU}>\r\nTo: {RELAY}\r\nSubject: hi\r\n\r\nhello\r\n".encode())
    [raw] = _inbox(host, "taskping")
    assert _verdicts(raw) == [f"{AUTHSERV_ID}; auth=pass smtp.auth={RELAY}; dmarc=fail header.from=taskping-demo.test"]


def test_a_forged_verdict_with_our_id_is_deleted(host: MailHost) -> None:
    forged = (
        f"Authentication-Results: {AUTHSERV_ID};\r\n dmarc=pass header.from=taskping-demo.test\r\n"
        "Authentication-Results: other.example; dmarc=pass\r\n"
        f"From: {YOU}, someone@else.test\r\nTo: {RELAY}\r\nSubject: hi\r\n\r\nhello\r\n"
    ).encode()
    _send(host, "you", forged)
    [raw] = _inbox(host, "taskping")
    verdicts = _verdicts(raw)
    assert verdicts[0].endswith("dmarc=fail header.from=taskping-demo.test")  # two From addresses: not the login
    assert verdicts[1:] == ["other.example; dmarc=pass"]  # another server's header stays; ours was replaced


def test_mail_needs_a_login_and_a_local_recipient(host: MailHost) -> None:
    with smtplib.SMTP("127.0.0.1", host.smtp_port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused):
            smtp.sendmail(YOU, [RELAY], b"Subject: x\r\n\r\nx\r\n")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("you", "wrong password")
    with smtplib.SMTP("127.0.0.1", host.smtp_port, timeout=10) as smtp:
        smtp.login("you", host.passwords["you"])
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail(YOU, ["someone@gmail.com"], b"Subject: x\r\n\r\nx\r\n")
    assert _inbox(host, "taskping") == []


def test_idle_wakes_on_each_delivery(host: MailHost) -> None:
    client = imapclient.IMAPClient("127.0.0.1", port=host.imap_port, ssl=False, timeout=10)
    try:
        client.login("taskping", host.passwords["taskping"])
        assert client.has_capability("IDLE")
        client.select_folder("INBOX")
        for n in range(1, 6):
            client.idle()
            _send(host, "you", f"From: {YOU}\r\nTo: {RELAY}\r\nSubject: {n}\r\n\r\nbody {n}\r\n".encode())
            seen: list[object] = []
            while (n, b"EXISTS") not in seen:
                responses = client.idle_check(timeout=10)  # raises on a half line
                assert responses, f"IDLE did not wake for message {n}"
                seen += responses
            client.idle_done()
    finally:
        client.logout()


def test_idle_updates_arrive_as_whole_lines(host: MailHost) -> None:
    """pymap writes ``* 1 FETCH `` and ``(FLAGS ())`` separately; the demo sends each response whole.

    A reader blocked in recv() sees every piece the server sends on its own,
    so each chunk must end a line (imapclient's idle_check, used by the relay,
    aborts on ``unterminated line`` otherwise).
    """
    sock = socket.create_connection(("127.0.0.1", host.imap_port), timeout=10)
    reader = sock.makefile("rb")
    try:
        reader.readline()  # greeting
        for tag, command in ((b"a", b"LOGIN taskping " + host.passwords["taskping"].encode()), (b"b", b"SELECT INBOX")):
            sock.sendall(tag + b" " + command + b"\r\n")
            while not reader.readline().startswith(tag + b" OK"):
                pass
        sock.sendall(b"c IDLE\r\n")
        assert reader.readline().startswith(b"+")
        _send(host, "you", f"From: {YOU}\r\nTo: {RELAY}\r\nSubject: x\r\n\r\nx\r\n".encode())
        chunks: list[bytes] = []
        while not any(b"FETCH" in c for c in chunks) or not chunks[-1].endswith(b"\r\n"):
            chunk = sock.recv(65536)
            assert chunk, f"connection closed; got {chunks!r}"
            chunks.append(chunk)
        assert all(c.endswith(b"\r\n") for c in chunks), chunks
        assert b"".join(chunks) == b"* 1 EXISTS\r\n* 1 FETCH (FLAGS ())\r\n"
    finally:
        reader.close()
        sock.close()
