"""The demo's IMAP server: pymap's in-memory backend, served on a loopback port.

pymap is a maintained asyncio IMAP server; its ``dict`` backend keeps every
mailbox in memory, advertises IDLE and wakes idling clients as soon as a
message is appended, which is all the demo needs: nothing is written to disk
and nothing outlives the demo process. Users are added with a known password
(plain LOGIN, no TLS: the server listens on 127.0.0.1 only and lives for a
few seconds), and mail is delivered by appending straight into a user's
INBOX, the way an MTA's local delivery would (see :mod:`taskping.demo.smtp`).

Everything here runs on the demo's one mail event loop
(:mod:`taskping.demo.mail_loop`).
"""

from __future__ import annotations

import asyncio
from argparse import Namespace
from dataclasses import dataclass, field
from datetime import UTC, datetime

from proxyprotocol.reader import ProxyProtocolReader
from pymap.backend.dict import Config, DictBackend, Identity, Login
from pymap.imap import IMAPServer
from pymap.parsing.message import AppendMessage
from pymap.user import Passwords, UserMetadata

LOOPBACK = "127.0.0.1"


class _DemoConfig(Config):
    """pymap's dict-backend config with a fixed greeting.

    The stock greeting calls ``socket.getfqdn()``, which can stall for seconds
    on a machine without working DNS; the demo must not depend on DNS at all.
    """

    @property
    def greeting(self) -> bytes:
        return b"Server ready taskping-demo"


def _config() -> _DemoConfig:
    args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None)
    return _DemoConfig(
        args,
        host=LOOPBACK,
        port=0,
        tls_enabled=False,  # loopback only: LOGIN in the clear is allowed without STARTTLS
        demo_data=False,
        demo_user="",
        demo_password="",
        invalid_user_sleep=0.0,
    )


class _WholeWrites:
    """A StreamWriter that sends what was written only at ``drain()``, in one piece.

    pymap writes a response in several small pieces (``* 1 FETCH `` then
    ``(FLAGS ())``); on loopback each piece can arrive on its own, and
    imapclient's ``idle_check`` (which the relay uses too) reads without
    blocking and rejects a line that has no end yet. pymap always drains after
    a whole response, so sending at drain time keeps every line whole.
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        self._pending += data

    async def drain(self) -> None:
        self._flush()
        await self._writer.drain()

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._pending:
            data, self._pending = bytes(self._pending), bytearray()
            self._writer.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._writer, name)


class _DemoIMAPServer(IMAPServer):
    """pymap's connection handler, with every response sent whole (see :class:`_WholeWrites`)."""

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sock_info: object) -> None:
        await super().__call__(reader, _WholeWrites(writer), sock_info)  # type: ignore[arg-type]  # a StreamWriter stand-in: it forwards every other attribute


@dataclass
class ImapServer:
    """A running pymap server: its port, and how to add users and deliver mail."""

    config: _DemoConfig
    login: Login
    server: asyncio.Server
    users: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    async def add_user(self, name: str, password: str) -> None:
        hashed = await Passwords(self.config).hash_password(password)
        await Identity(name, self.login, None, frozenset()).set(UserMetadata(self.config, name, password=hashed))
        self.users[name] = password

    async def deliver(self, user: str, raw: bytes) -> None:
        """Append ``raw`` to ``user``'s INBOX (wakes any IDLE on it)."""
        async with Identity(user, self.login, None, frozenset()).new_session() as session:
            inbox = await session.mailbox_set.get_mailbox("INBOX")
            await inbox.append(AppendMessage(raw, datetime.now(UTC), frozenset()), recent=True)

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_imap() -> ImapServer:
    """Start pymap on a free loopback port (the kernel picks it)."""
    config = _config()
    config.apply_context()
    backend = DictBackend(Login(config), config)
    handler = _DemoIMAPServer(backend.login, config)
    # pymap's handler takes the socket info that the PROXY-protocol reader produces;
    # with no PROXY protocol configured that reader just passes the peer's address.
    callback = ProxyProtocolReader(config.proxy_protocol).get_callback(handler)
    server = await asyncio.start_server(callback, host=LOOPBACK, port=0)
    return ImapServer(config, backend.login, server)
