"""Step 6, route: which session is this reply for?

``In-Reply-To``, then ``References`` (newest first), against the notifications
we sent; then the ``[TaskPing #TOKEN]`` subject token. When both are present
they must agree. The session must be live and its reply window open; an
ended one passes only when a reply may bring it back (``resume_gone``, and
:func:`~taskping.session_map.sessions.why_not_resumable` finds no reason not
to), else the refusal says why it is not resumed.
Returns :class:`Routed` or a :class:`~taskping.session_map.vocabulary.Refusal`
(with ``session_id`` when the session is known but not usable).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from taskping.relay.parse import InboundMail
from taskping.session_map import notifications, sessions
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import Code, Refusal, Step
from taskping.tokens import find_subject_token, host_part, message_id_host, token_host


@dataclass(frozen=True)
class Routed:
    session: Session
    via: str  # "thread", "subject" or "thread+subject"


def _no(code: Code, reason: str, session: Session | None = None) -> Refusal:
    return Refusal(Step.ROUTE, code, reason, session.id if session else None)


def thread_session(conn: sqlite3.Connection, mail: InboundMail) -> Session | None:
    candidates = list(mail.in_reply_to) + list(reversed(mail.references))
    found = notifications.first_known(conn, candidates)
    return sessions.get(conn, found.session_id) if found else None


def is_foreign(conn: sqlite3.Connection, mail: InboundMail, host_id: str | None) -> bool:
    """A reply to another machine's notification: its token's host part is not ours (or,
    without a token, its thread names another machine in a TaskPing Message-ID) and nothing
    in its thread is ours. Such mail is left untouched for that machine's relay; mail that
    names no machine at all is not foreign (it is refused as today)."""
    ours = host_part(host_id)
    token = find_subject_token(mail.subject)
    if token is not None:
        if token_host(token) == ours:
            return False
    else:
        hosts = {message_id_host(m) for m in [*mail.in_reply_to, *mail.references]} - {None}
        if not hosts or ours in hosts:
            return False
    return thread_session(conn, mail) is None and (token is None or sessions.by_token(conn, token) is None)


def route(
    conn: sqlite3.Connection, mail: InboundMail, *, now: float | None = None, resume_gone: bool = False
) -> Routed | Refusal:
    now = time.time() if now is None else now
    by_thread = thread_session(conn, mail)
    token = find_subject_token(mail.subject)
    by_subject = sessions.by_token(conn, token) if token else None
    if token and by_subject is None and by_thread is None:
        return _no(Code.UNKNOWN_TOKEN, "unknown session token in the subject")
    if by_thread and token and (by_subject is None or by_subject.id != by_thread.id):
        return _no(
            Code.TOKEN_MISMATCH, "the subject's session token does not match the thread this replies to", by_thread
        )
    session = by_thread or by_subject
    if session is None:
        return _no(Code.NOT_A_REPLY, "not a reply to a TaskPing notification (no known thread or token)")
    via = "thread+subject" if by_thread and by_subject else ("thread" if by_thread else "subject")
    if not session.live:
        why = sessions.why_not_resumable(session, enabled=resume_gone)
        if why is not None:
            return _no(Code.SESSION_ENDED, f"session {session.name} has ended (not resumed: {why})", session)
    if now >= session.expires_at:
        return _no(Code.REPLY_WINDOW_EXPIRED, f"the reply window for session {session.name} has expired", session)
    return Routed(session, via)
