"""`taskping init --learn-from-reply`: learn TRUSTED_AUTHSERV_ID from what the provider really writes.

docs/providers.md lists what the big providers write, but providers change
and "other" has no entry. So: send a test mail to the phone, wait for the
person's reply to arrive in the relay's mailbox, and read the topmost
``Authentication-Results`` header of that reply, which the receiving provider
added. Its authserv-id becomes TRUSTED_AUTHSERV_ID (or the provider preset's
``*.domain`` pattern when that covers it: per-MX ids change from message to
message), but only if the relay's own reader (:func:`taskping.relay.authres.verdict`)
would then let that very reply through. A provider that writes no id
(Microsoft) gives SENDER_AUTH=dkim. The header used is shown.

The reply is then recorded in the ledger as handled (``dropped``, with why),
so the relay, reading the mailbox for the first time, does not answer it with
a refusal. Nothing else is written; the message stays in the mailbox.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from taskping.config import Settings
from taskping.relay import authres, imap_connect
from taskping.relay.parse import InboundMail, parse
from taskping.setup.logins import smtp_connect

POLL_SECONDS = 2.0


class LearnError(Exception):
    """Sending the test mail or reading the mailbox failed; ``str()`` says how."""


@dataclass(frozen=True)
class Learned:
    """What the reply showed: the settings to use (or why none), and the header they come from."""

    ok: bool
    reason: str
    sender_auth: str | None = None
    trusted_authserv_id: str | None = None
    header: str | None = None  # the Authentication-Results value read


def send_test_mail(settings: Settings) -> tuple[str, str]:
    """Mail the phone a message to reply to; returns (Message-ID, subject tag)."""
    from taskping.outgoing import build

    settings.require("email_from", "email_to")
    tag = f"TaskPing setup {secrets.token_hex(3)}"
    text = (
        "This is `taskping init --learn-from-reply`.\n\n"
        "Reply to this message from your phone (any words will do). TaskPing reads the "
        "Authentication-Results header your mail provider adds to the reply, to learn which "
        "provider verdicts to trust. Nothing is typed anywhere.\n"
    )
    mail = build(
        email_from=settings.email_from or "",
        email_to=settings.email_to or "",
        subject=f"[{tag}] please reply to this",
        text=text,
        html=f"<p>{text}</p>",
        kind="setup",
    )
    try:
        client = smtp_connect(settings)
        try:
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_pass or "")
            client.sendmail(settings.email_from or "", [settings.email_to or ""], mail.raw)
        finally:
            try:
                client.quit()
            except Exception:  # noqa: BLE001 - QUIT failing only means closing the socket
                client.close()
    except Exception as exc:  # noqa: BLE001 - reported as one line
        raise LearnError(f"could not send the test mail: {exc.__class__.__name__}: {str(exc)[:200]}") from None
    return mail.message_id, tag


def wait_for_reply(settings: Settings, message_id: str, tag: str, timeout: float) -> InboundMail | None:
    """The phone's reply to ``message_id`` in IMAP_FOLDER, or None after ``timeout`` seconds.

    The folder is opened read-only and messages are fetched with PEEK: nothing
    in the mailbox changes.
    """
    s = settings
    deadline = time.monotonic() + timeout
    phone = (s.email_to or "").lower()
    try:
        client, _info = imap_connect.open_session(s, readonly=True)
        try:
            while True:
                for uid in client.search(["SUBJECT", tag]):
                    raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
                    mail = parse(bytes(raw)) if raw else None
                    if (
                        mail
                        and not mail.x_taskping
                        and mail.sole_sender == phone
                        and (message_id in mail.in_reply_to or message_id in mail.references or tag in mail.subject)
                    ):
                        return mail
                if time.monotonic() >= deadline:
                    return None
                time.sleep(POLL_SECONDS)
                client.noop()
        finally:
            imap_connect.close(client)
    except Exception as exc:  # noqa: BLE001 - reported as one line
        raise LearnError(f"could not read the mailbox: {exc.__class__.__name__}: {str(exc)[:200]}") from None


def learn(mail: InboundMail, preset_id: str | None) -> Learned:
    """The sender-authentication settings the reply ``mail`` supports."""
    trace = mail.trace or [("authentication-results", v) for v in mail.authentication_results]
    headers = [value for name, value in trace if name == "authentication-results"]
    sender = mail.sole_sender or ""
    domain = sender.rpartition("@")[2]
    if not headers:
        return Learned(
            True,
            "the reply carries no Authentication-Results header: the relay will verify DKIM itself",
            "dkim",
            None,
            None,
        )
    top = headers[0]
    found = authres.authserv_id(top)
    if found is None:
        return Learned(
            True,
            "the provider's Authentication-Results has no authserv-id (as Microsoft writes): "
            "nothing to trust; the relay will verify DKIM itself",
            "dkim",
            None,
            top,
        )
    chosen = preset_id if preset_id and authres.TrustedIds.of(preset_id).matches(found) else found
    judged = authres.verdict(trace, authres.TrustedIds.of(chosen), domain)
    if not judged.ok:
        return Learned(
            False,
            f"with TRUSTED_AUTHSERV_ID={chosen} this reply would be refused: {judged.reason}; "
            "use SENDER_AUTH=dkim (or fix DKIM/DMARC for your phone's domain)",
            None,
            chosen,
            top,
        )
    return Learned(True, f"authserv-id {found!r}; this reply passes: {judged.reason}", "authres", chosen, top)


def mark_handled(settings: Settings, mail: InboundMail) -> None:
    """Record the reply in the ledger as handled, so the relay's first run does not answer it."""
    from taskping.session_map import connect, ledger
    from taskping.session_map.vocabulary import Status

    conn = connect(settings.session_map_path)
    try:
        entry, created = ledger.claim(
            conn,
            message_key=mail.message_key,
            message_id=mail.message_id,
            content_hash=mail.content_hash,
            folder=None,
            uidvalidity=None,
            uid=None,
            sender=mail.sole_sender,
        )
        if created:
            ledger.set_decision(
                conn, entry.id, Status.DROPPED, "read by `taskping init --learn-from-reply` (a setup reply)"
            )
    finally:
        conn.close()
