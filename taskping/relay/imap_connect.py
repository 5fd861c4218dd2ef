"""Opening an IMAP session the one way every part of TaskPing does it.

The relay (:mod:`taskping.relay.fetch`), ``taskping doctor`` and ``taskping
init`` (its login check and ``--learn-from-reply``) all connect here, so they
agree on TLS (IMAP_SECURE=ssl: implicit TLS; starttls: refused when the server
does not offer STARTTLS, so a password never goes out in clear by surprise;
none: plain), on timeouts (the TCP connect, the TLS handshake and the greeting
share CONNECT_TIMEOUT; reads get IMAP_TIMEOUT) and on the one line each
failure becomes (:class:`~taskping.mail_errors.MailFailure`).
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from taskping import mail_errors
from taskping.config import Settings
from taskping.mail_errors import CONNECT_TIMEOUT
from taskping.relay import imap_errors

IMAP_TIMEOUT = 30.0  # per read once connected
CONNECT_ERRORS = (OSError, ssl.SSLError, socket.timeout, EOFError, IMAPClientError)


def _where(s: Settings) -> dict[str, Any]:
    return {"prefix": "IMAP", "host": s.imap_host, "port": s.imap_port}


def open_secured(s: Settings) -> imapclient.IMAPClient:
    """Connected and secured as IMAP_SECURE says, not logged in. Raises MailFailure."""
    s.require("imap_host", "imap_user")
    context = s.tls_context() if s.imap_secure != "none" else None
    try:
        client = imapclient.IMAPClient(
            s.imap_host,
            port=s.imap_port,
            ssl=s.imap_secure == "ssl",
            ssl_context=context,
            timeout=imapclient.SocketTimeout(connect=CONNECT_TIMEOUT, read=IMAP_TIMEOUT),
        )
    except CONNECT_ERRORS as exc:
        raise mail_errors.connect_failure(exc, secure=s.imap_secure, **_where(s)) from exc
    if s.imap_secure == "starttls":
        try:
            if not client.has_capability("STARTTLS"):
                raise mail_errors.no_starttls(**_where(s))
            client.starttls(context)
        except CONNECT_ERRORS as exc:
            shutdown(client)
            raise mail_errors.connect_failure(exc, secure=s.imap_secure, **_where(s)) from exc
        except BaseException:
            shutdown(client)
            raise
    return client


def log_in(client: imapclient.IMAPClient, s: Settings) -> None:
    """IMAP_USER/IMAP_PASS. Raises MailFailure (login rejected)."""
    try:
        client.login(s.imap_user, s.imap_pass or "")
    except LoginError as exc:
        raise imap_errors.login_failure(exc, user=s.imap_user, **_where(s)) from exc


def select(client: imapclient.IMAPClient, s: Settings, *, readonly: bool = False) -> dict[bytes, Any]:
    """Open IMAP_FOLDER. Raises MailFailure naming the folders the server has."""
    try:
        info: dict[bytes, Any] = client.select_folder(s.imap_folder, readonly=readonly)
        return info
    except IMAPClientError as exc:
        raise imap_errors.folder_failure(
            exc, folder=s.imap_folder, host=s.imap_host, folders=folder_names(client)
        ) from exc


def open_session(s: Settings, *, readonly: bool = False) -> tuple[imapclient.IMAPClient, dict[bytes, Any]]:
    """Connected, logged in, IMAP_FOLDER selected: (client, SELECT response). Raises MailFailure."""
    client = open_secured(s)
    try:
        log_in(client, s)
        return client, select(client, s, readonly=readonly)
    except BaseException:
        shutdown(client)
        raise


def folder_names(client: imapclient.IMAPClient) -> list[str]:
    """The folders the server lists, for the "check IMAP_FOLDER" line; empty when LIST fails too."""
    try:
        return [str(name) for _flags, _delim, name in client.list_folders()]
    except Exception:  # noqa: BLE001 - only a hint in an error line
        return []


def shutdown(client: imapclient.IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # noqa: BLE001 - closing a connection that already failed
        pass


def close(client: imapclient.IMAPClient) -> None:
    """LOGOUT, or just drop the connection when that fails."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection
        shutdown(client)
