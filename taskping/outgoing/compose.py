"""Building the emails TaskPing sends (notifications, acknowledgements, refusals).

Every message gets a Message-ID we generate on EMAIL_FROM's domain, threading
headers pointing at the session's first notification (so a phone shows one
conversation per session), a plain-text and an HTML part, and
``Auto-Submitted: auto-generated`` so that auto-replies never answer it and the
relay recognises its own mail in a shared inbox.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

TASKPING_HEADER = "X-TaskPing"


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str
    subject: str
    text: str
    html: str
    to_addr: str
    raw: bytes


def new_message_id(email_from: str, host: str | None = None) -> str:
    """``<tp.HOST.SECONDS.RANDOM@domain>`` (``host``: a token's host part, naming the machine
    that sends it), ``<tp.SECONDS.RANDOM@domain>`` without one."""
    domain = email_from.rpartition("@")[2] or "taskping.invalid"
    prefix = f"tp.{host}." if host else "tp."
    return f"<{prefix}{int(time.time())}.{secrets.token_hex(10)}@{domain}>"


def build(
    *,
    email_from: str,
    email_to: str,
    subject: str,
    text: str,
    html: str,
    kind: str,
    thread_root: str | None = None,
    in_reply_to: str | None = None,
    message_id: str | None = None,
    host: str | None = None,
) -> OutgoingMail:
    """Compose one message. ``in_reply_to`` defaults to ``thread_root``;
    References always starts with the thread root."""
    message_id = message_id or new_message_id(email_from, host)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr(("TaskPing", email_from))
    msg["To"] = email_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id
    parent = in_reply_to or thread_root
    if parent:
        msg["In-Reply-To"] = parent
        refs = [r for r in (thread_root, in_reply_to) if r]
        msg["References"] = " ".join(dict.fromkeys(refs))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[TASKPING_HEADER] = kind
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return OutgoingMail(
        message_id=message_id, subject=subject, text=text, html=html, to_addr=email_to, raw=msg.as_bytes()
    )
