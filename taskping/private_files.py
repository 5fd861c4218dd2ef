"""Private files: what TaskPing writes, only its user can read.

The state directory holds tokens (which route a reply into a terminal), queued
mail (Claude's replies), the audit log and the TaskPing log. Everything in it is
created 0600 and the directory 0700, whatever umask the caller had:

* every entry point sets ``umask 077`` (:func:`restrict_umask`), so files that
  other code creates on our behalf (SQLite's ``-wal``/``-shm``/journal, lock
  files) are private too;
* the files TaskPing opens itself are created with an explicit 0600 mode and
  tightened if an older version left them looser (:func:`open_private`,
  :func:`tighten`), so a caller that imports TaskPing without going through an
  entry point (a test, a script) gets the same result;
* directories are created 0700 (:func:`private_dir`). An existing directory is
  tightened only when it is TaskPing's own (named ``taskping``, as the default
  ``~/.local/state/taskping`` is, and owned by this user): a directory the user
  chose for ``SESSION_MAP_PATH`` may be shared with other things (even ``$HOME``)
  and is theirs to set; the files TaskPing puts in it are 0600 either way.

Processes TaskPing starts for the user (Claude in a spawned pane) must not
inherit the private umask: :func:`user_umask` gives the one the user had.

Standard library only: ``taskping hook`` imports this on Claude's critical path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
PRIVATE_UMASK = 0o077
OWN_DIR_NAME = "taskping"

_user_umask: int | None = None


def restrict_umask() -> int:
    """Set ``umask 077`` for this process; return (and remember) the umask it replaced."""
    global _user_umask
    previous = os.umask(PRIVATE_UMASK)
    if _user_umask is None:
        _user_umask = previous
    return previous


def user_umask() -> int:
    """The umask this process had before :func:`restrict_umask` (the current one if never called)."""
    if _user_umask is not None:
        return _user_umask
    current = os.umask(PRIVATE_UMASK)
    os.umask(current)
    return current


@contextmanager
def user_umask_for_children() -> Iterator[None]:
    """Start processes that belong to the user (a tmux server, Claude in its pane) with the
    user's own umask, not TaskPing's: files Claude writes in a project must not turn 0600."""
    previous = os.umask(user_umask())
    try:
        yield
    finally:
        os.umask(previous)


def tighten(path: Path, mode: int = FILE_MODE) -> None:
    """Take group and other bits off ``path`` if it exists and is ours; never raises."""
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            path.chmod(st.st_mode & mode & 0o777)
    except OSError:
        pass


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with the directory itself 0700.

    Missing parents get the ordinary mode (they are things like ``~/.local/state``);
    an existing directory is tightened only when it is TaskPing's own (see the module
    docstring). Raises OSError as ``mkdir`` does.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if path.name == OWN_DIR_NAME and path.is_dir():
            tighten(path, DIR_MODE)
        return path
    path.chmod(DIR_MODE)  # mkdir's mode is masked by the umask; make it exactly 0700
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND | os.O_CREAT) -> int:
    """``os.open`` creating ``path`` 0600, and tightening it if it already existed looser."""
    fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.fchmod(fd, st.st_mode & FILE_MODE)
    except OSError:
        pass
    return fd
