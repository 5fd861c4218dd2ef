"""Step 4, dedupe, second half: a genuine reply sent again under a new Message-ID.

The ledger's unique message key catches the same message delivered twice.
It cannot catch a *replay*: someone who got hold of one genuine reply (a
forwarded copy, a mailbox they can read) re-sends it with a fresh
Message-ID. With SENDER_AUTH=dkim the signature may well still verify (many
providers do not sign Message-ID, and none can stop a byte-exact re-send of
the whole message); with SENDER_AUTH=none nothing at all stops it.

So once a reply has been routed and its text extracted, it gets a replay key:
the authenticated sender, the session, the message it answers
(In-Reply-To, else the last References entry) and the extracted text with
its whitespace collapsed. If an earlier message with the same key was typed
(ledger status ``injecting``, ``delivered`` or ``unknown``) within the reply
window (TOKEN_TTL), this one is refused as a replay. Refused or dropped
earlier messages do not count, so a reply refused for the rate limit can be
sent again. A person who really wants the same words typed twice answers
the newer notification, or changes a word.

The keys live in their own small table in the session map (``reply_keys``,
schema v2), one row per ledger entry, pruned past the window.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time

from taskping.relay.parse import InboundMail
from taskping.session_map.db import transaction
from taskping.session_map.sessions import Session

TYPED = ("injecting", "delivered", "unknown")


def replay_key(sender: str, session_id: int, mail: InboundMail, text: str) -> str:
    answers = mail.in_reply_to[0] if mail.in_reply_to else (mail.references[-1] if mail.references else "")
    words = " ".join(text.split())
    material = "\0".join([sender.lower(), str(session_id), answers, words])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def replay_of(
    conn: sqlite3.Connection,
    entry_id: int,
    *,
    sender: str,
    session: Session,
    mail: InboundMail,
    text: str,
    window: float,
    now: float | None = None,
) -> str | None:
    """Record this entry's replay key; the refusal reason when it replays a typed reply, else None."""
    now = time.time() if now is None else now
    key = replay_key(sender, session.id, mail, text)
    with transaction(conn):
        earlier = conn.execute(
            "SELECT i.message_id, i.status, k.created_at FROM reply_keys k JOIN inbound i ON i.id = k.entry_id"
            " WHERE k.replay_key = ? AND k.entry_id != ? AND k.created_at >= ? AND i.status IN (?, ?, ?)"
            " ORDER BY k.created_at DESC LIMIT 1",
            (key, entry_id, now - window, *TYPED),
        ).fetchone()
        conn.execute("DELETE FROM reply_keys WHERE created_at < ?", (now - window,))
        conn.execute(
            "INSERT OR REPLACE INTO reply_keys (entry_id, replay_key, created_at) VALUES (?, ?, ?)",
            (entry_id, key, now),
        )
    if earlier is None:
        return None
    when = time.strftime("%H:%M:%S", time.localtime(earlier["created_at"]))
    return (
        f"replay: the same text from the same sender, answering the same message, was already typed into "
        f"session {session.name} at {when}; it is not typed again (change a word or answer the newest "
        "notification to send it twice)"
    )
