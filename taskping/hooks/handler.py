"""`taskping hook EVENT`: record what Claude Code did, queue the email, leave.

Runs inside Claude Code's hook, so it only touches the session map (one short
transaction per write), never the network, and never blocks: the email is
sent by the relay daemon when it runs, otherwise by a detached
``taskping send-outbox`` started here.

Per event: SessionStart → idle; UserPromptSubmit → busy (a new turn);
PermissionRequest (APPROVALS=email) → :mod:`taskping.hooks.approval`, which waits;
Stop → idle + the reply notification; Notification ``permission_prompt`` →
waiting-permission + a short notice; ``idle_prompt`` → a short notice unless
this turn already produced one; SessionEnd → ended. Every event but
SessionStart and ``permission_prompt`` closes the session's pending approval
(its dialog was answered at the terminal), and ``permission_prompt`` is not
mailed while an approval email for the dialog is pending. With ``NOTIFY_WHEN=away``
(the default) a Stop is not mailed while someone types at the session
(:mod:`taskping.hooks.presence`). Whatever is not done comes back as
``skipped`` with the reason, for the log.

Speed: the hook sits in front of every prompt (UserPromptSubmit runs before
Claude sees it), so each event imports only what it uses: mail composing, the
outbox and the relay check only when something is mailed, tokens only when a
pane is registered, the transcript reader only for a Stop that is mailed (the turn's summary)
or carries no text, the markdown renderer only when a Stop is mailed.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from taskping.config import Settings
from taskping.hooks import notices
from taskping.hooks.payload import HookEnv, HookInput
from taskping.session_map import connect, sessions
from taskping.session_map.sessions import NameInUse, Session, State

STATE_AFTER: dict[str, State | None] = {
    "SessionStart": "idle",
    "UserPromptSubmit": "busy",
    "Stop": "idle",
    "Notification": None,
    "SessionEnd": "ended",
}


class HookOutcome(NamedTuple):
    """What one hook run did: the session after it, the mail it queued, or why it did nothing."""

    session: Session | None
    queued: str | None  # the kind of email queued, if any
    sender_started: bool = False
    skipped: str | None = None  # why nothing was recorded, or nothing mailed (logged at info)


def tmux_pane_name(socket: str, pane: str) -> str | None:
    """``session:window.pane`` of a tmux pane, or None when tmux does not answer."""
    from taskping.tmux_server import QUICK_TIMEOUT, TmuxServer

    name = TmuxServer(socket, timeout=QUICK_TIMEOUT).display(pane, "#S:#I.#P")
    return (name or "").strip() or None


def _find_or_register(
    conn: sqlite3.Connection, env: HookEnv, socket: str, pane: str, settings: Settings
) -> Session | None:
    if not pane:  # not a tmux pane: a PTY session's control socket, or an untracked Claude
        return _pty_or_untracked(conn, env, socket, settings)
    session = sessions.by_target(conn, socket, pane)
    if session is not None:
        return session
    # A Claude started by hand in some tmux pane: track it from its first event.
    from taskping.tokens import new_token  # here: only a first event needs it (hashlib, secrets)

    name = tmux_pane_name(socket, pane) or f"tmux{pane}"
    for candidate in (name, f"{name}{pane}"):
        try:
            return sessions.create(
                conn,
                token=new_token(settings.host_id),
                name=candidate,
                kind="tmux",
                target_socket=socket,
                target_pane=pane,
                ttl=settings.token_ttl,
                state="idle",
            )
        except NameInUse:
            continue
    return None


NOT_IN_TMUX = "Claude is not running in tmux ($TMUX/$TMUX_PANE unset): not tracked, replies cannot reach it"
NOT_INJECTABLE = (
    "Claude was started by hand outside tmux and outside `taskping spawn --mode pty`: "
    "replies cannot be typed into it (start it with `taskping spawn --mode pty`)"
)
UNTRACKED_PREFIX = "untracked:"


def pty_target(env: HookEnv, hook: HookInput, settings: Settings) -> tuple[str, str] | None:
    """(socket, pane) naming the terminal when Claude is not in tmux: its PTY session's control
    socket, or (INJECTION_MODE=pty) a name for a hand-started Claude tracked as not injectable."""
    if env.pty_socket:
        return env.pty_socket, ""
    if settings.injection_mode == "pty" and hook.session_id:
        return f"{UNTRACKED_PREFIX}{hook.session_id}", ""
    return None


def _pty_or_untracked(conn: sqlite3.Connection, env: HookEnv, socket: str, settings: Settings) -> Session | None:
    """A `spawn --mode pty` session is registered before its command starts: only found here.
    A hand-started Claude outside tmux (INJECTION_MODE=pty) is registered as not injectable."""
    session = sessions.by_target(conn, socket, "")
    if session is not None or not socket.startswith(UNTRACKED_PREFIX):
        return session
    from taskping.tokens import new_token

    base = Path(env.project_dir or ".").name or "claude"
    for candidate in (f"{base}-here", *(f"{base}-here-{i}" for i in range(2, 20))):
        try:
            return sessions.create(
                conn,
                token=new_token(settings.host_id),
                name=candidate,
                kind="pty",
                target_socket=socket,
                target_pane="",
                ttl=settings.token_ttl,
                state="idle",
                not_injectable=NOT_INJECTABLE,
            )
        except NameInUse:
            continue
    return None


def handle(hook: HookInput, env: HookEnv, settings: Settings) -> HookOutcome:
    """Apply one hook event to the session map and queue its email.

    Every way of doing nothing comes back as ``skipped`` with the reason, which
    `taskping hook` logs: silence is never the answer to "why no email?".
    """
    # The terminal's name in the session map: a tmux pane, or (pane "") a PTY session's socket.
    if env.tmux_socket and env.tmux_pane:
        socket, pane = env.tmux_socket, env.tmux_pane
    else:
        pty = pty_target(env, hook, settings)
        if pty is None:
            return HookOutcome(session=None, queued=None, skipped=NOT_IN_TMUX)
        socket, pane = pty
    if hook.event == "SessionEnd" and not settings.session_map_path.exists():
        # Nothing is tracked, so nothing ends; don't create a session map (or its directory) for it.
        return HookOutcome(session=None, queued=None, skipped="SessionEnd with no session map: nothing to end")
    conn = connect(settings.session_map_path)
    try:
        if hook.event == "SessionEnd" and sessions.by_target(conn, socket, pane) is None:
            return HookOutcome(session=None, queued=None, skipped="SessionEnd for an untracked pane: nothing to end")
        session = _find_or_register(conn, env, socket, pane, settings)
        if session is None:
            if not pane and not socket.startswith(UNTRACKED_PREFIX):
                why = f"no live PTY session on $TASKPING_PTY {socket} (ended?): not tracked"
                return HookOutcome(session=None, queued=None, skipped=why)
            return HookOutcome(session=None, queued=None, skipped="could not register the pane: no free session name")
        state = STATE_AFTER[hook.event]
        if hook.event == "Notification" and hook.notification_type == "permission_prompt":
            state = "waiting-permission"
        session = sessions.record_event(
            conn,
            session.id,
            event=hook.event if hook.event != "Notification" else f"Notification:{hook.notification_type or '?'}",
            state=state,
            claude_session_id=hook.session_id,
            cwd=hook.cwd or env.project_dir,
            claude_pid=env.claude_pid,
            new_turn=hook.event == "UserPromptSubmit",
            end_reason=f"SessionEnd:{hook.reason or '?'}" if hook.event == "SessionEnd" else None,
            close_approvals=state != "waiting-permission" and hook.event != "SessionStart",
        )
        notice, why_not = _notice_for(hook, session)
        if notice is None:
            return HookOutcome(session=session, queued=None, skipped=why_not)
        if notice.kind == "permission":
            from taskping.session_map import approvals  # only here: the other events never need it

            if approvals.has_pending(conn, session.id):
                why = "permission notice not mailed: the approval email for this dialog is pending"
                return HookOutcome(session=session, queued=None, skipped=why)
        if not settings.email_to or not settings.email_from:
            missing = " and ".join(
                k for k, v in (("EMAIL_TO", settings.email_to), ("EMAIL_FROM", settings.email_from)) if not v
            )
            return HookOutcome(
                session=session, queued=None, skipped=f"{missing} not set: {notice.kind} recorded, no email queued"
            )
        if notice.kind == "stop" and settings.notify_when == "away":
            from taskping.hooks.presence import present_reason

            if session.kind == "pty":
                from taskping.hooks.presence import present_reason_pty

                present = present_reason_pty(session, settings.away_after_seconds)
            else:
                present = present_reason(socket, pane, settings.away_after_seconds)
            if present is not None:
                return HookOutcome(
                    session=session,
                    queued=None,
                    skipped=f"at the terminal, Stop not mailed (NOTIFY_WHEN=away): {present}",
                )
        if notice.kind == "stop":  # read here: a Stop that is not mailed does not read the transcript for it
            notice = notice._replace(summary=_turn_summary(hook, session))
        _message_id, started = mail_notice(conn, settings, session, notice, turn=session.turn)
        return HookOutcome(session=sessions.get(conn, session.id), queued=notice.kind, sender_started=started)
    finally:
        conn.close()


def mail_notice(
    conn: sqlite3.Connection,
    settings: Settings,
    session: Session,
    notice: notices.Notice,
    *,
    turn: int | None = None,
    replying: tuple[str, ...] | None = None,
    replies: tuple[tuple[str, str], ...] | None = None,
    before_queue: Callable[[str], object] | None = None,
) -> tuple[str, bool]:
    """Compose ``notice`` for ``session``, queue it in the session's thread, and start a sender
    when no relay runs. Returns (its Message-ID, whether a sender was started). The callers
    have checked EMAIL_TO and EMAIL_FROM (each says so its own way). ``replying`` and ``replies``
    go to :func:`~taskping.hooks.compose.compose`; ``before_queue`` gets the Message-ID before
    the mail is queued (an approval is recorded before its email can be answered)."""
    if not settings.email_to or not settings.email_from:
        raise ValueError("EMAIL_TO and EMAIL_FROM must be set to mail a notice")
    # Only for mail: UserPromptSubmit (in front of every prompt) and the other events import
    # none of this (notifications/outbox rows, the relay heartbeat's socket, the MIME writer).
    from taskping.hooks import compose
    from taskping.session_map import daemons, notifications

    mail = compose.compose(
        notice,
        session,
        email_from=settings.email_from,
        email_to=settings.email_to,
        reply_window_until=max(session.expires_at, time.time() + settings.token_ttl),
        state=session.state,
        replying=replying,
        replies=replies,
    )
    if before_queue is not None:
        before_queue(mail.message_id)
    notifications.queue(
        conn,
        session_id=session.id,
        message_id=mail.message_id,
        kind=notice.kind,
        body_text=mail.text,
        to_addr=mail.to_addr,
        raw=mail.raw,
        ttl=settings.token_ttl,
        turn=turn,
    )
    started = False if daemons.alive(conn, "relay") else start_detached_sender(settings)
    return mail.message_id, started


def _notice_for(hook: HookInput, session: Session) -> tuple[notices.Notice | None, str | None]:
    """The notice this event mails, or None and why not (None when the event never mails)."""
    if hook.event == "Stop":
        text = hook.last_assistant_message
        if not text:  # older Claude Code: read the transcript
            from taskping.hooks.transcript import last_assistant_text

            text = last_assistant_text(hook.transcript_path)
        return notices.stop_notice(text), None
    if hook.event == "Notification":
        if hook.notification_type == "permission_prompt":
            return notices.permission_notice(hook.message), None
        if hook.notification_type == "idle_prompt":
            if session.notified_turn != session.turn:
                return notices.idle_notice(hook.message), None
            return None, "idle notice not mailed: this turn's reply was already mailed"
        return None, f"notification type {hook.notification_type or '(none)'!r} is not mailed"
    return None, None


def _turn_summary(hook: HookInput, session: Session) -> str | None:
    """``4 min · edited 3 files · ran 2 commands``: the turn's length from its prompt (the transcript's
    timestamp, else our UserPromptSubmit's), what it changed from the transcript."""
    from taskping.hooks.transcript import last_turn_activity

    activity = last_turn_activity(hook.transcript_path)
    started = (activity.started_at if activity else None) or session.last_prompt_at
    seconds = time.time() - started if started is not None else None
    if activity is None:
        return notices.turn_summary(seconds, 0, 0)
    return notices.turn_summary(seconds, activity.files_edited, activity.commands_run)


def taskping_command() -> list[str]:
    """How to run `taskping` from here: the console script beside this Python, else -m."""
    script = Path(sys.executable).parent / "taskping"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "taskping"]


def start_detached_sender(settings: Settings, environ: Mapping[str, str] | None = None) -> bool:
    """Start `taskping send-outbox` in its own session, not waiting for it."""
    from taskping.hooks.proc import detach  # posix_spawn: importing subprocess costs the hook ~6 ms

    cmd = taskping_command()
    if settings.env_file is not None:
        cmd += ["--env-file", str(settings.env_file)]
    cmd.append("send-outbox")
    return detach(cmd, environ)
