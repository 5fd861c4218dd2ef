"""The notification's one-line summary of a turn (``4 min · edited 3 files · ran 2 commands``),
read from a transcript the real claude 2.1.328 wrote against the fake Messages API."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from taskping.hooks.notices import turn_summary
from taskping.hooks.transcript import last_turn_activity
from tests.support.claude_fixtures import ClaudeHome, claude_binary_or_skip
from tests.support.fake_anthropic import FakeAnthropic, Reply, ToolUse

pytestmark = pytest.mark.claude


def _transcript(home: ClaudeHome) -> Path:
    (found,) = list((home.home / ".claude" / "projects").rglob("*.jsonl"))
    return found


def test_activity_of_the_last_turn_from_a_real_transcript(fake_api: FakeAnthropic, claude_home: ClaudeHome) -> None:
    project = claude_home.project_dir
    (project / "a.txt").write_text("hello\n")
    fake_api.queue(Reply(text="first turn"))
    fake_api.queue(
        Reply(text="Writing.", tool_use=ToolUse("Write", {"file_path": str(project / "b.txt"), "content": "b\n"})),
        Reply(
            tool_use=ToolUse("Edit", {"file_path": str(project / "a.txt"), "old_string": "hello", "new_string": "hi"})
        ),
        Reply(tool_use=ToolUse("Edit", {"file_path": str(project / "a.txt"), "old_string": "hi", "new_string": "yo"})),
        # An edit that fails (nothing to replace) changed no file.
        Reply(tool_use=ToolUse("Edit", {"file_path": str(project / "c.txt"), "old_string": "x", "new_string": "y"})),
        Reply(tool_use=ToolUse("Bash", {"command": "ls", "description": "list"})),
        Reply(tool_use=ToolUse("Bash", {"command": "false", "description": "fails, but ran"})),
        Reply(tool_use=ToolUse("Bash", {"command": "rm a.txt", "description": "denied: did not run"})),
        Reply(text="## Done\n\nAll **good**."),
    )
    base = [
        claude_binary_or_skip(),
        "--permission-mode",
        "default",
        "--allowedTools",
        "Write,Edit,Bash(ls),Bash(false)",
    ]

    def claude(*args: str) -> None:
        proc = subprocess.run(
            [*base, *args], cwd=project, env=claude_home.env, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, proc.stderr

    claude("-p", "say hi")
    session_id = _transcript(claude_home).stem
    before = time.time()
    claude("-p", "change the files", "--resume", session_id)  # a second turn: only it is counted
    after = time.time()

    activity = last_turn_activity(_transcript(claude_home))
    assert activity is not None
    assert (activity.files_edited, activity.commands_run) == (2, 2)  # b.txt and a.txt; ls and false
    assert activity.started_at is not None and before - 1 <= activity.started_at <= after
    assert (project / "a.txt").read_text() == "yo\n"  # the denied rm did not run


def test_activity_without_a_transcript_is_none(tmp_path: Path) -> None:
    assert last_turn_activity(None) is None
    assert last_turn_activity(tmp_path / "missing.jsonl") is None


def test_a_turn_longer_than_the_tail_has_no_start(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    prompt = {"type": "user", "timestamp": "2026-11-30T14:54:16.988Z", "message": {"role": "user", "content": "go"}}
    filler = {"type": "system", "content": "x" * 1000}
    bash = {
        "type": "assistant",
        "message": {
            "id": "m1",
            "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}],
        },
    }
    result = {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a"}]}}
    lines = [prompt] + [filler] * 600 + [bash, result]
    path.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines))
    activity = last_turn_activity(path)
    assert activity is not None and activity.started_at is None and activity.commands_run == 1


@pytest.mark.parametrize(
    ("seconds", "files", "commands", "line"),
    [
        (240, 3, 2, "4 min · edited 3 files · ran 2 commands"),
        (12.4, 1, 1, "12 s · edited 1 file · ran 1 command"),
        (59.6, 0, 0, "1 min"),
        (3 * 3600 + 5 * 60, 0, 4, "3 h 5 min · ran 4 commands"),
        (7200, 0, 0, "2 h"),
        (None, 2, 0, "edited 2 files"),
        (None, 0, 0, None),
    ],
)
def test_summary_line(seconds: float | None, files: int, commands: int, line: str | None) -> None:
    assert turn_summary(seconds, files, commands) == line
