"""Commands in a fresh email (not a reply) and ``#new``'s refusals, through the real pipeline on a
real session map (tests/support/inprocess.py): nothing here reaches a terminal or starts a
session; the one test that starts claude (a replayed ``#new``) uses a private tmux server and
the real claude against the fake API."""

from __future__ import annotations

import os
import sqlite3
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import libtmux
import pytest

from taskping.injectors.tmux import TmuxInjector
from taskping.relay import new_session
from taskping.relay.explain import explain, snapshot
from taskping.relay.pipeline import Pipeline
from taskping.session_map import connect, ledger, sessions, waiting
from taskping.session_map.vocabulary import Code, Status, Step
from taskping.tokens import host_part
from tests.support.claude_fixtures import ClaudeHome, claude_binary_or_skip
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.inprocess import HOST, Map, in_process_map, map_settings, reply_to, said
from tests.support.terminal import wait_until


def fresh(
    body: str,
    *,
    subject: str = "hi",
    mid: str = "<fresh-1@example.test>",
    date: str = "Mon, 30 Nov 2026 10:00:00 +0000",
    sender: str = "me@example.test",
) -> bytes:
    """A new email to TaskPing: no In-Reply-To, no References, no token in the subject."""
    return (
        f"From: Me <{sender}>\r\nTo: taskping@example.test\r\nSubject: {subject}\r\nDate: {date}\r\n"
        f"Message-ID: {mid}\r\n\r\n{body}\r\n"
    ).encode()


