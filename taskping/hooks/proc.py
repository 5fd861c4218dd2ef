"""Starting a detached program from a hook without importing ``subprocess``.

A hook may start ``taskping send-outbox`` when no relay runs; importing
``subprocess`` for that costs ~6 ms (it pulls in ``locale``, ``signal``,
``threading``, ``selectors``), more than the program takes to start.
``os.posix_spawnp`` starts it in its own session with its standard streams on
/dev/null. (The hook's questions to tmux go the same way, through
:mod:`taskping.tmux_server`.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def detach(argv: list[str], environ: Mapping[str, str] | None = None) -> bool:
    """Start ``argv`` in a new session (no terminal, stdio on /dev/null) and do not wait for it."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    try:
        os.posix_spawnp(
            argv[0], argv, dict(environ) if environ is not None else os.environ, file_actions=actions, setsid=True
        )
    except OSError:
        return False
    return True
