"""`taskping hook EVENT` as Claude Code runs it: the installed console script in
a subprocess, hook JSON on stdin, TMUX/TMUX_PANE naming a pane of a real
private tmux server. SMTP points at a closed port: these tests read the
composed email from the outbox, the e2e tests read it from a real mailbox.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from taskping.extract.marker import is_marker_line
from taskping.marker import marker_line
from taskping.tokens import TOKEN_RE, find_subject_token
from tests.notify.conftest import (
    EMAIL_FROM,
    EMAIL_TO,
    HookRig,
    our_senders,
    parse_mail,
    parts,
    subject,
    taskping_bin,
)

pytestmark = pytest.mark.tmux

REPLY = (
    "I refactored the parser and all 42 tests pass now; here is what changed in detail.\n"
    "\n"
    "1. `parse_header` no longer allocates per line.\n"
    "2. The CRLF handling moved into one place.\n"
    "\n"
    "Shall I also update the changelog? <b>not bold</b> & friends"
)


def _payload(rig: HookRig, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "session_id": "5b0c6a3e-1111-4c1e-9f00-aaaaaaaaaaaa",
        "transcript_path": str(rig.root / "no-such-transcript.jsonl"),
        "cwd": str(rig.root / "myproject"),
    }
    base.update(fields)
    return base


# ------------------------------------------------------------- state and registration


def test_state_follows_events_and_identity_is_recorded(hook_rig: HookRig) -> None:
    rig = hook_rig
    assert rig.session() is None

    rig.ok("SessionStart", _payload(rig, source="startup", model="claude-sonnet"))
    s = rig.session()
    assert s is not None
    assert (s.state, s.turn, s.last_event) == ("idle", 0, "SessionStart")
    assert s.claude_session_id == "5b0c6a3e-1111-4c1e-9f00-aaaaaaaaaaaa"
    assert s.cwd == str(rig.root / "myproject")
    assert s.claude_pid == 424242
    assert TOKEN_RE.fullmatch(s.token)

    rig.ok("UserPromptSubmit", _payload(rig, prompt="refactor the parser"))
    s = rig.session()
    assert s is not None and (s.state, s.turn, s.last_event) == ("busy", 1, "UserPromptSubmit")
    assert s.last_prompt_at is not None

    rig.ok("Stop", _payload(rig, last_assistant_message=REPLY, stop_hook_active=False))
    s = rig.session()
    assert s is not None and (s.state, s.turn, s.last_event) == ("idle", 1, "Stop")

    rig.ok("UserPromptSubmit", _payload(rig, prompt="run the tests"))
    rig.ok(
        "Notification",
        _payload(rig, notification_type="permission_prompt", message="Claude needs your permission to use Bash"),
    )
    s = rig.session()
    assert s is not None and (s.state, s.turn) == ("waiting-permission", 2)
    assert s.last_event == "Notification:permission_prompt"

    rig.ok("SessionEnd", _payload(rig, reason="prompt_input_exit"))
    assert rig.session() is None  # no live session on the pane any more
    (ended,) = rig.all_sessions()
    assert ended.state == "ended" and ended.token == s.token and ended.last_event == "SessionEnd"

    # A later event on the pane (a new claude there) registers a new session with a new token.
    rig.ok("SessionStart", _payload(rig, session_id="another-claude", source="startup"))
    fresh = rig.session()
    assert fresh is not None and fresh.token != s.token and fresh.state == "idle"
    assert len(rig.all_sessions()) == 2


def test_hand_started_pane_is_registered_under_its_tmux_name(hook_rig: HookRig) -> None:
    rig = hook_rig
    other = rig.new_pane("api")
    split = rig.server.cmd("split-window", "-t", "api:0", "-d", "-P", "-F", "#{pane_id}", "sleep 3600")
    split_pane = split.stdout[0].strip()

    for pane in (rig.pane, other, split_pane):
        rig.ok("UserPromptSubmit", _payload(rig, prompt="hi"), pane=pane)

    names = {s.target_pane: s.name for s in rig.all_sessions()}
    assert names == {rig.pane: "work:0.0", other: "api:0.0", split_pane: "api:0.1"}
    for s in rig.all_sessions():
        assert s.kind == "tmux" and s.target_socket == rig.socket and s.state == "busy"
    # Sessions are told apart by pane: a second event on `api:0.1` updates its own record only.
    rig.ok("Stop", _payload(rig, last_assistant_message="done"), pane=split_pane)
    states = {s.target_pane: s.state for s in rig.all_sessions()}
    assert states == {rig.pane: "busy", other: "busy", split_pane: "idle"}


def test_cwd_falls_back_to_claude_project_dir(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.ok("SessionStart", {"session_id": "x", "source": "startup"})
    s = rig.session()
    assert s is not None and s.cwd == rig.env["CLAUDE_PROJECT_DIR"]


# ------------------------------------------------------------- the reply notification


def test_stop_queues_a_complete_notification(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.ok("UserPromptSubmit", _payload(rig, prompt="refactor"))
    rig.ok("Stop", _payload(rig, last_assistant_message=REPLY))
    s = rig.session()
    assert s is not None
    (row,) = rig.outbox()
    assert (row.kind, row.status, row.to_addr, row.session_id) == ("stop", "queued", EMAIL_TO, s.id)

    msg = parse_mail(row.raw)
    subj = subject(msg)
    expected_snippet = "I refactored the parser and all 42 tests pass now; here is…"
    assert len(expected_snippet) <= 60  # cut at 59 characters, trailing space dropped, then "…"
    assert subj == f"[TaskPing #{s.token}] myproject: {expected_snippet}"
    assert find_subject_token(subj) == s.token

    assert msg["Message-ID"] == row.message_id
    assert row.message_id.startswith("<") and row.message_id.endswith("@notify.example.test>")
    assert rig.notification_ids() == [row.message_id]
    assert s.thread_root == row.message_id
    assert msg["In-Reply-To"] is None and msg["References"] is None  # the first of its thread
    assert msg["Auto-Submitted"] == "auto-generated"
    assert EMAIL_FROM in str(msg["From"]) and str(msg["To"]) == EMAIL_TO

    body = parts(msg)
    assert set(body) == {"text/plain", "text/html"}
    text, html = body["text/plain"], body["text/html"]
    lines = text.splitlines()
    assert lines[0] == marker_line(s.token) and is_marker_line(lines[0])
    assert s.token in lines[0]
    assert re.fullmatch(r"\d+ s", lines[2])  # the turn's summary: its length (no transcript: no files, commands)
    assert lines[4] == REPLY.splitlines()[0]  # then Claude's reply
    assert REPLY in text  # the full reply as markdown, not just its first line
    footer = lines[lines.index("-- ") + 1 :]  # how to reply: in the footer, under the reply
    assert footer[0].startswith("Reply to this email") and "```" in footer[1]
    assert f"Session: {s.name}" in footer
    assert f"Project: {rig.root / 'myproject'}" in footer
    assert "State: waiting for your reply" in footer
    assert marker_line(s.token) in html
    # The markdown is rendered (a list, inline code) and the model's raw HTML stays text.
    assert "<ol" in html and "<code" in html and "parse_header</code>" in html
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; friends" in html and "<b>not bold</b>" not in html
    assert "Shall I also update the changelog?" in html
    # The preview is Claude's first line (a hidden preheader before the marker).
    assert html.index(REPLY.splitlines()[0]) < html.index(marker_line(s.token))


def test_notifications_of_a_session_form_one_thread(hook_rig: HookRig) -> None:
    rig = hook_rig
    for n in range(3):
        rig.ok("UserPromptSubmit", _payload(rig, prompt=f"turn {n}"))
        rig.ok("Stop", _payload(rig, last_assistant_message=f"reply number {n}"))
    rows = rig.outbox()
    assert [r.kind for r in rows] == ["stop", "stop", "stop"]
    first = rows[0].message_id
    assert len({r.message_id for r in rows}) == 3
    assert rig.notification_ids() == [r.message_id for r in rows]
    for row in rows[1:]:
        msg = parse_mail(row.raw)
        assert msg["Message-ID"].endswith("@notify.example.test>")
        assert msg["In-Reply-To"] == first
        assert first in str(msg["References"]).split()
    subjects = [subject(parse_mail(r.raw)) for r in rows]
    assert subjects[2].endswith("myproject: reply number 2")


def test_empty_reply_still_notifies(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.ok("Stop", _payload(rig, last_assistant_message=""))
    (row,) = rig.outbox()
    msg = parse_mail(row.raw)
    assert subject(msg).endswith("myproject: finished its turn")
    assert "without a text reply" in parts(msg)["text/plain"]


def _write_transcript(path: Path, session_id: str) -> None:
    """A transcript shaped like claude's: the last reply spans two lines sharing message.id."""

    def line(kind: str, message: dict[str, object]) -> str:
        return json.dumps(
            {"type": kind, "sessionId": session_id, "uuid": f"u{time.monotonic_ns()}", "message": message}
        )

    rows = [
        json.dumps({"type": "summary", "summary": "Parser work"}),
        line("user", {"role": "user", "content": "first question"}),
        line(
            "assistant",
            {
                "id": "msg_old",
                "role": "assistant",
                "content": [{"type": "text", "text": "An OLD reply that must not be mailed."}],
            },
        ),
        line("user", {"role": "user", "content": [{"type": "text", "text": "second question"}]}),
        line(
            "assistant",
            {
                "id": "msg_new",
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm"},
                    {"type": "text", "text": "Transcript reply, part one."},
                ],
            },
        ),
        line(
            "assistant",
            {"id": "msg_new", "role": "assistant", "content": [{"type": "text", "text": "Part two, same message."}]},
        ),
        "{not json: a partially written line",
    ]
    path.write_text("\n".join(rows) + "\n")


