"""An in-process reply pipeline on a real session map, without a terminal.

Two live sessions, each with one notification "sent"; the real
:class:`~taskping.relay.pipeline.Pipeline` whose injector fails the test if
anything ever reaches it. For tests of the steps before inject (parse,
screen, authenticate, route): what they decide ends in the real ledger and
audit log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from taskping.config import Settings, load_settings
from taskping.relay.pipeline import Outcome, Pipeline, Planned
from taskping.session_map import connect, notifications, sessions
from taskping.session_map.vocabulary import Code, Status, Step
from taskping.tokens import new_token

ME = "me@example.test"
HOST = "canonhost"


class NoTerminal:
    """The injector of a pipeline that must stop before inject: typing anything fails the test."""

    def inject(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("nothing here may be typed")


@dataclass
class Map:
    settings: Settings
    pipeline: Pipeline
    conn: sqlite3.Connection
    tokens: list[str]
    notes: list[str]  # Message-IDs of the notifications, one per session


def map_settings(root: Path, host: str = HOST, **env: str) -> Settings:
    """TaskPing's settings for a session map at ``root``/taskping.db (SENDER_AUTH=none unless ``env`` says)."""
    return load_settings(
        environ={
            "SESSION_MAP_PATH": str(root / "taskping.db"),
            "EMAIL_FROM": "taskping@example.test",
            "EMAIL_TO": ME,
            "ALLOWED_SENDERS": ME,
            "SENDER_AUTH": "none",
            "TASKPING_HOST_ID": host,
            "IMAP_HOST": "127.0.0.1",
            "IMAP_USER": "taskping",
            "SMTP_HOST": "127.0.0.1",
            **env,
        }
    )


def tracked_session(
    conn: sqlite3.Connection,
    i: int,
    *,
    name: str,
    body: str = "Finished.",
    ttl: float = 86400,
    state: str = "idle",
    host: str = HOST,
) -> tuple[sessions.Session, str, str]:
    """A tmux session in pane ``%i`` (of no real server) with one Stop notification ``<note-i@example.test>``
    queued: (the session, its token, the notification's Message-ID)."""
    token = new_token(host)
    s = sessions.create(
        conn,
        token=token,
        name=name,
        kind="tmux",
        target_socket="/nonexistent/sock",
        target_pane=f"%{i}",
        ttl=ttl,
        state=state,
    )
    mid = f"<note-{i}@example.test>"
    notifications.queue(
        conn,
        session_id=s.id,
        message_id=mid,
        kind="stop",
        body_text=body,
        to_addr=ME,
        raw=b"Subject: x\r\n\r\n" + body.encode(),
        ttl=86400,
    )
    return s, token, mid


@contextmanager
def in_process_map(root: Path, **env: str) -> Iterator[Map]:
    """The map and pipeline under ``root``; ``env`` overrides TaskPing keys (SENDER_AUTH=none by default)."""
    settings = map_settings(root, **env)
    conn = connect(settings.session_map_path)
    tokens, notes = [], []
    try:
        for i in range(2):
            _session, token, mid = tracked_session(conn, i, name=f"canon-{i}")
            tokens.append(token)
            notes.append(mid)
        yield Map(settings, Pipeline(settings, conn, NoTerminal()), conn, tokens, notes)  # type: ignore[arg-type]
    finally:
        conn.close()


def reply_to(
    m: Map,
    session: int,
    body: bytes = b"run the tests",
    mid: bytes = b"<reply-1@example.test>",
    sender: bytes = b"Me <me@example.test>",
) -> bytes:
    """A well-formed reply (CRLF, one of each header) to session ``session``'s notification."""
    return (
        b"From: " + sender + b"\r\nTo: taskping@example.test\r\n"
        b"Subject: Re: [TaskPing #" + m.tokens[session].encode() + b"] finished\r\n"
        b"Message-ID: " + mid + b"\r\n"
        b"In-Reply-To: " + m.notes[session].encode() + b"\r\n\r\n" + body + b"\r\n"
    )


def said(outcome: Outcome | Planned | None) -> tuple[Status, Step | None, Code | None] | None:
    """What a test asserts about an outcome: status, step and stable code (never the wording)."""
    if outcome is None or isinstance(outcome, Planned):
        return None
    return outcome.status, outcome.step, outcome.code
