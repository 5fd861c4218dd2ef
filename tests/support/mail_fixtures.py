"""pytest plugin: the real mail stack and a deliberately broken SMTP server.

Fixtures:

* ``mail_stack``  a started :class:`~tests.support.mailstack.MailStack` with
  users ``me`` (the person; ``me@example.test`` is EMAIL_TO) and ``taskping``
  (the account TaskPing reads and sends as). Function-scoped; stopped after.
* ``mail_env``    ``mail_stack.taskping_env()``: TaskPing's env keys for the stack.
* ``broken_smtp`` a :class:`BrokenSMTP` on loopback that accepts connections
  and then fails as its ``mode`` says (``"451-mail"`` unless the test is
  parametrized indirectly, e.g.
  ``@pytest.mark.parametrize("broken_smtp", ["421-connect"], indirect=True)``;
  ``broken_smtp.mode`` can also be changed at any time). When the test also
  uses ``mail_stack``, it offers STARTTLS with the stack's certificate, so
  ``mail_stack.taskping_env(**broken_smtp.env())`` points TaskPing at it.

Using any mail fixture requires Dovecot (skip, or fail in CI, when missing).
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from tests.support import prereqs
from tests.support.mailstack import LOOPBACK, MailStack, TLSFiles

PERSON = "me"
PERSON_PASSWORD = "me-secret-pw"
TASKPING = "taskping"
TASKPING_PASSWORD = "taskping-secret-pw"


def default_users() -> list[tuple[str, str]]:
    """The users every ``mail_stack`` has: the person and TaskPing's account."""
    return [(PERSON, PERSON_PASSWORD), (TASKPING, TASKPING_PASSWORD)]


@pytest.fixture
def mail_stack() -> Iterator[MailStack]:
    """A running Dovecot + SMTP front with users ``me`` and ``taskping``."""
    prereqs.require("dovecot")
    prereqs.require("openssl")
    with MailStack(default_users()) as stack:
        yield stack


@pytest.fixture
def mail_env(mail_stack: MailStack) -> dict[str, str]:
    """TaskPing's configuration (env keys) pointing at ``mail_stack`` as ``taskping``."""
    return mail_stack.taskping_env()


# ------------------------------------------------------------- broken SMTP


