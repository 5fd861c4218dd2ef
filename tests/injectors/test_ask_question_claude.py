"""AskUserQuestion against the real claude 2.1.328 (fake Messages API).

Pins what TaskPing relies on: the question dialog is read as a dialog (nothing
is typed into it), claude waits on it, and a ``PermissionRequest`` hook that
prints what :mod:`taskping.hooks.ask_question` builds from a numbered reply
closes it and hands the model the chosen labels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import libtmux
import pytest

from taskping.injectors.base import ScreenState
from tests.support.claude_fixtures import ClaudeHome, ClaudePane, start_claude
from tests.support.fake_anthropic import FakeAnthropic, Reply, ToolUse
from tests.support.terminal import type_prompt, wait_until

pytestmark = [pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CI = "Which checks should CI run?"
DB = "Which database should the service use?"
ASK: dict[str, Any] = {
    "questions": [
        {
            "question": CI,
            "header": "CI",
            "multiSelect": True,
            "options": [
                {"label": "Lint", "description": "ruff"},
                {"label": "Types", "description": "mypy"},
                {"label": "Tests", "description": "pytest"},
            ],
        },
        {
            "question": DB,
            "header": "Database",
            "multiSelect": False,
            "options": [
                {"label": "Postgres", "description": "Relational"},
                {"label": "SQLite", "description": "One file"},
            ],
        },
    ]
}

HOOK = """\
import json, os, sys, time
sys.path.insert(0, {repo!r})
from taskping.hooks.ask_question import answer_reply, parse_questions
payload = json.load(sys.stdin)
open({record!r}, "w").write(json.dumps(payload))
while {gate!r} and not os.path.exists({gate!r}):  # a reply by email takes a while
    time.sleep(0.05)
if {reply!r} is not None:
    print(json.dumps(answer_reply(parse_questions(payload["tool_input"]), {reply!r})))
else:
    print({raw!r}, end="")
