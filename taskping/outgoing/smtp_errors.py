"""SMTP failures as one line that names what to check (see :mod:`taskping.mail_errors`).

Works on aiosmtplib's exceptions: a connection or login problem is worded as
IMAP's are (with SMTP_* keys to check); a reply to a message (4xx/5xx to MAIL,
RCPT or DATA) is the server's code and words, and :func:`is_permanent` tells a
5xx that will never go through from a problem that may pass. Nothing here
talks to a server.
"""

from __future__ import annotations

import socket
import ssl

import aiosmtplib

from taskping.mail_errors import MailFailure, connect_failure, host_port, no_starttls, provider_hint


def smtp_failure(
    exc: BaseException, *, host: str | None, port: int, secure: str, user: str | None
) -> MailFailure | None:
    """The one line for an SMTP connection or login problem; None for a reply to a message
    (4xx/5xx to MAIL, RCPT or DATA), which the sender words itself.

    aiosmtplib wraps the socket's error (``raise SMTPConnectError(...) from exc``):
    the cause is classified like IMAP's, with SMTP_* keys to check.
    """
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        said = f"{exc.code} {exc.message}".strip()
        return MailFailure(
            "auth", f"cannot log in to {host_port(host, port)} as {user}: {said} ({provider_hint(host or '', 'SMTP')})"
        )
    if isinstance(exc, (aiosmtplib.SMTPConnectTimeoutError, aiosmtplib.SMTPTimeoutError)) or (
        isinstance(exc, aiosmtplib.SMTPConnectError) and isinstance(exc.__cause__, (TimeoutError, socket.timeout))
    ):
        return connect_failure(TimeoutError(), prefix="SMTP", host=host, port=port, secure=secure)
    if isinstance(exc, aiosmtplib.SMTPConnectError) and exc.__cause__ is not None:
        return connect_failure(exc.__cause__, prefix="SMTP", host=host, port=port, secure=secure)
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return MailFailure(
            "connect",
            f"cannot connect to {host_port(host, port)}: the server greeted with {exc.code} {exc.message}".strip(),
        )
    if isinstance(exc, aiosmtplib.SMTPException) and "STARTTLS extension not supported" in str(exc):
        return no_starttls(prefix="SMTP", host=host, port=port)
    if isinstance(exc, (ssl.SSLError, OSError)):
        return connect_failure(exc, prefix="SMTP", host=host, port=port, secure=secure)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return MailFailure(
            "connect",
            f"{host_port(host, port)} closed the connection: {exc} (try again later; "
            f"check SMTP_SECURE={secure} matches SMTP_PORT)",
        )
    return None


def describe(exc: BaseException, *, host: str | None, port: int, secure: str, user: str | None) -> str:
    """The reason stored with an outbox row and printed: one line naming what to check."""
    failure = smtp_failure(exc, host=host, port=port, secure=secure, user=user)
    if failure is not None:
        return failure.line
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "recipients refused: " + "; ".join(f"{e.code} {e.message}" for e in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {exc.code} {exc.message}".strip()
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def is_permanent(exc: BaseException) -> bool:
    """True for a 5xx that will never go through (the row is marked failed); False for
    anything that may pass on a later try (4xx, a connection or login problem)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(e.code >= 500 for e in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return False  # a login problem is fixed in config; keep the mail
    if isinstance(exc, (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError)):
        return exc.code >= 500
    return False
