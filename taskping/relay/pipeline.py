"""The reply pipeline, one message at a time, top to bottom:

fetch → **parse → screen → dedupe → authenticate → route → extract → replay →
[approval] → [command] → guard → inject → acknowledge** (fetch and the IMAP flagging live in
:mod:`taskping.relay.fetch`; the header screen also runs there, before a body
is downloaded, and again here on the whole message).

Dedupe is two steps at two places: **dedupe** is the ledger's unique message
key (Message-ID, else a hash of the header section and size), applied when the
message is claimed, before authenticate: the same message delivered twice is
handled once. **replay** (:mod:`taskping.relay.dedupe`) runs after extract,
because its keys need the authenticated sender, the session and the text: a
genuine reply re-sent under a fresh Message-ID is refused there.

A reply to a permission approval email (:mod:`taskping.relay.approval_answer`) stops
at the **approval** step: it allows or denies that one tool call (once), or is asked
again; it is recorded as ``answered`` and never typed.

A reply whose new text is exactly one ``#command`` line (:mod:`taskping.relay.commands`)
stops at the **command** step (:mod:`taskping.relay.command_step`, a base class of the
pipeline): it is run (read the terminal, press Escape, start a session...) and answered
in the thread, recorded as ``answered``; it is never typed. A fresh email (route finds no
session: ``not-a-reply``) may run ``#help``, ``#status`` or ``#new`` the same way.

Each step returns what it passes on, or a
:class:`~taskping.session_map.vocabulary.Refusal` (step, stable code, reason).
Keys go only into a READY screen: a reply for a session where Claude is
working (or that already has replies waiting) is parked durably
(:mod:`taskping.session_map.waiting`, ledger status ``waiting``) and typed in
order by :meth:`Pipeline.resume_waiting` once the screen is READY, or refused
with a notice after BUSY_WAIT_SECONDS.

Every message ends in one place, :meth:`Pipeline._end`, which records the
:class:`Outcome` everywhere it belongs: the ledger (a duplicate keeps the row
of its first delivery; another machine's reply gets a ``foreign`` row), the
acknowledgement, the audit log and the log line. Acknowledgements go only to
an allowlisted sender that passed authentication; everything else is dropped
silently. The ledger row is marked ``injecting`` (committed) before the first
key is sent, so a crash can never make a reply be typed twice: such a reply is
reported as "may not have been delivered" instead.

The safety net: a step that raises (parse included) is recorded as not
processed (``internal-error``) and the relay goes on. When the session map
itself cannot be written, the message cannot be recorded: :class:`StoreUnavailable`
is raised, and fetch leaves the message unflagged for a later pass.

Sessions that come back: a reply for a session whose terminal is gone (route
lets an ended one through only when it may be resumed) is typed after the
pipeline's ``resumer`` brought it back (`claude --resume` in a new tmux
session, :mod:`taskping.hooks.resume`), once per reply; the ledger reason
and the acknowledgement say "resumed". A resume that fails is refused
(``resume-failed``), nothing typed; a session that may not be resumed is
refused with the reason why not.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from taskping.config import Settings
from taskping.extract import extract_reply, to_command
from taskping.faults import FAULT_ENV, fault_point
from taskping.injectors import InjectionOutcome, Injector, ScreenState
from taskping.injectors.terminal_guard import GuardedText
from taskping.log import get_logger
from taskping.relay import acknowledge, audit, dedupe, dkim_verify
from taskping.relay.approval_answer import answered_approval, settle
from taskping.relay.authenticate import Authenticated, authenticate
from taskping.relay.command_step import CommandStep, target_of
from taskping.relay.commands import parse_command
from taskping.relay.guard import guard
from taskping.relay.outcome import Outcome
from taskping.relay.parse import InboundMail, parse, parse_header, unparsed
from taskping.relay.route import Routed, is_foreign, route
from taskping.session_map import approvals, ledger, notifications, sessions, waiting
from taskping.session_map.approvals import Approval
from taskping.session_map.ledger import LedgerEntry
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import FINAL, Code, EndReason, Refusal, Status, Step

__all__ = [
    "FAULT_ENV",
    "Command",
    "Outcome",
    "Pipeline",
    "Planned",
    "Position",
    "StoreUnavailable",
    "extract_command",
    "fault_point",
]


@dataclass(frozen=True)
class Position:
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None


class StoreUnavailable(Exception):
    """The session map could not be written, so the message could not be recorded: leave it for a later pass."""


@dataclass(frozen=True)
class Planned:
    """Everything up to guard passed: ``guarded`` is to be typed into ``session``.

    The ledger row is still ``received``; :meth:`Pipeline.inject` takes it on.
    """

    mail: InboundMail
    entry: LedgerEntry
    session: Session
    guarded: GuardedText
    sender: str


@dataclass(frozen=True)
class Command:
    """The extract step's pass: the text to type and the body it came from."""

    text: str
    source: str | None


