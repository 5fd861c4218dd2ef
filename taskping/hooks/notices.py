"""What a notification says, decided in the hook: its kind, headline and body.

Kept apart from :mod:`taskping.hooks.compose` (which turns a notice into an
email) so that deciding costs no MIME imports: most hook events decide that
nothing is mailed, and every ``UserPromptSubmit`` sits in front of Claude.
"""

from __future__ import annotations

from typing import NamedTuple

SUBJECT_SNIPPET = 60


class Notice(NamedTuple):
    """What to tell the person: the kind and the main text."""

    kind: str  # "stop" | "permission" | "idle"
    headline: str  # the subject's text after the project name
    body: str  # Claude's reply, or the notification message


def first_line(text: str, limit: int = SUBJECT_SNIPPET) -> str:
    for line in text.splitlines():
        line = " ".join(line.strip().lstrip("#>*- ").split())
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""


def stop_notice(reply_text: str | None) -> Notice:
    text = (reply_text or "").strip()
    headline = first_line(text) or "finished its turn"
    return Notice(kind="stop", headline=headline, body=text or "(Claude finished its turn without a text reply.)")


def permission_notice(message: str | None) -> Notice:
    text = (message or "Claude needs your permission to continue.").strip()
    return Notice(kind="permission", headline="needs permission — " + first_line(text, 40), body=text)


def idle_notice(message: str | None) -> Notice:
    text = (message or "Claude is waiting for your input.").strip()
    return Notice(kind="idle", headline="waiting for your input", body=text)
