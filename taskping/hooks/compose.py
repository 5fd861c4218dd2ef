"""The notification emails: what a person reads on their phone.

Subject: ``[TaskPing #TOKEN] <project dir name>: <first line, ≤ 60 chars>``.
Text part, top to bottom: the reply-marker line (carrying the token: the
extractor's boundary, so it stays first), the turn's one-line summary, Claude's
full reply as markdown (or the permission/idle/notify message), then the
footer after ``-- ``: how to reply, the quick replies, the session's name,
project dir, state and reply window. The HTML part
(:mod:`taskping.hooks.notification_html`) says the same with Claude's markdown
rendered, a hidden preheader (the inbox preview shows Claude's first line, not
the marker) and one-tap ``mailto:`` buttons for the quick replies.

Runs in the Stop hook, in front of Claude's next turn, so it imports nothing
it can avoid: the MIME bytes come from :mod:`taskping.hooks.mime` (not the
``email`` package) and the subject tag is written here (``tokens`` would pull
in hashlib and ``secrets``; a test holds it equal to
:func:`taskping.tokens.subject_tag`). The markdown renderer is the one import
of weight (~20 ms, measured in bench/README.md).
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from taskping.hooks import notification_html
from taskping.hooks.mime import build, new_message_id
from taskping.hooks.notices import (
    Notice,
    first_line,
    idle_notice,
    notify_notice,
    permission_notice,
    stop_notice,
)
from taskping.hooks.notification_html import Button, FooterCommand, escape, mailto
from taskping.marker import marker_line
from taskping.session_map.sessions import Session

# Re-exported: callers and tests that compose mail also build notices.
__all__ = [
    "Notice",
    "compose",
    "escape",
    "first_line",
    "idle_notice",
    "notify_notice",
    "permission_notice",
    "stop_notice",
]

#: Suggested replies offered as one-tap buttons (label, the text typed into Claude).
QUICK_REPLIES: tuple[tuple[str, str], ...] = (("Continue", "continue"), ("Stop", "stop"))
#: Kinds that invite a typed reply (a permission dialog is answered at the terminal).
REPLYABLE = ("stop", "idle", "notify")
#: Reply commands listed in the footer: a reply that is exactly one of these lines is run by the
#: relay and answered in the thread, never typed (the relay's list: taskping.relay.commands.HELP).
REPLY_COMMANDS: tuple[FooterCommand, ...] = (
    FooterCommand("#status", "every session on this machine"),
    FooterCommand("#screen [N]", "the last N lines of this terminal"),
    FooterCommand("#esc", "press Escape (stops the turn)"),
    FooterCommand("#close", "end this session"),
    FooterCommand("#help", "the commands"),
)
#: The preview's length; with its padding the marker line stays within the extractor's 400 characters.
PREHEADER_CHARS = 100

STATE_LABELS = {
    "starting": "starting",
    "busy": "working",
    "idle": "waiting for your reply",
    "waiting-permission": "waiting for a permission decision",
    "ended": "ended",
}


class ComposedMail(NamedTuple):
    """A notification ready for the outbox (the fields the hook stores)."""

    message_id: str
    subject: str
    text: str
    html: str
    to_addr: str
    raw: bytes


def subject_tag(token: str) -> str:
    """``[TaskPing #TOKEN]``: what the relay finds in a reply's Subject (see taskping.tokens)."""
    return f"[TaskPing #{token}]"


def project_name(session: Session) -> str:
    return os.path.basename((session.cwd or "").rstrip("/")) or session.name


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(ts))


def how_to_reply(notice: Notice) -> tuple[str, ...]:
    if notice.kind == "permission":
        return (
            "A permission dialog is open: answer it at the terminal (`tmux attach`).",
            "Replies are not typed while the dialog is open.",
        )
    return (
        "Reply to this email: your text above the marker line is typed into Claude Code and submitted.",
        "Put a command in ``` fences to send exactly that; keep the subject line as it is.",
        "Quick replies: " + ", ".join(f'"{text}"' for _, text in QUICK_REPLIES) + " (the buttons, or write the word).",
    )


def preheader(notice: Notice) -> str:
    """What the inbox preview shows: the title, else the body's first line, markdown marks dropped."""
    line = first_line(notice.title or notice.body, PREHEADER_CHARS)
    return line.replace("**", "").replace("__", "").replace("`", "") if notice.markdown else line


def quick_reply_buttons(
    email_from: str, subject: str, message_id: str, replies: tuple[tuple[str, str], ...] = QUICK_REPLIES
) -> list[Button]:
    """One-tap answers: a reply to EMAIL_FROM with the notification's subject (its token) and the text.

    Phones drop the link's In-Reply-To, so the subject also names this notification (``· n`` and
    6 hex digits of its Message-ID): the relay's replay check tells "continue" tapped under two
    notifications (two answers) from the same mail sent twice (a replay).
    """
    import hashlib

    tag = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    base = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply_subject = f"{base} · n{tag}"
    return [
        Button(label, mailto(email_from, subject=reply_subject, body=text, in_reply_to=message_id))
        for label, text in replies
    ]


def compose(
    notice: Notice,
    session: Session,
    *,
    email_from: str,
    email_to: str,
    reply_window_until: float,
    state: str,
    replying: tuple[str, ...] | None = None,
    replies: tuple[tuple[str, str], ...] | None = None,
) -> ComposedMail:
    """The notification for ``notice``. ``replying`` replaces the footer's how-to-reply lines and
    ``replies`` the one-tap buttons (an approval email's answers)."""
    project = project_name(session)
    subject = f"{subject_tag(session.token)} {project}: {notice.headline}"
    message_id = new_message_id(email_from, host=session.token.split("-", 1)[0])  # the token's host part
    marker = marker_line(session.token)
    replying = replying or how_to_reply(notice)
    details = [
        f"Session: {session.name}",
        f"Project: {session.cwd or '?'}",
        f"State: {STATE_LABELS.get(state, state)}",
        f"Replies accepted until {_when(reply_window_until)}",
    ]
    commands = [f"{c.write}  {c.does}" for c in REPLY_COMMANDS]
    top = [marker, ""]
    if notice.title:
        top += [notice.title, ""]
    if notice.summary:
        top += [notice.summary, ""]
    text = "\n".join([*top, notice.body, "", "-- ", *replying, *commands, *details, ""])
    if notice.markdown:
        from taskping.hooks.markdown_html import render  # the one heavy import: only when mailing

        body_html = render(notice.body)
    else:
        body_html = notification_html.preformatted(notice.body)
    html = notification_html.page(
        preheader=preheader(notice),
        marker=marker,
        summary=notice.summary,
        title=notice.title,
        body_html=body_html,
        buttons=(
            quick_reply_buttons(email_from, subject, message_id, replies or QUICK_REPLIES)
            if notice.kind in REPLYABLE or replies
            else []
        ),
        how_to_reply=replying,
        commands=REPLY_COMMANDS,
        details=details,
    )
    message_id, raw = build(
        email_from=email_from,
        email_to=email_to,
        subject=subject,
        text=text,
        html=html,
        kind=notice.kind,
        thread_root=session.thread_root,
        message_id=message_id,
    )
    return ComposedMail(message_id=message_id, subject=subject, text=text, html=html, to_addr=email_to, raw=raw)
