"""Screen reading against screens captured from the real claude 2.1.328."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskping.injectors.base import ScreenState
from taskping.injectors.screen import box_holds, box_is_part_of, classify, read_screen

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
        ("busy_scrolled", ScreenState.BUSY),  # spinner above a box taller than the screen
        ("permission_dialog_bash", ScreenState.PERMISSION_DIALOG),
        ("permission_dialog_write", ScreenState.PERMISSION_DIALOG),
        ("question_dialog", ScreenState.PERMISSION_DIALOG),  # AskUserQuestion: ❯ in column 0
        ("question_dialog_multiselect", ScreenState.PERMISSION_DIALOG),  # two questions, tabs
        ("question_dialog_second_tab", ScreenState.PERMISSION_DIALOG),
        ("question_dialog_review", ScreenState.PERMISSION_DIALOG),  # "Review your answers": no footer
        ("bash_mode", ScreenState.SHELL_MODE),
        ("has_input_scrolled", ScreenState.HAS_INPUT),
        ("typed_wrapped", ScreenState.HAS_INPUT),
        ("typed_multiline", ScreenState.HAS_INPUT),
        ("typed_cjk", ScreenState.HAS_INPUT),
        ("typed_emoji", ScreenState.HAS_INPUT),
        ("vim_insert", ScreenState.READY),
        ("vim_insert_with_input", ScreenState.HAS_INPUT),
        ("vim_normal", ScreenState.READY),  # NORMAL draws no indicator: the injector probes
        ("vim_normal_with_input", ScreenState.HAS_INPUT),
        ("vim_visual", ScreenState.VIM_COMMAND),
        ("vim_bash_mode", ScreenState.SHELL_MODE),
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


@pytest.mark.parametrize(
    ("name", "mode"),
    [("vim_insert", "INSERT"), ("vim_insert_with_input", "INSERT"), ("vim_visual", "VISUAL"), ("vim_normal", None)],
)
def test_vim_mode_indicator(name: str, mode: str | None) -> None:
    assert read_screen(load(name)).vim_mode == mode
    assert read_screen(load("ready_fresh")).vim_mode is None


TYPED = json.loads((SCREENS / "typed_texts.json").read_text())


@pytest.mark.parametrize("name", sorted(TYPED))
def test_box_holds_what_was_typed(name: str) -> None:
    """Captured after typing TYPED[name] into an empty box: wrapping, CJK, emoji, 880 chars, 40 lines."""
    reading = read_screen(load(name))
    text = TYPED[name]
    assert box_holds(reading, text)
    assert box_is_part_of(reading, text)
    assert not box_holds(reading, text + " and more")
    if not reading.hidden_rows:  # a scrolled box shows only the end: its start is not checkable
        assert not box_holds(reading, text[1:])
        assert not box_holds(reading, "1" + text)
    else:
        assert not box_holds(reading, text.split("\n")[-1])  # the box shows more than that text


def test_box_holds_nothing_foreign() -> None:
    assert box_holds(read_screen(load("has_input")), "fix the flaky test")
    assert box_holds(read_screen(load("has_input")), "fix the flaky test   ")  # trailing spaces are not drawn
    assert not box_holds(read_screen(load("has_input")), "fix the flaky")
    assert not box_is_part_of(read_screen(load("has_input")), "fix the")
    assert not box_holds(read_screen(load("ready_fresh")), "x")
    assert not box_holds(read_screen(load("permission_dialog_bash")), "touch /tmp/tp-cap-should-not-exist")
    assert not box_holds(read_screen(load("bash_mode")), "ls")  # shell mode: Enter would run it
    assert not box_holds(read_screen(load("vim_bash_mode")), "ls")


def test_scrolled_box_shows_the_end_of_the_text() -> None:
    reading = read_screen(load("has_input_scrolled"))
    assert reading.hidden_rows == 5
    text = "\n".join(f"line {i}: " + "y" * 60 for i in range(20))
    assert reading.input_text.startswith("line 5:")
    assert box_holds(reading, text)
    assert not box_holds(reading, text + "\nline 20")


def test_pasted_text_placeholder_stands_for_the_pasted_run() -> None:
    reading = read_screen(load("has_input_pasted_text"))
    assert box_holds(reading, "one\ntwo\nthree\nfour\nfive\nsix")
    assert box_is_part_of(reading, "anything")


def test_question_dialog_has_no_input_box_and_says_so() -> None:
    reading = read_screen(load("question_dialog"))
    assert reading.input_lines is None
    assert "question dialog" in reading.reason


def test_echoed_numbered_prompt_is_not_a_question_dialog() -> None:
    # claude echoes a past prompt as "❯ text" in column 0: "1. Submit answers" typed earlier must not
    # make the ready screen after it look like a dialog
    lines = load("ready_after_reply")
    echoed = ["❯ 1. Submit answers", "", "● Sure:", "  Review your answers", ""]
    assert classify(echoed + lines) is ScreenState.READY
