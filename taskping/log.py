"""Logging, configured once per process (structlog).

One format per stream, chosen once: JSON lines to a file or the journal (the
daemon under systemd, hooks), human lines on a terminal (stderr is a TTY), or
as ``--log-format`` says. Nothing else is written to that stream in the other
format: a command's own messages (the ``config:`` line, a fatal error) go
through :func:`say`, which renders them in the stream's format.

Redaction happens here, in one processor, not at call sites: passwords are
dropped, tokens shortened, and any long text value cut to its first 120
characters, except ``line`` (TaskPing's own one-line messages, see
UNCUT_KEYS). Hooks import this module only when they have something to log.
The log file is private (0600, its directory 0700): it names sessions, senders
and the first characters of what was typed.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from pathlib import Path
from typing import Any, Literal, TextIO, cast

import structlog

from taskping.log_retention import append_line
from taskping.private_files import open_private, private_dir
from taskping.tokens import TOKEN_PATTERN

SECRET_KEYS = frozenset({"password", "pass", "imap_pass", "smtp_pass", "secret", "api_key", "authorization"})
TEXT_LIMIT = 120
# ``line`` is reserved for TaskPing's own one-line messages (a failure naming what to check, built
# from hosts, ports, users and server replies, never from a message's text): kept whole, tokens shortened.
UNCUT_KEYS = frozenset({"line"})
_TOKEN_RE = re.compile(r"(?<![a-z0-9])(" + TOKEN_PATTERN[: TOKEN_PATTERN.index("-")] + r")-([a-z2-9]{3})[a-z2-9]{13}")


def redact_text(value: str, *, cut: bool = True) -> str:
    value = _TOKEN_RE.sub(lambda m: f"{m.group(1)}-{m.group(2)}…", value)
    if cut and len(value) > TEXT_LIMIT:
        value = value[:TEXT_LIMIT] + f"…(+{len(value) - TEXT_LIMIT} chars)"
    return value


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = "[redacted]"
            continue
        value = event_dict[key]
        if isinstance(value, str):
            event_dict[key] = redact_text(value, cut=key not in UNCUT_KEYS)
    return event_dict


Format = Literal["auto", "human", "json"]
_state: dict[str, Any] = {"human": False, "stream": None}


def configure(
    *, level: str = "info", stream: TextIO | None = None, log_file: Path | None = None, fmt: Format = "auto"
) -> None:
    """Configure structlog for this process. ``log_file`` appends JSON lines there (created 0600).

    ``fmt="auto"`` is human on a TTY and JSON otherwise; a log file is always JSON.
    """
    if log_file is not None:
        private_dir(log_file.parent)
        stream = cast(TextIO, LineAppender(open_private(log_file)))  # lives as long as the process
        fmt = "json"
    stream = stream or sys.stderr
    human = stream.isatty() if fmt == "auto" else fmt == "human"
    _state.update(human=human, stream=stream)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
        structlog.processors.format_exc_info,
    ]
    processors.append(
        structlog.dev.ConsoleRenderer(colors=stream.isatty()) if human else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


class LineAppender(io.TextIOBase):
    """A text stream over an ``O_APPEND`` descriptor that writes whole lines only, each under the
    log file's shared lock (:func:`taskping.log_retention.append_line`), so a retention trim
    never loses or tears one."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            append_line(self._fd, (complete + "\n").encode("utf-8", "replace"))
        return len(text)

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd


def is_human() -> bool:
    """True when the configured stream gets human lines (call after :func:`configure`)."""
    return bool(_state["human"])


def say(line: str, event: str, *, level: str = "info", **fields: Any) -> None:
    """A message meant for the person: ``line`` as is on a human stream, else a JSON ``event``
    with ``fields`` and the ``line``."""
    if _state["human"]:
        print(line, file=_state["stream"] or sys.stderr, flush=True)
        return
    getattr(get_logger(), level)(event, line=line, **fields)


def get_logger(**context: Any) -> Any:
    return structlog.get_logger().bind(**context)
