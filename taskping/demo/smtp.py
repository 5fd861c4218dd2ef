"""The demo's SMTP server: the "provider" that accepts mail and stamps its verdict.

An aiosmtpd server on a loopback port that every sender must log in to
(AUTH PLAIN/LOGIN with a mailbox user's password; loopback only, so no TLS).
Mail for the demo's own domain is delivered into the IMAP server; anything
else is refused at RCPT, so nothing ever leaves the machine.

Sender authentication, for real: like a provider handling mail between two of
its own users, the front knows who logged in, so it checks that the From
header is exactly that login's address and writes the verdict the relay will
trust (``SENDER_AUTH=authres`` with ``TRUSTED_AUTHSERV_ID`` set to
:data:`AUTHSERV_ID`)::

    Authentication-Results: mx.taskping-demo.test; auth=pass smtp.auth=you@…;
        dmarc=pass header.from=taskping-demo.test

``dmarc=fail`` when the From header names anyone else. As RFC 8601 section 5
asks of a provider, any ``Authentication-Results`` that already carries our
id is deleted before ours is added, so a sender cannot forge a verdict. The
message bytes are otherwise passed on untouched: the relay must read exactly
what this server vouched for.
"""

from __future__ import annotations

import email.utils
import time
import warnings
from collections.abc import Awaitable, Callable
from email.parser import BytesHeaderParser
from email.policy import compat32

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

DOMAIN = "taskping-demo.test"
AUTHSERV_ID = f"mx.{DOMAIN}"

Deliver = Callable[[str, bytes], Awaitable[None]]


def _header_fields(head: bytes) -> list[bytes]:
    """The header block split into whole fields (continuation lines kept with their field)."""
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields


def _carries_our_id(field: bytes) -> bool:
    name, _, value = field.partition(b":")
    if name.strip().lower() != b"authentication-results":
        return False
    authserv = value.split(b";", 1)[0].strip().split()[:1]
    return bool(authserv) and authserv[0].decode("ascii", "replace").lower() == AUTHSERV_ID


def from_matches_login(raw: bytes, login: str) -> bool:
    """True when the From header is one field holding exactly ``login``'s address."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    values = headers.get_all("From") or []
    if len(values) != 1:
        return False
    addresses = email.utils.getaddresses([str(values[0])])
    return len(addresses) == 1 and addresses[0][1].lower() == login.lower()


def stamp(raw: bytes, login: str, peer: str) -> bytes:
    """``raw`` with look-alike verdicts removed and our Received + verdict on top."""
    normalized = raw if b"\r\n" in raw else raw.replace(b"\n", b"\r\n")
    head, sep, body = normalized.partition(b"\r\n\r\n")
    kept = [f for f in _header_fields(head) if not _carries_our_id(f)]
    dmarc = "pass" if from_matches_login(raw, login) else "fail"
    received = (
        f"Received: from [{peer}] (authenticated user {login})\r\n"
        f"\tby {AUTHSERV_ID} (taskping demo) with ESMTPSA;\r\n"
        f"\t{email.utils.formatdate(time.time())}"
    )
    verdict = (
        f"Authentication-Results: {AUTHSERV_ID};\r\n"
        f"\tauth=pass smtp.auth={login};\r\n"
        f"\tdmarc={dmarc} header.from={DOMAIN}"
    )
    return b"\r\n".join([verdict.encode(), received.encode(), *kept]) + (sep or b"\r\n\r\n") + body


class DemoHandler:
    """aiosmtpd handler: local recipients only; stamp, then hand to IMAP delivery."""

    def __init__(self, passwords: dict[str, str], deliver: Deliver) -> None:
        self.passwords = passwords
        self.deliver = deliver

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace").partition("@")[0]
            if user in self.passwords and auth_data.password.decode("utf-8", "replace") == self.passwords[user]:
                return AuthResult(success=True, auth_data=f"{user}@{DOMAIN}")
        # handled=False: aiosmtpd answers 535 itself (with handled=True the client would hang)
        return AuthResult(success=False, handled=False)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local, _, domain = address.rpartition("@")
        if domain.lower() != DOMAIN or local.lower() not in self.passwords:
            return f"550 5.1.1 <{address}>: only local demo mailboxes exist here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = str(session.auth_data or "")
        peer = str(session.peer[0]) if session.peer else "127.0.0.1"
        raw = stamp(envelope.original_content or b"", login, peer)  # the bytes as received (decode_data=False)
        for rcpt in envelope.rcpt_tos:
            await self.deliver(rcpt.rpartition("@")[0].lower(), raw)
        return "250 2.0.0 delivered"


def smtp_factory(handler: DemoHandler) -> Callable[[], SMTP]:
    """A protocol factory for ``loop.create_server``: AUTH required, allowed without TLS."""

    def make() -> SMTP:
        with warnings.catch_warnings():
            # "AUTH without TLS" is the point here: loopback only, throw-away passwords
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(
                handler,
                hostname=AUTHSERV_ID,
                authenticator=handler.authenticate,
                auth_required=True,
                auth_require_tls=False,
                decode_data=False,
            )

    return make
