"""`taskping sessions` (last mail, gone panes, --prune) and `taskping send-outbox`
(each failure's reason, exit 1), as a person runs them: the installed console
script, a real private tmux server, SMTP on a closed loopback port."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.notify.conftest import HookRig, taskping_bin

pytestmark = pytest.mark.tmux


def _cli(rig: HookRig, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [taskping_bin(), *args], env=rig.env, capture_output=True, text=True, timeout=60, check=False, cwd=rig.root
    )


def _listed(rig: HookRig, *extra: str) -> dict[str, dict[str, Any]]:
    proc = _cli(rig, "sessions", "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return {r["name"]: r for r in map(json.loads, proc.stdout.splitlines())}


def _payload(rig: HookRig, **fields: object) -> dict[str, object]:
    return {"session_id": "s-1", "cwd": str(rig.root / "proj"), **fields}


def test_send_outbox_prints_each_failure_and_exits_1(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.ok("SessionStart", _payload(rig))
    rig.ok("Stop", _payload(rig, last_assistant_message="hello"))
    proc = _cli(rig, "send-outbox", "--max-seconds", "0")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    (failure,) = [x for x in proc.stderr.splitlines() if not x.startswith("config: ")]
    (row,) = rig.outbox()
    assert failure.startswith(f"send-outbox: {row.message_id} (stop) not sent, will retry: ")
    assert "connection refused (check SMTP_PORT and SMTP_HOST)" in failure
    assert proc.stdout.strip() == "sent 0, retried 1, failed 0"

    # `sessions` shows that mail's fate with the same reason.
    s = _listed(rig)["work:0.0"]
    assert s["gone"] is False and s["state"] == "idle"
    assert s["last_mail"]["kind"] == "stop" and s["last_mail"]["status"] == "queued"
    assert s["last_mail"]["reason"] == row.last_error and row.last_error and row.last_error in failure
    table = _cli(rig, "sessions").stdout
    assert "LAST MAIL" in table and "stop queued" in table


def test_send_outbox_with_nothing_to_send_exits_0(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.beat_relay()  # creates the session map
    proc = _cli(rig, "send-outbox", "--max-seconds", "0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "sent 0, retried 0, failed 0"
    assert [x for x in proc.stderr.splitlines() if not x.startswith("config: ")] == []


def test_a_killed_pane_is_gone_and_prune_ends_it(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.ok("SessionStart", _payload(rig))
    doomed = rig.new_pane("doomed")
    rig.ok("SessionStart", _payload(rig), pane=doomed)
    listed = _listed(rig)
    assert {n: r["gone"] for n, r in listed.items()} == {"work:0.0": False, "doomed:0.0": False}
    assert listed["doomed:0.0"]["last_mail"] is None

    rig.server.cmd("kill-session", "-t", "doomed")
    listed = _listed(rig)
    assert {n: r["gone"] for n, r in listed.items()} == {"work:0.0": False, "doomed:0.0": True}
    table = _cli(rig, "sessions")
    line = next(x for x in table.stdout.splitlines() if x.startswith("doomed:0.0"))
    assert line.split()[2] == "gone"
    assert "1 session(s) gone" in table.stdout

    proc = _cli(rig, "sessions", "--prune")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"ended doomed:0.0: its tmux pane {doomed} is gone",
        "retention: nothing older than 30 days to forget",
        "retention: no log line older than 30 days",
    ]
    assert set(_listed(rig)) == {"work:0.0"}
    assert _listed(rig, "--all")["doomed:0.0"]["state"] == "ended"
    assert _cli(rig, "sessions", "--prune").stdout.splitlines()[0] == "no gone sessions to prune"


def test_every_pane_is_gone_when_its_tmux_server_is_gone(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.ok("SessionStart", _payload(rig))
    rig.server.kill()
    assert _listed(rig)["work:0.0"]["gone"] is True


class _Accept:
    """An SMTP server that takes every message (aiosmtpd handler)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.received.append(envelope.original_content or envelope.content)
        return "250 OK"


def test_a_retry_that_goes_through_is_a_success(hook_rig: HookRig) -> None:
    """SMTP down at first, up a moment later: one retry line, then sent, exit 0."""
    from aiosmtpd.controller import Controller

    rig = hook_rig
    rig.ok("SessionStart", _payload(rig))
    rig.ok("Stop", _payload(rig, last_assistant_message="hello"))
    sender = subprocess.Popen(
        [taskping_bin(), "send-outbox", "--max-seconds", "60"],
        env=rig.env,
        cwd=rig.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    handler = _Accept()
    controller = Controller(handler, hostname="127.0.0.1", port=int(rig.env["SMTP_PORT"]))
    started = False
    try:
        assert sender.stderr is not None
        while True:  # wait for its first failure (the config line comes first)
            line = sender.stderr.readline()
            assert line, "send-outbox ended without reporting the failure"
            if line.startswith("send-outbox: "):
                assert "not sent, will retry" in line
                break
        controller.start()
        started = True
        out, err = sender.communicate(timeout=60)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
        if started:
            controller.stop()
    assert sender.returncode == 0, err
    assert out.strip() == "sent 1, retried 1, failed 0"
    assert len(handler.received) == 1
    assert [r.status for r in rig.outbox()] == ["sent"]
