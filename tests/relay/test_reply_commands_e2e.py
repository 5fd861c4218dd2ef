"""Reply commands end to end: ``#status``, ``#screen 5`` and ``#esc`` sent as replies go through the
real relay (Dovecot, tmux, the real claude against the fake API), are answered in the session's
thread and recorded as ``answered``, and are never typed into claude."""

from __future__ import annotations

import subprocess
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from taskping.injectors import ScreenState
from taskping.relay.commands import plain_lines
from taskping.session_map import connect, sessions
from tests.support.world import World

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]


def answer_to(world: World, reply_id: str, timeout: float = 20) -> EmailMessage:
    """The relay's answer to the reply ``reply_id`` (an ``answer`` mail threaded under it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stored in world.stack.messages("me"):
            msg = message_from_bytes(stored.raw, policy=default_policy)
            if msg["In-Reply-To"] == reply_id:
                assert isinstance(msg, EmailMessage)
                return msg
        time.sleep(0.1)
    raise AssertionError(f"no answer to {reply_id}; ledger {world.ledger()}\n{world.diagnostics()}")


def panes(world: World) -> list[str]:
    out = subprocess.run(
        ["tmux", "-S", world.socket, "list-panes", "-a", "-F", "#{pane_id}"], capture_output=True, text=True
    )
    return out.stdout.split()


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return plain.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def test_status_screen_and_esc_are_answered_in_the_thread_and_never_typed(world: World) -> None:
    s = world.spawn("cmds")
    note = world.notification_for(s, "first task")
    world.start_relay()

    # #status: every session, in the session's thread
    mid = world.reply(note, "  #Status  ")
    msg = answer_to(world, mid)
    text, _ = parts(msg)
    assert msg["X-TaskPing"] == "answer" and f"[TaskPing #{s.token}]" in str(msg["Subject"])
    assert s.token in str(msg["References"]) or note.message_id in str(msg["References"])
    assert "taskping-cmds" in text and str(world.home.project_dir) in text and "idle" in text

    # #screen 5: the pane's last lines, plain and in an escaped <pre>
    world.wait_screen(s, ScreenState.READY)
    mid = world.reply(note, "#screen 5")
    text, html = parts(answer_to(world, mid))
    expected = plain_lines(world.screen(s), 5)
    assert len(expected) == 5 and "\n".join(expected) in text
    assert "<pre" in html and "\x1b" not in text
    assert any(row.strip() and row.strip() in html for row in expected if "<" not in row and "&" not in row)

    # #esc: stops a turn that would otherwise run for 60 s
    world.api.queue_text("the slow answer", delay=60)
    world.type_prompt(s, "a long task")
    world.wait_screen(s, ScreenState.BUSY)
    started = time.monotonic()
    mid = world.reply(note, "#esc")
    text, _ = parts(answer_to(world, mid))
    assert "Pressed Escape" in text
    # claude stops the turn and puts the interrupted prompt back into the box
    world.wait_screen(s, ScreenState.READY, ScreenState.HAS_INPUT, timeout=20)
    assert time.monotonic() - started < 30
    assert "the slow answer" not in world.scrollback(s)

    # the ledger and the prompts claude received
    rows = [r for r in world.wait_ledger(3) if r.final]
    assert [(r.status, r.code, r.session_id) for r in rows] == [
        ("answered", "command-status", s.id),
        ("answered", "command-screen", s.id),
        ("answered", "command-esc", s.id),
    ]
    assert not [p for p in world.api.prompts if "#" in p]


def test_close_ends_the_session(world: World) -> None:
    s = world.spawn("closing")
    note = world.notification_for(s, "first task")
    world.start_relay()
    mid = world.reply(note, "#close")
    text, _ = parts(answer_to(world, mid))
    assert "Typed /exit" in text or "Closed session" in text
    deadline = time.monotonic() + 20
    while s.target_pane in panes(world):  # claude exited, and its tmux session with it
        assert time.monotonic() < deadline, f"pane still there: {world.screen(s)}"
        time.sleep(0.1)
    (row,) = [r for r in world.wait_ledger(1) if r.final]
    assert (row.status, row.code) == ("answered", "command-close")
    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        while (ended := sessions.get(conn, s.id)) is not None and ended.live:
            assert time.monotonic() < deadline, f"session {s.name} not ended"
            time.sleep(0.1)
    finally:
        conn.close()
    assert "/exit" not in world.api.prompts
