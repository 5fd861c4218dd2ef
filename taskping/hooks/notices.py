"""What a notification says, decided in the hook: its kind, headline and body.

Kept apart from :mod:`taskping.hooks.compose` (which turns a notice into an
email) so that deciding costs no MIME imports: most hook events decide that
nothing is mailed, and every ``UserPromptSubmit`` sits in front of Claude.
"""

from __future__ import annotations

from typing import NamedTuple

from taskping.session_map.vocabulary import EmailKind

SUBJECT_SNIPPET = 60


class Notice(NamedTuple):
    """What to tell the person: the kind and the main text."""

    kind: EmailKind  # STOP, PERMISSION, IDLE or NOTIFY
    headline: str  # the subject's text after the project name
    body: str  # Claude's reply, or the notification message
    summary: str | None = None  # one line on the turn: "4 min · edited 3 files · ran 2 commands"
    title: str | None = None  # shown above the body (`taskping notify --title`)
    markdown: bool = True  # the body is markdown (Claude's); False: plain text shown as it is


def first_line(text: str, limit: int = SUBJECT_SNIPPET) -> str:
    for line in text.splitlines():
        line = " ".join(line.strip().lstrip("#>*- ").split())
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""


def stop_notice(reply_text: str | None, summary: str | None = None) -> Notice:
    text = (reply_text or "").strip()
    headline = first_line(text) or "finished its turn"
    return Notice(
        kind=EmailKind.STOP,
        headline=headline,
        body=text or "(Claude finished its turn without a text reply.)",
        summary=summary,
    )


def permission_notice(message: str | None) -> Notice:
    text = (message or "Claude needs your permission to continue.").strip()
    return Notice(kind=EmailKind.PERMISSION, headline="needs permission — " + first_line(text, 40), body=text)


def idle_notice(message: str | None) -> Notice:
    text = (message or "Claude is waiting for your input.").strip()
    return Notice(kind=EmailKind.IDLE, headline="waiting for your input", body=text)


def notify_notice(message: str, title: str | None = None, *, plain: bool = False) -> Notice:
    """`taskping notify`: a message from a script or a build, in the session's thread."""
    text = message.strip("\n")
    headline = first_line(title or "") or first_line(text) or "notification"
    return Notice(
        kind=EmailKind.NOTIFY, headline=headline, body=text or "(no message)", title=title or None, markdown=not plain
    )


def _duration(exact: float) -> str:
    seconds = max(0, round(exact))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def turn_summary(seconds: float | None, files_edited: int, commands_run: int) -> str | None:
    """``4 min · edited 3 files · ran 2 commands`` (parts that are unknown or zero left out)."""
    parts = []
    if seconds is not None:
        parts.append(_duration(seconds))
    if files_edited:
        parts.append("edited " + _count(files_edited, "file", "files"))
    if commands_run:
        parts.append("ran " + _count(commands_run, "command", "commands"))
    return " · ".join(parts) or None