def extract_command(conn: sqlite3.Connection, mail: InboundMail, session: Session) -> Command | Refusal:
    """The extract step: the extractor's :class:`~taskping.extract.Extraction`, adapted to the
    pipeline's vocabulary (the extractor is a library with its own result type)."""
    extraction = extract_reply(
        text=mail.text, html=mail.html, sent_texts=notifications.texts_for_session(conn, session.id)
    )
    if not extraction.ok or extraction.text is None:
        return Refusal(Step.EXTRACT, Code.NO_NEW_TEXT, extraction.refusal or "no new text found", session.id)
    return Command(to_command(extraction.text), extraction.source)


#: Brings back a session whose terminal is gone: (the session live on its new terminal, how to
#: attach to it), or why it could not (one line). Nothing is typed by it.
Resumer = Callable[[Session], "tuple[Session, str] | str"]


class Pipeline(CommandStep):
    def __init__(
        self, settings: Settings, conn: sqlite3.Connection, injector: Injector, resumer: Resumer | None = None
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.injector = injector
        self.resumer = resumer
        self.mode = settings.require_sender_auth()
        self._step = Step.PARSE  # the step running now: named when it raises

    def process(self, raw: bytes, position: Position = Position()) -> Outcome:
        """All the steps: :meth:`plan`, then :meth:`inject` when the plan is to type."""
        planned = self.plan(raw, position)
        if isinstance(planned, Outcome):
            return planned
        return self.inject(planned, position)

    def plan(self, raw: bytes, position: Position = Position()) -> Outcome | Planned:
        """parse → screen → dedupe → authenticate → route → extract → replay → guard, without a terminal.

        Returns the final :class:`Outcome` (already recorded by :meth:`_end`), or a
        :class:`Planned` injection (ledger row still ``received``). Never raises for a
        message; raises :class:`StoreUnavailable` when the session map cannot be written.
        """
        self._step = Step.PARSE
        try:
            fault_point("parse")
            mail = parse(raw)
        except Exception as exc:  # noqa: BLE001 - parse is not meant to raise; if it does, record the message
            return self._internal_error(
                unparsed(raw, f"could not be parsed ({exc.__class__.__name__})"), position, exc, claimed=False
            )
        try:
            return self._plan(mail, position)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a poison message must not stop the relay
            return self._internal_error(mail, position, exc)

    def inject(self, planned: Planned, position: Position = Position()) -> Outcome:
        """Type a planned reply (inject → acknowledge)."""
        mail, entry, session = planned.mail, planned.entry, planned.session
        if waiting.has_waiting(self.conn, session.id):  # keep the order: behind the replies already waiting
            return self._wait(mail, position, entry, session, planned.guarded.text, planned.sender)
        return self._inject(mail, position, entry, session, planned.guarded.text, planned.sender)

    def resume_waiting(self, now: float | None = None) -> list[Outcome]:
        """Type the oldest waiting reply of each session whose screen is READY now; refuse
        those that waited longer than BUSY_WAIT_SECONDS or whose session ended. The relay
        calls this between IMAP events (and once per ``--once`` run)."""
        outcomes: list[Outcome] = []
        for item in waiting.heads(self.conn):
            outcome = self._resume(item, time.time() if now is None else now)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    # -- the steps, in order

    def _plan(self, mail: InboundMail, position: Position) -> Outcome | Planned:
        s = self.settings
        if mail.unreadable:
            return self._drop(mail, position, Refusal(Step.PARSE, Code.UNREADABLE, mail.unreadable))
        if mail.size > s.max_message_bytes:
            return self._drop(mail, position, Refusal(Step.PARSE, Code.TOO_LARGE, self._too_large(mail)))
        self._step = Step.SCREEN
        if is_foreign(self.conn, mail, s.host_id):
            return self._foreign(mail, position)

        self._step = Step.DEDUPE
        entry, created = self._claim(mail, position)
        fault_point("after-claim")
        if not created:
            seen = self._seen_before(mail, position, entry)
            if seen is not None:
                return seen

        self._step = Step.AUTHENTICATE
        verdict = self._authenticate(mail)
        if isinstance(verdict, Refusal):
            return self._refuse(mail, position, entry, verdict, tell=None)
        sender = verdict.sender

        self._step = Step.ROUTE
        routed = route(self.conn, mail, resume_gone=self._resume_gone)
        if isinstance(routed, Refusal) and routed.code == Code.NOT_A_REPLY:
            return self._fresh(mail, position, entry, sender, routed)
        if isinstance(routed, Refusal):
            return self._refuse(mail, position, entry, routed, tell=sender)
        session = routed.session
        unsigned = self._unsigned_thread(mail, routed, sender)
        if unsigned is not None:
            return self._refuse(mail, position, entry, unsigned, tell=sender, session=session)

        self._step = Step.EXTRACT
        command = extract_command(self.conn, mail, session)
        if isinstance(command, Refusal):
            return self._refuse(mail, position, entry, command, tell=sender, session=session)

        self._step = Step.REPLAY
        replay = dedupe.record_and_check_replay(
            self.conn, entry.id, sender=sender, session=session, mail=mail, text=command.text
        )
        if replay is not None:
            return self._refuse(mail, position, entry, replay, tell=sender, session=session)

        self._step = Step.APPROVAL
        approval = answered_approval(self.conn, mail, session)
        if approval is not None:  # decides the approval; never typed
            return self._approval(mail, position, entry, session, approval, command.text, sender)

        self._step = Step.COMMAND
        reply_command = parse_command(command.text)
        if reply_command is not None:  # answered in the thread; never typed
            return self._command(mail, position, entry, session, reply_command, sender)

        self._step = Step.GUARD
        guarded = guard(command.text, session, self.conn, s)
        if isinstance(guarded, Refusal):
            return self._refuse(mail, position, entry, guarded, tell=sender, session=session)

        return Planned(mail, entry, session, guarded, sender)

    def _approval(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        session: Session,
        approval: Approval,
        text: str,
        sender: str,
    ) -> Outcome:
        """The approval step: a reply to an approval email allows or denies it (once), or is asked
        again; one to an approval no longer pending is refused (see :mod:`taskping.relay.approval_answer`)."""
        settled = settle(self.conn, approval, session, text, entry.id, now=time.time())
        if isinstance(settled, Refusal):
            return self._refuse(mail, position, entry, settled, tell=sender, session=session)
        outcome = Outcome(Status.ANSWERED, settled.reason, session.name, None, Step.APPROVAL, settled.code)
        return self._end(mail, position, entry, outcome, session, tell=sender, answer=(settled.lines, None))

    def _seen_before(self, mail: InboundMail, position: Position, entry: LedgerEntry) -> Outcome | None:
        """The first half of dedupe: the message's row existed. None: it was never decided (a crash
        before its decision, nothing typed), so it is processed again."""
        if entry.status == Status.FOREIGN:  # another machine's (a fresh #new @HOST): still left untouched
            outcome = Outcome(Status.FOREIGN, entry.reason or "", step=entry.step, code=Code.FOREIGN)
            return self._end(mail, position, None, outcome, None)
        if entry.final:
            return self._end(
                mail,
                position,
                None,
                Outcome(Status.DUPLICATE, f"already handled ({entry.status})", step=Step.DEDUPE, code=Code.DUPLICATE),
                None,
            )
        if entry.status == Status.INJECTING:
            verdict = self._authenticate(mail)
            return self._fate_unknown(
                mail, position, entry, verdict.sender if isinstance(verdict, Authenticated) else None, step=Step.DEDUPE
            )
        if entry.status == Status.WAITING:
            return self._end(
                mail,
                position,
                None,
                Outcome(
                    Status.DUPLICATE,
                    "already waiting for its session to be ready",
                    step=Step.DEDUPE,
                    code=Code.DUPLICATE,
                ),
                None,
            )
        return None

    def _authenticate(self, mail: InboundMail) -> Authenticated | Refusal:
        s = self.settings
        return authenticate(
            mail,
            allowed_senders=s.allowed_senders,
            mode=self.mode,
            trusted_authserv_id=s.trusted_authserv_id,
            own_address=s.email_from,
            dkim_dns_timeout=s.dkim_dns_timeout,
            dkim_dns_server=s.dkim_dns_server,
        )

    @property
    def _resume_gone(self) -> bool:
        return self.resumer is not None and self.settings.resume_gone_sessions

    def _bring_back(self, session: Session) -> tuple[Session, str] | Refusal | None:
        """The step before typing: None when the session's terminal runs; else the session
        brought back (and how to attach), or why not."""
        if session.live and self.injector.exists(target_of(session)):
            return None
        why = sessions.why_not_resumable(session, enabled=self._resume_gone)
        if why is not None or self.resumer is None:
            sessions.end(self.conn, session.id, reason=EndReason.PANE_GONE)
            reason = (
                f"the terminal of session {session.name} no longer exists; the session is ended (not resumed: {why})"
            )
            return Refusal(Step.INJECT, Code.TARGET_GONE, reason, session.id)
        back = self.resumer(session)
        if isinstance(back, str):
            reason = f"the terminal of session {session.name} was gone and could not be resumed: {back}"
            return Refusal(Step.INJECT, Code.RESUME_FAILED, reason, session.id)
        return back

    def _inject(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        session: Session,
        text: str,
        sender: str,
        *,
        waited: float | None = None,
    ) -> Outcome:
        back = self._bring_back(session)
        if isinstance(back, Refusal):
            return self._refuse(mail, position, entry, back, tell=sender, session=session)
        attach = None
        if back is not None:
            session, attach = back
        target = target_of(session)
        typed_preview = audit.preview(text)
        waiting.start_typing(
            self.conn,
            entry.id,
            session_id=session.id,
            sender=sender,
            text=text,
            raw=mail.raw,
            preview=typed_preview or "",
        )
        fault_point("before-inject")
        started = time.time()

        def submitted() -> bool:
            current = sessions.get(self.conn, session.id)
            return bool(current and current.last_prompt_at and current.last_prompt_at >= started)

        result = self.injector.inject(target, text, submitted=submitted)
        fault_point("after-inject")
        if result.outcome == InjectionOutcome.BUSY:  # nothing was typed: wait for READY
            return self._wait(mail, position, entry, session, text, sender, detail=result.detail)
        waiting.remove(self.conn, entry.id)  # decided below: the text is not kept
        if result.outcome == InjectionOutcome.TARGET_GONE:
            sessions.end(self.conn, session.id, reason=EndReason.PANE_GONE)
            reason = f"the terminal of session {session.name} no longer exists; the session is ended"
            return self._refuse(
                mail, position, entry, Refusal(Step.INJECT, Code.TARGET_GONE, reason), tell=sender, session=session
            )
        if result.outcome == InjectionOutcome.DIALOG_OPEN:
            reason = (
                f"session {session.name} is waiting on a dialog (a permission or one of Claude's questions); "
                "answer it at the terminal, then reply again"
            )
            if approvals.has_pending(self.conn, session.id):
                reason = (
                    f"session {session.name} is waiting on a permission dialog; to answer it, reply to the approval "
                    "email (yes or no), or answer it at the terminal, then reply again"
                )
            return self._refuse(
                mail, position, entry, Refusal(Step.INJECT, Code.DIALOG_OPEN, reason), tell=sender, session=session
            )
        if result.outcome == InjectionOutcome.FAILED:
            reason = f"could not type into session {session.name}: {result.detail or 'terminal error'}"
            return self._refuse(
                mail, position, entry, Refusal(Step.INJECT, Code.INJECT_FAILED, reason), tell=sender, session=session
            )
        confirmed = result.outcome == InjectionOutcome.SUBMITTED
        reason = "submitted" if confirmed else f"typed; submission not confirmed ({result.detail})"
        if waited is not None:
            reason += f" after waiting {waited:.0f} s for claude to be ready"
        if attach is not None:
            reason = f"resumed (claude --resume; attach: {attach}); {reason}"
        outcome = Outcome(
            Status.DELIVERED, reason, session.name, text, Step.INJECT, Code.SUBMITTED if confirmed else Code.UNCONFIRMED
        )
        return self._end(
            mail, position, entry, outcome, session, tell=sender, waited=waited, preview=typed_preview, resumed=attach
        )

    # -- waiting for a busy session

    def _wait(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        session: Session,
        text: str,
        sender: str,
        *,
        detail: str = "",
    ) -> Outcome:
        """Park the reply until the session is READY (nothing was typed)."""
        limit = self.settings.busy_wait_seconds
        if limit <= 0:
            reason = f"claude is working in session {session.name} and BUSY_WAIT_SECONDS=0; reply again when it is done"
            return self._refuse(
                mail, position, entry, Refusal(Step.INJECT, Code.BUSY_TIMEOUT, reason), tell=sender, session=session
            )
        waiting.enqueue(
            self.conn,
            entry.id,
            session_id=session.id,
            sender=sender,
            text=text,
            raw=mail.raw,
            preview=audit.preview(text) or "",
        )
        why = detail or "replies before it are waiting"
        reason = f"waiting for session {session.name} to be ready ({why}); typed in order, or refused after {limit} s"
        # the ledger row became ``waiting`` with the parked text, in one transaction (waiting.enqueue)
        return self._end(
            mail,
            position,
            None,
            Outcome(Status.WAITING, reason, session.name, step=Step.INJECT, code=Code.BUSY),
            session,
        )

    def _resume(self, item: waiting.WaitingReply, now: float) -> Outcome | None:
        entry = ledger.get(self.conn, item.entry_id)
        if entry is None or entry.final:  # decided before a crash removed the row
            waiting.remove(self.conn, item.entry_id)
            return None
        mail = parse(item.raw)
        session = sessions.get(self.conn, item.session_id)
        position = Position(entry.folder, entry.uidvalidity, entry.uid)
        # an ended session that may be resumed goes on below: its terminal is gone, so it is brought back
        why = (
            None if session is None or session.live else sessions.why_not_resumable(session, enabled=self._resume_gone)
        )
        if entry.status == Status.INJECTING:  # the relay stopped while typing it
            outcome = self._fate_unknown(mail, position, entry, item.sender, step=Step.INJECT)
        elif session is None or why is not None:
            name = session.name if session else "?"
            reason = f"session {name} ended while the reply waited for it; nothing was typed" + (
                f" (not resumed: {why})" if why else ""
            )
            outcome = self._refuse(
                mail,
                position,
                entry,
                Refusal(Step.INJECT, Code.SESSION_ENDED, reason),
                tell=item.sender,
                session=session,
            )
        elif now - item.since > self.settings.busy_wait_seconds:
            reason = (
                f"claude was still working in session {session.name} after {self.settings.busy_wait_seconds} s "
                "(BUSY_WAIT_SECONDS); nothing was typed, reply again"
            )
            outcome = self._refuse(
                mail,
                position,
                entry,
                Refusal(Step.INJECT, Code.BUSY_TIMEOUT, reason),
                tell=item.sender,
                session=session,
            )
        else:
            state = self.injector.screen_state(target_of(session))
            if state not in (ScreenState.READY, ScreenState.GONE):
                return None  # still busy (or a dialog is open): keep waiting
            outcome = self._inject(mail, position, entry, session, item.text, item.sender, waited=now - item.since)
            if outcome.status == Status.WAITING:
                return None  # it became busy again before the first key
        waiting.remove(self.conn, item.entry_id)
        return outcome

    # -- the header screen (fetch calls it before downloading a body)

    def screen(self, header: bytes, size: int, position: Position = Position()) -> Outcome | None:
        """Judge a message by its header section and size alone, before its body is downloaded.

        Returns the final :class:`Outcome` (``dropped``, ``duplicate`` or
        ``foreign``; recorded like any other) for a message that must not be
        downloaded, or None: download it and :meth:`process` it, which checks
        everything again on the whole message. Over MAX_MESSAGE_BYTES, no single
        reading of the header, or not authenticated as far as the header can
        tell: dropped, nothing sent back.
        """
        try:
            mail = parse_header(header, size)
            return self._screen(mail, position)
        except Exception as exc:  # noqa: BLE001 - the full pipeline decides (and records) instead
            get_logger(uid=position.uid).warning("screen_failed", error=f"{exc.__class__.__name__}: {exc}")
            return None

    def _screen(self, mail: InboundMail, position: Position) -> Outcome | None:
        s = self.settings
        if not mail.unreadable and is_foreign(self.conn, mail, s.host_id):
            return self._foreign(mail, position)
        if mail.size > s.max_message_bytes:
            return self._drop(mail, position, Refusal(Step.SCREEN, Code.TOO_LARGE, self._too_large(mail)))
        if mail.unreadable:
            return self._drop(mail, position, Refusal(Step.SCREEN, Code.UNREADABLE, mail.unreadable))
        verdict = self._header_verdict(mail)
        if isinstance(verdict, Refusal):
            return self._drop(
                mail,
                position,
                Refusal(Step.SCREEN, verdict.code, f"{verdict.reason} (judged on the header; not downloaded)"),
            )
        return None

    def _header_verdict(self, mail: InboundMail) -> Authenticated | Refusal:
        """authenticate() as far as a header can tell: all of it for authres and none;
        for dkim, everything but the signature's cryptography (which needs the body)."""
        s = self.settings
        mode = "none" if self.mode == "dkim" else self.mode
        verdict = authenticate(
            mail,
            allowed_senders=s.allowed_senders,
            mode=mode,
            trusted_authserv_id=s.trusted_authserv_id,
            own_address=s.email_from,
        )
        if self.mode != "dkim" or isinstance(verdict, Refusal):
            return verdict
        checked = dkim_verify.precheck(mail.raw, verdict.sender.rpartition("@")[2])
        if not checked.ok:
            return Refusal(Step.AUTHENTICATE, Code.NOT_AUTHENTICATED, checked.reason)
        return Authenticated(verdict.sender, checked.reason)

    def _too_large(self, mail: InboundMail) -> str:
        return f"message is {mail.size:,} bytes, over MAX_MESSAGE_BYTES ({self.settings.max_message_bytes:,})"

    def _drop(self, mail: InboundMail, position: Position, refusal: Refusal) -> Outcome:
        """Claim the ledger row and record ``dropped`` (nothing sent back), unless already decided."""
        entry, created = self._claim(mail, position)
        if not created and entry.status == Status.INJECTING:  # typed by an earlier run under other settings
            return self._fate_unknown(mail, position, entry, None, step=Step.DEDUPE)
        if not created:
            seen = self._seen_before(mail, position, entry)
            if seen is not None:
                return seen
        return self._refuse(mail, position, entry, refusal, tell=None)

    def _foreign(self, mail: InboundMail, position: Position) -> Outcome:
        """Another machine's reply: left untouched in the mailbox, but in our ledger and audit log
        like every message (a row it already has, under the same key, is kept as it is)."""
        reason = "reply to another machine's session; left for its relay"
        entry, created = self._claim(mail, position)
        record = entry if created or entry.status == Status.RECEIVED else None
        return self._end(
            mail, position, record, Outcome(Status.FOREIGN, reason, step=Step.SCREEN, code=Code.FOREIGN), None
        )

    def _unsigned_thread(self, mail: InboundMail, routed: Routed, sender: str) -> Refusal | None:
        """A reply routed by its thread alone must have that thread signed.

        Without the ``[TaskPing #TOKEN]`` tag in the (signed) Subject, In-Reply-To
        and References alone pick the session; a DKIM signature that does not
        cover them lets anyone holding a copy of one genuine reply point it at
        another session. Mail clients keep the tag in "Re:" subjects, so this
        only refuses a reply whose subject was rewritten.
        """
        if routed.via != "thread" or self.mode == "none":
            return None
        present = [
            name for name, values in (("in-reply-to", mail.in_reply_to), ("references", mail.references)) if values
        ]
        if dkim_verify.signs_all(mail.raw, sender.rpartition("@")[2], present):
            return None
        return Refusal(
            Step.ROUTE,
            Code.THREAD_UNSIGNED,
            "the subject has no [TaskPing #…] tag and the In-Reply-To/References headers that name the "
            "session are not covered by your DKIM signature; reply keeping the tag in the subject",
            routed.session.id,
        )

    # -- the one ending

    def _refuse(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        refusal: Refusal,
        *,
        tell: str | None,
        session: Session | None = None,
    ) -> Outcome:
        """A step said no: ``refused`` (and told) when ``tell`` is the authenticated sender, else ``dropped``."""
        if session is None and refusal.session_id is not None:
            session = sessions.get(self.conn, refusal.session_id)
        status = Status.REFUSED if tell is not None else Status.DROPPED
        outcome = Outcome(
            status, refusal.reason, session.name if session else None, step=refusal.step, code=refusal.code
        )
        return self._end(mail, position, entry, outcome, session, tell=tell)

    def _end(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry | None,
        outcome: Outcome,
        session: Session | None,
        *,
        tell: str | None = None,
        waited: float | None = None,
        preview: str | None = None,
        typed: str | None = None,
        answer: tuple[list[str], list[str] | None] | None = None,
        resumed: str | None = None,
    ) -> Outcome:
        """Record ``outcome`` everywhere it belongs, in this order: the ledger row (``entry``; None
        when another write owns it: a duplicate keeps its first row, ``waiting`` is written with the
        parked text), the acknowledgement (only to ``tell``, an authenticated sender), the audit
        log and the log line. Every message's processing ends here."""
        if entry is not None and outcome.status in FINAL:
            ledger.set_decision(
                self.conn,
                entry.id,
                outcome.status,
                outcome.reason,
                code=outcome.code,
                step=outcome.step,
                session_id=session.id if session else None,
                preview=preview,
            )
        if tell is not None:
            if outcome.status == Status.DELIVERED and session is not None:
                acknowledge.delivered(
                    self.conn,
                    self.settings,
                    mail,
                    tell,
                    session,
                    confirmed=outcome.code == Code.SUBMITTED,
                    waited=waited,
                    resumed=resumed,
                )
            elif outcome.status == Status.REFUSED:
                acknowledge.not_delivered(self.conn, self.settings, mail, tell, session, outcome.reason)
            elif outcome.status == Status.UNKNOWN:
                acknowledge.fate_unknown(self.conn, self.settings, mail, tell, session)
            elif outcome.status == Status.ANSWERED and answer is not None:
                acknowledge.answered(self.conn, self.settings, mail, tell, session, *answer)
        audit.write(
            self.settings.audit_path,
            message_id=mail.message_id,
            sender=mail.sole_sender,
            session=session.name if session else outcome.session,
            decision=outcome.status,
            reason=outcome.reason,
            step=outcome.step,
            code=outcome.code,
            typed=typed if typed is not None else outcome.typed,
        )
        get_logger(message_id=mail.message_id, uid=position.uid).info(
            "reply_processed",
            decision=str(outcome.status),
            step=outcome.step and str(outcome.step),
            code=outcome.code and str(outcome.code),
            reason=outcome.reason,
            session=outcome.session,
        )
        return outcome

    def _claim(self, mail: InboundMail, position: Position) -> tuple[LedgerEntry, bool]:
        """The message's ledger row (InboundMail's strings are already valid UTF-8)."""
        return ledger.claim(
            self.conn,
            message_key=mail.message_key,
            message_id=mail.message_id,
            content_hash=mail.content_hash,
            folder=position.folder,
            uidvalidity=position.uidvalidity,
            uid=position.uid,
            sender=mail.sole_sender,
        )

    def _internal_error(
        self, mail: InboundMail, position: Position, exc: Exception, *, claimed: bool = True
    ) -> Outcome:
        """A step raised: record the message as not processed (nothing was typed; the
        injection is not part of :meth:`plan`), tell an authenticated sender, go on.

        When even the ledger cannot be written (the session map is locked or broken),
        raises :class:`StoreUnavailable`: the message is not flagged and comes again."""
        step = self._step
        get_logger(message_id=mail.message_id, uid=position.uid).error(
            "reply_step_failed", step=str(step), error=f"{exc.__class__.__name__}: {exc}"
        )
        try:
            entry, _created = self._claim(mail, position)
        except Exception as store_exc:
            raise StoreUnavailable(
                f"{step} raised {exc.__class__.__name__} and the ledger cannot be written "
                f"({store_exc.__class__.__name__}: {store_exc}); the message is left in the mailbox"
            ) from store_exc
        if entry.final and not claimed:  # parse raised before this run claimed anything: an earlier run decided
            return self._end(
                mail,
                position,
                None,
                Outcome(Status.DUPLICATE, f"already handled ({entry.status})", step=Step.DEDUPE, code=Code.DUPLICATE),
                None,
            )
        if entry.final:  # the step that raised came after this run's decision was written
            return Outcome(entry.status, entry.reason or "", None, step=entry.step, code=entry.code)
        reason = f"could not be processed ({exc.__class__.__name__}); nothing was typed"
        refusal = Refusal(step, Code.INTERNAL_ERROR, reason)
        sender: str | None = None
        if not mail.unreadable:
            try:
                verdict = self._authenticate(mail)
                sender = verdict.sender if isinstance(verdict, Authenticated) else None
            except Exception:  # noqa: BLE001 - no sender: dropped, nothing sent back
                sender = None
        try:
            return self._refuse(mail, position, entry, refusal, tell=sender)
        except Exception:  # noqa: BLE001 - the refusal email itself failed: the ledger and audit log still get it
            return self._refuse(mail, position, entry, refusal, tell=None)

    def _fate_unknown(
        self, mail: InboundMail, position: Position, entry: LedgerEntry, sender: str | None, *, step: Step
    ) -> Outcome:
        """The relay stopped while typing this reply: never typed again; the sender is told. What it
        may have left in the input box is erased when the box holds nothing but a piece of it."""
        session = sessions.get(self.conn, entry.session_id)
        reason = "the relay stopped while typing this reply; it is not typed again"
        text = waiting.text_of(self.conn, entry.id)
        if session is not None and session.live and text:
            self.injector.discard(target_of(session), text)
        waiting.remove(self.conn, entry.id)
        outcome = Outcome(Status.UNKNOWN, reason, session.name if session else None, step=step, code=Code.FATE_UNKNOWN)
        return self._end(mail, position, entry, outcome, session, tell=sender, typed=entry.preview)
