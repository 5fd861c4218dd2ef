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

A **fresh email** (a command that answers no session: ``#help``, ``#status``,
``#new``) has no session to key on; :func:`record_and_check_fresh_replay` keys
it on this machine instead: the signature keys as above, and a content key of
the sender, this machine's host part, the subject and the command text. A
``#new`` re-sent under a fresh Message-ID is therefore refused before anything
starts (start a second session in the same place with other words, or another
subject). ``#help`` and ``#status`` only read, so their content key also holds
the mail's Date: the same question asked again later is answered again, while a
copy of one mail is not.
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


def fresh_content_key(sender: str, host: str, mail: InboundMail, text: str, *, with_date: bool) -> str:
    """The content key of a command in a fresh email (see the module docstring)."""
    subject = " ".join(mail.subject.split()).lower()
    words = " ".join(text.split())
    date = mail.date if with_date else ""
    material = "\0".join(["fresh", sender.lower(), host, subject, date, words])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def record_and_check_fresh_replay(
    conn: sqlite3.Connection, entry_id: int, *, sender: str, host: str, mail: InboundMail, text: str, read_only: bool
) -> Refusal | None:
    """Record a fresh email's replay keys; a refusal when it replays a command already run here."""
    earlier = reply_keys.record_and_find(
        conn,
        entry_id,
        content_key=fresh_content_key(sender, host, mail, text, with_date=read_only),
        signature_keys=signature_keys(mail.raw, sender.rpartition("@")[2]),
    )
    if earlier is None:
        return None
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(earlier.at))
    how = "the same DKIM signature" if earlier.by_signature else "the same command from the same sender and subject"
    return Refusal(
        Step.REPLAY,
        Code.REPLAY,
        f"replay: a new email with {how} was already run on this machine at {when}; it is not run again "
        "(change a word or the subject to run it twice)",
    )


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
