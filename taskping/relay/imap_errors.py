"""IMAP's replies as one line that names what to check (see :mod:`taskping.mail_errors`).

Works on imapclient's errors: the server's ``[CODE] text``, a refused login or
SELECT, a connection lost after login. Nothing here talks to a server.
"""

from __future__ import annotations

import re

from taskping.mail_errors import MailFailure, host_port, provider_hint

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
        f"cannot log in to {host_port(host, port)} as {user}: {said} ({provider_hint(host or '', prefix)})",
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
    return MailFailure("connect", f"lost the connection to {host_port(host, port)}: {text}")
