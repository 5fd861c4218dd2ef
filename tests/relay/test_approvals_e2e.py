"""Permission approvals by email, end to end: the real claude asks for a Bash call (the fake API's
tool_use), TaskPing's PermissionRequest hook mails the approval and waits, the real relay reads the
answer from Dovecot. Allowed → the command runs; denied → it does not, and Claude reads the reason;
forged or replayed answers do nothing; past APPROVAL_TIMEOUT the dialog waits at the terminal and a
late answer is refused; a dialog answered at the keyboard closes the approval."""

from __future__ import annotations

import json
import subprocess
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from taskping.injectors import ScreenState
from taskping.session_map import approvals, connect
from taskping.session_map.ledger import LedgerEntry
from tests.support.fake_anthropic import Reply, ToolUse
from tests.support.world import Notification, World

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]

QUESTION: dict[str, Any] = {
    "questions": [
        {
            "question": "Which database should the service use?",
            "header": "Database",
            "multiSelect": False,
            "options": [
                {"label": "Postgres", "description": "Relational"},
                {"label": "SQLite", "description": "One file"},
            ],
        }
    ]
}
AUTHRES = {"SENDER_AUTH": "authres", "TRUSTED_AUTHSERV_ID": "mx.example.test"}
PASS = {"Authentication-Results": "mx.example.test; dkim=pass header.d=example.test; dmarc=pass"}
FAIL = {"Authentication-Results": "mx.example.test; dkim=fail header.d=example.test; dmarc=fail"}


