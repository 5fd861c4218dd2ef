"""`taskping notify` end to end: run from inside a tracked session's pane (as a build script
there would) or naming the session, the notification arrives in the session's thread, and a
reply to it is typed into that pane. Real Dovecot, relay process, tmux and claude."""

from __future__ import annotations

import os
import shlex
import subprocess
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from taskping.injectors import ScreenState
from tests.support.claude_fixtures import claude_binary_or_skip
from tests.support.cli import BIN
from tests.support.world import Notification, World

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]


def pane_env(world: World, pane: str) -> dict[str, str]:
    """What a process in the pane sees: tmux's TMUX (socket,server pid,session) and TMUX_PANE."""
    pid = subprocess.run(
        ["tmux", "-S", world.socket, "display-message", "-p", "#{pid}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {"TMUX": f"{world.socket},{pid},0", "TMUX_PANE": pane}


def run_notify(
    world: World, *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**world.home.env, "PATH": f"{BIN}:{os.environ['PATH']}", **(extra_env or {})}
    return subprocess.run(
        [str(BIN / "taskping"), "--env-file", str(world.env_file), "notify", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _note(raw: bytes, token: str) -> Notification:
    msg = message_from_bytes(raw, policy=default_policy)
    return Notification(str(msg["Message-ID"]), str(msg["Subject"]), token, raw)


def _parts(raw: bytes) -> tuple[str, str]:
    msg = message_from_bytes(raw, policy=default_policy)
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def test_notify_from_the_pane_and_a_reply_typed_there(world: World) -> None:
    # The README's recipe: a spawned session runs the build (a sleep stands for it), tells the phone
    # from inside its pane ($TMUX_PANE as tmux set it), then waits in claude for the answer.
    claude = claude_binary_or_skip()
    build = (
        f'sleep 1; taskping --env-file {shlex.quote(str(world.env_file))} notify --title "make test: exit $?" - '
        f"<<'EOF'\nAll **214** tests passed.\n\n```\n$ make test\nok\n```\nEOF\nexec {shlex.quote(claude)}"
    )
    world.taskping(
        "spawn",
        "--tmux-socket",
        world.socket,
        "--cwd",
        str(world.home.project_dir),
        "--name",
        "build",
        "--",
        "sh",
        "-c",
        build,
    )
    s = world.session("taskping-build")
    (raw,) = world.new_mail(1)
    note = _note(raw, s.token)
    assert note.subject == f"[TaskPing #{s.token}] project: make test: exit 0"
    msg = message_from_bytes(raw, policy=default_policy)
    assert msg["X-TaskPing"] == "notify" and world.session("taskping-build").thread_root == note.message_id
    text, html = _parts(raw)
    assert "make test: exit 0" in text and "All **214** tests passed." in text  # text/plain keeps the markdown
    assert "<strong>214</strong>" in html and "<pre" in html
    world.wait_screen(s, ScreenState.READY)  # claude took the pane over, same session

    world.start_relay()
    world.reply(note, "run the linter too\n\n> " + text.splitlines()[0])
    assert world.api.wait_for_prompt("run the linter too", timeout=20) == "run the linter too"
    assert [(r.status, r.session_id) for r in world.wait_ledger(1) if r.final] == [("delivered", s.id)]

    # Naming the session works from anywhere; --plain keeps a log as it is.
    out = run_notify(world, "--session", "build", "--plain", "line *one*\n  line two")
    assert out.returncode == 0, out.stderr
    mails = world.new_mail(3)  # the ack, the new turn's notification and this one, in any order
    (plain,) = [m for m in mails if b"X-TaskPing: notify" in m]
    assert "line *one*\n  line two" in _parts(plain)[1]  # in a <pre>, not rendered

    # Mistakes are one line naming the input, nothing sent.
    for args, env, said in (
        (("--session", "nope", "hi"), {}, "no live session named 'nope'"),
        (("hi",), {}, "not inside a tmux pane"),
        (("hi",), pane_env(world, "%999"), "is not a tracked session"),
        (("",), {}, "the message is empty"),
    ):
        out = run_notify(world, *args, extra_env=env)
        assert out.returncode != 0 and out.stdout == ""
        (line,) = [x for x in out.stderr.splitlines() if not x.startswith("config:")]
        assert line.startswith("notify: ") and said in line, out.stderr
