"""Step 9, guard (after replay): may this command be typed, and in what form?

Size (MAX_COMMAND_BYTES: refused, never truncated), rate
(RATE_LIMIT_PER_MINUTE per session, with the time to retry), then the
terminal guard (control bytes, CR/CRLF, leading ``!`` and ``/``). The open
permission dialog check is the injector's: it reads the screen right before
typing. Returns the :class:`GuardedText` to type or a
:class:`~taskping.session_map.vocabulary.Refusal`.
"""

from __future__ import annotations

import sqlite3
import time

from taskping.config import Settings
from taskping.injectors.terminal_guard import GuardedText, guard_text
from taskping.session_map import ledger
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import Code, Refusal, Step


def _no(code: Code, reason: str, session_id: int | None) -> Refusal:
    return Refusal(Step.GUARD, code, reason, session_id)


def guard(
    command: str, session: Session, conn: sqlite3.Connection, settings: Settings, *, now: float | None = None
) -> GuardedText | Refusal:
    now = time.time() if now is None else now
    too_large = _size(command, settings, session.id)
    if too_large is not None:
        return too_large
    recent = sorted(ledger.delivered_since(conn, session.id, now - 60))
    if len(recent) >= settings.rate_limit_per_minute:
        retry_at = recent[-settings.rate_limit_per_minute] + 60
        wait = max(1, int(retry_at - now + 0.999))
        return _no(
            Code.RATE_LIMITED,
            f"rate limit: at most {settings.rate_limit_per_minute} command(s) per minute for session "
            f"{session.name}; retry in {wait} s (after {time.strftime('%H:%M:%S', time.localtime(retry_at))})",
            session.id,
        )
    return _text(command, settings, session.id)


def guard_prompt(command: str, settings: Settings) -> GuardedText | Refusal:
    """The same checks for a session that does not exist yet (``#new``'s first prompt, checked
    before anything starts): size and the terminal guard; a new session has no rate to keep."""
    return _size(command, settings, None) or _text(command, settings, None)


def _size(command: str, settings: Settings, session_id: int | None) -> Refusal | None:
    size = len(command.encode("utf-8"))
    if size <= settings.max_command_bytes:
        return None
    return _no(
        Code.COMMAND_TOO_LARGE,
        f"the command is {size} bytes, over the limit of {settings.max_command_bytes} (MAX_COMMAND_BYTES); "
        "nothing was typed",
        session_id,
    )


def _text(command: str, settings: Settings, session_id: int | None) -> GuardedText | Refusal:
    guarded = guard_text(
        command,
        allow_shell_escape=settings.allow_shell_escape,
        allowed_slash_commands=settings.allowed_slash_commands,
    )
    if guarded.empty:
        return _no(Code.NOTHING_TO_TYPE, "nothing is left to type once control characters are removed", session_id)
    return guarded
