"""What went wrong talking to a mail server, as one line that names what to check.

A newcomer's mistakes (a wrong host, port, TLS mode, password or folder) used
to end in a 20-line traceback from deep inside imaplib or ssl. Every such
failure is turned here into a :class:`MailFailure`: one line, a ``kind`` and
the exit status the command ends with (2 config, 3 cannot connect, 4
authentication rejected). The relay, ``send-outbox``'s reasons and ``taskping
doctor`` all use these words, so the person sees the same sentence wherever
the failure shows up.

The classification works on the exception types the standard library and
imapclient/aiosmtplib raise; nothing here talks to a server.
"""

from __future__ import annotations

import re
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


def _where(host: str | None, port: int) -> str:
    return f"{host}:{port}"


def connect_failure(exc: BaseException, *, prefix: str, host: str | None, port: int, secure: str) -> MailFailure:
    """Classify an exception raised while connecting, handshaking or reading the greeting."""
    where = _where(host, port)
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
        f"cannot connect to {_where(host, port)}: the server does not offer STARTTLS, and the password is "
        f"never sent in clear (use {prefix}_SECURE=ssl with the server's TLS port, or {prefix}_SECURE=none "
        "on a network you trust)",
    )


_CODE = re.compile(r"\[([A-Z-]+)\]")


def server_text(exc: BaseException) -> str:
    """The server's words from an imapclient error (``b'[CODE] text'`` unwrapped)."""
    text = str(exc)
    match = re.fullmatch(r"b'(.*)'", text) or re.fullmatch(r'b"(.*)"', text)
    text = (match.group(1) if match else text).strip()
    return _TIMING.sub("", text).strip()


# Dovecot appends how long a command took: "... (0.001 + 0.000 secs)."
_TIMING = re.compile(r"\s*\(\d+\.\d+(?: \+ \d+\.\d+)* secs\)\.?$")


def login_failure(exc: BaseException, *, prefix: str, host: str | None, port: int, user: str | None) -> MailFailure:
    """A rejected login: the server's response code and what to check."""
    text = server_text(exc)
    code = _CODE.search(text)
    said = code.group(1) if code else text or "rejected"
    return MailFailure(
        "auth",
        f"cannot log in to {_where(host, port)} as {user}: {said} ({provider_hint(host or '', prefix)})",
    )


def folder_failure(exc: BaseException, *, folder: str, host: str | None, folders: list[str]) -> MailFailure:
    """SELECT refused: usually a folder that does not exist."""
    text = server_text(exc).removeprefix("select failed:").strip()
    code = _CODE.search(text)
    missing = (code and code.group(1) == "NONEXISTENT") or "exist" in text.lower()
    said = "no such folder" if missing else code.group(1) if code else text
    shown = ", ".join(folders[:12]) + (", …" if len(folders) > 12 else "")
    listing = f"; the server has: {shown}" if folders else ""
    return MailFailure("folder", f"cannot open folder {folder!r} on {host}: {said} (check IMAP_FOLDER{listing})")


def lost_connection(exc: BaseException, *, host: str | None, port: int) -> MailFailure:
    """An error after a successful login (the daemon reconnects; --once reports it)."""
    text = server_text(exc) or exc.__class__.__name__
    return MailFailure("connect", f"lost the connection to {_where(host, port)}: {text}")


def smtp_failure(exc: BaseException, *, host: str | None, port: int, secure: str, user: str | None) -> MailFailure | None:
    """The one line for an SMTP connection or login problem; None for a reply to a message
    (4xx/5xx to MAIL, RCPT or DATA), which the sender words itself.

    aiosmtplib wraps the socket's error (``raise SMTPConnectError(...) from exc``):
    the cause is classified like IMAP's, with SMTP_* keys to check.
    """
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        said = f"{exc.code} {exc.message}".strip()
        return MailFailure("auth", f"cannot log in to {_where(host, port)} as {user}: {said} "
                                   f"({provider_hint(host or '', 'SMTP')})")
    if isinstance(exc, (aiosmtplib.SMTPConnectTimeoutError, aiosmtplib.SMTPTimeoutError)) or (
        isinstance(exc, aiosmtplib.SMTPConnectError) and isinstance(exc.__cause__, (TimeoutError, socket.timeout))
    ):
        return connect_failure(TimeoutError(), secure=secure, prefix="SMTP", host=host, port=port)
    if isinstance(exc, aiosmtplib.SMTPConnectError) and exc.__cause__ is not None:
        return connect_failure(exc.__cause__, secure=secure, prefix="SMTP", host=host, port=port)
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return MailFailure("connect", f"cannot connect to {_where(host, port)}: the server greeted with "
                                      f"{exc.code} {exc.message}".strip())
    if isinstance(exc, aiosmtplib.SMTPException) and "STARTTLS extension not supported" in str(exc):
        return no_starttls(prefix="SMTP", host=host, port=port)
    if isinstance(exc, (ssl.SSLError, OSError)):
        return connect_failure(exc, secure=secure, prefix="SMTP", host=host, port=port)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return MailFailure("connect", f"{_where(host, port)} closed the connection: {exc} (try again later; "
                                      f"check SMTP_SECURE={secure} matches SMTP_PORT)")
    return None
