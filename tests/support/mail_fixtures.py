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

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.support import prereqs
from tests.support.mailstack import LOOPBACK, MailStack, TLSFiles, cut_and_close

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


class _Refusing:
    """aiosmtpd handler hooks: each answer follows the server's mode when the command arrives."""

    def __init__(self, owner: BrokenSMTP) -> None:
        self.owner = owner

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        if session.ssl is not None and "STARTTLS" not in self.owner.commands:
            self.owner.commands.append("STARTTLS")  # aiosmtpd has no STARTTLS hook: the EHLO after it shows it
        self.owner.commands.append(f"EHLO {hostname}")
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.owner.commands.append(f"MAIL FROM:<{address}>")
        if self.owner.mode == "451-mail":
            return "451 4.3.0 Mail server temporarily rejected message"
        envelope.mail_from = address
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.owner.commands.append(f"RCPT TO:<{address}>")
        if self.owner.mode == "550-rcpt":
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.owner.commands.append("DATA")
        return "451 4.3.0 Temporary failure after data" if self.owner.mode == "451-data" else "250 2.0.0 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        self.owner.commands.append(f"AUTH {mechanism}")
        # handled=False: aiosmtpd itself answers a failure with 535 5.7.8
        return AuthResult(success=self.owner.mode != "535-auth", handled=False)


class _NoSMTP(asyncio.Protocol):
    """A connection that never gets as far as SMTP: greeted with 421, dropped, or left silent."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if self.mode == "421-connect":
            transport.write(b"421 4.3.2 Service not available, closing transmission channel\r\n")  # type: ignore[attr-defined]
            transport.close()
        elif self.mode == "drop":
            transport.close()
        # "silent": read whatever comes, never answer


class BrokenSMTP:
    """An SMTP server on loopback (aiosmtpd) that fails on purpose.

    Modes (``mode`` may be changed while it runs; it applies to new connections
    and to the next command):

    * ``"421-connect"``  greets with ``421 4.3.2`` and closes
    * ``"drop"``         accepts the TCP connection and closes it at once
    * ``"silent"``       accepts and never says anything (client timeouts)
    * ``"535-auth"``     every AUTH fails with ``535 5.7.8``
    * ``"451-mail"``     AUTH succeeds, MAIL FROM gets ``451 4.3.0``
    * ``"550-rcpt"``     RCPT TO gets ``550 5.1.1``
    * ``"451-data"``     the message is read, then ``451 4.3.0`` after the final dot

    The SMTP modes are aiosmtpd's server with handler hooks that answer as the
    mode says; the first three are a bare protocol chosen per connection. With
    ``tls`` it offers STARTTLS with that certificate. ``connections`` counts
    accepted connections; ``commands`` records the commands the hooks saw
    (``EHLO``, ``STARTTLS``, ``AUTH <mechanism>``, ``MAIL``, ``RCPT``, ``DATA``;
    never credentials).
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
        self._handler = _Refusing(self)
        self._protocols: list[asyncio.BaseProtocol] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> BrokenSMTP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _protocol(self) -> asyncio.BaseProtocol:
        """One per accepted connection, as the mode is now."""
        self.connections += 1
        protocol: asyncio.BaseProtocol
        if self.mode in ("421-connect", "drop", "silent"):
            protocol = _NoSMTP(self.mode)
        else:
            protocol = SMTP(
                self._handler,
                hostname="broken.example.test",
                ident="test server",
                tls_context=self.tls.server_context() if self.tls else None,
                require_starttls=False,
                auth_required=False,
                auth_require_tls=False,
                authenticator=self._handler.authenticate,
            )
        self._protocols.append(protocol)
        return protocol

    def start(self) -> BrokenSMTP:
        """Listen on a free loopback port, serving on an event loop in a background thread."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="broken-smtp", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(loop.create_server(self._protocol, self.host, 0), loop).result(
            10
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop listening, cut every connection, end the loop and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        # a generator: the transports are read on the loop's thread, when cut_and_close runs
        transports = (t for p in self._protocols if (t := getattr(p, "transport", None)) is not None)
        try:
            asyncio.run_coroutine_threadsafe(
                cut_and_close([self._server] if self._server else [], transports), loop
            ).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            self._loop = self._thread = self._server = None

    def env(self, secure: str | None = None) -> dict[str, str]:
        """SMTP_* overrides for TaskPing: STARTTLS when it has TLS, else none."""
        return {
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.port),
            "SMTP_SECURE": secure or ("starttls" if self.tls else "none"),
        }


@pytest.fixture
def broken_smtp(request: pytest.FixtureRequest) -> Iterator[BrokenSMTP]:
    """A failing SMTP server; mode from indirect parametrization, default ``451-mail``."""
    mode = getattr(request, "param", "451-mail")
    tls: TLSFiles | None = None
    if "mail_stack" in request.fixturenames:
        tls = request.getfixturevalue("mail_stack").tls
    with BrokenSMTP(mode, tls=tls) as server:
        yield server
