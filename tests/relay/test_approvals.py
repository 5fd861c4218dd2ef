"""Permission approvals by email, in pieces: what an answer says, what the email summarises, the
store deciding once, the relay's approval step on a real session map (nothing typed), the hook's
registration and its "do nothing" paths, the config keys."""

from __future__ import annotations

import subprocess
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from taskping.config import ConfigError, load_settings
from taskping.hooks import approval_mail, compose
from taskping.hooks.approval import decision_json, handle_approval
from taskping.hooks.install import APPROVAL_TIMEOUT_MARGIN, HOOK_TIMEOUT_SECONDS, merged
from taskping.hooks.payload import HookEnv, HookInput
from taskping.relay.approval_answer import Answer, parse_answer
from taskping.relay.pipeline import Outcome, Planned
from taskping.session_map import approvals, ledger, notifications, sessions
from taskping.session_map.vocabulary import ApprovalStatus, Code, Status, Step
from tests.support.inprocess import Map, in_process_map, map_settings, said

# -- what an answer says


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", Answer("allow")),
        ("  Yes!\n", Answer("allow")),
        ("y", Answer("allow")),
        ("ALLOW", Answer("allow")),
        ("1", Answer("allow")),
        ("1.", Answer("allow")),
        ("no", Answer("deny")),
        ("N", Answer("deny")),
        ("deny", Answer("deny")),
        ("2", Answer("deny")),
        ("no - use the scratch dir", Answer("deny", "use the scratch dir")),
        ("No, not on main.\nBranch first.", Answer("deny", "not on main.\nBranch first.")),
        ("yes but only in /tmp", Answer(None)),  # a conditional yes is not a yes: asked again
        ("yesterday", Answer(None)),
        ("3", Answer(None)),  # "always allow" is never chosen by email
        ("always allow", Answer(None)),
        ("nope", Answer(None)),
        ("", Answer(None)),
        ("ok", Answer(None)),
    ],
)
def test_what_an_answer_says(text: str, expected: Answer) -> None:
    assert parse_answer(text) == expected


# -- what the email summarises


def test_summaries_are_short_and_readable() -> None:
    bash = approval_mail.summarize("Bash", {"command": "rm -rf build\nmake", "description": "Rebuild"})
    assert bash == "$ rm -rf build\n  make\n\n(Rebuild)"
    edit = approval_mail.summarize("Edit", {"file_path": "/p/a.py", "old_string": "x = 1\n", "new_string": "x = 2\n"})
    assert edit.splitlines()[0] == "File: /p/a.py" and "-x = 1" in edit and "+x = 2" in edit
    multi = approval_mail.summarize(
        "MultiEdit", {"file_path": "/p/b.py", "edits": [{"old_string": "a", "new_string": "b"}]}
    )
    assert "-a" in multi and "+b" in multi
    write = approval_mail.summarize("Write", {"file_path": "/p/new.txt", "content": "\n".join(map(str, range(100)))})
    assert write.startswith("File: /p/new.txt (100 lines)") and "… (85 more lines)" in write and "\n99" not in write
    assert approval_mail.summarize("WebFetch", {"url": "https://x.test/", "prompt": "the title"}) == (
        "URL: https://x.test/\nTo find: the title"
    )
    assert approval_mail.summarize("WebSearch", {"query": "sqlite wal"}) == "Search: sqlite wal"
    assert approval_mail.summarize("mcp__x__y", {"b": 1, "a": "z"}) == '{"a": "z", "b": 1}'
    huge = approval_mail.summarize("Bash", {"command": "echo " + "x" * 10_000})
    assert len(huge) == approval_mail.MAX_CHARS and huge.endswith("…")
    long_diff = approval_mail.summarize(
        "Edit", {"file_path": "f", "old_string": "", "new_string": "\n".join(map(str, range(200)))}
    )
    assert len(long_diff.splitlines()) == approval_mail.MAX_LINES + 1


