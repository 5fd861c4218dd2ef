"""Issue 8 item 5: a dialog that opens while we type must never get our Enter.

Against ``standin_claude.py`` (2.1.328's captured screens, a dialog that takes
the keys a few ms after the first typed byte and reaches the screen up to
400 ms later). Measured on the code before this change (commit 2156396, via
``python -m tests.injectors.race_support 20`` on an export of it): the
injector's Enter approved the dialog in 14 of 20 tries and reported
"submitted" each time.
"""

from __future__ import annotations

from pathlib import Path

import libtmux
import pytest

from taskping.injectors.tmux import TmuxInjector
from tests.injectors.race_support import run_tries

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

TRIES = 20


@pytest.fixture
def injector(tmp_path: Path) -> TmuxInjector:
    return TmuxInjector(tmp_path / "locks", enter_delay_ms=200)


def test_busy_screen_gets_no_keys_so_no_dialog_can_take_them(
    tmux_server: libtmux.Server, injector: TmuxInjector, tmp_path: Path
) -> None:
    tries = run_tries(tmux_server, injector, tmp_path, range(TRIES), "please go on")
    assert [t for t in tries if t.approved] == []
    for attempt in tries:
        assert attempt.outcome == "busy" and "claude is working" in attempt.detail, attempt
        assert attempt.enter_presses == 0
        assert attempt.events == ()  # not one byte reached the stand-in


def test_dialog_drawn_before_enter_is_seen_by_the_recheck(
    tmux_server: libtmux.Server, injector: TmuxInjector, tmp_path: Path
) -> None:
    """A READY screen whose dialog opens mid-typing (claude idle does not do this; the re-check must)."""
    text = "a reply long enough to need several chunks " * 12
    tries = run_tries(
        tmux_server, injector, tmp_path, range(TRIES), text, "--start", "ready", "--after", "2", "--lag-ms", "0,150"
    )
    assert [t for t in tries if t.approved] == []
    for attempt in tries:
        assert attempt.outcome in ("failed", "dialog-open"), attempt
        assert attempt.enter_presses == 0
        assert "dialog" in attempt.detail
        assert not any(event.startswith("submitted") for event in attempt.events)


def test_foreign_text_in_the_box_stops_enter(
    tmux_server: libtmux.Server, injector: TmuxInjector, tmp_path: Path
) -> None:
    """Someone else's keys land in the box while we type: the box is not exactly ours, no Enter."""
    tries = run_tries(
        tmux_server, injector, tmp_path, range(3), "our reply", "--start", "ready", "--after", "2", "--extra", "X!"
    )
    for attempt in tries:
        assert attempt.outcome == "failed", attempt
        assert attempt.enter_presses == 0
        assert "does not hold only our text" in attempt.detail
        assert not any(event.startswith("submitted") for event in attempt.events)


def test_a_text_claude_draws_slowly_is_waited_for_while_it_is_drawn(
    tmux_server: libtmux.Server, injector: TmuxInjector, tmp_path: Path
) -> None:
    """A loaded claude draws the keys it was sent seconds late, but draws them: the injector waits while
    the box keeps changing (past SHOW_TIMEOUT of 5 s in all), then submits. Seen once in CI with a
    4 KB reply: given up after 5 s with the text left in the box."""
    text = "a loaded claude draws this reply one key at a time, long after tmux has sent every one of them"
    (attempt,) = run_tries(
        tmux_server, injector, tmp_path, range(1), text, "--start", "ready", "--after", "1000", "--draw-ms", "70"
    )
    assert len(text) * 0.070 > 5.0  # longer than SHOW_TIMEOUT
    assert attempt.outcome == "submitted", attempt
    assert f"submitted {text}" in attempt.events
