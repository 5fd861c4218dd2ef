"""How the relay ends: each failure as one line naming what to check, and its exit status.

`taskping relay` prints the line and exits with the status (the README's
table); the traceback only with ``--log-level debug``. Also the warnings said
at every start about settings that are allowed but risky.
"""

from __future__ import annotations

from taskping.config import CONFIG_ERROR_EXIT, ConfigError, Settings
from taskping.mail_errors import MailFailure
from taskping.relay import fetch, imap_errors
from taskping.session_map.db import SchemaTooNew

UNEXPECTED_EXIT = 1
AUTH_GAVE_UP_EXIT = 78  # EX_CONFIG: RestartPreventExitStatus=78 in the unit


def start_warnings(settings: Settings, sender_auth: str) -> list[str]:
    """What is allowed but risky, said at every start."""
    out: list[str] = []
    if settings.imap_secure_note:
        out.append(settings.imap_secure_note)
    if settings.imap_secure == "none":
        out.append(
            f"IMAP_SECURE=none: the password for {settings.imap_user} and every reply cross the network "
            "in clear; use ssl or starttls unless this network is trusted"
        )
    if sender_auth == "none":
        out.append("SENDER_AUTH=none: replies are accepted on the From address alone; anyone who can forge it can type")
    return out


def explain(exc: BaseException, settings: Settings, *, debug: bool) -> tuple[str, int]:
    """The one line and exit status for a failure of the relay (a config error reads as everywhere else)."""
    if isinstance(exc, ConfigError):
        return str(exc), CONFIG_ERROR_EXIT
    if isinstance(exc, SchemaTooNew):
        return f"relay: {exc}", CONFIG_ERROR_EXIT
    if isinstance(exc, fetch.AuthRejected):
        return f"relay: {exc}", AUTH_GAVE_UP_EXIT
    if isinstance(exc, MailFailure):
        return f"relay: {exc.line}", exc.exit_code
    if isinstance(exc, fetch.RECOVERABLE):
        failure = imap_errors.lost_connection(exc, host=settings.imap_host, port=settings.imap_port)
        return f"relay: {failure.line}", failure.exit_code
    hint = "" if debug else " (run with --log-level debug for the traceback)"
    text = str(exc)[:200]  # an exception's text is not ours to print whole (see log.UNCUT_KEYS)
    return f"relay: unexpected error: {exc.__class__.__name__}: {text}{hint}", UNEXPECTED_EXIT