"""
ALLOW_WITHOUT_ANSWERS = json.dumps(
    {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}}
)


def add_permission_hook(home: ClaudeHome, tmp_path: Path, reply: str | None, raw: str = "", gate: str = "") -> Path:
    """A PermissionRequest hook that records its stdin and, given a reply, answers with the module's
    JSON (else prints ``raw``); with ``gate`` (a path) it answers only once that file exists."""
    record = tmp_path / "permission-request.json"
    script = tmp_path / "answer_hook.py"
    script.write_text(HOOK.format(repo=str(REPO), record=str(record), reply=reply, raw=raw, gate=gate))
    command = f"{sys.executable} {script}"
    home.update_settings(
        {"hooks": {"PermissionRequest": [{"matcher": "", "hooks": [{"type": "command", "command": command}]}]}}
    )
    return record


def ask(server: libtmux.Server, home: ClaudeHome, api: FakeAnthropic) -> ClaudePane:
    api.queue(
        Reply(text="Let me ask.", tool_use=ToolUse("AskUserQuestion", ASK)), Reply(text="Going with your choice.")
    )
    claude = start_claude(server, home, api)
    type_prompt(str(server.socket_path), str(claude.pane.pane_id), "set up the service")
    return claude


def press(claude: ClaudePane, keys: list[str], until: str) -> None:
    """Press ``keys`` one at a time (each after the screen changed), then wait until ``until`` is on screen."""
    for key in keys:
        before = claude.lines()
        claude.pane.cmd("send-keys", key)
        wait_until(f"the screen to change after {key}", lambda b=before: claude.lines() != b or None, timeout=5)
    try:
        wait_until(repr(until), lambda: any(until in line for line in claude.lines()) or None, timeout=10)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; screen:\n" + "\n".join(claude.lines())) from None


def first_key_taken(claude: ClaudePane, key: str, until: str, attempts: int = 10) -> None:
    """Press ``key`` until ``until`` shows: a key that arrives while the dialog is still being set up is
    lost (measured), and nothing else on the dialog changes until it is taken."""
    for _ in range(attempts):
        claude.pane.cmd("send-keys", key)
        try:
            wait_until(repr(until), lambda: any(until in line for line in claude.lines()) or None, timeout=1)
            return
        except TimeoutError:
            continue
    raise AssertionError(f"{key} never took; screen:\n" + "\n".join(claude.lines()))


def tool_results(api: FakeAnthropic) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for request in api.main_turns:
        for message in request.body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if message.get("role") == "user" and isinstance(content, list):
                found += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return found


def test_a_numbered_reply_answers_the_question_through_the_permission_hook(
    tmux_server: libtmux.Server, claude_home: ClaudeHome, fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    record = add_permission_hook(claude_home, tmp_path, reply="1,3 2")
    claude = ask(tmux_server, claude_home, fake_api)

    turns = fake_api.wait_for_main_turns(2, timeout=30)
    results = [r for r in tool_results(fake_api) if r.get("tool_use_id")]
    assert len(results) == 1, results
    assert not results[0].get("is_error")
    assert results[0]["content"] == (
        f'Your questions have been answered: "{CI}"="Lint, Tests", "{DB}"="SQLite". '
        "You can now continue with these answers in mind."
    )
    payload = json.loads(record.read_text())
    assert (payload["hook_event_name"], payload["tool_name"], payload["tool_input"]) == (
        "PermissionRequest",
        "AskUserQuestion",
        ASK,
    )
    assert len(turns) == 2
    reading = claude.wait_ready(timeout=15)  # the dialog closed and the turn finished
    assert reading.state is ScreenState.READY
    assert any("Answered Claude's questions" in line for line in claude.lines())


@pytest.mark.parametrize("hook_output", ["", ALLOW_WITHOUT_ANSWERS], ids=["no-output", "allow-without-answers"])
def test_without_an_answer_the_question_waits_as_a_dialog(
    tmux_server: libtmux.Server, claude_home: ClaudeHome, fake_api: FakeAnthropic, tmp_path: Path, hook_output: str
) -> None:
    # a plain "allow" (what an approval by email sends) does not answer a question: it stays open
    record = add_permission_hook(claude_home, tmp_path, reply=None, raw=hook_output)
    claude = ask(tmux_server, claude_home, fake_api)

    wait_until("the PermissionRequest hook ran", lambda: record.exists() or None, timeout=30)
    reading = claude.wait_for(ScreenState.PERMISSION_DIALOG, timeout=15)
    assert "question dialog" in reading.reason
    lines = claude.lines()
    assert any(line.startswith("❯ 1. [ ] Lint") for line in lines), "\n".join(lines)
    with pytest.raises(TimeoutError):  # nothing goes back to the model while it waits
        fake_api.wait_for_main_turns(2, timeout=2)
    assert tool_results(fake_api) == []
    assert claude.reading().state is ScreenState.PERMISSION_DIALOG


def test_an_answer_at_the_terminal_wins_over_a_later_hook_answer(
    tmux_server: libtmux.Server, claude_home: ClaudeHome, fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    # the dialog is on screen while the hook waits; the person at the keyboard answers first
    gate = tmp_path / "reply-arrived"
    record = add_permission_hook(claude_home, tmp_path, reply="2 1", gate=str(gate))  # Types; Postgres
    claude = ask(tmux_server, claude_home, fake_api)
    wait_until("the PermissionRequest hook ran", lambda: record.exists() or None, timeout=30)
    claude.wait_for(ScreenState.PERMISSION_DIALOG, timeout=15)
    first_key_taken(claude, "Enter", "[✔] Lint")  # tick Lint
    press(claude, ["Down"] * 4, "❯    Next")  # past Types, Tests, "Type something"
    press(claude, ["Enter"], DB)
    press(claude, ["Down"], "❯ 2. SQLite")
    press(claude, ["Enter"], "Review your answers")
    press(claude, ["Enter"], "Answered Claude's questions")  # Submit answers
    turns = fake_api.wait_for_main_turns(2, timeout=15)
    claude.wait_ready(timeout=15)
    gate.touch()  # the hook answers now, too late
    with pytest.raises(TimeoutError):
        fake_api.wait_for_main_turns(3, timeout=3)
    results = [r for r in tool_results(fake_api) if r.get("tool_use_id")]
    by_the_person = (
        f'Your questions have been answered: "{CI}"="Lint", "{DB}"="SQLite". '
        "You can now continue with these answers in mind."
    )
    assert [r["content"] for r in results] == [by_the_person], results
    assert len(turns) == 2
    assert claude.reading().state is ScreenState.READY