def answers(m: Map | sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(In-Reply-To, X-TaskPing, plain text) of every mail the relay queued (the sessions' own
    notifications left out)."""
    conn = m if isinstance(m, sqlite3.Connection) else m.conn
    out = []
    for (raw,) in conn.execute("SELECT raw FROM outbox WHERE kind != 'stop' ORDER BY id").fetchall():
        msg = message_from_bytes(bytes(raw), policy=default_policy)
        body = msg.get_body(("plain",))
        out.append((str(msg["In-Reply-To"]), str(msg["X-TaskPing"]), body.get_content() if body else ""))
    return out


def live_sessions(m: Map) -> int:
    return sessions.live_count(m.conn)


def test_fresh_status_and_help_are_answered_naming_this_machine(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        assert said(m.pipeline.process(fresh("#status"))) == (Status.ANSWERED, Step.COMMAND, Code.COMMAND_STATUS)
        # a subject-only command with an empty body counts
        raw = fresh("", subject="#HELP", mid="<fresh-2@example.test>")
        assert said(m.pipeline.process(raw)) == (Status.ANSWERED, Step.COMMAND, Code.COMMAND_HELP)
        (status, help_) = answers(m)
        assert status[:2] == ("<fresh-1@example.test>", "answer")
        assert "canon-0" in status[2] and "canon-1" in status[2] and f"@{host_part(HOST)}" in status[2]
        assert help_[0] == "<fresh-2@example.test>" and "#new [@HOST] DIR [prompt]" in help_[2]
        assert [(r.status, r.code, r.session_id) for r in ledger.entries(m.conn)] == [
            ("answered", "command-status", None),
            ("answered", "command-help", None),
        ]


def test_a_fresh_status_copy_is_a_replay_but_asking_again_later_is_not(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        assert said(m.pipeline.process(fresh("#status")))[0] == Status.ANSWERED  # type: ignore[index]
        copy = fresh("#status", mid="<fresh-copy@example.test>")
        assert said(m.pipeline.process(copy)) == (Status.REFUSED, Step.REPLAY, Code.REPLAY)
        later = fresh("#status", mid="<fresh-later@example.test>", date="Mon, 30 Nov 2026 11:00:00 +0000")
        assert said(m.pipeline.process(later))[0] == Status.ANSWERED  # type: ignore[index]


@pytest.mark.parametrize("body", ["run the tests", "#screen", "#esc", "#close", "#status please"])
def test_anything_else_in_a_fresh_email_is_refused_pointing_at_help(tmp_path: Path, body: str) -> None:
    with in_process_map(tmp_path) as m:
        outcome = m.pipeline.process(fresh(body))
        assert said(outcome) == (Status.REFUSED, Step.ROUTE, Code.NOT_A_REPLY)
        assert "#help" in outcome.reason  # type: ignore[union-attr]
        ((_, kind, text),) = answers(m)
        assert kind == "refusal" and "#help" in text


def test_a_strangers_fresh_command_is_dropped_unanswered(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        outcome = m.pipeline.process(fresh("#status", sender="eve@example.test"))
        assert said(outcome) == (Status.DROPPED, Step.AUTHENTICATE, Code.SENDER_NOT_ALLOWED)
        assert answers(m) == []


def test_new_is_refused_without_allowed_roots(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    with in_process_map(tmp_path) as m:
        outcome = m.pipeline.process(fresh(f"#new {tmp_path / 'proj'} do X"))
        assert said(outcome) == (Status.REFUSED, Step.COMMAND, Code.NEW_NO_ROOTS)
        assert "ALLOWED_ROOTS" in outcome.reason  # type: ignore[union-attr]
        assert live_sessions(m) == 2


@pytest.mark.parametrize(
    ("dir_", "prompt", "expected"),
    [
        ("{t}/outside", "do X", (Status.REFUSED, Step.COMMAND, Code.NEW_DIR_NOT_ALLOWED)),
        ("{t}/roots/../outside", "", (Status.REFUSED, Step.COMMAND, Code.NEW_DIR_NOT_ALLOWED)),
        ("{t}/roots/missing", "", (Status.REFUSED, Step.COMMAND, Code.NEW_DIR_NOT_ALLOWED)),
        ("", "", (Status.REFUSED, Step.COMMAND, Code.NEW_DIR_NOT_ALLOWED)),
        # the prompt is guarded before anything starts: too large is refused, nothing started
        ("{t}/roots/proj", "x" * 300, (Status.REFUSED, Step.GUARD, Code.COMMAND_TOO_LARGE)),
        ("{t}/roots/proj", "\x1b\x07", (Status.REFUSED, Step.GUARD, Code.NOTHING_TO_TYPE)),
    ],
)
def test_new_refusals_start_nothing(tmp_path: Path, dir_: str, prompt: str, expected: tuple[str, str, str]) -> None:
    (tmp_path / "roots" / "proj").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    body = f"#new {dir_.format(t=tmp_path)} {prompt}".rstrip()
    with in_process_map(tmp_path, ALLOWED_ROOTS=str(tmp_path / "roots"), MAX_COMMAND_BYTES="200") as m:
        assert said(m.pipeline.process(fresh(body))) == expected
        assert live_sessions(m) == 2
        assert [r.status for r in ledger.entries(m.conn)] == ["refused"]


def test_new_for_another_machine_is_left_untouched_and_then_host_is_required(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    other = host_part("another-machine")
    with in_process_map(tmp_path, ALLOWED_ROOTS=str(tmp_path)) as m:
        raw = fresh(f"#new @{other} {tmp_path / 'proj'} do X")
        first = m.pipeline.process(raw)
        assert said(first) == (Status.FOREIGN, Step.COMMAND, Code.FOREIGN) and first.leave_untouched
        again = m.pipeline.process(raw)  # seen again (a new UIDVALIDITY, say): still left alone
        assert again.status == Status.FOREIGN and again.leave_untouched
        assert answers(m) == [] and live_sessions(m) == 2
        # this relay now knows the mailbox is shared: #new without @HOST is refused, naming this machine
        outcome = m.pipeline.process(fresh(f"#new {tmp_path / 'proj'} do X", mid="<fresh-2@example.test>"))
        assert said(outcome) == (Status.REFUSED, Step.COMMAND, Code.NEW_NEEDS_HOST)
        assert f"@{host_part(HOST)}" in outcome.reason  # type: ignore[union-attr]
        assert live_sessions(m) == 2


def test_close_is_refused_while_replies_wait(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        parked = reply_to(m, 0, body=b"next task", mid=b"<parked@example.test>")
        entry, _ = ledger.claim(
            m.conn,
            message_key="<parked@example.test>",
            message_id="<parked@example.test>",
            content_hash="x",
            folder=None,
            uidvalidity=None,
            uid=None,
            sender="me@example.test",
        )
        session = sessions.live_by_name(m.conn, "canon-0")
        assert session is not None
        waiting.enqueue(
            m.conn, entry.id, session_id=session.id, sender="me@example.test", text="next task", raw=parked, preview=""
        )
        outcome = m.pipeline.process(reply_to(m, 0, body=b"#close", mid=b"<close@example.test>"))
        assert said(outcome) == (Status.REFUSED, Step.COMMAND, Code.CLOSE_REPLIES_WAITING)
        assert waiting.count(m.conn) == 1 and session.live


@pytest.mark.tmux
@pytest.mark.claude
def test_a_replayed_new_does_not_start_a_second_session(
    tmp_path: Path,
    tmux_server: libtmux.Server,
    claude_home: ClaudeHome,
    fake_api: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real #new, in process: claude starts in a tmux session on a private server and gets the
    prompt; the same #new again under a fresh Message-ID is a replay: no second session."""
    binary = claude_binary_or_skip()
    for key, value in claude_home.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", f"{Path(binary).parent}:{os.environ['PATH']}")
    monkeypatch.setenv("TMUX", f"{tmux_server.socket_path},0,0")  # the server #new starts sessions on
    settings = map_settings(tmp_path, ALLOWED_ROOTS=str(claude_home.project_dir.parent), RATE_LIMIT_PER_MINUTE="60")
    conn = connect(settings.session_map_path)
    try:
        pipeline = Pipeline(settings, conn, TmuxInjector(lock_dir=tmp_path / "locks"))
        body = f"#new {claude_home.project_dir} say hello"
        outcome = pipeline.process(fresh(body, subject="new one"))
        assert said(outcome) == (Status.ANSWERED, Step.COMMAND, Code.COMMAND_NEW), outcome
        wait_until("claude got the prompt", lambda: "say hello" in fake_api.prompts)
        (started,) = sessions.all_sessions(conn)
        assert started.name == "taskping-project" and started.cwd == str(claude_home.project_dir)
        assert started.thread_root == "<fresh-1@example.test>"
        ((in_reply_to, kind, text),) = answers(conn)
        assert (in_reply_to, kind) == ("<fresh-1@example.test>", "answer")
        assert "attach -t taskping-project" in text and str(claude_home.project_dir) in text

        replay = pipeline.process(fresh(body, subject="new one", mid="<fresh-replay@example.test>"))
        assert said(replay) == (Status.REFUSED, Step.REPLAY, Code.REPLAY)
        assert len(sessions.all_sessions(conn)) == 1
        assert [s.name for s in tmux_server.sessions] == ["taskping-project"]
        assert fake_api.prompts.count("say hello") == 1
    finally:
        conn.close()


def test_explain_says_what_a_fresh_email_would_do(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        copy = snapshot(m.settings.session_map_path)
        try:
            status = explain(fresh("", subject="#status"), m.settings, copy)
            other = explain(fresh("run the tests", mid="<fresh-2@example.test>"), m.settings, copy)
        finally:
            copy.close()
        assert (status.steps[-1].step, status.steps[-1].code) == ("command", "command-status")
        assert status.would_type is None
        assert (other.steps[-1].step, other.steps[-1].code) == ("route", "not-a-reply")


def test_a_new_without_a_prompt_does_not_count_for_the_rate_limit(tmp_path: Path) -> None:
    """The first reply right after ``#new DIR`` is typed: that #new typed nothing into the session."""
    with in_process_map(tmp_path) as m:
        session = sessions.live_by_name(m.conn, "canon-0")
        assert session is not None
        for i, preview in enumerate((None, "do X")):
            entry, _ = ledger.claim(
                m.conn,
                message_key=f"<new-{i}@example.test>",
                message_id=f"<new-{i}@example.test>",
                content_hash="x",
                folder=None,
                uidvalidity=None,
                uid=None,
                sender="me@example.test",
            )
            ledger.set_decision(
                m.conn,
                entry.id,
                Status.ANSWERED,
                "answered #new",
                code=Code.COMMAND_NEW,
                step=Step.COMMAND,
                session_id=session.id,
                preview=preview,
            )
            assert len(ledger.delivered_since(m.conn, session.id, 0)) == i  # only the one that typed a prompt


@pytest.mark.tmux
@pytest.mark.claude
def test_new_in_a_directory_claude_never_trusted_is_refused_and_leaves_nothing(
    tmp_path: Path,
    tmux_server: libtmux.Server,
    claude_home: ClaudeHome,
    fake_api: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real claude asks whether to trust a new directory; no email answers that: refused
    (``new-failed``, naming the trust question), no session, no tmux session, nothing typed."""
    binary = claude_binary_or_skip()
    for key, value in claude_home.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", f"{Path(binary).parent}:{os.environ['PATH']}")
    monkeypatch.setenv("TMUX", f"{tmux_server.socket_path},0,0")
    monkeypatch.setattr(new_session, "READY_TIMEOUT", 5.0)  # the dialog shows within a second
    untrusted = tmp_path / "untrusted"
    untrusted.mkdir()
    settings = map_settings(tmp_path, ALLOWED_ROOTS=str(tmp_path))
    conn = connect(settings.session_map_path)
    try:
        pipeline = Pipeline(settings, conn, TmuxInjector(lock_dir=tmp_path / "locks"))
        outcome = pipeline.process(fresh(f"#new {untrusted} say hi"))
        assert said(outcome) == (Status.REFUSED, Step.COMMAND, Code.NEW_FAILED)
        assert "trust" in outcome.reason  # type: ignore[union-attr]
        assert sessions.all_sessions(conn) == [] and fake_api.prompts == []
        assert [s.name for s in tmux_server.sessions] == []
    finally:
        conn.close()
