"""Dedupe, second half (the ``replay`` step, after extract): a genuine reply sent again.

Dedupe is two steps at two places in the pipeline. The first is the
ledger's unique message key (Message-ID, else a hash of the header section
and size), applied when the message is claimed, right after parse and the
header screen, before authenticate: the same message delivered twice is
handled once. It cannot catch a *replay*:
someone who got hold of one genuine reply (a forwarded copy, a mailbox they
can read) re-sends it with a fresh Message-ID, perhaps with the headers
around a genuine DKIM signature changed (a signature covers only the
headers named in its ``h=``). So once a reply has been routed and its text
extracted, it gets two kinds of keys (stored by
:mod:`taskping.session_map.reply_keys`):

* a **signature key** for every DKIM-Signature aligned with the sender's
  domain, read the way dkimpy (the verifier) reads the header section: the
  signature's ``b=`` value with its whitespace removed. Whatever the replayer
  changes outside the signed headers and body, the signature is the same,
  and any change to what it signs makes it fail verification. With
  SENDER_AUTH=authres the provider verified the same signatures, so the
  same keys apply;
* a **content key**: the authenticated sender, the session, the message it
  answers (In-Reply-To, else the last References entry) and the extracted
  text with whitespace collapsed. It catches what the signature cannot (no
  signature at all, SENDER_AUTH=none, or a re-signed copy).

If an earlier reply with any matching key was typed (or is waiting to be),
this one is refused as a replay. The keys live as long as the ledger rows
(no time window), so a reply stays recognisable for the whole life of its
session, however long that is. Refused or dropped earlier messages do not
count, so a reply refused for the rate limit can be sent again. A person who
really wants the same words typed twice answers the newer notification, or
changes a word.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time

from taskping.relay.dkim_verify import aligned_signatures
from taskping.relay.parse import InboundMail
from taskping.session_map import reply_keys, sessions
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import Code, Refusal, Step


def content_key(sender: str, session_id: int, mail: InboundMail, text: str) -> str:
    """What the reply answers (In-Reply-To, else the last References entry, else its subject: a
    quick-reply button's mail has no thread headers and a subject naming its notification), who
    sent it, to which session, and its words."""
    if mail.in_reply_to:
        answers = mail.in_reply_to[0]
    elif mail.references:
        answers = mail.references[-1]
    else:
        answers = "subject:" + " ".join(mail.subject.split()).lower()
    words = " ".join(text.split())
    material = "\0".join([sender.lower(), str(session_id), answers, words])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def signature_keys(raw: bytes, from_domain: str) -> list[str]:
    """Keys of the DKIM signatures in ``raw`` whose ``d=`` is aligned with ``from_domain``."""
    return sorted({hashlib.sha256(b"dkim-b\0" + sig.b).hexdigest() for sig in aligned_signatures(raw, from_domain)})


def record_and_check_replay(
    conn: sqlite3.Connection,
    entry_id: int,
    *,
    sender: str,
    session: Session,
    mail: InboundMail,
    text: str,
) -> Refusal | None:
    """Record this entry's replay keys (it writes, always); a refusal when it replays a typed reply, else None."""
    earlier = reply_keys.record_and_find(
        conn,
        entry_id,
        content_key=content_key(sender, session.id, mail, text),
        signature_keys=signature_keys(mail.raw, sender.rpartition("@")[2]),
    )
    if earlier is None:
        return None
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(earlier.at))
    where = sessions.get(conn, earlier.session_id) if earlier.session_id is not None else None
    into = f"session {where.name}" if where else "a session"
    if earlier.by_signature:
        reason = (
            f"replay: a message with the same DKIM signature was already typed into {into} at {when}; "
            "a signed reply is typed once, whatever headers around it changed"
        )
    else:
        reason = (
            f"replay: the same text from the same sender, answering the same message, was already typed into "
            f"{into} at {when}; it is not typed again (change a word or answer the newest notification to send it "
            "twice)"
        )
    return Refusal(Step.REPLAY, Code.REPLAY, reason, session.id)
