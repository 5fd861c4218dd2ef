"""The reply path into a `taskping spawn --mode pty` session: real Dovecot, the real relay
process, the real claude under the PTY wrapper (driven through an outer PTY), the fake API.

The relay never owns the PTY: a relay restart leaves the session running and the next
relay types into it; a wrapper that is gone is TARGET_GONE and the session ends when
RESUME_GONE_SESSIONS=false (otherwise it is resumed: tests/relay/test_resume_e2e.py)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from taskping.injectors import InjectionOutcome, ScreenState
from taskping.injectors.pty import PtyInjector
from tests.support.claude_fixtures import claude_binary_or_skip
from tests.support.cli import BIN
from tests.support.pty_session import PtySession
from tests.support.world import Notification, World

pytestmark = [pytest.mark.mail, pytest.mark.claude, pytest.mark.slow]


@pytest.fixture
def pty_world(world: World) -> Iterator[tuple[World, list[PtySession]]]:
    started: list[PtySession] = []
    try:
        yield world, started
    finally:
        for pty in started:
            pty.close()


def spawn_pty(world: World, started: list[PtySession], name: str) -> PtySession:
    binary = claude_binary_or_skip()
    env = {**world.home.env, "PATH": f"{BIN}:{Path(binary).parent}:{os.environ['PATH']}"}
    pty = PtySession(
        [binary],
        env=env,
        session_map=Path(world.env["SESSION_MAP_PATH"]),
        name=name,
        cwd=world.home.project_dir,
        env_file=world.env_file,
    )
    started.append(pty)
    pty.wait_for(ScreenState.READY, timeout=30)
    return pty


def first_notification(world: World, pty: PtySession, prompt: str) -> Notification:
    """A turn started from outside the keyboard (so the person counts as away) and its Stop mail."""
    typed = PtyInjector(world.state_dir / "locks", pty.secret_for()).inject(pty.target, prompt)
    assert typed.outcome is InjectionOutcome.SUBMITTED, typed
    raw = world.new_mail(1)[0]
    msg = message_from_bytes(raw, policy=default_policy)
    return Notification(str(msg["Message-ID"]), str(msg["Subject"]), pty.session.token, raw)


def test_reply_typed_into_pty_session_across_a_relay_restart(pty_world: tuple[World, list[PtySession]]) -> None:
    world, started = pty_world
    pty = spawn_pty(world, started, "ptyone")
    note = first_notification(world, pty, "first task")
    session = pty.current()
    assert session is not None and session.kind == "pty" and session.state == "idle"
    assert session.claude_session_id  # the hooks found the PTY session through $TASKPING_PTY

    relay = world.start_relay()
    world.reply(note, "Now run the unit tests please")
    assert world.api.wait_for_prompt("Now run the unit tests please", timeout=20) == "Now run the unit tests please"
    rows = world.wait_ledger(1)
    assert rows[0].status == "delivered" and rows[0].reason == "submitted", rows
    assert world.stop_relay(relay) == 0

    # The relay is gone; the session is not: it still answers and shows claude READY.
    pty.wait_for(ScreenState.READY, timeout=20)
    assert pty.outer.isalive()
    world.new_mail(2)  # the ack and the Stop notification of that turn

    world.start_relay()
    world.reply(note, "and then commit the fix")
    assert world.api.wait_for_prompt("and then commit the fix", timeout=20) == "and then commit the fix"
    rows = world.wait_ledger(2)
    assert [r.status for r in rows] == ["delivered", "delivered"], rows


@pytest.mark.world_env(RESUME_GONE_SESSIONS="false")
def test_wrapper_gone_is_target_gone_and_the_session_ends(pty_world: tuple[World, list[PtySession]]) -> None:
    world, started = pty_world
    pty = spawn_pty(world, started, "ptygone")
    note = first_notification(world, pty, "first task")
    # No clean exit anywhere (claude's SessionEnd hook would end the session): only the relay can.
    claude_pid = int(pty.ask("ping")["pid"])  # type: ignore[call-overload]
    os.kill(claude_pid, signal.SIGSTOP)  # stopped: it cannot run a hook when the wrapper dies
    os.kill(pty.wrapper_pid(), signal.SIGKILL)
    os.kill(claude_pid, signal.SIGKILL)
    pty.wait_exit()
    current = pty.current()
    assert current is not None and current.live
    world.start_relay()
    world.reply(note, "typed into nothing")
    rows = world.wait_ledger(1)
    assert rows[0].status == "refused" and rows[0].code == "target-gone", rows
    assert "no longer exists" in (rows[0].reason or "") and "RESUME_GONE_SESSIONS=false" in (rows[0].reason or "")
    ended = pty.current()
    assert ended is not None and ended.state == "ended" and ended.last_event == "pane gone"
    assert "typed into nothing" not in world.api.prompts
