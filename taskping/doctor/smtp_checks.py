"""The SMTP side: connect (and TLS), login, and with ``--send-test`` a real message to EMAIL_TO.

The test message goes out directly, not through the outbox: the doctor reports
what the server answered now, and leaves the relay's queue alone.
"""

from __future__ import annotations

import asyncio
import socket
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from taskping.config import Settings
from taskping.doctor.imap_checks import fix_of
from taskping.doctor.result import Check
from taskping.outgoing.smtp import smtp_client
from taskping.outgoing.smtp_errors import smtp_failure

STAGES = ("smtp-connect", "smtp-login", "smtp-send")
ERRORS = (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError)


def checks(settings: Settings, *, send_test: bool) -> list[Check]:
    if not settings.smtp_host:
        return [Check.skip(n, f"{_label(n)}: not checked (SMTP_HOST unset)") for n in STAGES]
    return asyncio.run(_checks(settings, send_test=send_test))


def _label(name: str) -> str:
    return {"smtp-connect": "SMTP connect", "smtp-login": "SMTP login", "smtp-send": "SMTP test message"}[name]


def _failed(name: str, exc: BaseException, s: Settings) -> Check:
    failure = smtp_failure(exc, host=s.smtp_host, port=s.smtp_port, secure=s.smtp_secure, user=s.smtp_user)
    line = failure.line if failure else f"{exc.__class__.__name__}: {exc}"
    return Check.fail(name, f"{_label(name)}: {line}", fix_of(line) if failure else "check the SMTP_* settings")


async def _checks(s: Settings, *, send_test: bool) -> list[Check]:
    out: list[Check] = []
    smtp = smtp_client(s)
    try:
        try:
            await smtp.connect()
        except ERRORS as exc:
            return [
                _failed("smtp-connect", exc, s),
                *[Check.skip(n, f"{_label(n)}: not checked (connect failed)") for n in STAGES[1:]],
            ]
        tls = "implicit TLS" if s.smtp_secure == "ssl" else "STARTTLS" if s.smtp_secure == "starttls" else "no TLS"
        out.append(
            Check.ok(
                "smtp-connect",
                f"SMTP connect: {s.smtp_host}:{s.smtp_port}, {tls}",
                note="SMTP_SECURE=none: the password crosses the network in clear" if s.smtp_secure == "none" else None,
            )
        )
        if s.smtp_user:
            try:
                await smtp.login(s.smtp_user, s.smtp_pass or "")
            except ERRORS as exc:
                return [*out, _failed("smtp-login", exc, s), Check.skip("smtp-send", "SMTP test message: not sent")]
            out.append(Check.ok("smtp-login", f"SMTP login: {s.smtp_user} accepted"))
        else:
            out.append(Check.ok("smtp-login", "SMTP login: none configured (SMTP_USER unset)"))
        if not send_test:
            out.append(Check.skip("smtp-send", "SMTP test message: not sent (add --send-test)"))
        elif not s.email_to:
            out.append(Check.fail("smtp-send", "SMTP test message: EMAIL_TO is unset", "set EMAIL_TO"))
        else:
            try:
                await smtp.send_message(_test_message(s))
            except ERRORS as exc:
                out.append(_failed("smtp-send", exc, s))
            else:
                out.append(Check.ok("smtp-send", f"SMTP test message: accepted for {s.email_to}"))
    finally:
        if smtp.is_connected:
            try:
                await smtp.quit()
            except ERRORS:
                smtp.close()
    return out


def _test_message(s: Settings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = s.envelope_from
    msg["To"] = s.email_to
    msg["Subject"] = "TaskPing doctor: test message"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=(s.email_from or "taskping.invalid").rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        f"This is a test from `taskping doctor --send-test` on {socket.gethostname()} at "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}.\nNo reply is needed; a reply to it is not typed anywhere.\n"
    )
    return msg
