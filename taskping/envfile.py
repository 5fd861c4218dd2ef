"""Reading an env file: python-dotenv's reading, without importing it for plain files.

``taskping hook`` reads the env file on every Claude Code event, and importing
python-dotenv costs ~10 ms there (``dotenv.main`` pulls in ``logging``,
``tempfile`` and ``shutil``). Almost every env file is plain: ``KEY=value``
lines, ``export``, comments and blank lines. Those are read here, with exactly
dotenv's rules for them; a file with anything else (quotes, ``${VAR}``
interpolation, a value starting with a backslash or ``#``, a key without ``=``,
unusual whitespace or key characters) is handed to python-dotenv whole.
So the result is always what ``dotenv_values(path)`` returns: one reading of
the configuration, whichever path read it. A property test holds the two equal.
"""

from __future__ import annotations

import os
import re

#: ``[export ]KEY=value``: a plain key, then an unquoted value that needs no interpretation.
#: The value's first character is not a space: ``KEY= #x`` is read differently by dotenv versions.
_PLAIN_LINE = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*([^'\"#\\ \t].*)?")
#: dotenv's inline comment in an unquoted value: whitespace, then ``#`` and the rest.
_INLINE_COMMENT = re.compile(r"\s+#.*")


def _plain_values(text: str) -> dict[str, str] | None:
    """The bindings of ``text`` when every line is plain, else None (python-dotenv decides)."""
    values: dict[str, str] = {}
    for line in text.split("\n"):
        if any(c.isspace() and c not in " \t" for c in line):
            return None
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        match = _PLAIN_LINE.fullmatch(line)
        if match is None:
            return None
        key, raw = match.group(1), match.group(2) or ""
        if "${" in raw or key == "export":
            return None  # dotenv interpolates ${VAR}; `export =` is an error line to it
        values[key] = _INLINE_COMMENT.sub("", raw).rstrip()
    return values


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str | None]:
    """``KEY -> value`` as ``dotenv.dotenv_values(path)`` reads it (None: a key without ``=``).

    Raises OSError or UnicodeDecodeError as reading the file does.
    """
    with open(path, encoding="utf-8") as fh:  # universal newlines, as python-dotenv opens it
        text = fh.read()
    plain = _plain_values(text.removeprefix("\ufeff"))
    if plain is not None:
        return dict(plain)
    from dotenv import dotenv_values

    return dict(dotenv_values(path))
