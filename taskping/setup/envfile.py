"""The env file `taskping init` writes: rendered, checked to read back, written 0600.

It holds the mailbox password, so it is created private from its first byte
(``O_EXCL`` with mode 0600, in a 0700 ``~/.config/taskping``), the mode
TaskPing insists on when it reads one (see :mod:`taskping.config`). An
existing file is never replaced unless the caller says so (``--force``, or
a "yes" to the question); a replacement is written beside it and renamed over
it, so a crash leaves the old file or the new one, never half of each.

Values are written single-quoted and read back with the same reader the
relay uses (python-dotenv) before anything is written: a value that would not
come back the same (python-dotenv expands ``${...}`` even in quotes) is
refused with the reason instead of being stored wrong.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from taskping.private_files import FILE_MODE, private_dir

HEADER = (
    "# TaskPing configuration, written by `taskping init`.\n"
    "# It holds your mailbox's app password: keep it private (chmod 600).\n"
    "# Keys are documented in README.md and docs/providers.md.\n"
)


class EnvFileError(Exception):
    """The file cannot be written as asked; ``str()`` is the one line to print."""


@dataclass(frozen=True)
class Section:
    """A commented group of keys, for a file a person can read and edit."""

    comment: str
    values: Mapping[str, str]


def quote(value: str) -> str:
    """Single-quoted for python-dotenv: backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(sections: list[Section]) -> str:
    """The file's text; raises EnvFileError when a value would not read back as written."""
    parts = [HEADER]
    wanted: dict[str, str] = {}
    for section in sections:
        parts.append(f"\n# {section.comment}\n")
        for key, value in section.values.items():
            if "\n" in value or "\r" in value or "\0" in value:
                raise EnvFileError(f"{key}: a value cannot hold a line break")
            parts.append(f"{key}={quote(value)}\n")
            wanted[key] = value
    text = "".join(parts)
    from dotenv import dotenv_values

    back = dotenv_values(stream=io.StringIO(text))
    for key, value in wanted.items():
        if back.get(key) != value:
            why = " (python-dotenv expands ${...})" if "${" in value else ""
            raise EnvFileError(f"{key}: this value cannot be stored in an env file so that it reads back the same{why}")
    return text


def write(path: Path, text: str, *, replace: bool) -> None:
    """Write ``text`` to ``path`` mode 0600. Without ``replace`` an existing file is an error."""
    path = path.expanduser()
    try:
        if path.parent == Path.home() / ".config" / "taskping":
            private_dir(path.parent)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        if not replace:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
            _write_all(fd, text)
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        try:
            _write_all(fd, text)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except FileExistsError:
        raise EnvFileError(f"{path} already exists; not overwritten (use --force to replace it)") from None
    except OSError as exc:
        raise EnvFileError(f"cannot write {path}: {exc.strerror or exc.__class__.__name__}") from None


def _write_all(fd: int, text: str) -> None:
    try:
        os.fchmod(fd, FILE_MODE)  # exactly 0600 whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    finally:
        os.close(fd)
