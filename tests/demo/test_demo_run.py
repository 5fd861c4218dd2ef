"""`taskping demo` end to end, as a child process: the real claude, the stand-in, failures."""

from __future__ import annotations

import pytest

from tests.demo.conftest import STEP_LABELS, assert_nothing_left, path_without_claude, run_demo
from tests.support import prereqs

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


def _assert_whole_loop(run, reply: str = "Please add a unit test for the parser") -> None:  # type: ignore[no-untyped-def]
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    labels = [line[2:] for line in run.step_lines]
    assert len(labels) == len(STEP_LABELS) + 1, run.stdout  # every step, then the total
    for label, expected in zip(labels, STEP_LABELS, strict=False):
        assert label.startswith(expected), f"{label!r} where {expected!r} was due\n{run.stdout}"
        assert label.endswith(" s"), label  # each step carries its time
    assert labels[-1].startswith("the whole loop ran on 127.0.0.1 in ")
    out = run.stdout
    assert "SENDER_AUTH=authres, TRUSTED_AUTHSERV_ID=mx.taskping-demo.test" in out
    assert "## Reply above this line ## [TaskPing #" in out  # the notification as the phone shows it
    assert "Sent from my iPhone" in out
    assert "Delivered to demo-demo at" in out  # the relay's acknowledgement, read back over IMAP
    pane = out.split("✓ reply typed into the pane", 1)[1].split("✓ acknowledgement received", 1)[0]
    assert reply in pane  # the pane as printed shows the typed reply
    assert "Traceback" not in run.stderr


@pytest.mark.claude
def test_demo_with_the_real_claude() -> None:
    claude = prereqs.require("claude")
    prereqs.require("tmux")
    run = run_demo("--claude", str(claude))
    _assert_whole_loop(run)
    assert "STAND-IN" not in run.stdout
    # the real claude ran (its version, from `claude --version`, names the session step); the
    # pane's banner may have scrolled out of the printed lines, so it is not what is checked
    assert "Claude Code session started (claude 2.1.328" in run.stdout, run.stdout
    assert_nothing_left(run)


def test_demo_without_claude_uses_the_labelled_stand_in() -> None:
    prereqs.require("tmux")
    run = run_demo(path=path_without_claude())
    assert "claude is not installed" in run.stdout
    _assert_whole_loop(run)
    assert "Claude Code session started (the STAND-IN in a private tmux server" in run.stdout
    assert "STAND-IN for Claude Code (claude is not installed)" in run.stdout  # the pane says so too
    assert_nothing_left(run)


def test_a_failing_step_is_named_and_everything_stops() -> None:
    prereqs.require("tmux")
    run = run_demo("--fail-at", "notification", path=path_without_claude())
    assert run.returncode == 1, run.stdout
    assert run.step_lines[-1] == "✗ notification received: failed on purpose (--fail-at notification)"
    assert "demo failed at step 'notification'" in run.stdout
    assert "✓ relay started" in run.stdout and "✓ Claude Code session started" in run.stdout
    assert "Traceback" not in run.stderr
    assert_nothing_left(run)  # the relay, tmux and the stand-in it had started are gone


def test_a_claude_that_cannot_run_fails_the_session_step() -> None:
    prereqs.require("tmux")
    run = run_demo("--claude", "/nonexistent/claude")
    assert run.returncode == 1, run.stdout
    assert (
        run.step_lines[-1] == "✗ Claude Code session started: --claude '/nonexistent/claude' is not an executable file"
    )
    assert "demo failed at step 'session'" in run.stdout
    assert "Traceback" not in run.stderr
    assert_nothing_left(run)


def test_help_explains_the_demo() -> None:
    run = run_demo("--help")
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    for words in (
        "--keep",
        "--claude",
        "--fail-at",
        "TRUSTED_AUTHSERV_ID=mx.taskping-demo.test",
        "stand-in",
        "Ctrl-C",
        "notification, reply, typed, ack",
    ):
        assert words in text, words
