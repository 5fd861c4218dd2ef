"""What went wrong talking to a mail server, as one line that names what to check.

A newcomer's mistakes (a wrong host, port, TLS mode, password or folder) used
to end in a 20-line traceback from deep inside imaplib or ssl. Every such
failure is turned into a :class:`MailFailure`: one line, a ``kind`` and the
exit status the command ends with (2 config, 3 cannot connect, 4
authentication rejected). The relay, ``send-outbox``'s reasons and ``taskping
doctor`` all use these words, so the person sees the same sentence wherever
the failure shows up.

This module holds what IMAP and SMTP share (the failure type, connecting and
TLS, the provider hints); :mod:`taskping.relay.imap_errors` words IMAP's
replies (imapclient), :mod:`taskping.outgoing.smtp_errors` SMTP's
(aiosmtplib). Nothing here talks to a server or imports a mail library.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Literal

CONFIG_EXIT = 2
CONNECT_EXIT = 3
AUTH_EXIT = 4
CONNECT_TIMEOUT = 15.0  # seconds for the TCP connect, the TLS handshake and the greeting

Kind = Literal["connect", "tls", "auth", "folder"]
_EXIT: dict[str, int] = {"connect": CONNECT_EXIT, "tls": CONNECT_EXIT, "auth": AUTH_EXIT, "folder": CONFIG_EXIT}


@dataclass
class MailFailure(Exception):
    """A failure with a mail server: ``line`` is what to print, ``kind`` decides the exit status."""

    kind: Kind
    line: str

    def __post_init__(self) -> None:
        super().__init__(self.line)

    @property
    def exit_code(self) -> int:
        return _EXIT[self.kind]

    def __str__(self) -> str:
        return self.line


# Providers whose password for IMAP/SMTP is not the web password: what they need instead.
_PROVIDER_HINTS: tuple[tuple[str, str], ...] = (
    ("gmail.com", "Gmail needs an app password: myaccount.google.com/apppasswords"),
    ("googlemail.com", "Gmail needs an app password: myaccount.google.com/apppasswords"),
    ("outlook.", "Outlook.com/Microsoft 365 refuse passwords over IMAP/SMTP unless the account allows it"),
    ("office365.com", "Microsoft 365 refuses passwords over IMAP/SMTP unless the tenant allows it"),
    ("yahoo.com", "Yahoo needs an app password (Account security → Generate app password)"),
    ("aol.com", "AOL needs an app password (Account security → Generate app password)"),
    ("mail.me.com", "iCloud needs an app-specific password: appleid.apple.com"),
    ("icloud.com", "iCloud needs an app-specific password: appleid.apple.com"),
    ("fastmail.com", "Fastmail needs an app password: Settings → Privacy & Security → App passwords"),
    ("messagingengine.com", "Fastmail needs an app password: Settings → Privacy & Security → App passwords"),
)


def provider_hint(host: str, prefix: str) -> str:
    """What to check after a rejected login on ``host`` (``prefix`` is IMAP or SMTP)."""
    host = host.lower()
    for suffix, hint in _PROVIDER_HINTS:
        if suffix in host:
            return hint
    return f"check {prefix}_USER and {prefix}_PASS"


def host_port(host: str | None, port: int) -> str:
    return f"{host}:{port}"


def connect_failure(exc: BaseException, *, prefix: str, host: str | None, port: int, secure: str) -> MailFailure:
    """Classify an exception raised while connecting, handshaking or reading the greeting."""
    where = host_port(host, port)
    head = f"cannot connect to {where}"
    if isinstance(exc, socket.gaierror):
        return MailFailure("connect", f"{head}: host not found (check {prefix}_HOST)")
    if isinstance(exc, ConnectionRefusedError):
        return MailFailure("connect", f"{head}: connection refused (check {prefix}_PORT and {prefix}_HOST)")
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or exc.reason or "verification failed"
        return MailFailure(
            "tls",
            f"{head}: the server's TLS certificate is not trusted: {why} (check {prefix}_HOST is the name "
            "on the certificate; a private CA goes in SSL_CERT_FILE)",
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or exc.__class__.__name__
        if reason == "WRONG_VERSION_NUMBER":
            return MailFailure(
                "tls",
                f"{head}: the server does not speak TLS on this port (with {prefix}_SECURE={secure}; "
                f"a port that starts in plain text, like 143 or 587, needs {prefix}_SECURE=starttls)",
            )
        return MailFailure("tls", f"{head}: TLS handshake failed: {reason} (check {prefix}_PORT and {prefix}_SECURE)")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return MailFailure(
            "connect",
            f"{head}: no answer within {CONNECT_TIMEOUT:.0f} s (check {prefix}_HOST and {prefix}_PORT, and "
            f"{prefix}_SECURE={secure}: an implicit-TLS port stays silent to a plain client)",
        )
    text = str(exc).strip() or exc.__class__.__name__
    return MailFailure("connect", f"{head}: {text} (check {prefix}_HOST, {prefix}_PORT and {prefix}_SECURE)")


def no_starttls(*, prefix: str, host: str | None, port: int) -> MailFailure:
    return MailFailure(
        "tls",
        f"cannot connect to {host_port(host, port)}: the server does not offer STARTTLS, and the password is "
        f"never sent in clear (use {prefix}_SECURE=ssl with the server's TLS port, or {prefix}_SECURE=none "
        "on a network you trust)",
    )
