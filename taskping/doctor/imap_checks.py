"""The IMAP side, one stage per line: connect (and TLS), login, folder, IDLE; then the
authserv-ids on recent mail from each allowed sender, next to TRUSTED_AUTHSERV_ID.

Read-only: the folder is opened with EXAMINE, headers are fetched with PEEK.
The failures are worded by :mod:`taskping.mail_errors` and
:mod:`taskping.relay.imap_errors`, as the relay words them.
"""

from __future__ import annotations

import email.parser
import ssl

import imapclient

from taskping.config import Settings
from taskping.doctor.result import Check
from taskping.mail_errors import MailFailure
from taskping.relay import authres, imap_connect, imap_errors
from taskping.relay.imap_connect import CONNECT_ERRORS

RECENT = 5  # messages per sender whose Authentication-Results are read
STAGES = ("imap-connect", "imap-login", "imap-folder", "imap-idle")
LABELS = {
    "imap-connect": "IMAP connect",
    "imap-login": "IMAP login",
    "imap-folder": "IMAP folder",
    "imap-idle": "IMAP IDLE",
}


def _fix(failure: MailFailure) -> str:
    """The closing parenthesis of a failure line (its "check …" or provider hint), as the fix."""
    return fix_of(failure.line)


def fix_of(line: str) -> str:
    if not line.endswith(")"):
        return "see the line above"
    depth = 0
    for i in range(len(line) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(line[i], 0)
        if depth == 0:
            return line[i + 1 : -1]
    return "see the line above"


def checks(settings: Settings) -> list[Check]:
    s = settings
    out: list[Check] = []
    where = f"{s.imap_host}:{s.imap_port}"
    if not s.imap_host or not s.imap_user:
        return [Check.skip(name, f"{LABELS[name]}: not checked (IMAP_HOST/IMAP_USER unset)") for name in STAGES]
    try:
        client = imap_connect.open_secured(s)
    except MailFailure as failure:
        return [Check.fail("imap-connect", f"IMAP connect: {failure.line}", _fix(failure)), *_skipped(1, "connect")]
    try:
        out.append(
            Check.ok(
                "imap-connect",
                f"IMAP connect: {where}, {_tls(client, s.imap_secure)}",
                note="IMAP_SECURE=none: the password crosses the network in clear" if s.imap_secure == "none" else None,
            )
        )
        try:
            imap_connect.log_in(client, s)
        except MailFailure as failure:
            return [*out, Check.fail("imap-login", f"IMAP login: {failure.line}", _fix(failure)), *_skipped(2, "login")]
        out.append(Check.ok("imap-login", f"IMAP login: {s.imap_user} accepted"))
        try:
            info = imap_connect.select(client, s, readonly=True)
        except MailFailure as failure:
            return [
                *out,
                Check.fail("imap-folder", f"IMAP folder: {failure.line}", _fix(failure)),
                *_skipped(3, "folder"),
            ]
        count = int(info.get(b"EXISTS", 0))
        out.append(
            Check.ok("imap-folder", f"IMAP folder: {s.imap_folder} ({count} message{'s' if count != 1 else ''})")
        )
        if client.has_capability("IDLE"):
            out.append(Check.ok("imap-idle", "IMAP IDLE: offered (replies are seen as they arrive)"))
        else:
            out.append(
                Check.ok(
                    "imap-idle",
                    f"IMAP IDLE: not offered; the relay polls every {s.imap_poll_seconds} s",
                    note="lower IMAP_POLL_SECONDS for quicker replies",
                )
            )
        out += authserv_checks(client, s)
    except CONNECT_ERRORS as exc:
        lost = imap_errors.lost_connection(exc, host=s.imap_host, port=s.imap_port)
        out.append(Check.fail("imap-session", f"IMAP: {lost.line}", "check the server's log; try again"))
    finally:
        imap_connect.close(client)
    return out


def _skipped(start: int, after: str) -> list[Check]:
    return [Check.skip(name, f"{LABELS[name]}: not checked ({after} failed)") for name in STAGES[start:]]


def _tls(client: imapclient.IMAPClient, secure: str) -> str:
    sock = client.socket()
    if isinstance(sock, ssl.SSLSocket):
        how = "implicit TLS" if secure == "ssl" else "STARTTLS"
        return f"{how} ({sock.version()}, certificate verified)"
    return "no TLS"


def authserv_checks(client: imapclient.IMAPClient, settings: Settings) -> list[Check]:
    """For each allowed sender: the authserv-id of the topmost Authentication-Results
    (the receiving provider's) on their recent mail, next to TRUSTED_AUTHSERV_ID."""
    out: list[Check] = []
    trusted = authres.TrustedIds.of(settings.trusted_authserv_id) if settings.trusted_authserv_id else None
    shown_trusted = ", ".join(settings.trusted_authserv_id) or "(unset)"
    for sender in settings.allowed_senders:
        name = f"authserv-id:{sender}"
        uids = client.search(["FROM", sender])[-RECENT:]
        if not uids:
            out.append(
                Check.skip(
                    name,
                    f"authserv-id of mail from {sender}: no mail from them in "
                    f"{settings.imap_folder} yet (send a reply, then run doctor again)",
                )
            )
            continue
        seen: list[str] = []
        for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (AUTHENTICATION-RESULTS)]"]).values():
            raw = next((bytes(v) for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
            values = email.parser.BytesHeaderParser().parsebytes(raw).get_all("Authentication-Results") or []
            top = authres.authserv_id(str(values[0])) if values else None
            seen.append(top or "(none)")
        ids = ", ".join(dict.fromkeys(seen))
        detail = f"authserv-id of mail from {sender}: {ids}; TRUSTED_AUTHSERV_ID={shown_trusted}"
        if settings.effective_sender_auth != "authres":
            out.append(Check.ok(name, detail, note=f"SENDER_AUTH={settings.effective_sender_auth}: ids not used"))
        elif trusted is not None and any(trusted.matches(i) for i in seen if i != "(none)"):
            out.append(Check.ok(name, detail))
        else:
            out.append(
                Check.fail(
                    name,
                    detail,
                    "set TRUSTED_AUTHSERV_ID to your provider's id (docs/providers.md): "
                    "the topmost Authentication-Results is the one your provider wrote",
                )
            )
    return out
