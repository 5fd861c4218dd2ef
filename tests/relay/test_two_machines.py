"""Two machines on one mailbox: two relays (own state dirs, env files, host ids, tmux
servers and claude homes) reading the same Dovecot INBOX. Each types only replies to its
own sessions, leaves the other's untouched (no $TaskPingDone, no refusal mail), and a
relay that was down finds its replies waiting when it comes back. A machine started with
another's host id is refused at start."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from taskping.config import CONFIG_ERROR_EXIT
from taskping.session_map import connect, sessions
from taskping.tokens import host_part, message_id_host
from tests.support import cli, terminal
from tests.support.claude_fixtures import claude_binary_or_skip, make_claude_home
from tests.support.cli import start_relay_process, write_env_file
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.mailstack import MailStack
from tests.support.world import Notification, World, open_world

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]

DONE = b"$TaskPingDone"


@pytest.fixture
def machines(mail_stack: MailStack, fake_api: FakeAnthropic, tmp_path: Path) -> Iterator[tuple[World, World]]:
    with terminal.private_tmux_server() as server_a, terminal.private_tmux_server() as server_b:
        worlds: list[World] = []
        try:
            for name, server in (("a", server_a), ("b", server_b)):
                root = tmp_path / name
                home = make_claude_home(root / "claude", fake_api.base_url)
                state = root / "state"
                state.mkdir(parents=True)
                worlds.append(
                    open_world(
                        mail_stack,
                        fake_api,
                        home,
                        server,
                        root,
                        TASKPING_HOST_ID=f"machine-{name}",
                        SESSION_MAP_PATH=str(state / "taskping.db"),
                    )
                )
            yield worlds[0], worlds[1]
        finally:
            for w in worlds:
                w.stop()


def _notification(world: World, session: sessions.Session, prompt: str) -> Notification:
    """Make claude finish a turn; its notification, found in the shared mailbox by token."""
    world.type_prompt(session, prompt)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for m in world.stack.messages("me"):
            msg = message_from_bytes(m.raw, policy=default_policy)
            if session.token in str(msg["Subject"]) and str(msg["X-TaskPing"]) != "ack":
                return Notification(str(msg["Message-ID"]), str(msg["Subject"]), session.token, m.raw)
        time.sleep(0.1)
    raise AssertionError(f"no notification for {session.name}\n{world.diagnostics()}")


def _flags(world: World, message_id: str) -> tuple[bytes, ...]:
    for m in world.stack.messages("taskping"):
        if message_id.encode() in m.raw.split(b"\r\n\r\n", 1)[0]:
            return m.flags
    raise AssertionError(f"{message_id} not in the mailbox")


def _final(world: World) -> dict[str, tuple[str, int | None]]:
    return {r.message_id: (r.status, r.session_id) for r in world.ledger() if r.final and r.message_id}


def _wait_final(world: World, message_ids: list[str], timeout: float = 20) -> dict[str, tuple[str, int | None]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _final(world)
        if all(m in rows for m in message_ids):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"ledger {world.ledger()}\nrelay log:\n{world.relay_log()}")


def test_two_relays_share_one_mailbox(machines: tuple[World, World]) -> None:
    a, b = machines
    sa, sb = a.spawn("alpha"), b.spawn("beta")
    note_a, note_b = _notification(a, sa, "task for alpha"), _notification(b, sb, "task for beta")
    assert message_id_host(note_a.message_id) == host_part("machine-a") != host_part("machine-b")
    assert message_id_host(note_b.message_id) == host_part("machine-b")

    relay_a = a.start_relay()  # b's relay is down for now
    b1 = b.reply(note_b, "beta one, by token and thread")
    a1 = a.reply(note_a, "alpha one")
    b2 = b.reply(note_b, "beta two, thread only", subject="Re: your task")  # no token: the thread names b
    a.api.wait_for_prompt("alpha one")
    rows_a = _wait_final(a, [a1, b1, b2])
    assert rows_a[a1] == ("delivered", sa.id)
    assert rows_a[b1][0] == rows_a[b2][0] == "foreign"
    assert DONE not in _flags(a, b1) and DONE not in _flags(a, b2)

    relay_b = b.start_relay()  # b comes back: its replies waited in the mailbox
    b.api.wait_for_prompt("beta one, by token and thread")
    b.api.wait_for_prompt("beta two, thread only")
    a2 = a.reply(note_a, "alpha two")  # both up, interleaved
    b3 = b.reply(note_b, "beta three")
    a.api.wait_for_prompt("alpha two")
    b.api.wait_for_prompt("beta three")
    rows_a, rows_b = _wait_final(a, [a2, b3]), _wait_final(b, [a1, a2, b1, b2, b3])
    assert rows_a[a2] == ("delivered", sa.id) and rows_a[b3][0] == "foreign"
    assert {m: rows_b[m] for m in (b1, b2, b3)} == dict.fromkeys((b1, b2, b3), ("delivered", sb.id))
    assert rows_b[a1][0] == rows_b[a2][0] == "foreign"
    for text in ("alpha one", "alpha two", "beta one, by token and thread", "beta two, thread only", "beta three"):
        assert a.api.prompts.count(text) == 1, (text, a.api.prompts)
    refusals = [m for m in a.stack.messages("me") if b"refus" in m.raw.lower() or b"not delivered" in m.raw.lower()]
    assert refusals == []
    assert a.stop_relay(relay_a) == 0 and b.stop_relay(relay_b) == 0

    # a's machine restarts with b's host id: the mailbox holds b's newer notifications' ids,
    # which a's session map does not know, so a's relay refuses to start, in one line.
    twin_env = {**a.env, "TASKPING_HOST_ID": "machine-b"}
    write_env_file(a.env_file, twin_env)
    stderr_path = a.state_dir / "twin.stderr"
    with open(stderr_path, "wb") as stderr:
        twin = start_relay_process(a.env_file, {**os.environ, **twin_env}, stderr)
    a.procs.append(twin)
    assert twin.wait(timeout=30) == CONFIG_ERROR_EXIT
    lines = [line for line in stderr_path.read_text().splitlines() if "another machine uses" in line]
    assert len(lines) == 1 and "TASKPING_HOST_ID" in lines[0] and "Traceback" not in stderr_path.read_text()


def _new_env(world: World) -> dict[str, str]:
    """What a relay needs for `#new`: claude on PATH with its HOME, its tmux server, ALLOWED_ROOTS."""
    claude_dir = str(Path(claude_binary_or_skip()).parent)
    return {
        **world.home.env,
        "PATH": f"{claude_dir}:{cli.BIN}:{os.environ['PATH']}",
        "TMUX": f"{world.socket},0,0",
        "ALLOWED_ROOTS": str(world.home.project_dir.parent),
    }


def _answers_to(world: World, message_id: str, n: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = []
        for m in world.stack.messages("me"):
            msg = message_from_bytes(m.raw, policy=default_policy)
            if msg["In-Reply-To"] == message_id and msg["X-TaskPing"] == "answer":
                body = msg.get_body(("plain",))
                found.append(body.get_content() if body else "")
        if len(found) >= n:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{n} answers to {message_id} expected\n{world.diagnostics()}")


def test_fresh_commands_on_two_machines(machines: tuple[World, World]) -> None:
    """A fresh #status is answered by each relay for its own machine; a fresh `#new @HOST` runs on
    the machine it names only, and the other relay leaves it untouched (``foreign``)."""
    a, b = machines
    relay_a, relay_b = a.start_relay(extra_env=_new_env(a)), b.start_relay(extra_env=_new_env(b))
    status = a.reply(None, "#status", subject="how are things")
    texts = _answers_to(a, status, 2)
    named = sorted(h for t in texts for h in ("machine-a", "machine-b") if f"@{host_part(h)}" in t)
    assert named == ["machine-a", "machine-b"]

    new = a.reply(None, f"#new @{host_part('machine-b')} {b.home.project_dir} do Y", subject="on b")
    (answer,) = _answers_to(b, new, 1)
    assert "Started session taskping-project" in answer and f"@{host_part('machine-b')}" in answer
    b.api.wait_for_prompt("do Y")
    assert _wait_final(a, [new])[new] == ("foreign", None)
    assert _wait_final(b, [new])[new][0] == "answered"
    b.session("taskping-project")  # live on b
    conn = connect(a.env["SESSION_MAP_PATH"])
    try:
        assert sessions.all_sessions(conn) == []  # nothing started on a
    finally:
        conn.close()
    assert b.api.prompts.count("do Y") == 1
    assert a.stop_relay(relay_a) == 0 and b.stop_relay(relay_b) == 0
