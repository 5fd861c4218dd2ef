"""Logging, configured once per process (structlog).

JSON lines when not on a TTY (the daemon under systemd, hooks), pretty on one.
Redaction happens here, in one processor, not at call sites: passwords are
dropped, tokens shortened, and any long text value cut to its first 120
characters. Hooks import this module only when they have something to log.
The log file is private (0600, its directory 0700): it names sessions, senders
and the first characters of what was typed.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

from taskping.private_files import open_private, private_dir
from taskping.tokens import TOKEN_PATTERN

SECRET_KEYS = frozenset({"password", "pass", "imap_pass", "smtp_pass", "secret", "api_key", "authorization"})
TEXT_LIMIT = 120
_TOKEN_RE = re.compile(r"(?<![a-z0-9])(" + TOKEN_PATTERN[: TOKEN_PATTERN.index("-")] + r")-([a-z2-9]{3})[a-z2-9]{13}")


def redact_text(value: str) -> str:
    value = _TOKEN_RE.sub(lambda m: f"{m.group(1)}-{m.group(2)}…", value)
    if len(value) > TEXT_LIMIT:
        value = value[:TEXT_LIMIT] + f"…(+{len(value) - TEXT_LIMIT} chars)"
    return value


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = "[redacted]"
            continue
        value = event_dict[key]
        if isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def configure(*, level: str = "info", stream: TextIO | None = None, log_file: Path | None = None) -> None:
    """Configure structlog for this process. ``log_file`` appends JSON lines there (created 0600)."""
    if log_file is not None:
        private_dir(log_file.parent)
        fd = open_private(log_file)
        stream = os.fdopen(fd, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the process
    stream = stream or sys.stderr
    pretty = stream.isatty()
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
        structlog.processors.format_exc_info,
    ]
    processors.append(structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    return structlog.get_logger().bind(**context)
