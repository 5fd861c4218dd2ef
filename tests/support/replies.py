"""Building the replies the tests send: one body builder and one hand-written header block.

:func:`reply_part` is the body as a mail client writes it (text/plain; with
``html`` a multipart/alternative; ``text=""`` with ``html`` an HTML-only
message). :func:`reply_head` writes the header section by hand, byte for byte,
so odd From or Subject values reach the relay exactly as a test wrote them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate


def reply_part(
    text: str, *, html: str | None = None, cte: str | None = None, into: EmailMessage | None = None
) -> EmailMessage:
    """The MIME body of a reply (its Content-* headers included), set on ``into`` (whose headers
    stay first) or on a new message."""
    part = into if into is not None else EmailMessage()
    if html is not None and text == "":
        part.set_content(html, subtype="html", cte=cte)
    else:
        part.set_content(text, cte=cte)
        if html is not None:
            part.add_alternative(html, subtype="html")
    return part


def reply_head(
    *, from_: str, to: str, subject: str, message_id: str, in_reply_to: str | None = None, extra: Iterable[str] = ()
) -> bytes:
    """From, To, Subject, Date, Message-ID, threading (when ``in_reply_to``) and ``extra`` lines, CRLF-ended."""
    lines = [
        f"From: {from_}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {formatdate(time.time())}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to is not None:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
