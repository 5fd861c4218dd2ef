"""Keys go only into a READY screen: replies that arrive while claude works wait.

Real relay process, Dovecot, tmux and the real claude CLI against the fake
Messages API. A slow scripted turn keeps claude busy ("esc to interrupt");
a reply sent meanwhile must sit in the ledger as ``waiting`` (nothing typed),
then be typed when the turn ends, in arrival order, or be refused with a
notice after BUSY_WAIT_SECONDS. A turn that asks for a tool while a reply
waits must never be approved by TaskPing's keys.
"""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from taskping.injectors import ScreenState
from taskping.injectors.screen import read_screen
from tests.support.fake_anthropic import Reply, ToolUse
from tests.support.terminal import press_on_dialog
from tests.support.world import World

pytestmark = [
    pytest.mark.mail,
    pytest.mark.tmux,
    pytest.mark.claude,
    pytest.mark.slow,
    pytest.mark.world_env(BUSY_WAIT_SECONDS="60"),
]


def _wait_status(world: World, status: str, count: int = 1, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len([r for r in world.ledger() if r.status == status]) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {count} ledger row(s) {status}: {world.ledger()}\n{world.relay_log()}")


def _tool_results(world: World) -> list[dict]:  # type: ignore[type-arg]
    """Every tool_result block claude sent to the API (a tool that ran, or was refused)."""
    found = []
    for request in world.api.main_turns:
        for message in request.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, list):
                found += [block for block in content if isinstance(block, dict) and block.get("type") == "tool_result"]
    return found


def _bodies(raws: list[bytes]) -> str:
    out = []
    for raw in raws:
        part = message_from_bytes(raw, policy=default_policy).get_body(("plain",))
        out.append(part.get_content() if part else "")
    return "\n---\n".join(out)


def test_replies_while_claude_works_wait_then_are_typed_in_order(world: World) -> None:
    s = world.spawn("busy")
    note = world.notification_for(s, "start")
    world.start_relay()
    world.api.queue(Reply(text="Long job finished.", delay=6.0))
    world.type_prompt(s, "run the long job")
    world.wait_screen(s, ScreenState.BUSY)
    world.reply(note, "first reply while busy")
    world.reply(note, "second reply while busy")
    _wait_status(world, "waiting", 2)
    assert read_screen(world.screen(s)).state is ScreenState.BUSY, "the turn ended too early for this test"
    assert "first reply while busy" not in world.api.prompts
    # the turn ends; both are typed, each as its own turn, in arrival order
    world.api.wait_for_prompt("second reply while busy", timeout=30)
    prompts = world.api.prompts
    assert (
        prompts.index("run the long job")
        < prompts.index("first reply while busy")
        < prompts.index("second reply while busy")
    )
    rows = world.wait_ledger(2)
    delivered = [r for r in rows if r.status == "delivered"]
    assert len(delivered) == 2 and all("after waiting" in (r.reason or "") for r in delivered), rows
    conn_rows = world.ledger()
    assert not [r for r in conn_rows if r.status == "waiting"]


def test_tool_call_while_a_reply_waits_is_never_approved(world: World) -> None:
    s = world.spawn("tool")
    note = world.notification_for(s, "start")
    marker = world.home.project_dir / "approved-by-taskping"
    world.start_relay()
    # a turn that ends in a Bash tool call, held until the reply waits: then the dialog opens
    held = threading.Event()
    world.api.queue(
        Reply(
            text="Let me run it.",
            tool_use=ToolUse("Bash", {"command": f"touch {marker}", "description": "Touch a marker"}),
            hold=held,
        )
    )
    world.type_prompt(s, "do something with a tool")
    world.wait_screen(s, ScreenState.BUSY)
    world.reply(note, "1")  # the worst case: a digit plus Enter would choose "1. Yes"
    _wait_status(world, "waiting")
    held.set()
    world.wait_screen(s, ScreenState.PERMISSION_DIALOG)
    time.sleep(3.0)  # several of the relay's checks pass while the dialog is open
    assert read_screen(world.screen(s)).state is ScreenState.PERMISSION_DIALOG
    assert not marker.exists()
    assert not _tool_results(world)
    assert [r.status for r in world.ledger()] == ["waiting"]
    # the person answers the dialog at the keyboard (No); claude is READY again and the reply is typed
    world.api.queue_text("Understood, I did not run it.")
    press_on_dialog(world.socket, s.target_pane, "Escape")
    assert world.api.wait_for_prompt("1", timeout=30) == "1"
    assert not marker.exists()
    results = _tool_results(world)
    assert results and all(r.get("is_error") for r in results), json.dumps(results)[:500]


@pytest.mark.world_env(BUSY_WAIT_SECONDS="2")
def test_busy_longer_than_busy_wait_seconds_is_refused_with_notice(world: World) -> None:
    s = world.spawn("slow")
    note = world.notification_for(s, "start")
    world.start_relay()
    world.api.queue(Reply(text="Very long job finished.", delay=8.0))
    world.type_prompt(s, "run the very long job")
    world.wait_screen(s, ScreenState.BUSY)
    world.reply(note, "this one waits too long")
    rows = world.wait_ledger(1, timeout=20)
    assert (rows[0].status, rows[0].code) == ("refused", "busy-timeout"), rows
    assert "this one waits too long" not in world.api.prompts
    mails = world.new_mail(2, timeout=20)  # the refusal and the long job's Stop notification
    assert "BUSY_WAIT_SECONDS" in _bodies(mails)
    world.api.wait_for_prompt("run the very long job")
    time.sleep(1.0)
    assert "this one waits too long" not in world.api.prompts
