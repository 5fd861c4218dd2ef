"""Screen reading against screens captured from the real claude 2.1.328."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskping.injectors.base import ScreenState
from taskping.injectors.screen import classify, read_screen

SCREENS = Path(__file__).parent / "screens"


def load(name: str) -> list[str]:
    return (SCREENS / f"{name}.txt").read_text().split("\n")


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("ready_fresh", ScreenState.READY),
        ("ready_after_clear", ScreenState.READY),
        ("ready_after_reply", ScreenState.READY),
        ("ready_after_dialog_cancel", ScreenState.READY),
        ("ready_shortcuts_help", ScreenState.READY),
        ("has_input", ScreenState.HAS_INPUT),
        ("has_input_multiline", ScreenState.HAS_INPUT),
        ("has_input_pasted_text", ScreenState.HAS_INPUT),
        ("busy", ScreenState.BUSY),
        ("busy_with_input", ScreenState.BUSY),
        ("busy_queued", ScreenState.BUSY),
        ("permission_dialog_bash", ScreenState.PERMISSION_DIALOG),
        ("permission_dialog_write", ScreenState.PERMISSION_DIALOG),
        ("bash_mode", ScreenState.UNKNOWN),
    ],
)
def test_captured_screens(name: str, state: ScreenState) -> None:
    assert classify(load(name)) is state


def test_input_text_single_line() -> None:
    assert read_screen(load("has_input")).input_text == "fix the flaky test"


def test_input_text_multiline_keeps_indentation() -> None:
    assert read_screen(load("has_input_multiline")).input_text == "first line\n  second line\nthird"


def test_pasted_text_placeholder_is_input() -> None:
    assert read_screen(load("has_input_pasted_text")).input_text.startswith("[Pasted text #")


def test_busy_box_empty_vs_with_input() -> None:
    assert read_screen(load("busy")).input_empty
    assert read_screen(load("busy_queued")).input_empty  # dim placeholder is not input
    assert read_screen(load("busy_with_input")).input_text == "next thing"


def test_dialog_has_no_input_box() -> None:
    assert read_screen(load("permission_dialog_bash")).input_lines is None


def test_empty_and_garbage_screens_are_unknown() -> None:
    assert classify([]) is ScreenState.UNKNOWN
    assert classify(["$ ", "bash: claude: command not found"]) is ScreenState.UNKNOWN
    # a prompt line without the surrounding rules is not claude's box
    assert classify(["❯\u00a0"]) is ScreenState.UNKNOWN
