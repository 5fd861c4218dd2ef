"""The real claude under `taskping spawn --mode pty`, driven through an outer PTY, typed into by PtyInjector."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.injectors.base import InjectionOutcome, ScreenState
from taskping.injectors.pty import PtyInjector
from tests.support.claude_fixtures import ClaudeHome, claude_binary_or_skip
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.pty_session import PtySession

pytestmark = [pytest.mark.claude, pytest.mark.slow]


@pytest.fixture
def claude_pty(claude_home: ClaudeHome, fake_api: FakeAnthropic) -> Iterator[PtySession]:
    binary = claude_binary_or_skip()
    state = Path(tempfile.mkdtemp(prefix="tp-pty-"))  # short: the socket path must stay under 108 bytes
    session_map = state / "taskping" / "sessions.db"
    env = {**claude_home.env, "ANTHROPIC_BASE_URL": fake_api.base_url, "SESSION_MAP_PATH": str(session_map)}
    started = time.monotonic()
    pty = PtySession([binary], env=env, session_map=session_map, name="claude", cwd=claude_home.project_dir)
    try:
        pty.wait_for(ScreenState.READY, timeout=30)
        print(f"claude READY under the PTY wrapper in {time.monotonic() - started:.2f}s")
        yield pty
    finally:
        pty.close()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def injector(claude_pty: PtySession, tmp_path: Path) -> PtyInjector:
    return PtyInjector(tmp_path / "locks", claude_pty.secret_for(), enter_delay_ms=200)


def test_reply_is_typed_into_claude_under_the_pty(
    claude_pty: PtySession, fake_api: FakeAnthropic, injector: PtyInjector
) -> None:
    started = time.monotonic()
    result = injector.inject(claude_pty.target, "please fix the build")
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    assert fake_api.wait_for_prompt("please fix the build", timeout=10) == "please fix the build"
    print(f"PTY inject-to-API: {time.monotonic() - started:.2f}s")
    claude_pty.wait_for(ScreenState.READY, timeout=15)
    text = "Here is the plan:\n\n  1. indented step\n\tTabbed step\nthanks; é ❯ 漢字"
    result = injector.inject(claude_pty.target, text)
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    assert fake_api.wait_for_prompt(lambda p: "Here is the plan" in p, timeout=10) == text.replace("\t", "    ")
    claude_pty.wait_for(ScreenState.READY, timeout=15)
    assert fake_api.prompts == ["please fix the build", text.replace("\t", "    ")]


def test_the_keyboard_still_drives_claude(claude_pty: PtySession, fake_api: FakeAnthropic) -> None:
    claude_pty.type("typed at the keyboard")
    deadline = time.monotonic() + 10
    while claude_pty.reading().input_text != "typed at the keyboard":
        assert time.monotonic() < deadline, "\n".join(claude_pty.lines())
        time.sleep(0.05)
    claude_pty.type("\r")
    assert fake_api.wait_for_prompt("typed at the keyboard", timeout=10) == "typed at the keyboard"


def test_draft_and_dialog_are_never_typed_into(
    claude_pty: PtySession, fake_api: FakeAnthropic, injector: PtyInjector, tmp_path: Path
) -> None:
    claude_pty.type("my own draft")
    claude_pty.wait_for(ScreenState.HAS_INPUT, timeout=10)
    result = injector.inject(claude_pty.target, "from the phone")
    assert result.outcome is InjectionOutcome.BUSY and "draft" in result.detail, result
    assert claude_pty.reading().input_text == "my own draft"
    claude_pty.type("\x15")  # the person clears their draft (C-u)
    claude_pty.wait_for(ScreenState.READY, timeout=10)

    marker = tmp_path / "ran"
    fake_api.queue_tool_use(f"touch {marker}")
    assert injector.inject(claude_pty.target, "run the tool").outcome is InjectionOutcome.SUBMITTED
    claude_pty.wait_for(ScreenState.PERMISSION_DIALOG, timeout=15)
    assert injector.screen_state(claude_pty.target) is ScreenState.PERMISSION_DIALOG
    result = injector.inject(claude_pty.target, "1")
    assert result.outcome is InjectionOutcome.DIALOG_OPEN, result
    time.sleep(0.5)
    assert claude_pty.reading().state is ScreenState.PERMISSION_DIALOG and not marker.exists()
