"""The IMAP and SMTP logins, tried right after `taskping init` writes the config.

Each check connects the way the relay does (implicit TLS or STARTTLS as
configured, the CA in SSL_CERT_FILE honoured, certificates verified), logs in,
and logs out; nothing is read, flagged or sent. A failure is one
:class:`Check` with what went wrong and the fix, never a traceback: a wrong
password (with the provider's app-password hint), a host that does not
resolve or answer, a port that speaks another TLS mode, an untrusted
certificate. Every network wait is bounded by :data:`TIMEOUT`.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass

from taskping.config import ConfigError, Settings

TIMEOUT = 15.0  # seconds, per connection attempt and per answer


@dataclass(frozen=True)
class Check:
    """One login's outcome: ``fix`` says what to change when it failed."""

    service: str  # "IMAP" or "SMTP"
    ok: bool
    detail: str
    fix: str | None = None


def _where(service: str, host: str | None, port: int) -> str:
    return f"{service} {host}:{port}"


def _network_problem(exc: BaseException, host: str | None, port: int, tls_key: str) -> tuple[str, str]:
    """(what happened, the fix) for a connection that failed before the login."""
    if isinstance(exc, socket.gaierror):
        return f"host {host!r} not found", "check the host name (and this machine's DNS)"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing listens on port {port}", "check the port number"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {TIMEOUT:.0f} s", "check host and port; a firewall may block the port"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the server's TLS certificate is not trusted ({exc.verify_message})",
            "check the host name; for a private CA set SSL_CERT_FILE to its certificate",
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS failed ({exc.reason or exc.__class__.__name__})",
            f"the port may expect the other TLS mode: check {tls_key} (implicit TLS on 993/465, STARTTLS on 143/587)",
        )
    if isinstance(exc, OSError):
        return f"cannot connect ({exc.strerror or exc.__class__.__name__})", "check host and port"
    return f"failed ({exc.__class__.__name__})", "check the settings"


def check_imap(settings: Settings, password_hint: str) -> Check:
    """Log in to IMAP_HOST as IMAP_USER and open IMAP_FOLDER read-only, the way the relay
    connects (:mod:`taskping.relay.imap_connect`)."""
    from taskping.mail_errors import MailFailure
    from taskping.relay import imap_connect

    s = settings
    where = _where("IMAP", s.imap_host, s.imap_port)
    try:
        client, _info = imap_connect.open_session(s, readonly=True)
    except ConfigError as exc:
        return Check("IMAP", False, str(exc))
    except MailFailure as failure:
        if failure.kind == "auth":
            return Check("IMAP", False, f"{where}: the login was refused for {s.imap_user}", password_hint)
        if failure.kind == "folder":
            return Check("IMAP", False, f"{where}: folder {s.imap_folder!r} cannot be opened", "check IMAP_FOLDER")
        cause = failure.__cause__
        if cause is None:  # refused before any network error (e.g. no STARTTLS offered)
            return Check("IMAP", False, failure.line, "check IMAP_SECURE and IMAP_PORT")
        what, fix = _network_problem(cause, s.imap_host, s.imap_port, "IMAP_SECURE")
        return Check("IMAP", False, f"{where}: {what}", fix)
    except Exception as exc:  # noqa: BLE001 - a check reports, it never raises
        return Check("IMAP", False, f"{where}: failed ({exc.__class__.__name__})", "check the settings")
    imap_connect.close(client)
    return Check("IMAP", True, f"{where}: logged in as {s.imap_user}, folder {s.imap_folder} opened")


def smtp_connect(settings: Settings) -> smtplib.SMTP:
    """A connected, TLS-protected (unless SMTP_SECURE=none) SMTP client, not yet logged in."""
    s = settings
    s.require("smtp_host")
    if s.smtp_secure == "ssl":
        return smtplib.SMTP_SSL(s.smtp_host or "", s.smtp_port, timeout=TIMEOUT, context=s.tls_context())
    client = smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=TIMEOUT)
    try:
        if s.smtp_secure == "starttls":
            client.starttls(context=s.tls_context())
    except BaseException:
        client.close()
        raise
    return client


def check_smtp(settings: Settings, password_hint: str) -> Check:
    """Log in to SMTP_HOST as SMTP_USER the way notifications are sent; nothing is sent."""
    s = settings
    where = _where("SMTP", s.smtp_host, s.smtp_port)
    client = None
    try:
        client = smtp_connect(s)
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_pass or "")
            return Check("SMTP", True, f"{where}: logged in as {s.smtp_user}")
        return Check("SMTP", True, f"{where}: connected (no SMTP_USER: no login)")
    except ConfigError as exc:
        return Check("SMTP", False, str(exc))
    except smtplib.SMTPAuthenticationError:
        return Check("SMTP", False, f"{where}: the login was refused for {s.smtp_user}", password_hint)
    except smtplib.SMTPNotSupportedError as exc:
        return Check(
            "SMTP",
            False,
            f"{where}: {exc}",
            "the server may need STARTTLS first: check SMTP_SECURE (ssl on 465, starttls on 587)",
        )
    except smtplib.SMTPException as exc:
        return Check("SMTP", False, f"{where}: the server said {str(exc)[:200]!r}", "check the settings")
    except (OSError, ssl.SSLError) as exc:
        what, fix = _network_problem(exc, s.smtp_host, s.smtp_port, "SMTP_SECURE")
        return Check("SMTP", False, f"{where}: {what}", fix)
    except Exception as exc:  # noqa: BLE001 - a check reports, it never raises
        return Check("SMTP", False, f"{where}: failed ({exc.__class__.__name__})", "check the settings")
    finally:
        if client is not None:
            try:
                client.quit()
            except Exception:  # noqa: BLE001 - QUIT failing only means closing the socket
                client.close()