def test_the_email_escapes_tool_text_and_its_buttons_name_the_approval(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        session = sessions.live_by_name(m.conn, "canon-0")
        assert session is not None
        summary = approval_mail.summarize("Bash", {"command": "echo '<script>alert(1)</script>' & true"})
        mail = compose.compose(
            approval_mail.approval_notice("Bash", summary, 300),
            session,
            email_from="taskping@example.test",
            email_to="me@example.test",
            reply_window_until=time.time() + 60,
            state="waiting-permission",
            replying=approval_mail.how_to_answer(300),
            replies=(("Allow", "yes"), ("Deny", "no")),
        )
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "Answer within 5 min" in mail.text and "yes / y / allow / 1" in mail.text
    msg = message_from_bytes(mail.raw, policy=default_policy)
    assert isinstance(msg, EmailMessage) and msg["X-TaskPing"] == "approval"
    hrefs = [h.replace("&amp;", "&") for h in mail.html.split('href="')[1:]]
    answers = {}
    for href in hrefs:
        query = parse_qs(urlsplit(href.split('"')[0]).query)
        if "body" in query:
            answers[query["body"][0]] = query["subject"][0]
    assert set(answers) == {"yes", "no"}
    assert all(s.endswith("· " + approvals.marker_for(mail.message_id)) for s in answers.values())


# -- the store decides once


def _approval(
    m: Map, session_name: str = "canon-0", *, mid: str = "<appr-1@example.test>", ttl: float = 60
) -> approvals.Approval:
    """A pending approval of ``session_name`` whose email ``mid`` was "sent"."""
    session = sessions.live_by_name(m.conn, session_name)
    assert session is not None
    notifications.queue(
        m.conn,
        session_id=session.id,
        message_id=mid,
        kind="approval",
        body_text="$ touch x",
        to_addr="me@example.test",
        raw=b"Subject: x\r\n\r\n$ touch x",
        ttl=86400,
    )
    return approvals.create(
        m.conn,
        session_id=session.id,
        message_id=mid,
        tool_name="Bash",
        summary="$ touch x",
        deadline=time.time() + ttl,
        hook_pid=None,
    )


def test_an_approval_is_decided_once(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        a = _approval(m)
        assert a.pending and a.marker == approvals.marker_for("<appr-1@example.test>")
        assert approvals.decide(m.conn, a.id, ApprovalStatus.DENIED, entry_id=None, deny_message="no")
        assert not approvals.decide(m.conn, a.id, ApprovalStatus.ALLOWED, entry_id=None)
        assert not approvals.close(m.conn, a.id, "at the terminal")
        assert not approvals.expire(m.conn, a.id, at=time.time() + 3600)
        done = approvals.get(m.conn, a.id)
        assert done is not None and (done.status, done.deny_message) == ("denied", "no")
        # past its deadline an answer cannot decide it; expiring can
        b = _approval(m, mid="<appr-2@example.test>", ttl=0.01)
        time.sleep(0.02)
        assert not approvals.decide(m.conn, b.id, ApprovalStatus.ALLOWED, entry_id=None)
        assert approvals.expire(m.conn, b.id)
        # a newer request of the session closes the older pending one (one dialog at a time)
        c = _approval(m, mid="<appr-3@example.test>")
        _approval(m, mid="<appr-4@example.test>")
        assert approvals.status_of(m.conn, c.id) == ApprovalStatus.CLOSED
        with pytest.raises(ValueError, match="allows or denies"):
            approvals.decide(m.conn, c.id, ApprovalStatus.CLOSED, entry_id=None)


def test_a_later_hook_event_closes_the_pending_approval(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        a = _approval(m)
        sessions.record_event(m.conn, a.session_id, event="Notification:permission_prompt", state="waiting-permission")
        assert approvals.status_of(m.conn, a.id) == ApprovalStatus.PENDING
        sessions.record_event(m.conn, a.session_id, event="Stop", state="idle", close_approvals=True)
        closed = approvals.get(m.conn, a.id)
        assert closed is not None and closed.status == "closed" and "Stop" in (closed.note or "")


# -- the relay's approval step (nothing is ever typed: the pipeline's injector fails the test)


def _reply(m: Map, body: str, *, mid: str, in_reply_to: str | None, subject_extra: str = "") -> bytes:
    head = (
        f"From: Me <me@example.test>\r\nTo: taskping@example.test\r\n"
        f"Subject: Re: [TaskPing #{m.tokens[0]}] proj: allow Bash?{subject_extra}\r\nMessage-ID: {mid}\r\n"
    )
    if in_reply_to:
        head += f"In-Reply-To: {in_reply_to}\r\n"
    return (head + "\r\n" + body + "\r\n").encode()


def test_the_relay_decides_a_reply_to_the_approval_email(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        a = _approval(m)
        unclear = m.pipeline.process(_reply(m, "what does it do?", mid="<r1@x>", in_reply_to=a.message_id))
        assert said(unclear) == (Status.ANSWERED, Step.APPROVAL, Code.APPROVAL_UNCLEAR)
        assert approvals.status_of(m.conn, a.id) == ApprovalStatus.PENDING
        allowed = m.pipeline.process(_reply(m, "y", mid="<r2@x>", in_reply_to=a.message_id))
        assert said(allowed) == (Status.ANSWERED, Step.APPROVAL, Code.APPROVAL_ALLOWED)
        again = m.pipeline.process(_reply(m, "no", mid="<r3@x>", in_reply_to=a.message_id))
        assert said(again) == (Status.REFUSED, Step.APPROVAL, Code.APPROVAL_DECIDED)
        done = approvals.get(m.conn, a.id)
        (entry,) = [e for e in ledger.entries(m.conn) if e.message_id == "<r2@x>"]
        assert done is not None and done.status == "allowed" and done.decided_by == entry.id
        audit = (tmp_path / "audit.jsonl").read_text()
        assert '"approval-allowed"' in audit and '"approval-decided"' in audit


def test_a_one_tap_answer_is_routed_by_the_subject_marker(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        a = _approval(m)
        tapped = _reply(m, "no", mid="<tap@x>", in_reply_to=None, subject_extra=f" · {a.marker}")
        assert said(m.pipeline.process(tapped)) == (Status.ANSWERED, Step.APPROVAL, Code.APPROVAL_DENIED)
        assert approvals.status_of(m.conn, a.id) == ApprovalStatus.DENIED


def test_late_and_closed_approvals_are_refused(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        late = _approval(m, ttl=0.01)
        time.sleep(0.02)
        out = m.pipeline.process(_reply(m, "yes", mid="<late@x>", in_reply_to=late.message_id))
        assert said(out) == (Status.REFUSED, Step.APPROVAL, Code.APPROVAL_EXPIRED)
        assert isinstance(out, Outcome) and "too late, the prompt is at the terminal" in out.reason
        closed = _approval(m, mid="<appr-closed@example.test>")
        approvals.close(m.conn, closed.id, "answered at the terminal")
        out = m.pipeline.process(_reply(m, "yes", mid="<closed@x>", in_reply_to=closed.message_id))
        assert said(out) == (Status.REFUSED, Step.APPROVAL, Code.APPROVAL_CLOSED)
        # the hook that waited is gone (Claude ended it): closed, not allowed into the void
        dead = subprocess.Popen(["true"])
        dead.wait()
        orphan = _approval(m, mid="<appr-orphan@example.test>")
        m.conn.execute("UPDATE approvals SET hook_pid = ? WHERE id = ?", (dead.pid, orphan.id))
        out = m.pipeline.process(_reply(m, "yes", mid="<orphan@x>", in_reply_to=orphan.message_id))
        assert said(out) == (Status.REFUSED, Step.APPROVAL, Code.APPROVAL_CLOSED)


def test_another_sessions_approval_is_not_answered(tmp_path: Path) -> None:
    with in_process_map(tmp_path) as m:
        theirs = _approval(m, "canon-1", mid="<appr-other@example.test>")
        # routed to canon-0 by its token, naming canon-1's approval marker: not an answer to it
        sneaky = _reply(m, "yes", mid="<sneak@x>", in_reply_to=None, subject_extra=f" · {theirs.marker}")
        out = m.pipeline.plan(sneaky)
        assert approvals.status_of(m.conn, theirs.id) == ApprovalStatus.PENDING
        assert isinstance(out, Planned)  # a prompt for canon-0, as any other reply to it


# -- the hook: registration and doing nothing


def test_install_registers_the_approval_hook_only_when_approvals_are_on() -> None:
    on = merged({}, ["/bin/taskping"], None, uninstall=False, approval_timeout=300)
    (group,) = on["hooks"]["PermissionRequest"]
    assert group["hooks"][0]["timeout"] == 300 + APPROVAL_TIMEOUT_MARGIN
    assert group["hooks"][0]["command"].endswith("hook PermissionRequest")
    assert on["hooks"]["Stop"][0]["hooks"][0]["timeout"] == HOOK_TIMEOUT_SECONDS
    off = merged(on, ["/bin/taskping"], None, uninstall=False)
    assert "PermissionRequest" not in off["hooks"] and "Stop" in off["hooks"]
    assert merged(on, ["/bin/taskping"], None, uninstall=True) == {}


def test_the_hook_prints_nothing_when_it_cannot_ask(tmp_path: Path) -> None:
    hook = HookInput.parse(
        b'{"hook_event_name": "PermissionRequest", "tool_name": "Bash", "tool_input": {"command": "ls"}}',
        "PermissionRequest",
    )
    env = HookEnv(tmux_socket="/nonexistent/sock", tmux_pane="%0", claude_pid=None, project_dir=None)
    off = handle_approval(hook, env, map_settings(tmp_path))
    assert off.output is None and "APPROVALS is off" in off.reason
    untracked = handle_approval(hook, env._replace(tmux_pane="%77"), map_settings(tmp_path, APPROVALS="email"))
    assert untracked.output is None
    with pytest.raises(Exception, match="tool_input"):
        HookInput.parse(b'{"tool_input": "ls"}', "PermissionRequest")
    assert decision_json("deny", "not now") == (
        '{"hookSpecificOutput": {"hookEventName": "PermissionRequest", '
        '"decision": {"behavior": "deny", "message": "not now"}}}'
    )


@pytest.mark.parametrize(
    ("key", "value"), [("APPROVALS", "maybe"), ("APPROVAL_TIMEOUT", "2"), ("APPROVAL_TIMEOUT", "ten")]
)
def test_bad_approval_keys_are_one_line(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={key: value})
    assert key in str(err.value) and "\n" not in str(err.value)