def test_stop_without_last_message_reads_the_transcript(hook_rig: HookRig) -> None:
    rig = hook_rig
    transcript = rig.root / "home" / ".claude" / "projects" / "-x-myproject" / "sess.jsonl"
    transcript.parent.mkdir(parents=True)
    _write_transcript(transcript, "sess")
    rig.ok("Stop", _payload(rig, transcript_path=str(transcript)))  # no last_assistant_message
    (row,) = rig.outbox()
    msg = parse_mail(row.raw)
    text = parts(msg)["text/plain"]
    assert "Transcript reply, part one.\nPart two, same message." in text
    assert "OLD reply" not in text and "hmm" not in text
    assert subject(msg).endswith("myproject: Transcript reply, part one.")


def test_last_assistant_message_wins_over_the_transcript(hook_rig: HookRig) -> None:
    rig = hook_rig
    transcript = rig.root / "t.jsonl"
    _write_transcript(transcript, "sess")
    rig.ok("Stop", _payload(rig, transcript_path=str(transcript), last_assistant_message="From the payload."))
    text = parts(parse_mail(rig.outbox()[0].raw))["text/plain"]
    assert "From the payload." in text and "Transcript reply" not in text


# ------------------------------------------------------------- short notices


def test_permission_prompt_sends_a_short_notice(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.ok("UserPromptSubmit", _payload(rig, prompt="run ls"))
    rig.ok(
        "Notification",
        _payload(rig, notification_type="permission_prompt", message="Claude needs your permission to use Bash"),
    )
    s = rig.session()
    assert s is not None and s.state == "waiting-permission"
    (row,) = rig.outbox()
    assert row.kind == "permission"
    msg = parse_mail(row.raw)
    assert subject(msg) == (
        f"[TaskPing #{s.token}] myproject: needs permission — Claude needs your permission to use Bash"
    )
    assert msg["X-TaskPing"] == "permission"
    text = parts(msg)["text/plain"]
    assert text.splitlines()[0] == marker_line(s.token)
    assert "Claude needs your permission to use Bash" in text
    assert "answer it at the terminal" in text
    assert "State: waiting for a permission decision" in text


def test_idle_notice_only_when_the_turn_has_none(hook_rig: HookRig) -> None:
    rig = hook_rig
    idle = _payload(rig, notification_type="idle_prompt", message="Claude is waiting for your input")

    # A turn that ended with a Stop email: the idle reminder is not sent.
    rig.ok("UserPromptSubmit", _payload(rig, prompt="one"))
    rig.ok("Stop", _payload(rig, last_assistant_message="first reply"))
    assert rig.skipped("Notification", idle) == "idle notice not mailed: this turn's reply was already mailed"
    rig.skipped("Notification", idle)
    assert [r.kind for r in rig.outbox()] == ["stop"]
    s = rig.session()
    assert s is not None and s.state == "idle" and s.last_event == "Notification:idle_prompt"

    # A turn with a permission notice already produced its email: no idle one either.
    rig.ok("UserPromptSubmit", _payload(rig, prompt="two"))
    rig.ok("Notification", _payload(rig, notification_type="permission_prompt", message="Allow Bash?"))
    rig.skipped("Notification", idle)
    assert [r.kind for r in rig.outbox()] == ["stop", "permission"]


def test_idle_notice_is_sent_once_for_a_turn_without_email(hook_rig: HookRig) -> None:
    rig = hook_rig
    idle = _payload(rig, notification_type="idle_prompt", message="Claude is waiting for your input")
    rig.ok("SessionStart", _payload(rig, source="startup"))
    rig.ok("Notification", idle)
    rig.skipped("Notification", idle)  # the same (empty) turn: not again
    rows = rig.outbox()
    assert [r.kind for r in rows] == ["idle"]
    msg = parse_mail(rows[0].raw)
    assert subject(msg).endswith("myproject: waiting for your input")
    assert "Claude is waiting for your input" in parts(msg)["text/plain"]


def test_other_notification_types_change_nothing(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.ok("UserPromptSubmit", _payload(rig, prompt="go"))
    reason = rig.skipped("Notification", _payload(rig, notification_type="auth_success", message="ok"))
    assert reason == "notification type 'auth_success' is not mailed"
    s = rig.session()
    assert s is not None and s.state == "busy" and s.last_event == "Notification:auth_success"
    assert rig.outbox() == []


def test_no_email_without_email_settings(hook_rig: HookRig) -> None:
    rig = hook_rig
    reason = rig.skipped("Stop", _payload(rig, last_assistant_message="hi"), env={"EMAIL_TO": None})
    assert reason == "EMAIL_TO not set: stop recorded, no email queued"
    s = rig.session()
    assert s is not None and s.state == "idle" and s.last_event == "Stop"
    assert rig.outbox() == []
    reason = rig.skipped(
        "Notification",
        _payload(rig, notification_type="permission_prompt", message="Allow?"),
        env={"EMAIL_TO": None, "EMAIL_FROM": None},
    )
    assert reason == "EMAIL_TO and EMAIL_FROM not set: permission recorded, no email queued"
    assert rig.outbox() == []


# ------------------------------------------------------------- never failing Claude


@pytest.mark.parametrize(
    ("event", "stdin", "error"),
    [
        ("Stop", b"{not json", "stdin is not JSON"),
        ("Stop", b"[1, 2]", "must be an object"),
        ("Stop", b'{"session_id": 5}', "'session_id' must be a string"),
        ("Stop", b'{"last_assistant_message": {"text": "x"}}', "'last_assistant_message' must be a string"),
        ("Stop", b'{"stop_hook_active": "yes"}', "'stop_hook_active' must be a boolean"),
        ("Notification", b'{"notification_type": 3}', "'notification_type' must be a string"),
        ("Stop", b'{"hook_event_name": "SessionEnd"}', "hook_event_name is 'SessionEnd'"),
        ("PreToolUse", b'{"hook_event_name": "PreToolUse"}', "unknown hook event 'PreToolUse'"),
        ("stop", b"{}", "unknown hook event 'stop'"),
    ],
)
def test_bad_input_exits_0_and_logs(hook_rig: HookRig, event: str, stdin: bytes, error: str) -> None:
    rig = hook_rig
    rig.ok("SessionStart", _payload(rig))  # the state dir and log location exist
    proc = rig.run(event, stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""
    logged = rig.log_lines()
    assert len(logged) == 1, logged
    assert logged[0]["event"] == "hook_failed" and logged[0]["level"] == "error"
    assert logged[0]["hook_event"] == event
    assert "HookInputError" in logged[0]["error"] and error in logged[0]["error"]
    s = rig.session()
    assert s is not None and s.last_event == "SessionStart"  # nothing recorded
    assert rig.outbox() == []


def test_unusable_session_map_exits_0_and_reports(hook_rig: HookRig) -> None:
    rig = hook_rig
    blocker = rig.root / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    proc = rig.run(
        "Stop", _payload(rig, last_assistant_message="x"), env={"SESSION_MAP_PATH": str(blocker / "taskping.db")}
    )
    assert proc.returncode == 0
    # The log beside the session map cannot be written either: stderr is the last resort.
    assert b"taskping hook Stop" in proc.stderr and b"Error" in proc.stderr


def test_bad_config_exits_0(hook_rig: HookRig) -> None:
    rig = hook_rig
    proc = rig.run("Stop", _payload(rig, last_assistant_message="x"), env={"EMAIL_FROM": "not an address"})
    assert proc.returncode == 0
    assert b"EMAIL_FROM" in proc.stderr
    assert rig.all_sessions() == []


@pytest.mark.parametrize(
    "env",
    [
        {"TMUX": None, "TMUX_PANE": None},
        {"TMUX": None},
        {"TMUX_PANE": None},
        {"TMUX": ""},
    ],
    ids=["no-tmux", "no-TMUX", "no-TMUX_PANE", "empty-TMUX"],
)
def test_outside_tmux_nothing_is_recorded_and_the_reason_is_logged(
    hook_rig: HookRig, env: dict[str, str | None]
) -> None:
    rig = hook_rig
    logged = []
    for event, payload in (
        ("SessionStart", _payload(rig)),
        ("UserPromptSubmit", _payload(rig, prompt="hi")),
        ("Stop", _payload(rig, last_assistant_message="hello")),
        ("Notification", _payload(rig, notification_type="permission_prompt", message="Allow?")),
        ("SessionEnd", _payload(rig, reason="other")),
    ):
        proc = rig.run(event, payload, env=env)
        assert proc.returncode == 0 and proc.stderr == b"" and proc.stdout == b""
        logged.append(len(rig.log_lines()))
    assert rig.all_sessions() == [] and rig.outbox() == []
    # Once when Claude starts and once when its turn ends (where a mail was expected); not on
    # every prompt, which would cost Claude a logger import each time.
    assert logged == [1, 1, 2, 2, 2]
    lines = rig.log_lines()
    assert [(x["hook_event"], x["level"], x["event"]) for x in lines] == [
        ("SessionStart", "info", "hook_skipped"),
        ("Stop", "info", "hook_skipped"),
    ]
    assert all(x["reason"].startswith("Claude is not running in tmux ($TMUX/$TMUX_PANE unset)") for x in lines)


def test_session_end_for_an_untracked_pane_registers_nothing(hook_rig: HookRig) -> None:
    rig = hook_rig
    assert (
        rig.skipped("SessionEnd", _payload(rig, reason="logout")) == "SessionEnd for an untracked pane: nothing to end"
    )
    rig.ok("SessionStart", _payload(rig), pane=rig.new_pane("other"))
    assert (
        rig.skipped("SessionEnd", _payload(rig, reason="logout")) == "SessionEnd for an untracked pane: nothing to end"
    )
    assert [s.name for s in rig.all_sessions()] == ["other:0.0"]


# ------------------------------------------------------------- the detached sender


def test_stop_starts_a_detached_sender_when_no_relay_runs(hook_rig: HookRig) -> None:
    rig = hook_rig
    rig.relay = False
    started = time.monotonic()
    proc = rig.run("Stop", _payload(rig, last_assistant_message="hello"))
    took = time.monotonic() - started
    assert proc.returncode == 0 and proc.stderr == b""
    assert took < 5, f"the hook waited for the sender ({took:.1f}s)"
    # The sender runs on its own: it takes the lock, tries the closed port and keeps the row with the reason.
    # (it writes the row, then the log line: wait for both)
    deadline = time.monotonic() + 15
    while True:
        (row,) = rig.outbox()
        retries = [line for line in rig.log_lines() if line["event"] == "send_retry"]
        if row.attempts >= 1 and row.status == "queued" and row.last_error and retries:
            break
        assert time.monotonic() < deadline, (row, retries)
        time.sleep(0.05)
    assert "cannot connect" in row.last_error and rig.env["SMTP_PORT"] in row.last_error
    assert row.sent_at is None
    pid = int(rig.lock_path.read_text().strip())
    assert pid in our_senders(str(rig.root))  # still alive, waiting to retry
    assert retries[0]["component"] == "send-outbox"


def test_no_sender_while_the_relay_heartbeat_is_fresh(hook_rig: HookRig) -> None:
    rig = hook_rig  # relay=True: the heartbeat is fresh before every hook
    rig.ok("Stop", _payload(rig, last_assistant_message="hello"))
    rig.ok("Notification", _payload(rig, notification_type="permission_prompt", message="Allow?"))
    time.sleep(0.3)
    assert not rig.lock_path.exists()
    assert our_senders(str(rig.root)) == []
    assert [r.status for r in rig.outbox()] == ["queued", "queued"]


@pytest.mark.parametrize(
    "args",
    [("--env-file", "{env}"), ("--env-file={env}",), ("hook", "--env-file", "{env}")],
    ids=["leading", "leading-equals", "after-hook"],
)
def test_env_file_in_every_position(hook_rig: HookRig, args: tuple[str, ...]) -> None:
    """The config may come only from the env file, wherever --env-file is written."""
    rig = hook_rig
    env_file = rig.root / "hook.env"
    env_file.write_text("".join(f"{k}={rig.env[k]}\n" for k in ("EMAIL_FROM", "EMAIL_TO", "SESSION_MAP_PATH")))
    argv = tuple(a.format(env=env_file) for a in args)
    unset = {"EMAIL_FROM": None, "EMAIL_TO": None, "SESSION_MAP_PATH": None}
    if argv[0] == "hook":  # `taskping hook --env-file F Stop`
        rig.beat_relay()
        proc = subprocess.run(
            [taskping_bin(), *argv, "Stop"],
            input=json.dumps(_payload(rig, last_assistant_message="x")).encode(),
            env={**{k: v for k, v in rig.env.items() if k not in unset}, **rig.tmux_env()},
            cwd=rig.root / "cwd",
            capture_output=True,
            timeout=30,
            check=False,
        )
    else:
        proc = rig.run("Stop", _payload(rig, last_assistant_message="x"), env=unset, args=argv)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    s = rig.session()
    assert s is not None and s.state == "idle"
    assert [r.kind for r in rig.outbox()] == ["stop"]
