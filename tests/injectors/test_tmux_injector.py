"""TmuxInjector checks that need tmux but not claude (plus pure helpers)."""

from __future__ import annotations

import fcntl
import shlex
import sys
import time
from pathlib import Path

import libtmux
import pytest

from taskping.injectors.base import InjectionOutcome, ScreenState, Target
from taskping.injectors.tmux import TmuxInjector, _utf8_chunks

pytestmark = pytest.mark.tmux


def test_enter_delay_has_a_floor(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        TmuxInjector(tmp_path, enter_delay_ms=100)
    with pytest.raises(ValueError):
        TmuxInjector(tmp_path, method="telepathy")  # type: ignore[arg-type]


def test_utf8_chunks_never_split_characters() -> None:
    text = "é❯x" * 100
    chunks = list(_utf8_chunks(text, 10))
    assert all(len(c) <= 10 for c in chunks)
    assert b"".join(chunks).decode() == text
    assert all(c.decode() for c in chunks)  # each chunk is valid UTF-8 on its own


@pytest.mark.parametrize("text", ["a\x1b[201~b", "x\ry", "nul\x00", "del\x7f", "c1\x9b", "bidi\u202e", "zw\u200b", ""])
def test_refuses_forbidden_or_empty_text_without_touching_tmux(tmp_path: Path, text: str) -> None:
    injector = TmuxInjector(tmp_path)
    result = injector.inject(Target("tmux", socket=str(tmp_path / "no-server"), pane="%0"), text)
    assert result.outcome is InjectionOutcome.FAILED
    assert result.enter_presses == 0


def test_non_tmux_target(tmp_path: Path) -> None:
    result = TmuxInjector(tmp_path).inject(Target("pty", socket="/nowhere"), "hi")
    assert result.outcome is InjectionOutcome.FAILED


@pytest.fixture
def cat_pane(tmux_server: libtmux.Server, tmp_path: Path) -> tuple[Target, Path]:
    """A pane running a program that records every byte it receives."""
    log = tmp_path / "received"
    recorder = (
        f"import sys,tty; tty.setraw(0); f=open({str(log)!r},'ab',0)\nwhile True: f.write(sys.stdin.buffer.read1(1024))"
    )
    session = tmux_server.new_session("cat", window_command=shlex.join([sys.executable, "-c", recorder]))
    pane = session.active_window.active_pane
    assert pane is not None
    time.sleep(0.5)
    return Target("tmux", socket=str(tmux_server.socket_path), pane=str(pane.pane_id)), log


def test_never_types_blind_into_an_unknown_screen(cat_pane: tuple[Target, Path], tmp_path: Path) -> None:
    target, log = cat_pane
    injector = TmuxInjector(tmp_path / "locks")
    assert injector.exists(target)
    assert injector.screen_state(target) is ScreenState.UNKNOWN
    result = injector.inject(target, "rm -rf ~")
    # no box could mean claude is still starting or shows a menu: wait (BUSY), never type
    assert result.outcome is InjectionOutcome.BUSY and "no claude input box" in result.detail
    assert result.enter_presses == 0
    time.sleep(0.3)
    assert not log.exists() or log.read_bytes() == b""


def test_file_lock_held_elsewhere_blocks_injection(cat_pane: tuple[Target, Path], tmp_path: Path) -> None:
    target, _log = cat_pane
    lock_dir = tmp_path / "locks"
    injector = TmuxInjector(lock_dir, lock_timeout=0.3)
    # first call creates the lock file (and fails on the unknown screen)
    injector.inject(target, "probe")
    (lock_file,) = lock_dir.glob("tmux-*.lock")
    with open(lock_file) as other:  # another open file description = another "process"
        fcntl.flock(other, fcntl.LOCK_EX)
        started = time.monotonic()
        result = injector.inject(target, "hello")
        assert result.outcome is InjectionOutcome.FAILED and "file lock" in result.detail
        assert time.monotonic() - started >= 0.3


def test_missing_pane_and_server(tmux_server: libtmux.Server, tmp_path: Path) -> None:
    tmux_server.new_session("x")
    injector = TmuxInjector(tmp_path)
    assert (
        injector.inject(Target("tmux", str(tmux_server.socket_path), "%999"), "hi").outcome
        is InjectionOutcome.TARGET_GONE
    )
    assert injector.screen_state(Target("tmux", str(tmp_path / "none"), "%0")) is ScreenState.GONE
