"""Parsing reply commands (taskping.relay.commands): exactly one ``#command`` line is a command,
anything else is a prompt; and the text the answers are built from."""

from __future__ import annotations

from pathlib import Path

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
from taskping.relay.explain import explain, snapshot
from taskping.session_map import ledger, notifications
from taskping.session_map.vocabulary import Code, Status, Step
from tests.support.inprocess import in_process_map, reply_to, said


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


def test_status_through_the_pipeline_and_explain(tmp_path: Path) -> None:
    """The real pipeline on a real session map (no terminal: #status reads none): answered, in the
    ledger and the session's thread, counted for replay; ``explain`` says the same."""
    with in_process_map(tmp_path) as m:
        raw = reply_to(m, 0, body=b"#status", mid=b"<status-1@example.test>")
        copy = snapshot(m.settings.session_map_path)
        try:
            told = explain(raw, m.settings, copy)
        finally:
            copy.close()
        assert told.would_type is None and (told.steps[-1].step, told.steps[-1].code) == ("command", "command-status")

        assert said(m.pipeline.plan(raw)) == (Status.ANSWERED, Step.COMMAND, Code.COMMAND_STATUS)
        (row,) = ledger.entries(m.conn)
        assert (row.status, row.code) == ("answered", "command-status")
        answer = notifications.texts_for_session(m.conn, row.session_id or 0)[0]  # newest first
        assert "canon-0" in answer and "canon-1" in answer and "idle" in answer

        # the same command re-sent under a fresh Message-ID is a replay, refused
        again = reply_to(m, 0, body=b"#status", mid=b"<status-2@example.test>")
        assert said(m.pipeline.plan(again)) == (Status.REFUSED, Step.REPLAY, Code.REPLAY)
