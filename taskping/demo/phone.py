"""The demo's phone: reads the person's mailbox over IMAP and replies over SMTP.

It behaves like a phone's mail app as far as the relay can tell: it logs in
to the provider (the demo's SMTP server) as the person, and a reply quotes
the whole message under an attribution line, carries "Sent from my iPhone",
``In-Reply-To`` and ``References``, exactly the shape TaskPing's extractor has
to cut the new text out of.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import default as default_policy
from email.utils import format_datetime, formataddr, localtime, make_msgid, parseaddr

import imapclient

from taskping.demo.imap import LOOPBACK
from taskping.demo.smtp import DOMAIN

IDLE_SLICE = 0.5  # seconds per IDLE wait: the deadline is checked between them


@dataclass(frozen=True)
class Mail:
    """One message as the phone shows it."""

    raw: bytes
    subject: str
    message_id: str
    references: str
    sender: str
    kind: str  # X-TaskPing: notification, ack, refusal…; "" for anything else
    in_reply_to: str
    text: str  # the text/plain part ("" when there is none)
    date: str

    @classmethod
    def parse(cls, raw: bytes) -> Mail:
        msg = message_from_bytes(raw, policy=default_policy)
        part = msg.get_body(preferencelist=("plain",)) if isinstance(msg, EmailMessage) else None
        text = part.get_content() if part is not None else ""
        return cls(
            raw=raw,
            subject=str(msg.get("Subject", "")),
            message_id=str(msg.get("Message-ID", "")).strip(),
            references=" ".join(str(msg.get("References", "")).split()),
            sender=str(msg.get("From", "")),
            kind=str(msg.get("X-TaskPing", "")).strip(),
            in_reply_to=str(msg.get("In-Reply-To", "")).strip(),
            text=str(text),
            date=str(msg.get("Date", "")),
        )


class Phone:
    """The person's mail app: one IMAP session on their INBOX, SMTP to send."""

    def __init__(self, imap_port: int, smtp_port: int, user: str, password: str, *, name: str = "You") -> None:
        self.address = f"{user}@{DOMAIN}"
        self.name = name
        self._smtp_port = smtp_port
        self._user = user
        self._password = password
        self._seen: set[int] = set()
        self._taken: set[int] = set()
        self.inbox: list[Mail] = []  # everything received, in arrival order
        self._client = imapclient.IMAPClient(LOOPBACK, port=imap_port, ssl=False, timeout=10)
        self._client.login(user, password)
        self._client.select_folder("INBOX")

    def close(self) -> None:
        try:
            self._client.logout()
        except Exception:  # noqa: BLE001 - the server may already be gone at teardown
            pass

    def wait_for(self, match: Callable[[Mail], bool], timeout: float) -> Mail | None:
        """The first message not yet returned that ``match`` accepts, or None after ``timeout`` s.

        ``timeout=0`` looks once without waiting. Messages that did not match
        stay in :attr:`inbox` and are offered to later calls.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._fetch_new()
            for index, mail in enumerate(self.inbox):
                if index not in self._taken and match(mail):
                    self._taken.add(index)
                    return mail
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._client.idle()
            try:
                self._client.idle_check(timeout=min(IDLE_SLICE, remaining))
            finally:
                self._client.idle_done()

    def _fetch_new(self) -> None:
        for uid in sorted(u for u in self._client.search(["ALL"]) if u not in self._seen):
            self._seen.add(uid)
            raw = self._client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
            if raw is not None:
                self.inbox.append(Mail.parse(bytes(raw)))

    def reply(self, to: Mail, text: str) -> EmailMessage:
        """Send ``text`` as an iPhone-style reply to ``to``; returns the message as sent."""
        msg = compose_reply(to, text, sender=formataddr((self.name, self.address)))
        with smtplib.SMTP(LOOPBACK, self._smtp_port, timeout=10) as smtp:
            smtp.login(self._user, self._password)
            smtp.send_message(msg, from_addr=self.address, to_addrs=[parseaddr(str(msg["To"]))[1]])
        return msg


def compose_reply(to: Mail, text: str, *, sender: str) -> EmailMessage:
    """A reply as iOS Mail writes one: new text, tagline, attribution, the whole message quoted."""
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = to.sender
    subject = to.subject
    msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    msg["Date"] = format_datetime(localtime())
    msg["Message-ID"] = make_msgid(domain=DOMAIN)
    msg["In-Reply-To"] = to.message_id
    msg["References"] = " ".join(filter(None, [to.references, to.message_id]))
    msg["X-Mailer"] = "iPhone Mail (22B83)"
    when = localtime()
    attribution = f"On {when:%d %b %Y}, at {when:%H:%M}, {to.sender} wrote:"
    quoted = "\n".join(f"> {line}".rstrip() for line in to.text.splitlines())
    msg.set_content(f"{text}\n\nSent from my iPhone\n\n> {attribution}\n>\n{quoted}\n")
    return msg
