"""Unit and property tests for the terminal guard (pure, no terminal)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskping.injectors.terminal_guard import forbidden_characters, guard_text, is_control

ALLOWED = ("compact", "/clear")


def guard(text: str, **kw: object) -> str:
    kw.setdefault("allow_shell_escape", False)
    kw.setdefault("allowed_slash_commands", ALLOWED)
    return guard_text(text, **kw).text  # type: ignore[arg-type]


def test_plain_text_unchanged() -> None:
    result = guard_text("please run the tests", allow_shell_escape=False, allowed_slash_commands=())
    assert result.text == "please run the tests"
    assert result.changes == ()


def test_bracketed_paste_terminator_is_defused() -> None:
    result = guard_text("hi\x1b[201~\rrm -rf ~\r", allow_shell_escape=False, allowed_slash_commands=())
    assert result.text == "hi[201~\nrm -rf ~"
    assert "\x1b" not in result.text and "\r" not in result.text
    assert {"control-removed", "newlines-normalised", "trailing-whitespace-stripped"} <= set(result.codes())


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x08", "\x1b", "\x7f", "\x85", "\x9b", "\x9f", "\x0b", "\x0c"])
def test_control_characters_removed(char: str) -> None:
    assert guard(f"a{char}b") == "ab"


@pytest.mark.parametrize("char", ["\u202a", "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\u2060", "\ufeff"])
def test_invisible_characters_removed(char: str) -> None:
    assert guard(f"a{char}b") == "ab"


def test_tab_and_newline_kept() -> None:
    assert guard("a\tb\n  c") == "a\tb\n  c"


def test_crlf_and_cr_become_lf() -> None:
    assert guard("one\r\ntwo\rthree") == "one\ntwo\nthree"


def test_trailing_whitespace_and_leading_blank_lines_dropped() -> None:
    assert guard("\n  \n  indented\nnext\n\n \t") == "  indented\nnext"


@pytest.mark.parametrize("text", ["!touch /tmp/x", "  !touch /tmp/x", "\n\n!touch /tmp/x", "\x1b!ls", "\u200b!ls"])
def test_shell_escape_neutralised(text: str) -> None:
    result = guard_text(text, allow_shell_escape=False, allowed_slash_commands=())
    assert result.text == "`!touch` /tmp/x" if "touch" in text else result.text == "`!ls`"
    assert "shell-escape-neutralised" in result.codes()


def test_shell_escape_allowed_when_configured() -> None:
    assert guard("  !ls -la", allow_shell_escape=True) == "!ls -la"


def test_bang_later_in_text_is_fine() -> None:
    assert guard("do it!\n!not first") == "do it!\n!not first"


@pytest.mark.parametrize(
    ("text", "expected", "command"),
    [
        ("/compact", "/compact", "compact"),
        ("/compact keep the plan", "/compact keep the plan", "compact"),
        ("  /clear", "/clear", "clear"),
        ("/config", "`/config`", None),
        ("/config set theme light", "`/config` set theme light", None),
        ("/compacted", "`/compacted`", None),
        ("/", "`/`", None),
        ("/ two\nlines", "`/` two\nlines", None),
        ("//compact", "`//compact`", None),
        ("/COMPACT", "`/COMPACT`", None),
        ("\n  /login now", "`/login` now", None),
    ],
)
def test_slash_commands(text: str, expected: str, command: str | None) -> None:
    result = guard_text(text, allow_shell_escape=False, allowed_slash_commands=ALLOWED)
    assert result.text == expected
    assert result.slash_command == command


def test_trailing_backslash_protected() -> None:
    result = guard_text("path is C:\\", allow_shell_escape=False, allowed_slash_commands=())
    assert result.text == "path is C:\\ "
    assert "trailing-backslash-protected" in result.codes()


def test_empty_after_guard() -> None:
    assert guard_text("\x1b\x00\r\n  ", allow_shell_escape=False, allowed_slash_commands=()).empty


def test_changes_are_readable() -> None:
    result = guard_text("a\x1bb\x00", allow_shell_escape=False, allowed_slash_commands=())
    assert "U+001B x1" in str(result.changes[0]) and "U+0000 x1" in str(result.changes[0])


# -- properties ---------------------------------------------------------------

DANGEROUS = st.sampled_from(
    ["\x1b", "\x1b[201~", "\x1b[200~", "\r", "\r\n", "\x00", "\x7f", "\x9b", "\u202e", "\u2066", "\u200b", "\ufeff",
     "!", "/", "/compact", "/clear", "/config", " ", "\n", "\t", "\\"]
)
TEXT = st.lists(st.one_of(st.text(max_size=8), DANGEROUS), max_size=12).map("".join)


@settings(max_examples=500)
@given(TEXT, st.booleans())
def test_no_forbidden_character_survives(text: str, allow_shell: bool) -> None:
    out = guard_text(text, allow_shell_escape=allow_shell, allowed_slash_commands=ALLOWED).text
    assert not forbidden_characters(out)
    assert "\r" not in out
    assert not any(is_control(c) for c in out)


@settings(max_examples=500)
@given(TEXT)
def test_never_starts_with_shell_escape_or_disallowed_command(text: str) -> None:
    result = guard_text(text, allow_shell_escape=False, allowed_slash_commands=ALLOWED)
    out = result.text.lstrip()  # claude trims the input before looking for "/" and "!"
    assert not out.startswith("!")
    if out.startswith("/"):
        assert out == result.text
        name = out[1:].split()[0] if out[1:].split() else ""
        assert name in {"compact", "clear"}
        assert result.slash_command == name


@settings(max_examples=300)
@given(TEXT)
def test_idempotent(text: str) -> None:
    once = guard_text(text, allow_shell_escape=False, allowed_slash_commands=ALLOWED).text
    twice = guard_text(once, allow_shell_escape=False, allowed_slash_commands=ALLOWED)
    assert twice.text == once


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="!/\\"), min_size=1))
def test_printable_ascii_passes_unchanged(text: str) -> None:
    assert guard(text) == text
