"""The notification emails: what a person reads on their phone.

Subject: ``[TaskPing #TOKEN] <project dir name>: <first line, ≤ 60 chars>``.
Body, top to bottom: the reply-marker line (carrying the token), two lines on
how to reply, Claude's full reply (or the permission/idle message), then the
session's name, project dir, state and reply window. The HTML part says the
same with phone-friendly styling.

Runs in the Stop hook, in front of Claude's next turn, so it imports nothing
heavy: the MIME bytes come from :mod:`taskping.hooks.mime` (not the ``email``
package), HTML escaping is the five characters that matter, and the subject
tag is written here (``tokens`` would pull in hashlib and ``secrets``; a test
holds it equal to :func:`taskping.tokens.subject_tag`).
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from taskping.hooks.mime import build
from taskping.hooks.notices import Notice, first_line, idle_notice, permission_notice, stop_notice
from taskping.marker import marker_line
from taskping.session_map.sessions import Session

# Re-exported: callers and tests that compose mail also build notices.
__all__ = ["Notice", "compose", "first_line", "idle_notice", "permission_notice", "stop_notice"]

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


def escape(text: str) -> str:
    """HTML-escape text for an element or a quoted attribute (as ``html.escape``)."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")
    )


def project_name(session: Session) -> str:
    return os.path.basename((session.cwd or "").rstrip("/")) or session.name


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(ts))


def how_to_reply(notice: Notice) -> tuple[str, str]:
    if notice.kind == "permission":
        return (
            "A permission dialog is open: answer it at the terminal (`tmux attach`).",
            "Replies are not typed while the dialog is open.",
        )
    return (
        "Reply to this email: your text above the marker is typed into Claude Code and submitted.",
        "Put a command in ``` fences to send exactly that; keep the subject line as it is.",
    )


def compose(
    notice: Notice,
    session: Session,
    *,
    email_from: str,
    email_to: str,
    reply_window_until: float,
    state: str,
) -> ComposedMail:
    project = project_name(session)
    subject = f"{subject_tag(session.token)} {project}: {notice.headline}"
    marker = marker_line(session.token)
    line1, line2 = how_to_reply(notice)
    details = [
        f"Session: {session.name}",
        f"Project: {session.cwd or '?'}",
        f"State: {STATE_LABELS.get(state, state)}",
        f"Replies accepted until {_when(reply_window_until)}",
    ]
    heading = {"stop": "Claude replied:", "permission": "Claude asks:", "idle": "Claude is idle:"}[notice.kind]
    text = "\n".join([marker, "", line1, line2, "", heading, "", notice.body, "", "-- ", *details, ""])
    esc = escape
    html = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
        "<body style='font-family:-apple-system,Segoe UI,Roboto,sans-serif;font-size:16px;line-height:1.4;"
        "margin:0;padding:12px;color:#111'>"
        f"<p style='color:#888;font-size:12px;margin:0 0 12px'>{esc(marker)}</p>"
        f"<p style='margin:0 0 4px'>{esc(line1)}</p>"
        f"<p style='margin:0 0 16px;color:#555'>{esc(line2)}</p>"
        f"<p style='margin:0 0 6px;font-weight:600'>{esc(heading)}</p>"
        "<div style='white-space:pre-wrap;word-wrap:break-word;font-family:ui-monospace,Menlo,Consolas,monospace;"
        "font-size:14px;background:#f6f6f6;border-radius:6px;padding:10px'>"
        f"{esc(notice.body)}</div>"
        "<p style='color:#666;font-size:13px;margin:16px 0 0'>"
        + "<br>".join(esc(d) for d in details)
        + "</p></body></html>"
    )
    message_id, raw = build(
        email_from=email_from,
        email_to=email_to,
        subject=subject,
        text=text,
        html=html,
        kind=notice.kind,
        thread_root=session.thread_root,
    )
    return ComposedMail(message_id=message_id, subject=subject, text=text, html=html, to_addr=email_to, raw=raw)
