"""Claude's vim editing mode (issue 8 item 5) with the real claude 2.1.328.

Measured: ``editorMode: "vim"`` in ``~/.claude.json`` starts the prompt in
INSERT mode (footer ``-- INSERT --``); Esc gives NORMAL mode, whose footer
shows no indicator at all, exactly like the default editor. In NORMAL mode
typed letters are commands: ``i!ls`` enters INSERT, then ``!`` switches the
box to shell mode. The code before this change typed ``i!touch FILE`` into
NORMAL mode, pressed Enter and ran the command.
"""

from __future__ import annotations

import time
from pathlib import Path

import libtmux
import pytest

from taskping.injectors.base import InjectionOutcome, ScreenState
from taskping.injectors.terminal_guard import guard_text
from taskping.injectors.tmux import TmuxInjector
from tests.support.claude_fixtures import ClaudeHome, ClaudePane, start_claude
from tests.support.fake_anthropic import FakeAnthropic

pytestmark = [pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]


@pytest.fixture
def injector(tmp_path: Path) -> TmuxInjector:
    return TmuxInjector(tmp_path / "locks", enter_delay_ms=200)


@pytest.fixture
def vim_pane(tmux_server: libtmux.Server, claude_home: ClaudeHome, fake_api: FakeAnthropic) -> ClaudePane:
    claude_home.update_claude_json({"editorMode": "vim"})
    pane = start_claude(tmux_server, claude_home, fake_api)
    wait_vim_mode(pane, "INSERT")  # the footer is drawn a moment after the box
    return pane


def wait_vim_mode(pane: ClaudePane, mode: str | None) -> None:
    deadline = time.monotonic() + 5
    while pane.reading().vim_mode != mode:
        assert time.monotonic() < deadline, f"vim never showed mode {mode}"
        time.sleep(0.05)


def to_normal_mode(pane: ClaudePane) -> None:
    pane.pane.send_keys("Escape", enter=False)
    wait_vim_mode(pane, None)


def test_normal_mode_letters_never_reach_shell_mode(
    vim_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector, tmp_path: Path
) -> None:
    marker = tmp_path / "shell-ran"
    text = guard_text(f"i!touch {marker}", allow_shell_escape=False, allowed_slash_commands=()).text
    assert text == f"i!touch {marker}"  # nothing for the guard to see: it starts with a letter
    to_normal_mode(vim_pane)
    assert vim_pane.reading().state is ScreenState.READY  # NORMAL looks like the default editor

    result = injector.inject(vim_pane.target, text)
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    assert fake_api.wait_for_prompt(lambda p: "touch" in p, timeout=10) == text
    vim_pane.wait_ready(timeout=15)
    time.sleep(0.3)
    assert not marker.exists()
    assert fake_api.prompts == [text]


def test_insert_mode_multiline(vim_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector) -> None:
    text = "first line\n  second line\nend"
    result = injector.inject(vim_pane.target, text)
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    assert fake_api.wait_for_prompt(lambda p: p.startswith("first"), timeout=10) == text
    assert vim_pane.wait_ready().vim_mode == "INSERT"


def test_visual_mode_waits_without_typing(
    vim_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    vim_pane.pane.send_keys("abc", enter=False, literal=True)
    to_normal_mode(vim_pane)
    vim_pane.pane.send_keys("v", enter=False, literal=True)
    reading = vim_pane.wait_for(ScreenState.VIM_COMMAND, timeout=5)
    assert reading.vim_mode == "VISUAL"
    result = injector.inject(vim_pane.target, "dd")
    assert result.outcome is InjectionOutcome.BUSY and "VISUAL" in result.detail, result
    assert result.enter_presses == 0
    time.sleep(0.5)
    after = vim_pane.reading()
    assert after.vim_mode == "VISUAL" and after.input_text == "abc"
    assert fake_api.prompts == []


def test_hidden_mode_indicator_in_normal_mode_is_refused(
    tmux_server: libtmux.Server, claude_home: ClaudeHome, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    """``statusLine.hideVimModeIndicator`` removes the only sign of the mode: refuse after one probe key."""
    claude_home.update_claude_json({"editorMode": "vim"})
    claude_home.update_settings({"statusLine": {"type": "command", "command": "true", "hideVimModeIndicator": True}})
    pane = start_claude(tmux_server, claude_home, fake_api)
    to_normal_mode(pane)
    time.sleep(0.5)  # no indicator to wait for; keep Esc apart from the probe key (Esc+i would read as M-i)
    result = injector.inject(pane.target, "hello")
    assert result.outcome is InjectionOutcome.FAILED and "could not tell the editing mode" in result.detail, result
    assert result.enter_presses == 0
    time.sleep(0.5)
    assert pane.reading().input_empty
    assert fake_api.prompts == []
