"""``#new DIR prompt`` in a fresh email, end to end: the real relay reads it from Dovecot, starts
the real claude (against the fake API) in a tmux session on the world's private server, types
the prompt once claude is READY, answers the mail, and the new session's Stop notification
arrives threaded under the ``#new`` mail."""

from __future__ import annotations

import os
import subprocess
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from taskping.session_map import connect, sessions
from tests.support import cli
from tests.support.claude_fixtures import claude_binary_or_skip
from tests.support.terminal import wait_until
from tests.support.world import World

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]


def mail_of_kind(world: World, kind: str, in_reply_to: str, timeout: float = 30) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stored in world.stack.messages("me"):
            msg = message_from_bytes(stored.raw, policy=default_policy)
            if msg["X-TaskPing"] == kind and msg["In-Reply-To"] == in_reply_to:
                assert isinstance(msg, EmailMessage)
                return msg
        time.sleep(0.1)
    raise AssertionError(f"no {kind} mail under {in_reply_to}; ledger {world.ledger()}\n{world.diagnostics()}")


def test_a_fresh_new_starts_a_session_that_gets_the_prompt_and_mails_its_stop(world: World) -> None:
    project = world.home.project_dir
    claude_dir = str(Path(claude_binary_or_skip()).parent)
    world.start_relay(
        extra_env={
            **world.home.env,  # the HOME, API and settings the new claude runs with
            "PATH": f"{claude_dir}:{cli.BIN}:{os.environ['PATH']}",
            "TMUX": f"{world.socket},0,0",  # the tmux server #new starts sessions on
            "ALLOWED_ROOTS": str(project.parent),
        }
    )
    mid = world.reply(None, f"#new {project} do X", subject="a new session")

    answer = mail_of_kind(world, "answer", mid)
    body = answer.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    text = body.get_content()
    assert "Started session taskping-project" in text and "attach -t taskping-project" in text
    assert "Typed your prompt" in text
    wait_until("claude got the prompt", lambda: "do X" in world.api.prompts)

    stop = mail_of_kind(world, "stop", mid)  # the new session's first email, in the #new mail's thread
    assert mid in str(stop["References"])
    session = world.session("taskping-project")
    assert f"[TaskPing #{session.token}]" in str(stop["Subject"]) and session.cwd == str(project)

    (row,) = [r for r in world.wait_ledger(1) if r.final]
    assert (row.status, row.code, row.session_id) == ("answered", "command-new", session.id)
    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        assert [s.name for s in sessions.all_sessions(conn)] == ["taskping-project"]
    finally:
        conn.close()
    assert world.api.prompts.count("do X") == 1


def test_close_goes_through_injecting_and_removes_a_pane_that_remain_on_exit_keeps(world: World) -> None:
    """``#close`` with tmux's ``remain-on-exit`` on: claude exits on ``/exit`` but its pane stays,
    dead; the relay removes it (and so the tmux session), ends the session, and the ledger row
    carries ``/exit`` (written with ``injecting`` before the first key)."""
    subprocess.run(["tmux", "-S", world.socket, "set-option", "-g", "remain-on-exit", "on"], check=True)
    s = world.spawn("keeps")
    note = world.notification_for(s, "first task")
    world.start_relay()
    mid = world.reply(note, "#close")
    answer = mail_of_kind(world, "answer", mid)
    body = answer.get_body(("plain",))
    assert isinstance(body, EmailMessage) and "its terminal is closed" in body.get_content()
    listed = subprocess.run(
        ["tmux", "-S", world.socket, "list-sessions", "-F", "#{session_name}"], capture_output=True, text=True
    )
    assert "taskping-keeps" not in listed.stdout.split()
    (row,) = [r for r in world.wait_ledger(1) if r.final]
    assert (row.status, row.code, row.preview) == ("answered", "command-close", "/exit")
    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        ended = sessions.get(conn, s.id)
        assert ended is not None and not ended.live
    finally:
        conn.close()


def test_a_relay_killed_while_starting_a_new_session_never_starts_it_twice(world: World) -> None:
    """SIGKILL at ``before-new`` (the row is ``injecting``, nothing started yet): the next relay
    does not run the #new again; the sender is told it may not have happened."""
    env = {**world.home.env, "ALLOWED_ROOTS": str(world.home.project_dir.parent), "TMUX": f"{world.socket},0,0"}
    doomed = world.start_relay(extra_env={**env, "TASKPING_FAULT": "before-new"})
    mid = world.reply(None, f"#new {world.home.project_dir} do X", subject="crash")
    assert doomed.wait(timeout=30) == -9
    (row,) = world.ledger()
    assert row.status == "injecting"
    world.start_relay(extra_env=env)
    told = mail_of_kind(world, "unknown", mid)
    assert "may not have been delivered" in str(told.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    (row,) = [r for r in world.wait_ledger(1) if r.final]
    assert (row.status, row.code) == ("unknown", "fate-unknown")
    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        assert sessions.all_sessions(conn) == []
    finally:
        conn.close()
    assert world.api.prompts == []
