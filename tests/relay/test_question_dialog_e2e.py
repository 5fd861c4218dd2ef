"""A reply that arrives while Claude's question dialog (AskUserQuestion) is open: the real relay,
Dovecot, tmux and claude 2.1.328. A digit typed there would pick an option, so nothing is typed."""

from __future__ import annotations

import pytest

from taskping.injectors import ScreenState
from taskping.injectors.screen import read_screen
from tests.support.fake_anthropic import Reply, ToolUse
from tests.support.world import World

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]

QUESTION = "Which database should the service use?"
ASK = {
    "questions": [
        {
            "question": QUESTION,
            "header": "Database",
            "multiSelect": False,
            "options": [
                {"label": "Postgres", "description": "Relational"},
                {"label": "SQLite", "description": "One file"},
            ],
        }
    ]
}


def test_reply_while_a_question_is_open_is_refused_and_types_nothing(world: World) -> None:
    s = world.spawn("ask")
    note = world.notification_for(s, "start")
    world.api.queue(Reply(text="Let me ask.", tool_use=ToolUse("AskUserQuestion", ASK)))
    world.type_prompt(s, "pick a database")
    world.wait_screen(s, ScreenState.PERMISSION_DIALOG)
    before = len(world.api.main_turns)
    world.start_relay()
    world.reply(note, "2")
    rows = world.wait_ledger(1)
    assert (rows[0].status, rows[0].code) == ("refused", "dialog-open")
    assert "one of Claude's questions" in (rows[0].reason or "")
    screen = world.screen(s)
    assert read_screen(screen).state is ScreenState.PERMISSION_DIALOG
    assert any(line.startswith("❯ 1. Postgres") for line in screen), "\n".join(screen)  # not moved, not picked
    assert len(world.api.main_turns) == before  # no answer went to the model
