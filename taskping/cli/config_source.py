"""Loading the configuration for an interactive command, and saying where it came from.

Configuration decides where Claude's replies are mailed and which mailbox is
read, so a person running a command should see which file that was, every time:
one line on stderr (stdout stays the command's output, for pipes). ``taskping
hook`` does not use this: it runs inside Claude and stays silent.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import os

    from taskping.config import Settings


def describe(env_file: Path | None, cwd: Path | None = None) -> str:
    """The ``config: …`` line for ``env_file`` (None: no file was found).

    A ``./.env`` was a configuration source before; it is not any more, and a
    person who relied on it should learn that here rather than from mail going
    elsewhere. Only said when no file was found, so the line stays one line.
    """
    from taskping.config import default_env_file

    if env_file is not None:
        return f"config: {env_file}"
    line = f"config: no env file (none given, {default_env_file()} absent): environment and defaults only"
    if ((cwd or Path.cwd()) / ".env").is_file():
        line += "; ./.env is not read (pass --env-file .env to use it)"
    return line


def load(env_file: str | os.PathLike[str] | None, *, quiet: bool = False) -> Settings:
    """``load_settings`` plus the ``config:`` line on stderr (unless ``quiet``). Raises ConfigError."""
    from taskping.config import load_settings

    settings = load_settings(env_file)
    if not quiet:
        print(describe(settings.env_file), file=sys.stderr)
    return settings