class BrokenSMTP:
    """A small SMTP server on loopback that fails on purpose.

    Modes (``mode`` may be changed while it runs; it applies to new connections
    and to the next command):

    * ``"421-connect"``  greets with ``421 4.3.2`` and closes
    * ``"drop"``         accepts the TCP connection and closes it at once
    * ``"silent"``       accepts and never says anything (client timeouts)
    * ``"535-auth"``     every AUTH fails with ``535 5.7.8``
    * ``"451-mail"``     AUTH succeeds, MAIL FROM gets ``451 4.3.0``
    * ``"550-rcpt"``     RCPT TO gets ``550 5.1.1``
    * ``"451-data"``     the message is read, then ``451 4.3.0`` after the final dot

    With ``tls`` it offers STARTTLS with that certificate. ``connections``
    counts accepted connections; ``commands`` records every command line.
    """

    MODES = ("421-connect", "drop", "silent", "535-auth", "451-mail", "550-rcpt", "451-data")

    def __init__(self, mode: str = "451-mail", tls: TLSFiles | None = None) -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(self.MODES)}")
        self.mode = mode
        self.tls = tls
        self.host = LOOPBACK
        self.port = 0
        self.connections = 0
        self.commands: list[str] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __enter__(self) -> BrokenSMTP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> BrokenSMTP:
        """Listen on a free loopback port and serve in a background thread."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="broken-smtp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, close every connection, join the threads."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            for conn in list(self._conns):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    conn.close()
        for worker in self._workers:
            worker.join(5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def env(self, secure: str | None = None) -> dict[str, str]:
        """SMTP_* overrides for TaskPing: STARTTLS when it has TLS, else none."""
        return {
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.port),
            "SMTP_SECURE": secure or ("starttls" if self.tls else "none"),
        }

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with self._lock:
                self._conns.add(conn)
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._workers.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._session(conn)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        sock: socket.socket | ssl.SSLSocket = conn
        mode = self.mode
        if mode == "drop":
            return
        if mode == "silent":
            while not self._stopping.is_set():
                try:
                    if not conn.recv(4096):
                        return
                except TimeoutError:
                    continue
            return
        if mode == "421-connect":
            conn.sendall(b"421 4.3.2 Service not available, closing transmission channel\r\n")
            return
        conn.sendall(b"220 broken.example.test ESMTP test server\r\n")
        buffer = b""
        in_data = False
        tls_on = False
        pending_auth = 0  # AUTH answer lines still expected from the client

        def reply(line: str) -> None:
            sock.sendall(line.encode() + b"\r\n")

        while not self._stopping.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            buffer += chunk
            while b"\r\n" in buffer:
                line, buffer = buffer.split(b"\r\n", 1)
                if in_data:
                    if line == b".":
                        in_data = False
                        reply("451 4.3.0 Temporary failure after data" if self.mode == "451-data" else "250 2.0.0 OK")
                    continue
                text = line.decode("utf-8", "replace")
                self.commands.append("<auth data>" if pending_auth else text)
                verb = text.split(" ", 1)[0].upper()
                mode = self.mode
                if pending_auth:
                    pending_auth -= 1
                    if pending_auth:
                        reply("334 " + base64.b64encode(b"Password:").decode())
                    else:
                        reply("535 5.7.8 Authentication credentials invalid" if mode == "535-auth"
                              else "235 2.7.0 Authentication successful")
                elif verb in ("EHLO", "HELO"):
                    lines = ["broken.example.test", "AUTH PLAIN LOGIN", "8BITMIME"]
                    if self.tls and not tls_on:
                        lines.insert(1, "STARTTLS")
                    for i, item in enumerate(lines):
                        reply(("250 " if i == len(lines) - 1 else "250-") + item)
                elif verb == "STARTTLS" and self.tls and not tls_on:
                    reply("220 2.0.0 Ready to start TLS")
                    sock = self.tls.server_context().wrap_socket(conn, server_side=True)
                    sock.settimeout(0.2)
                    tls_on = True
                    buffer = b""
                elif verb == "AUTH":
                    parts = text.split()
                    if len(parts) == 2 and parts[1].upper() == "LOGIN":
                        # two challenges; answers are read as ordinary lines below
                        reply("334 " + base64.b64encode(b"Username:").decode())
                        pending_auth = 2
                        continue
                    if len(parts) == 2 and parts[1].upper() == "PLAIN":
                        reply("334 ")
                        pending_auth = 1
                        continue
                    reply("535 5.7.8 Authentication credentials invalid" if mode == "535-auth"
                          else "235 2.7.0 Authentication successful")
                elif verb == "MAIL":
                    reply("451 4.3.0 Mail server temporarily rejected message" if mode == "451-mail"
                          else "250 2.1.0 OK")
                elif verb == "RCPT":
                    reply("550 5.1.1 No such user here" if mode == "550-rcpt" else "250 2.1.5 OK")
                elif verb == "DATA":
                    reply("354 End data with <CR><LF>.<CR><LF>")
                    in_data = True
                elif verb in ("RSET", "NOOP"):
                    reply("250 2.0.0 OK")
                elif verb == "QUIT":
                    reply("221 2.0.0 Bye")
                    return
                else:
                    reply("502 5.5.2 Command not implemented")


@pytest.fixture
def broken_smtp(request: pytest.FixtureRequest) -> Iterator[BrokenSMTP]:
    """A failing SMTP server; mode from indirect parametrization, default ``451-mail``."""
    mode = getattr(request, "param", "451-mail")
    tls: TLSFiles | None = None
    if "mail_stack" in request.fixturenames:
        tls = request.getfixturevalue("mail_stack").tls
    with BrokenSMTP(mode, tls=tls) as server:
        yield server