def approval_mail(world: World, count: int, timeout: float = 20) -> Notification:
    """The ``count``-th approval email in me@'s mailbox."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = []
        for stored in world.stack.messages("me"):
            msg = message_from_bytes(stored.raw, policy=default_policy)
            if msg["X-TaskPing"] == "approval":
                found.append(Notification(str(msg["Message-ID"]), str(msg["Subject"]), "", stored.raw))
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.1)
    raise AssertionError(f"no approval email #{count}\n{world.diagnostics()}")


def final_rows(world: World, n: int) -> list[LedgerEntry]:
    return [r for r in world.wait_ledger(n, timeout=20) if r.final]


def wait_for(what: str, probe: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def tool_results(world: World) -> list[dict[str, Any]]:
    """Every tool_result block claude sent back to the fake API."""
    out = []
    for request in world.api.main_turns:
        for message in request.body.get("messages", []):
            content = message.get("content") if isinstance(message, dict) else None
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    out.append(block)
    return out


def press(world: World, pane: str, key: str) -> None:
    """A key pressed by the person at the terminal."""
    subprocess.run(["tmux", "-S", world.socket, "send-keys", "-t", pane, key], check=True)


def approval_rows(world: World) -> list[approvals.Approval]:
    conn = connect(world.env["SESSION_MAP_PATH"])
    try:
        ids = [r[0] for r in conn.execute("SELECT id FROM approvals ORDER BY id")]
        return [a for a in (approvals.get(conn, i) for i in ids) if a is not None]
    finally:
        conn.close()


@pytest.mark.world_env(APPROVALS="email", APPROVAL_TIMEOUT="120")
def test_allow_deny_forged_and_replayed(world: World) -> None:
    hooks = json.loads(world.home.settings_path.read_text())["hooks"]
    assert hooks["PermissionRequest"][0]["hooks"][0]["timeout"] == 150  # APPROVAL_TIMEOUT + the margin
    s = world.spawn("approve")
    world.start_relay(extra_env=AUTHRES)
    allowed, denied = world.home.project_dir / "allowed.txt", world.home.project_dir / "denied.txt"

    # allow: a forged "yes" first (fails authentication: never reaches the approval step), then the real one
    world.api.queue_tool_use(f"touch {allowed}")
    world.api.queue_text("Created it.")
    world.type_prompt(s, "create the file")
    note = approval_mail(world, 1)
    text = message_from_bytes(note.raw, policy=default_policy).get_body(("plain",))
    assert isinstance(text, EmailMessage)
    body = text.get_content()
    assert f"$ touch {allowed}" in body and "yes / y / allow / 1" in body and "Bash" in note.subject
    world.wait_screen(s, ScreenState.PERMISSION_DIALOG)
    world.reply(note, "yes", headers=FAIL)
    (forged,) = final_rows(world, 1)
    assert (forged.status, forged.code) == ("dropped", "not-authenticated")
    assert not allowed.exists() and approval_rows(world)[0].status == "pending"
    world.reply(note, "Yes!", headers=PASS)
    wait_for(f"{allowed} never created", allowed.exists)
    rows = final_rows(world, 2)
    assert (rows[1].status, rows[1].code, rows[1].step) == ("answered", "approval-allowed", "approval")
    # the same answer again under a fresh Message-ID: a replay, refused; nothing changes
    world.reply(note, "Yes!", headers=PASS)
    rows = final_rows(world, 3)
    assert (rows[2].status, rows[2].code) == ("refused", "replay")

    # deny, with a reason Claude reads as the tool's error
    world.wait_screen(s, ScreenState.READY)
    world.api.queue_tool_use(f"touch {denied}")
    world.api.queue_text("Understood, I will not.")
    world.type_prompt(s, "create the other file")
    note = approval_mail(world, 2)
    world.reply(note, "no - use the scratch directory instead", headers=PASS)
    wait_for("no tool_result with the reason", lambda: any("scratch directory" in str(b) for b in tool_results(world)))
    (result,) = [b for b in tool_results(world) if "scratch directory" in str(b)]
    assert result.get("is_error") is True
    assert not denied.exists()
    rows = final_rows(world, 4)
    assert (rows[3].status, rows[3].code) == ("answered", "approval-denied")
    # a second answer to a decided approval (other words: not a replay) is refused as decided
    world.reply(note, "yes", headers=PASS)
    rows = final_rows(world, 5)
    assert (rows[4].status, rows[4].code) == ("refused", "approval-decided")
    assert [a.status for a in approval_rows(world)] == ["allowed", "denied"]

    # Claude's multiple-choice question: mailed numbered, answered by number, the model reads the label
    world.wait_screen(s, ScreenState.READY)
    world.api.queue(Reply(text="Let me ask.", tool_use=ToolUse("AskUserQuestion", QUESTION)))
    world.api.queue_text("SQLite it is.")
    world.type_prompt(s, "pick a database")
    note = approval_mail(world, 3)
    plain = message_from_bytes(note.raw, policy=default_policy).get_body(("plain",))
    assert isinstance(plain, EmailMessage) and "  2. SQLite - One file" in plain.get_content()
    world.reply(note, "7", headers=PASS)  # not an option: asked again, still pending
    world.reply(note, "2", headers=PASS)
    wait_for("the model never got the answer", lambda: any("SQLite" in str(b) for b in tool_results(world)))
    (answer,) = [b for b in tool_results(world) if "SQLite" in str(b)]
    assert not answer.get("is_error") and "Postgres" not in str(answer)
    rows = final_rows(world, 7)
    assert [(r.status, r.code) for r in rows[5:]] == [
        ("answered", "approval-unclear"),
        ("answered", "approval-allowed"),
    ]
    assert not [p for p in world.api.prompts if p.lower().startswith(("yes", "no", "2", "7"))]  # nothing typed


@pytest.mark.world_env(APPROVALS="email", APPROVAL_TIMEOUT="5")
def test_timeout_leaves_the_dialog_and_the_keyboard_closes_it(world: World) -> None:
    s = world.spawn("late")
    world.start_relay()
    late: Path = world.home.project_dir / "late.txt"

    # nobody answers: after APPROVAL_TIMEOUT the hook gives up, Claude's dialog is still there
    world.api.queue_tool_use(f"touch {late}")
    world.api.queue_text("Done.")
    world.type_prompt(s, "create the late file")
    note = approval_mail(world, 1)
    wait_for("approval never expired", lambda: approval_rows(world)[0].status == "expired", timeout=15)
    world.wait_screen(s, ScreenState.PERMISSION_DIALOG)
    world.reply(note, "yes")
    (row,) = final_rows(world, 1)
    assert (row.status, row.code) == ("refused", "approval-expired") and "too late" in (row.reason or "")
    assert not late.exists()
    world.wait_screen(s, ScreenState.PERMISSION_DIALOG)

    # the person at the keyboard says yes: the dialog closes, the command runs (the hook was not asked)
    press(world, s.target_pane, "1")
    wait_for(f"{late} never created", late.exists)
    world.wait_screen(s, ScreenState.READY)

    # answered at the keyboard while the hook waits: the approval is closed, a late email says so
    kb = world.home.project_dir / "keyboard.txt"
    world.api.queue_tool_use(f"touch {kb}")
    world.api.queue_text("Done again.")
    world.type_prompt(s, "create the keyboard file")
    note = approval_mail(world, 2)
    world.wait_screen(s, ScreenState.PERMISSION_DIALOG)
    press(world, s.target_pane, "1")
    wait_for(f"{kb} never created", kb.exists)
    wait_for("approval never closed", lambda: approval_rows(world)[1].status == "closed", timeout=10)
    world.reply(note, "yes")
    rows = final_rows(world, 2)
    assert (rows[1].status, rows[1].code) == ("refused", "approval-closed")

    # Esc at the keyboard: Claude ends the waiting hook (SIGTERM), which closes the approval at once
    esc = world.home.project_dir / "escaped.txt"
    world.wait_screen(s, ScreenState.READY)
    world.api.queue_tool_use(f"touch {esc}")
    world.type_prompt(s, "create the escaped file")
    approval_mail(world, 3)
    world.wait_screen(s, ScreenState.PERMISSION_DIALOG)
    press(world, s.target_pane, "Escape")
    wait_for("approval never closed", lambda: approval_rows(world)[2].status == "closed", timeout=5)
    assert "SIGTERM" in (approval_rows(world)[2].note or "") and not esc.exists()
