"""Mail only when away (``NOTIFY_WHEN=away``, the default).

A real ``tmux attach`` runs under a PTY (pexpect) on the rig's private tmux
server; typing into it is the person's input (``#{client_activity}``). The
hooks are the installed console script, as Claude Code runs them.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pexpect
import pytest

from tests.notify.conftest import HookRig

pytestmark = pytest.mark.tmux


def _payload(rig: HookRig, **fields: object) -> dict[str, object]:
    return {"session_id": "away-1", "cwd": str(rig.root / "proj"), **fields}


class Client:
    """A tmux client attached to ``session`` on the rig's server, in a PTY."""

    def __init__(self, rig: HookRig, session: str) -> None:
        self.rig = rig
        self.child = pexpect.spawn(
            "tmux",
            ["-S", rig.socket, "attach", "-t", session],
            env={"PATH": rig.env["PATH"], "TERM": "xterm", "HOME": rig.env["HOME"], "LANG": "C.UTF-8"},
            dimensions=(30, 100),
            encoding="utf-8",
        )
        self.tty = ""
        deadline = time.monotonic() + 15
        while not self.tty:  # attached once tmux lists it
            assert time.monotonic() < deadline, "tmux attach did not show up in list-clients"
            self.tty = self._own_tty()
            time.sleep(0.05)

    def _clients(self) -> list[tuple[int, str]]:
        out = subprocess.run(
            ["tmux", "-S", self.rig.socket, "list-clients", "-F", "#{client_activity} #{client_tty}"],
            capture_output=True,
            text=True,
            check=False,
        )
        pairs = [line.split(" ", 1) for line in out.stdout.splitlines() if " " in line]
        return [(int(a), t) for a, t in pairs]

    def _own_tty(self) -> str:
        ttys = [t for _, t in self._clients()]
        return ttys[0] if len(ttys) == 1 else ""

    def activity(self) -> int:
        return {t: a for a, t in self._clients()}[self.tty]

    def type(self, text: str = "x") -> None:
        """Press keys in the client until tmux records input now (whole seconds)."""
        self.child.send(text)
        deadline = time.monotonic() + 10
        while self.activity() < int(time.time()) - 1:
            assert time.monotonic() < deadline, "typing did not update client_activity"
            time.sleep(0.05)

    def idle_for(self, seconds: int) -> None:
        """Wait (no input) until tmux's record of the last input is ``seconds`` old."""
        deadline = time.monotonic() + seconds + 10
        while time.time() - self.activity() < seconds + 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", self.rig.socket, "detach-client", "-t", self.tty], capture_output=True, check=False
        )
        self.child.close(force=True)


@pytest.fixture
def attach(hook_rig: HookRig) -> Iterator[type[Client]]:
    started: list[Client] = []

    def make(rig: HookRig, session: str) -> Client:
        client = Client(rig, session)
        started.append(client)
        return client

    yield make  # type: ignore[misc]
    for client in started:
        client.close()


def test_no_stop_mail_while_someone_types_at_the_session(hook_rig: HookRig, attach) -> None:  # type: ignore[no-untyped-def]
    rig = hook_rig
    rig.ok("SessionStart", _payload(rig))
    client = attach(rig, "work")
    client.type("hello")
    reason = rig.skipped("Stop", _payload(rig, last_assistant_message="done while you watched"))
    assert reason.startswith("at the terminal, Stop not mailed (NOTIFY_WHEN=away): client /dev/")
    assert reason.endswith("(AWAY_AFTER_SECONDS=120)")
    s = rig.session()
    assert s is not None and s.state == "idle" and s.last_event == "Stop"
    assert rig.outbox() == []

    # Idle and permission notices always mail: Claude is stuck until someone acts.
    rig.ok("Notification", _payload(rig, notification_type="idle_prompt", message="waiting"))
    assert [r.kind for r in rig.outbox()] == ["idle"]  # the turn's reply was not mailed: now it is
    rig.ok("UserPromptSubmit", _payload(rig, prompt="next"))
    rig.ok("Notification", _payload(rig, notification_type="permission_prompt", message="Allow Bash?"))
    rig.skipped("Stop", _payload(rig, last_assistant_message="second, still watched"))
    assert [r.kind for r in rig.outbox()] == ["idle", "permission"]

    # The person leaves (detaches): the first Stop after that mails.
    client.close()
    rig.ok("UserPromptSubmit", _payload(rig, prompt="third"))
    rig.ok("Stop", _payload(rig, last_assistant_message="you had left"))
    assert [r.kind for r in rig.outbox()] == ["idle", "permission", "stop"]


def test_an_idle_attached_client_is_away(hook_rig: HookRig, attach) -> None:  # type: ignore[no-untyped-def]
    rig = hook_rig
    rig.ok("SessionStart", _payload(rig))
    client = attach(rig, "work")
    client.type()
    assert rig.skipped("Stop", _payload(rig, last_assistant_message="a")).endswith("(AWAY_AFTER_SECONDS=120)")
    client.idle_for(1)  # still attached, no input for more than AWAY_AFTER_SECONDS=1
    rig.ok("Stop", _payload(rig, last_assistant_message="b"), env={"AWAY_AFTER_SECONDS": "1"})
    assert [r.kind for r in rig.outbox()] == ["stop"]


def test_a_client_on_another_session_does_not_count(hook_rig: HookRig, attach) -> None:  # type: ignore[no-untyped-def]
    rig = hook_rig
    rig.ok("SessionStart", _payload(rig))
    rig.new_pane("elsewhere")
    client = attach(rig, "elsewhere")
    client.type()
    rig.ok("Stop", _payload(rig, last_assistant_message="nobody watches 'work'"))
    assert [r.kind for r in rig.outbox()] == ["stop"]


def test_notify_when_always_mails_while_present(hook_rig: HookRig, attach) -> None:  # type: ignore[no-untyped-def]
    rig = hook_rig
    env = {"NOTIFY_WHEN": "always"}
    rig.ok("SessionStart", _payload(rig), env=env)
    client = attach(rig, "work")
    client.type()
    rig.ok("Stop", _payload(rig, last_assistant_message="mailed anyway"), env=env)
    assert [r.kind for r in rig.outbox()] == ["stop"]
