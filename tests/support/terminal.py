"""A private tmux server, and reading and typing into its panes, for every test folder.

The server runs on a socket *path* in a fresh temporary directory with no
configuration (``-f /dev/null``): TaskPing names a tmux server by its socket
path, and nothing from the developer's ~/.tmux.conf may change what the
tests see. (libtmux's own pytest plugin names its servers with ``-L`` and
reads ~/.tmux.conf unless HOME is changed for the whole test process, so
``tmux_server`` is ours; it kills only the server it started.)
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import libtmux

from taskping.injectors.base import ScreenState
from taskping.injectors.screen import read_screen
from tests.support import prereqs

T = TypeVar("T")


def tmux_or_skip() -> str:
    """Path of tmux; skip (locally) or fail (CI) when missing."""
    return prereqs.require("tmux")


@contextmanager
def private_tmux_server(prefix: str = "tp-tmux-") -> Iterator[libtmux.Server]:
    """A tmux server on a private socket path; killed (only it) and its directory removed on exit."""
    sock_dir = Path(tempfile.mkdtemp(prefix=prefix))
    server = libtmux.Server(socket_path=str(sock_dir / "sock"), config_file="/dev/null")
    try:
        yield server
    finally:
        try:
            if server.is_alive():
                server.kill()
        finally:
            shutil.rmtree(sock_dir, ignore_errors=True)


def wait_until(what: str, probe: Callable[[], T | None], timeout: float = 20.0, every: float = 0.05) -> T:
    """``probe()`` until it returns something truthy (returned); TimeoutError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def screen(socket: str, pane: str) -> list[str]:
    """The visible rows of ``pane`` on the tmux server at ``socket``."""
    out = subprocess.run(["tmux", "-S", socket, "capture-pane", "-p", "-t", pane], capture_output=True, text=True)
    return out.stdout.splitlines()


def scrollback(socket: str, pane: str) -> str:
    """The whole history of ``pane``, wrapped lines joined."""
    out = subprocess.run(
        ["tmux", "-S", socket, "capture-pane", "-p", "-J", "-S", "-", "-t", pane], capture_output=True, text=True
    )
    return out.stdout


def wait_screen(socket: str, pane: str, *states: ScreenState, timeout: float = 20.0) -> None:
    """Wait until ``pane`` shows one of ``states``; AssertionError with the screen otherwise."""
    try:
        wait_until(f"{states} on {pane}", lambda: read_screen(screen(socket, pane)).state in states, timeout, 0.1)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; screen:\n" + "\n".join(screen(socket, pane))) from None


def type_prompt(socket: str, pane: str, text: str) -> None:
    """Type ``text`` and submit it, as a person at the terminal would (Enter sent separately)."""
    subprocess.run(["tmux", "-S", socket, "send-keys", "-t", pane, "-l", text], check=True)
    time.sleep(0.3)
    subprocess.run(["tmux", "-S", socket, "send-keys", "-t", pane, "Enter"], check=True)


def press_on_dialog(socket: str, pane: str, key: str, attempts: int = 8) -> None:
    """Press ``key`` on the dialog ``pane`` shows, as a person would: again when the dialog is still
    there two seconds later (a key that arrives while claude is still setting the dialog up is lost,
    measured on 2.1.328; nothing on the dialog changes until one is taken)."""
    for _ in range(attempts):
        subprocess.run(["tmux", "-S", socket, "send-keys", "-t", pane, key], check=True)
        try:
            wait_until(
                f"the dialog to take {key}",
                lambda: read_screen(screen(socket, pane)).state is not ScreenState.PERMISSION_DIALOG,
                timeout=2.0,
                every=0.1,
            )
            return
        except TimeoutError:
            continue
    raise AssertionError(f"{key} never taken by the dialog; screen:\n" + "\n".join(screen(socket, pane)))
