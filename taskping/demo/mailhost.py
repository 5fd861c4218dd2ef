"""The demo's mail provider: IMAP and SMTP on one event loop in a background thread.

The demo process plays three parts at once (the mail provider, the model
endpoint and the phone); the provider's two servers share one asyncio loop so
that SMTP delivery can append straight into the IMAP server's mailboxes. The
thread is a daemon and :meth:`MailHost.stop` closes both servers, so nothing
of it outlives the demo.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from dataclasses import dataclass, field

from taskping.demo.imap import LOOPBACK, ImapServer, start_imap
from taskping.demo.smtp import DOMAIN, DemoHandler, smtp_factory

START_TIMEOUT = 10.0


@dataclass
class MailHost:
    """The running provider: ports, accounts (name → password), and stop()."""

    imap_port: int = 0
    smtp_port: int = 0
    passwords: dict[str, str] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _imap: ImapServer | None = None
    _smtp: asyncio.Server | None = None

    def address(self, user: str) -> str:
        return f"{user}@{DOMAIN}"

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._close(), loop)
        try:
            future.result(timeout=5)
        except Exception:  # noqa: BLE001 - stopping: a server that will not close is dropped with the loop
            pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        loop.close()

    async def _close(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        if self._imap is not None:
            await self._imap.close()
        # open client connections (the relay's IDLE, a phone session) end with the loop
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def start_mailhost(users: tuple[str, ...]) -> MailHost:
    """Start IMAP + SMTP on free loopback ports with one mailbox per user (random passwords)."""
    # aiosmtpd logs a deprecation warning on every AUTH and each connection at INFO: noise here.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    logging.getLogger("pymap").setLevel(logging.ERROR)
    host = MailHost(passwords={user: secrets.token_urlsafe(12) for user in users})
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="taskping-demo-mail", daemon=True)
    thread.start()
    host._loop, host._thread = loop, thread

    async def setup() -> None:
        imap = await start_imap()
        host._imap = imap
        for user, password in host.passwords.items():
            await imap.add_user(user, password)
        handler = DemoHandler(host.passwords, imap.deliver)
        host._smtp = await loop.create_server(smtp_factory(handler), host=LOOPBACK, port=0)
        host.imap_port = imap.port
        host.smtp_port = int(host._smtp.sockets[0].getsockname()[1])

    try:
        asyncio.run_coroutine_threadsafe(setup(), loop).result(timeout=START_TIMEOUT)
    except BaseException:
        host.stop()
        raise
    return host
