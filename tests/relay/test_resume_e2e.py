"""Sessions that come back: real Dovecot, the real relay process, the real claude against the
fake API. A `taskping spawn` session whose terminal is gone (its tmux server killed, its PTY
wrapper killed) is brought back by a reply with `claude --resume` in a new tmux session, the
same session row, and the conversation goes on: the model gets the earlier turn with the reply."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from taskping.injectors import InjectionOutcome, ScreenState
from taskping.injectors.pty import PtyInjector
from taskping.tmux_server import TmuxServer
from tests.support.claude_fixtures import claude_binary_or_skip
from tests.support.cli import BIN
from tests.support.pty_session import PtySession
from tests.support.terminal import wait_until
from tests.support.world import Notification, World

pytestmark = [pytest.mark.mail, pytest.mark.claude, pytest.mark.slow]


@pytest.fixture
def relay_tmux_dir() -> Iterator[Path]:
    """$TMUX_TMPDIR for the relay: the tmux server a PTY session comes back on is private to the
    test (killed, only it, at the end)."""
    path = Path(tempfile.mkdtemp(prefix="tp-resume-"))
    try:
        yield path
    finally:
        for sock in path.glob("tmux-*/default"):
            TmuxServer(str(sock)).run("kill-server")
        shutil.rmtree(path, ignore_errors=True)


def relay_env(world: World, tmux_dir: Path) -> dict[str, str]:
    """The relay's environment, which a resumed claude inherits: the test's HOME and the fake API."""
    path = f"{BIN}:{Path(claude_binary_or_skip()).parent}:{os.environ['PATH']}"
    return {**world.home.env, "PATH": path, "TMUX_TMPDIR": str(tmux_dir)}


def conversation(body: Any) -> list[tuple[str, str]]:
    """(role, text) of each message of a Messages API request, system reminders left out."""
    out: list[tuple[str, str]] = []
    for message in body.get("messages", []):
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            text = block.get("text", "") if block.get("type") == "text" else ""
            if text and not text.lstrip().startswith("<system-reminder>"):
                out.append((message["role"], text))
    return out


def assert_continued(world: World, reply: str) -> None:
    """The model got the reply as a new turn of the SAME conversation: the earlier prompt and answer first."""
    assert world.api.wait_for_prompt(reply, timeout=40) == reply
    request = next(r for r in reversed(world.api.main_turns) if r.prompt == reply)
    turns = conversation(request.body)
    assert ("user", "first task") in turns and ("assistant", "Done: first task") in turns, turns
    assert turns.index(("user", "first task")) < turns.index(("assistant", "Done: first task")) < len(turns) - 1
    assert turns[-1] == ("user", reply)


def ack_text(world: World) -> str:
    for raw in world.new_mail(2, timeout=30):  # the ack, and the Stop notification of the resumed turn
        msg = message_from_bytes(raw, policy=default_policy)
        if msg["X-TaskPing"] == "ack":
            body = msg.get_body(("plain",))
            return body.get_content() if body else ""
    raise AssertionError("no acknowledgement")


def test_tmux_server_killed_reply_resumes_the_conversation(world: World, relay_tmux_dir: Path) -> None:
    session = world.spawn("back")
    note = world.notification_for(session, "first task")
    subprocess.run(["tmux", "-S", world.socket, "kill-server"], check=True)
    # Measured: claude gets SIGHUP and its SessionEnd hook (reason "other") ends the row.
    ended = wait_until("the SessionEnd hook", lambda: (s := _row(world, session.id)) and not s.live and s)
    assert ended.end_reason == "SessionEnd:other" and ended.spawned

    world.start_relay(extra_env=relay_env(world, relay_tmux_dir))
    world.reply(note, "continue with part two")
    assert_continued(world, "continue with part two")
    rows = world.wait_ledger(1, timeout=40)
    assert rows[0].status == "delivered" and rows[0].reason.startswith("resumed"), rows
    back = _row(world, session.id)
    assert back is not None and back.live and back.resumed == 1 and back.token == session.token
    assert back.target_socket == session.target_socket and back.target_pane != session.target_pane
    assert "resumed" in ack_text(world)
    # the same conversation, the same row (``session`` is spawn's row, read before claude's first hook
    # may have recorded its id; ``ended`` was read after the hooks ran)
    assert ended.claude_session_id is not None and back.claude_session_id == ended.claude_session_id
    conn_rows = _all_rows(world)
    assert [r.id for r in conn_rows] == [session.id], "the resumed claude's hooks created no second session"


def test_two_resumes_at_once_start_one_terminal(world: World, relay_tmux_dir: Path) -> None:
    """Two relays' replies for the same gone session: the second waits for the first and gets its terminal."""
    from taskping.config import load_settings
    from taskping.hooks.resume import resume

    session = world.spawn("once")
    world.notification_for(session, "first task")
    subprocess.run(["tmux", "-S", world.socket, "kill-server"], check=True)
    ended = wait_until("the SessionEnd hook", lambda: (s := _row(world, session.id)) and not s.live and s)
    settings = load_settings(environ=dict(world.env))
    environment = {**os.environ, **relay_env(world, relay_tmux_dir)}
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: resume(settings, ended, environment=environment), range(2)))
    assert both[0].session.target_pane == both[1].session.target_pane
    listed = TmuxServer(world.socket).check("list-sessions", "-F", "#{session_name}")
    assert listed == [session.name]
    back = _row(world, session.id)
    assert back is not None and back.live and back.resumed == 1


