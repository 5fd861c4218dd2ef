"""Step 11, acknowledge: tell the person what happened, in the same thread.

Called only from the pipeline's one ending (:meth:`Pipeline._end`).

"Delivered to <session> at 14:03:07" after typing (ACK_EMAILS=false turns
these off); a refusal with its reason otherwise. Only ever addressed to an
allowlisted sender that passed authentication: callers must not call this for
anyone else.
"""

from __future__ import annotations

import html as htmllib
import sqlite3
import time

from taskping.config import Settings
from taskping.outgoing import build
from taskping.relay.parse import InboundMail
from taskping.session_map import notifications, outbox
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import EmailKind
from taskping.tokens import subject_tag, token_host


def _subject(mail: InboundMail, session: Session | None) -> str:
    subject = mail.subject.strip()
    if session is not None and subject_tag(session.token).lower() not in subject.lower():
        subject = f"{subject_tag(session.token)} {subject}".strip()
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}" if subject else "Re: TaskPing"
    return subject


def queue_reply(
    conn: sqlite3.Connection,
    settings: Settings,
    mail: InboundMail,
    to_addr: str,
    session: Session | None,
    *,
    kind: EmailKind,
    lines: list[str],
    pre: list[str] | None = None,
) -> None:
    """Queue an email in the session's thread: ``lines`` as paragraphs, then ``pre`` (terminal
    rows) verbatim, in a monospace block in the HTML part."""
    assert settings.email_from
    text = "\n".join(lines) + "\n"
    html = (
        "<div style='font-family:sans-serif;font-size:15px'>"
        + "".join(f"<p style='margin:0 0 8px'>{htmllib.escape(line)}</p>" for line in lines)
        + "</div>"
    )
    if pre is not None:
        text += "\n" + "\n".join(pre) + "\n"
        html += (
            "<pre style='font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;"
            "background:#f4f4f4;color:#111;padding:8px;overflow-x:auto;white-space:pre'>"
            + htmllib.escape("\n".join(pre))
            + "</pre>"
        )
    in_reply_to = mail.message_id
    thread_root = session.thread_root if session else None
    msg = build(
        email_from=settings.email_from,
        email_to=to_addr,
        subject=_subject(mail, session),
        text=text,
        html=html,
        kind=kind,
        thread_root=thread_root,
        in_reply_to=in_reply_to,
        host=token_host(session.token) if session else None,
    )
    if session is not None:
        notifications.queue(
            conn,
            session_id=session.id,
            message_id=msg.message_id,
            kind=kind,
            body_text=text,
            to_addr=to_addr,
            raw=msg.raw,
            ttl=None,
        )
    else:
        outbox.enqueue(conn, message_id=msg.message_id, session_id=None, kind=kind, to_addr=to_addr, raw=msg.raw)


def delivered(
    conn: sqlite3.Connection,
    settings: Settings,
    mail: InboundMail,
    to_addr: str,
    session: Session,
    *,
    confirmed: bool,
    waited: float | None = None,
    resumed: str | None = None,
) -> None:
    """``resumed``: the session's terminal was gone and it was brought back; how to attach to it."""
    if not settings.ack_emails:
        return
    at = time.strftime("%H:%M:%S")
    first = f"Delivered to {session.name} at {at}."
    if not confirmed:
        first = f"Typed into {session.name} at {at}, but Claude Code did not confirm it was submitted."
    if waited is not None:
        first += f" It waited {waited:.0f} s for Claude to finish what it was doing."
    lines = [first]
    if resumed is not None:
        lines.append(
            f"Its terminal was gone, so the session was resumed (claude --resume: the same conversation) "
            f"in a new tmux session; attach with: {resumed}"
        )
    queue_reply(conn, settings, mail, to_addr, session, kind=EmailKind.ACK, lines=lines)


def not_delivered(
    conn: sqlite3.Connection, settings: Settings, mail: InboundMail, to_addr: str, session: Session | None, reason: str
) -> None:
    where = f" for {session.name}" if session else ""
    queue_reply(
        conn,
        settings,
        mail,
        to_addr,
        session,
        kind=EmailKind.REFUSAL,
        lines=[f"Not delivered{where}: {reason}.", "Nothing was typed."],
    )


def fate_unknown(
    conn: sqlite3.Connection, settings: Settings, mail: InboundMail, to_addr: str, session: Session | None
) -> None:
    where = f" to {session.name}" if session else ""
    queue_reply(
        conn,
        settings,
        mail,
        to_addr,
        session,
        kind=EmailKind.UNKNOWN,
        lines=[
            f"Your reply may not have been delivered{where}: TaskPing stopped while typing it.",
            "It will not be typed again. Check the session, and reply again if it is missing.",
        ],
    )


def answered(
    conn: sqlite3.Connection,
    settings: Settings,
    mail: InboundMail,
    to_addr: str,
    session: Session | None,
    lines: list[str],
    pre: list[str] | None = None,
) -> None:
    """The answer to a reply command (``#status``, ``#screen``...), in the session's thread; to a
    fresh email's command (no session), a reply to that email, starting a thread."""
    queue_reply(conn, settings, mail, to_addr, session, kind=EmailKind.ANSWER, lines=lines, pre=pre)
