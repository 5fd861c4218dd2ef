"""Parsing reply commands (taskping.relay.commands): exactly one ``#command`` line is a command,
anything else is a prompt; and the text the answers are built from."""

from __future__ import annotations

import pytest

from taskping.hooks.compose import REPLY_COMMANDS
from taskping.relay.commands import (
    HELP,
    SCREEN_DEFAULT,
    SCREEN_MAX,
    Name,
    ReplyCommand,
    age,
    help_lines,
    parse_command,
    plain_lines,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#help", ReplyCommand(Name.HELP)),
        ("  #STATUS \n", ReplyCommand(Name.STATUS)),
        ("#Status", ReplyCommand(Name.STATUS)),
        ("#screen", ReplyCommand(Name.SCREEN, SCREEN_DEFAULT)),
        ("#screen 60", ReplyCommand(Name.SCREEN, 60)),
        ("#screen\t5", ReplyCommand(Name.SCREEN, 5)),
        ("#screen 1000", ReplyCommand(Name.SCREEN, SCREEN_MAX)),
        ("#screen 0", ReplyCommand(Name.SCREEN, 1)),
        ("#esc", ReplyCommand(Name.ESC)),
        ("\n#Esc\n\n", ReplyCommand(Name.ESC)),
    ],
)
def test_a_single_hash_line_is_a_command(text: str, expected: ReplyCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "status",  # a word: a prompt
        "/status",  # Claude's slash command: typed as today
        "# status",
        "#status please",
        "#status\nand then fix the tests",
        "fix it\n#esc",
        "#esc 3",
        "#help me",
        "#screen 5 6",
        "#screen -5",
        "#screen 1234567",
        "#screenshot",
        "#exit",
        "##status",
        "",
    ],
)
def test_anything_else_is_a_prompt(text: str) -> None:
    assert parse_command(text) is None


def test_plain_lines_removes_ansi_and_the_empty_bottom() -> None:
    rows = ["\x1b[1mbold\x1b[0m text", "\x1b]0;title\x07ok\x07", "tail\x1b[K", "", "   "]
    assert plain_lines(rows, 2) == ["ok", "tail"]
    assert plain_lines(rows, 10) == ["bold text", "ok", "tail"]


def test_help_names_every_command_and_the_footer_lists_them_all() -> None:
    text = "\n".join(help_lines())
    for write, _ in HELP:
        assert write in text
    assert sorted(c.write for c in REPLY_COMMANDS) == sorted(write for write, _ in HELP)


@pytest.mark.parametrize(("seconds", "shown"), [(5, "5 s"), (125, "2 min"), (7300, "2 h"), (3 * 86400 + 5, "3 d")])
def test_age(seconds: float, shown: str) -> None:
    assert age(seconds) == shown
