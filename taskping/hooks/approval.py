"""`taskping hook PermissionRequest`: mail a permission dialog, wait for the answer by email.

With APPROVALS=email, Claude Code runs this hook when it opens a permission
dialog (the dialog is on screen meanwhile, so whoever is at the keyboard can
answer it there). The hook records a pending approval
(:mod:`taskping.session_map.approvals`), mails it in the session's thread
(:mod:`taskping.hooks.approval_mail`), and polls the session map until the relay
records an answer, then prints Claude's decision JSON: ``allow`` runs the tool,
``deny`` (with the person's text as the message) refuses it. Claude's
multiple-choice questions (``AskUserQuestion``, which also asks through this hook)
are mailed as numbered options, and a reply picking them is answered with
``allow`` + the chosen labels (:mod:`taskping.hooks.ask_question`). Printing nothing
leaves Claude's own dialog.

Nothing is printed, and the dialog stays, when: APPROVALS is off, the session is
not tracked, EMAIL_TO/EMAIL_FROM are unset, anything fails, or APPROVAL_TIMEOUT
passes (the approval becomes ``expired``).

Answered at the keyboard (measured on Claude Code 2.1.328): choosing *No* or
pressing Esc sends the hook SIGTERM (and SIGKILL about 1.5 s later); choosing
*Yes* sends nothing and leaves the hook running. So the hook closes its
approval on SIGTERM/SIGHUP, and also when the dialog it saw on screen is gone
(checked every second); a later hook event of the session closes it too
(:func:`taskping.session_map.sessions.record_event`).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from types import FrameType
from typing import NamedTuple

from taskping.config import Settings
from taskping.hooks import approval_mail, ask_question
from taskping.hooks.handler import mail_notice, pty_target
from taskping.hooks.payload import HookEnv, HookInput
from taskping.session_map import approvals, connect, sessions
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import ApprovalStatus

POLL_SECONDS = 0.2
SCREEN_EVERY = 1.0
#: The dialog may not be drawn yet when the hook starts: only a dialog seen once and then gone,
#: or never seen after this long, counts as answered at the terminal.
DIALOG_GRACE_SECONDS = 10.0
ANSWERED_AT_TERMINAL = "answered at the terminal"


class Cancelled(Exception):
    """Claude stopped waiting for the hook (SIGTERM/SIGHUP): the dialog was answered at the terminal."""


class ApprovalOutcome(NamedTuple):
    """What the hook prints (None: nothing, Claude's dialog stays) and why, for the log."""

    output: str | None
    reason: str
    approval_id: int | None = None
    waited: float | None = None


def decision_json(behavior: str, message: str | None = None) -> str:
    decision: dict[str, str] = {"behavior": behavior}
    if message:
        decision["message"] = message
    return json.dumps({"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}})


def _session(conn: sqlite3.Connection, hook: HookInput, env: HookEnv, settings: Settings) -> Session | None:
    if env.tmux_socket and env.tmux_pane:
        return sessions.by_target(conn, env.tmux_socket, env.tmux_pane)
    pty = pty_target(env, hook, settings)
    return sessions.by_target(conn, *pty) if pty is not None else None


def _raise_cancelled(signum: int, frame: FrameType | None) -> None:
    raise Cancelled(signal.Signals(signum).name)


def handle_approval(hook: HookInput, env: HookEnv, settings: Settings) -> ApprovalOutcome:
    """Record, mail and wait for one approval; the decision JSON to print, or None."""
    if settings.approvals != "email":
        return ApprovalOutcome(None, "APPROVALS is off: the dialog waits at the terminal")
    if not settings.email_to or not settings.email_from:
        return ApprovalOutcome(None, "EMAIL_TO or EMAIL_FROM not set: the dialog waits at the terminal")
    if not settings.session_map_path.exists():
        return ApprovalOutcome(None, "no session map: not a tracked session")
    conn = connect(settings.session_map_path)
    try:
        session = _session(conn, hook, env, settings)
        if session is None or not session.live:
            return ApprovalOutcome(None, "not a tracked session: the dialog waits at the terminal")
        return _ask_and_wait(conn, hook, env, settings, session)
    finally:
        conn.close()


def _ask_and_wait(
    conn: sqlite3.Connection, hook: HookInput, env: HookEnv, settings: Settings, session: Session
) -> ApprovalOutcome:
    tool = hook.tool_name or "a tool"
    asked = None
    if tool == ask_question.TOOL_NAME:
        try:
            asked = ask_question.parse_questions(hook.tool_input)
        except ask_question.NotAQuestion as why:
            return ApprovalOutcome(None, f"a question TaskPing cannot number ({why}): it waits at the terminal")
        notice = approval_mail.question_notice(asked, settings.approval_timeout)
        replying = approval_mail.how_to_answer_question(settings.approval_timeout)
        replies = approval_mail.question_buttons(asked)
        summary = notice.body
    else:
        summary = approval_mail.summarize(tool, hook.tool_input)
        notice = approval_mail.approval_notice(tool, summary, settings.approval_timeout)
        replying = approval_mail.how_to_answer(settings.approval_timeout)
        replies = (("Allow", "yes"), ("Deny", "no"))
    session = sessions.record_event(
        conn,
        session.id,
        event="PermissionRequest",
        state="waiting-permission",
        claude_session_id=hook.session_id,
        cwd=hook.cwd or env.project_dir,
        claude_pid=env.claude_pid,
    )
    deadline = time.time() + settings.approval_timeout
    created: list[approvals.Approval] = []

    def record(message_id: str) -> None:
        created.append(
            approvals.create(
                conn,
                session_id=session.id,
                message_id=message_id,
                tool_name=tool,
                summary=summary,
                deadline=deadline,
                hook_pid=os.getpid(),
                tool_input=json.dumps(hook.tool_input) if asked is not None else None,
            )
        )

    previous = {sig: signal.signal(sig, _raise_cancelled) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        mail_notice(conn, settings, session, notice, replying=replying, replies=replies, before_queue=record)
        approval = created[0]
        return _wait(conn, session, approval, time.time(), str(settings.state_dir / "locks"), asked)
    except Cancelled as why:
        if created:
            approvals.close(conn, created[0].id, f"{ANSWERED_AT_TERMINAL} (the hook got {why})")
        return ApprovalOutcome(None, f"{ANSWERED_AT_TERMINAL}: the hook got {why}", created[0].id if created else None)
    except Exception:
        if created:  # nobody waits for it any more: an answer by email must not look accepted
            approvals.close(conn, created[0].id, "the approval hook failed; the dialog waits at the terminal")
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait(
    conn: sqlite3.Connection,
    session: Session,
    approval: approvals.Approval,
    sent_at: float,
    lock_dir: str,
    asked: ask_question.AskedQuestions | None,
) -> ApprovalOutcome:
    dialog = DialogWatch(session, lock_dir)
    next_look = time.monotonic() + SCREEN_EVERY
    while True:
        status = approvals.status_of(conn, approval.id)
        if status != ApprovalStatus.PENDING:
            return _finished(conn, approval.id, sent_at, asked)
        if time.time() >= approval.deadline:
            if approvals.expire(conn, approval.id):
                return ApprovalOutcome(None, "APPROVAL_TIMEOUT passed: the dialog waits at the terminal", approval.id)
            continue  # decided just before the deadline: read it
        if time.monotonic() >= next_look:
            next_look = time.monotonic() + SCREEN_EVERY
            gone = dialog.answered_at_terminal()
            if gone is not None and approvals.close(conn, approval.id, f"{ANSWERED_AT_TERMINAL} ({gone})"):
                return ApprovalOutcome(None, f"{ANSWERED_AT_TERMINAL}: {gone}", approval.id)
        time.sleep(POLL_SECONDS)


def _finished(
    conn: sqlite3.Connection, approval_id: int, sent_at: float, asked: ask_question.AskedQuestions | None
) -> ApprovalOutcome:
    done = approvals.get(conn, approval_id)
    assert done is not None
    waited = time.time() - sent_at
    if done.status == ApprovalStatus.ALLOWED and asked is not None:
        # Claude's question: the numbers the relay accepted, read again here against the questions the
        # hook got from Claude, so only the labels the model offered go back
        try:
            output = json.dumps(ask_question.answer_reply(asked, done.answers or ""))
        except ask_question.UnclearAnswer as why:
            return ApprovalOutcome(None, f"answered without a clear choice ({why}): it waits at the terminal", done.id)
        return ApprovalOutcome(output, "question answered by email", done.id, waited)
    if done.status == ApprovalStatus.ALLOWED:
        return ApprovalOutcome(decision_json("allow"), "allowed by email", done.id, waited)
    if done.status == ApprovalStatus.DENIED:
        message = done.deny_message or "The person denied this by email."
        return ApprovalOutcome(decision_json("deny", message), "denied by email", done.id, waited)
    return ApprovalOutcome(None, f"{done.status}: {done.note or 'the dialog waits at the terminal'}", done.id, waited)


class DialogWatch:
    """Whether the session's permission dialog is still on screen (read as the relay reads it)."""

    def __init__(self, session: Session, lock_dir: str) -> None:
        self.session = session
        self.lock_dir = lock_dir
        self.started = time.monotonic()
        self.seen = False

    def answered_at_terminal(self) -> str | None:
        """Why the dialog counts as answered at the terminal, or None while it is (or may yet be) open."""
        from taskping.injectors import ScreenState

        state = self._state()
        if state == ScreenState.PERMISSION_DIALOG:
            self.seen = True
            return None
        if state == ScreenState.GONE:
            return "the terminal is gone"
        if state is None or state == ScreenState.UNKNOWN:
            return None
        if self.seen:
            return "the dialog left the screen"
        if time.monotonic() - self.started > DIALOG_GRACE_SECONDS:
            return f"no dialog on screen after {DIALOG_GRACE_SECONDS:.0f} s"
        return None

    def _state(self) -> object | None:
        from taskping.injectors import Target
        from taskping.injectors.pty import PtyInjector
        from taskping.injectors.tmux import TmuxInjector

        s = self.session
        if s.not_injectable:  # a Claude started by hand outside tmux: no screen to read
            return None
        target = Target(kind=s.kind, socket=s.target_socket, pane=s.target_pane)
        locks = self.lock_dir
        try:
            if s.kind == "pty":
                return PtyInjector(locks, lambda _t: s.control_secret).screen_state(target)
            return TmuxInjector(locks).screen_state(target)
        except Exception:  # noqa: BLE001 - a screen we cannot read decides nothing
            return None