def test_pty_wrapper_killed_reply_resumes_in_tmux(world: World, relay_tmux_dir: Path) -> None:
    binary = claude_binary_or_skip()
    env = {**world.home.env, "PATH": f"{BIN}:{Path(binary).parent}:{os.environ['PATH']}"}
    pty = PtySession(
        [binary],
        env=env,
        session_map=Path(world.env["SESSION_MAP_PATH"]),
        name="ptyback",
        cwd=world.home.project_dir,
        env_file=world.env_file,
    )
    try:
        pty.wait_for(ScreenState.READY, timeout=30)
        typed = PtyInjector(world.state_dir / "locks", pty.secret_for()).inject(pty.target, "first task")
        assert typed.outcome is InjectionOutcome.SUBMITTED, typed
        raw = world.new_mail(1)[0]
        msg = message_from_bytes(raw, policy=default_policy)
        note = Notification(str(msg["Message-ID"]), str(msg["Subject"]), pty.session.token, raw)
        claude_pid = int(pty.ask("ping")["pid"])  # type: ignore[call-overload]
        os.kill(pty.wrapper_pid(), signal.SIGKILL)
        pty.wait_exit()
        wait_until("claude to exit with its terminal", lambda: not Path(f"/proc/{claude_pid}").exists(), timeout=15)

        world.start_relay(extra_env=relay_env(world, relay_tmux_dir))
        world.reply(note, "continue with part two")
        assert_continued(world, "continue with part two")
        rows = world.wait_ledger(1, timeout=40)
        assert rows[0].status == "delivered" and rows[0].reason.startswith("resumed"), rows
        back = pty.current()
        assert back is not None and back.live and back.kind == "tmux" and back.token == pty.session.token
        assert back.target_socket.startswith(str(relay_tmux_dir))
        ack = ack_text(world)
        assert "resumed" in ack and f"attach -t {back.name}" in ack
    finally:
        pty.close()


def _row(world: World, session_id: int) -> Any:
    from taskping.session_map import connect, sessions

    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        return sessions.get(conn, session_id)
    finally:
        conn.close()


def _all_rows(world: World) -> Any:
    from taskping.session_map import connect, sessions

    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        return sessions.all_sessions(conn, include_ended=True)
    finally:
        conn.close()


def test_the_relay_closes_leftover_terminals_at_start(world: World) -> None:
    """The relay's maintenance (at start, then hourly) closes a spawned session's terminal that
    outlived its session by TOKEN_TTL, and leaves a live one alone."""
    from taskping.session_map import connect, sessions

    old, live = world.spawn("leftover"), world.spawn("working")
    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        sessions.end(conn, old.id, reason="SessionEnd:other")  # as if Claude ended and its shell stayed
        conn.execute("UPDATE sessions SET ended_at = ended_at - 2 * 86400 WHERE id = ?", (old.id,))
    finally:
        conn.close()
    server = TmuxServer(world.socket)
    assert server.has_session(old.name)
    world.start_relay()
    wait_until("the leftover closed", lambda: (s := _row(world, old.id)) and s.cleaned_at and s, timeout=20)
    assert not server.has_session(old.name) and server.has_session(live.name)
    assert (_row(world, live.id)).cleaned_at is None
