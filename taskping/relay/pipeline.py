"""The reply pipeline, one message at a time, top to bottom:

fetch → **parse → authenticate → dedupe → route → extract → guard → inject →
acknowledge** (fetch and the IMAP flagging live in :mod:`taskping.relay.fetch`).

Keys go only into a READY screen: a reply for a session where Claude is
working (or that already has replies waiting) is parked durably
(:mod:`taskping.session_map.waiting`, ledger status ``waiting``) and typed in
order by :meth:`Pipeline.resume_waiting` once the screen is READY, or refused
with a notice after BUSY_WAIT_SECONDS.

Every message ends in the ledger with a decision and in the audit log.
Refusals are sent back only to an allowlisted sender that passed
authentication; everything else is dropped silently. The ledger row is marked
``injecting`` (committed) before the first key is sent, so a crash can never
make a reply be typed twice: such a reply is reported as "may not have been
delivered" instead.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from taskping.config import Settings
from taskping.faults import FAULT_ENV, fault_point
from taskping.injectors import InjectionOutcome, Injector, ScreenState, Target
from taskping.injectors.terminal_guard import GuardedText
from taskping.log import get_logger
from taskping.relay import acknowledge, audit, dedupe, dkim_verify
from taskping.relay.authenticate import AuthVerdict, authenticate
from taskping.relay.extract import extract_reply, to_command
from taskping.relay.guard import Refused, guard
from taskping.relay.parse import InboundMail, parse, parse_header
from taskping.relay.route import Unroutable, is_foreign, route
from taskping.session_map import ledger, notifications, sessions, waiting
from taskping.session_map.ledger import LedgerEntry
from taskping.session_map.sessions import Session

__all__ = ["FAULT_ENV", "Decision", "Pipeline", "Planned", "Position", "fault_point"]


@dataclass(frozen=True)
class Decision:
    status: str  # delivered | waiting | refused | dropped | unknown | duplicate | foreign
    reason: str
    session: str | None = None
    typed: str | None = None

    @property
    def leave_untouched(self) -> bool:
        """Another machine's reply: do not flag or move it."""
        return self.status == "foreign"


@dataclass(frozen=True)
class Position:
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None


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


class Pipeline:
    def __init__(self, settings: Settings, conn: sqlite3.Connection, injector: Injector) -> None:
        self.settings = settings
        self.conn = conn
        self.injector = injector
        self.mode = settings.require_sender_auth()

    def process(self, raw: bytes, position: Position = Position()) -> Decision:
        """All the steps: :meth:`plan`, then :meth:`inject` when the plan is to type."""
        planned = self.plan(raw, position)
        if isinstance(planned, Decision):
            return planned
        return self.inject(planned, position)

    def plan(self, raw: bytes, position: Position = Position()) -> Decision | Planned:
        """parse → authenticate → dedupe → route → extract → guard, without a terminal.

        Returns the final :class:`Decision` (already in the ledger and the audit
        log), or a :class:`Planned` injection (ledger row still ``received``).
        """
        mail = parse(raw)
        try:
            planned = self._plan(mail, position)
        except Exception as exc:  # noqa: BLE001 - a poison message must not stop the relay
            planned = self._internal_error(mail, position, exc)
        if isinstance(planned, Decision):
            self._log_decision(mail, position, planned)
        return planned

    def inject(self, planned: Planned, position: Position = Position()) -> Decision:
        """Type a planned reply (inject → acknowledge)."""
        mail, entry, session = planned.mail, planned.entry, planned.session
        if waiting.has_waiting(self.conn, session.id):  # keep the order: behind the replies already waiting
            decision = self._wait(mail, entry, session, planned.guarded.text, planned.sender)
        else:
            decision = self._inject(mail, entry, session, planned.guarded.text, planned.sender)
        self._log_decision(mail, position, decision)
        return decision

    def resume_waiting(self, now: float | None = None) -> list[Decision]:
        """Type the oldest waiting reply of each session whose screen is READY now; refuse
        those that waited longer than BUSY_WAIT_SECONDS or whose session ended. The relay
        calls this between IMAP events (and once per ``--once`` run)."""
        decisions: list[Decision] = []
        for item in waiting.heads(self.conn):
            decision = self._resume(item, time.time() if now is None else now)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _log_decision(self, mail: InboundMail, position: Position, decision: Decision) -> None:
        log = get_logger(message_id=mail.message_id, uid=position.uid)
        log.info("reply_processed", decision=decision.status, reason=decision.reason, session=decision.session)

    # -- the steps, in order

    def _plan(self, mail: InboundMail, position: Position) -> Decision | Planned:
        s = self.settings
        if mail.unreadable or mail.size > s.max_message_bytes:
            return self._drop(mail, position, mail.unreadable or self._too_large(mail))
        if is_foreign(self.conn, mail, s.host_id):
            return Decision("foreign", "reply to another machine's session; left for its relay")
        verdict = authenticate(
            mail,
            allowed_senders=s.allowed_senders,
            mode=self.mode,
            trusted_authserv_id=s.trusted_authserv_id,
            own_address=s.email_from,
            dkim_dns_timeout=s.dkim_dns_timeout,
            dkim_dns_server=s.dkim_dns_server,
        )
        entry, created = self._claim(mail, position)
        fault_point("after-claim")
        if not created and entry.final:
            return Decision("duplicate", f"already handled ({entry.status})")
        if not created and entry.status == "injecting":
            return self._fate_unknown(mail, entry, verdict.sender)
        if not created and entry.status == "waiting":
            return Decision("duplicate", "already waiting for its session to be ready")
        if not verdict.ok or verdict.sender is None:
            return self._finish(mail, entry, "dropped", verdict.reason, None, notify_to=None)
        sender = verdict.sender

        routed = route(self.conn, mail)
        if isinstance(routed, Unroutable):
            return self._finish(mail, entry, "refused", routed.reason, routed.session, notify_to=sender)
        session = routed.session
        unsigned = self._unsigned_thread(mail, routed.via, sender)
        if unsigned:
            return self._finish(mail, entry, "refused", unsigned, session, notify_to=sender)

        extraction = extract_reply(
            text=mail.text, html=mail.html, sent_texts=notifications.texts_for_session(self.conn, session.id)
        )
        if not extraction.ok or extraction.text is None:
            reason = extraction.refusal or "no new text found"
            return self._finish(mail, entry, "refused", reason, session, notify_to=sender)
        command = to_command(extraction.text)
        replay = dedupe.record_and_check_replay(self.conn, entry.id, sender=sender, session=session, mail=mail,
                                                text=command)
        if replay:
            return self._finish(mail, entry, "refused", replay, session, notify_to=sender)

        guarded = guard(command, session, self.conn, s)
        if isinstance(guarded, Refused):
            return self._finish(mail, entry, "refused", guarded.reason, session, notify_to=sender)

        return Planned(mail, entry, session, guarded, sender)

    def _inject(
        self, mail: InboundMail, entry: LedgerEntry, session: Session, text: str, sender: str, *,
        waited: float | None = None,
    ) -> Decision:
        target = _target(session)
        typed_preview = audit.preview(text)
        waiting.start_typing(self.conn, entry.id, session_id=session.id, sender=sender, text=text, raw=mail.raw,
                             preview=typed_preview or "")
        fault_point("before-inject")
        started = time.time()

        def submitted() -> bool:
            current = sessions.get(self.conn, session.id)
            return bool(current and current.last_prompt_at and current.last_prompt_at >= started)

        result = self.injector.inject(target, text, submitted=submitted)
        fault_point("after-inject")
        if result.outcome == InjectionOutcome.BUSY:  # nothing was typed: wait for READY
            return self._wait(mail, entry, session, text, sender, detail=result.detail)
        waiting.remove(self.conn, entry.id)  # decided below: the text is not kept
        if result.outcome == InjectionOutcome.TARGET_GONE:
            sessions.end(self.conn, session.id, reason="pane gone")
            reason = f"the terminal of session {session.name} no longer exists; the session is ended"
            return self._finish(mail, entry, "refused", reason, session, notify_to=sender)
        if result.outcome == InjectionOutcome.DIALOG_OPEN:
            reason = (
                f"session {session.name} is waiting on a permission dialog; answer it at the terminal, "
                "then reply again"
            )
            return self._finish(mail, entry, "refused", reason, session, notify_to=sender)
        if result.outcome == InjectionOutcome.FAILED:
            reason = f"could not type into session {session.name}: {result.detail or 'terminal error'}"
            return self._finish(mail, entry, "refused", reason, session, notify_to=sender)
        confirmed = result.outcome == InjectionOutcome.SUBMITTED
        reason = "submitted" if confirmed else f"typed; submission not confirmed ({result.detail})"
        if waited is not None:
            reason += f" after waiting {waited:.0f} s for claude to be ready"
        ledger.decide(self.conn, entry.id, "delivered", reason, session_id=session.id, preview=typed_preview)
        acknowledge.delivered(self.conn, self.settings, mail, sender, session, confirmed=confirmed, waited=waited)
        self._audit(mail, "delivered", reason, session, text)
        return Decision("delivered", reason, session.name, text)

    # -- waiting for a busy session

    def _wait(
        self, mail: InboundMail, entry: LedgerEntry, session: Session, text: str, sender: str, *, detail: str = ""
    ) -> Decision:
        """Park the reply until the session is READY (nothing was typed)."""
        limit = self.settings.busy_wait_seconds
        if limit <= 0:
            reason = f"claude is working in session {session.name} and BUSY_WAIT_SECONDS=0; reply again when it is done"
            return self._finish(mail, entry, "refused", reason, session, notify_to=sender)
        waiting.enqueue(self.conn, entry.id, session_id=session.id, sender=sender, text=text, raw=mail.raw,
                        preview=audit.preview(text) or "")
        why = detail or "replies before it are waiting"
        reason = f"waiting for session {session.name} to be ready ({why}); typed in order, or refused after {limit} s"
        self._audit(mail, "waiting", reason, session, None)
        return Decision("waiting", reason, session.name)

    def _resume(self, item: waiting.WaitingReply, now: float) -> Decision | None:
        entry = ledger.get(self.conn, item.entry_id)
        if entry is None or entry.final:  # decided before a crash removed the row
            waiting.remove(self.conn, item.entry_id)
            return None
        mail = parse(item.raw)
        session = sessions.get(self.conn, item.session_id)
        if entry.status == "injecting":  # the relay stopped while typing it
            decision = self._fate_unknown(mail, entry, item.sender)
        elif session is None or not session.live:
            name = session.name if session else "?"
            reason = f"session {name} ended while the reply waited for it; nothing was typed"
            decision = self._finish(mail, entry, "refused", reason, session, notify_to=item.sender)
        elif now - item.since > self.settings.busy_wait_seconds:
            reason = (f"claude was still working in session {session.name} after {self.settings.busy_wait_seconds} s "
                      "(BUSY_WAIT_SECONDS); nothing was typed, reply again")
            decision = self._finish(mail, entry, "refused", reason, session, notify_to=item.sender)
        else:
            state = self.injector.screen_state(_target(session))
            if state not in (ScreenState.READY, ScreenState.GONE):
                return None  # still busy (or a dialog is open): keep waiting
            decision = self._inject(mail, entry, session, item.text, item.sender, waited=now - item.since)
            if decision.status == "waiting":
                return None  # it became busy again before the first key
        waiting.remove(self.conn, item.entry_id)
        self._log_decision(mail, Position(), decision)
        return decision

    # -- the header screen (fetch calls it before downloading a body)

    def screen(self, header: bytes, size: int, position: Position = Position()) -> Decision | None:
        """Judge a message by its header section and size alone, before its body is downloaded.

        Returns the final :class:`Decision` (``dropped``, or ``duplicate`` /
        ``foreign``; in the ledger and the audit log like any other) for a message
        that must not be downloaded, or None: download it and :meth:`process` it,
        which checks everything again on the whole message. Over MAX_MESSAGE_BYTES,
        no single reading of the header, or not authenticated as far as the header
        can tell: dropped, nothing sent back.
        """
        mail = parse_header(header, size)
        try:
            decision = self._screen(mail, position)
        except Exception as exc:  # noqa: BLE001 - the full pipeline decides (and records) instead
            get_logger(uid=position.uid).warning("screen_failed", error=f"{exc.__class__.__name__}: {exc}")
            return None
        if decision is not None:
            self._log_decision(mail, position, decision)
        return decision

    def _screen(self, mail: InboundMail, position: Position) -> Decision | None:
        s = self.settings
        if not mail.unreadable and is_foreign(self.conn, mail, s.host_id):
            return Decision("foreign", "reply to another machine's session; left for its relay")
        if mail.size > s.max_message_bytes:
            return self._drop(mail, position, self._too_large(mail))
        if mail.unreadable:
            return self._drop(mail, position, mail.unreadable)
        verdict = self._header_verdict(mail)
        if not verdict.ok:
            return self._drop(mail, position, f"{verdict.reason} (judged on the header; not downloaded)")
        return None

    def _header_verdict(self, mail: InboundMail) -> AuthVerdict:
        """authenticate() as far as a header can tell: all of it for authres and none;
        for dkim, everything but the signature's cryptography (which needs the body)."""
        s = self.settings
        mode = "none" if self.mode == "dkim" else self.mode
        verdict = authenticate(mail, allowed_senders=s.allowed_senders, mode=mode,
                               trusted_authserv_id=s.trusted_authserv_id, own_address=s.email_from)
        if self.mode != "dkim" or not verdict.ok or verdict.sender is None:
            return verdict
        checked = dkim_verify.precheck(mail.raw, verdict.sender.rpartition("@")[2])
        return AuthVerdict(checked.ok, checked.reason, verdict.sender if checked.ok else None)

    def _too_large(self, mail: InboundMail) -> str:
        return f"message is {mail.size:,} bytes, over MAX_MESSAGE_BYTES ({self.settings.max_message_bytes:,})"

    def _drop(self, mail: InboundMail, position: Position, reason: str) -> Decision:
        """Claim the ledger row and record ``dropped`` (nothing sent back), unless already decided."""
        entry, created = self._claim(mail, position)
        if not created and entry.final:
            return Decision("duplicate", f"already handled ({entry.status})")
        if not created and entry.status == "injecting":  # typed by an earlier run under other settings
            return self._fate_unknown(mail, entry, None)
        return self._finish(mail, entry, "dropped", reason, None, notify_to=None)

    def _unsigned_thread(self, mail: InboundMail, via: str, sender: str) -> str | None:
        """A reply routed by its thread alone must have that thread signed.

        Without the ``[TaskPing #TOKEN]`` tag in the (signed) Subject, In-Reply-To
        and References alone pick the session; a DKIM signature that does not
        cover them lets anyone holding a copy of one genuine reply point it at
        another session. Mail clients keep the tag in "Re:" subjects, so this
        only refuses a reply whose subject was rewritten.
        """
        if via != "thread" or self.mode == "none":
            return None
        present = [name for name, values in (("in-reply-to", mail.in_reply_to), ("references", mail.references))
                   if values]
        if dkim_verify.signs_all(mail.raw, sender.rpartition("@")[2], present):
            return None
        return ("the subject has no [TaskPing #…] tag and the In-Reply-To/References headers that name the session "
                "are not covered by your DKIM signature; reply keeping the tag in the subject")

    # -- endings

    def _finish(
        self,
        mail: InboundMail,
        entry: LedgerEntry,
        status: str,
        reason: str,
        session: Session | None,
        *,
        notify_to: str | None,
    ) -> Decision:
        ledger.decide(self.conn, entry.id, status, reason, session_id=session.id if session else None)  # type: ignore[arg-type]  # status: str until the statuses are one enum (issue 9)
        if notify_to is not None:
            acknowledge.refused(self.conn, self.settings, mail, notify_to, session, reason)
        self._audit(mail, status, reason, session, None)
        return Decision(status, reason, session.name if session else None)

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

    def _internal_error(self, mail: InboundMail, position: Position, exc: Exception) -> Decision:
        """A step raised: record the message as not processed (nothing was typed; the
        injection is not part of :meth:`plan`), tell an authenticated sender, go on."""
        get_logger(message_id=mail.message_id, uid=position.uid).error(
            "reply_step_failed", error=f"{exc.__class__.__name__}: {exc}"
        )
        entry, _created = self._claim(mail, position)
        if entry.final:  # the step that raised came after the decision was written
            return Decision(entry.status, entry.reason or "", None)
        reason = f"could not be processed ({exc.__class__.__name__}); nothing was typed"
        sender = None
        try:
            s = self.settings
            verdict = authenticate(mail, allowed_senders=s.allowed_senders, mode=self.mode,
                                   trusted_authserv_id=s.trusted_authserv_id, own_address=s.email_from,
                                   dkim_dns_timeout=s.dkim_dns_timeout, dkim_dns_server=s.dkim_dns_server)
            sender = verdict.sender if verdict.ok else None
        except Exception:  # noqa: BLE001 - without a verdict the sender is unknown: nothing is mailed back
            sender = None
        try:
            return self._finish(mail, entry, "refused" if sender else "dropped", reason, None, notify_to=sender)
        except Exception:  # noqa: BLE001 - the refusal email itself failed: the ledger still gets the decision
            ledger.decide(self.conn, entry.id, "dropped", reason)
            return Decision("dropped", reason)


    def _fate_unknown(self, mail: InboundMail, entry: LedgerEntry, sender: str | None) -> Decision:
        """The relay stopped while typing this reply: never typed again; the sender is told. What it
        may have left in the input box is erased when the box holds nothing but a piece of it."""
        session = sessions.get(self.conn, entry.session_id)
        reason = "the relay stopped while typing this reply; it is not typed again"
        text = waiting.text_of(self.conn, entry.id)
        if session is not None and session.live and text:
            self.injector.discard(_target(session), text)
        ledger.decide(self.conn, entry.id, "unknown", reason)
        waiting.remove(self.conn, entry.id)
        if sender is not None:
            acknowledge.fate_unknown(self.conn, self.settings, mail, sender, session)
        self._audit(mail, "unknown", reason, session, entry.preview)
        return Decision("unknown", reason, session.name if session else None)

    def _audit(self, mail: InboundMail, decision: str, reason: str, session: Session | None, typed: str | None) -> None:
        audit.write(
            self.settings.audit_path,
            message_id=mail.message_id,
            sender=mail.sole_sender,
            session=session.name if session else None,
            decision=decision,
            reason=reason,
            typed=typed,
        )


def _target(session: Session) -> Target:
    return Target(kind=session.kind, socket=session.target_socket, pane=session.target_pane)
