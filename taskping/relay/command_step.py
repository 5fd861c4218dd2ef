"""The command step: a reply (or a fresh email) that is a ``#command`` is run and answered,
never typed (:mod:`taskping.relay.commands` parses it).

Part of :class:`~taskping.relay.pipeline.Pipeline` (a base class it inherits), kept apart so
the pipeline module stays the steps' order and bookkeeping. What it does:

* a **fresh email** (route found no session: ``not-a-reply``) runs ``#help``, ``#status`` or
  ``#new`` after its own replay check (:func:`taskping.relay.dedupe.record_and_check_fresh_replay`),
  and is answered in a new thread; a ``#new @HOST`` naming another machine is left untouched
  (``foreign``); anything else stays refused as not a reply, pointing at ``#help``;
* ``#new`` (:mod:`taskping.relay.new_session`) checks everything, its first prompt's guard
  included, before it starts anything; then marks the row ``injecting`` (committed), starts the
  session, threads it under the ``#new`` mail and types the prompt through the Injector;
* ``#close`` is refused while replies wait for the session; otherwise ``/exit`` is typed like a
  reply (row ``injecting`` first), and the pane, once claude exited, is removed if tmux kept it.

Every ending goes through the pipeline's ``_end``/``_refuse``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import TYPE_CHECKING

from taskping.config import Settings
from taskping.faults import fault_point
from taskping.injectors import InjectionOutcome, InjectionResult, Injector, Target
from taskping.relay import audit, dedupe, new_session
from taskping.relay.commands import (
    FRESH,
    Name,
    ReplyCommand,
    fresh_text,
    help_lines,
    not_a_command,
    parse_command,
    plain_lines,
    status_lines,
)
from taskping.relay.guard import guard_prompt
from taskping.relay.outcome import Outcome
from taskping.relay.parse import InboundMail
from taskping.session_map import ledger, sessions, waiting
from taskping.session_map.ledger import LedgerEntry
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import Code, EndReason, Refusal, Status, Step
from taskping.tokens import host_part

if TYPE_CHECKING:
    from taskping.relay.pipeline import Position

#: How long ``#close`` waits for claude to exit after typing ``/exit``.
CLOSE_WAIT_SECONDS = 10.0


def target_of(session: Session) -> Target:
    return Target(kind=session.kind, socket=session.target_socket, pane=session.target_pane)


class CommandStep:
    """The command step's methods; :class:`~taskping.relay.pipeline.Pipeline` provides the rest."""

    settings: Settings
    conn: sqlite3.Connection
    injector: Injector
    _step: Step

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
        raise NotImplementedError  # the pipeline's

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
    ) -> Outcome:
        raise NotImplementedError  # the pipeline's

    def _fresh(
        self, mail: InboundMail, position: Position, entry: LedgerEntry, sender: str, not_a_reply: Refusal
    ) -> Outcome:
        """A mail that answers no session: run it when it is ``#help``, ``#status`` or ``#new``
        (see :mod:`taskping.relay.commands`), else refuse it as not a reply, pointing at ``#help``."""
        self._step = Step.EXTRACT
        text = fresh_text(mail)
        command = parse_command(text) if text is not None else None
        if command is None or command.name not in FRESH:
            return self._refuse(mail, position, entry, not_a_command(not_a_reply), tell=sender)
        if command.host is not None and not new_session.names_this_machine(command.host, self.settings.host_id):
            return self._leave_for(mail, position, entry, command)
        self._step = Step.REPLAY
        replay = dedupe.record_and_check_fresh_replay(
            self.conn,
            entry.id,
            sender=sender,
            host=host_part(self.settings.host_id),
            mail=mail,
            text=text or "",
            read_only=command.name != Name.NEW,
        )
        if replay is not None:
            return self._refuse(mail, position, entry, replay, tell=sender)
        self._step = Step.COMMAND
        if command.name == Name.NEW:
            return self._new(mail, position, entry, command, sender, None)
        return self._answer(mail, position, entry, None, command, sender, self._read_only_answer(command))

    def _leave_for(self, mail: InboundMail, position: Position, entry: LedgerEntry, command: ReplyCommand) -> Outcome:
        """A fresh ``#new @HOST`` for another machine: left untouched for its relay (``foreign``)."""
        reason = f"{command.describe()} names another machine; left for its relay"
        outcome = Outcome(Status.FOREIGN, reason, step=Step.COMMAND, code=Code.FOREIGN)
        return self._end(mail, position, entry, outcome, None)

    def _read_only_answer(self, command: ReplyCommand) -> list[str]:
        if command.name == Name.HELP:
            return [*help_lines(), f"This is {new_session.this_machine(self.settings.host_id)}."]
        return status_lines(
            sessions.all_sessions(self.conn), time.time(), new_session.this_machine(self.settings.host_id)
        )

    def _answer(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        session: Session | None,
        command: ReplyCommand,
        sender: str,
        lines: list[str],
        pre: list[str] | None = None,
        *,
        typed: str | None = None,
    ) -> Outcome:
        """A command that ran: ``answered``, its answer in the thread (a new one for a fresh email)."""
        outcome = Outcome(
            Status.ANSWERED,
            f"answered {command.describe()}",
            session.name if session else None,
            typed,
            Step.COMMAND,
            Code(f"command-{command.name}"),
        )
        preview = audit.preview(typed) if typed else None
        return self._end(mail, position, entry, outcome, session, tell=sender, answer=(lines, pre), preview=preview)

    def _command_refused(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        session: Session | None,
        sender: str,
        code: Code,
        reason: str,
    ) -> Outcome:
        refusal = Refusal(Step.COMMAND, code, reason)
        return self._refuse(mail, position, entry, refusal, tell=sender, session=session)

    def _command(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        session: Session,
        reply_command: ReplyCommand,
        sender: str,
    ) -> Outcome:
        """The command step: run a reply command and answer it (see :mod:`taskping.relay.commands`);
        a terminal that cannot be read or sent the key is a refusal (``command-failed``)."""
        target, name, pre = target_of(session), reply_command.name, None
        failed: str | None = None
        if name in (Name.HELP, Name.STATUS):
            lines = self._read_only_answer(reply_command)
        elif name == Name.NEW:
            return self._new(mail, position, entry, reply_command, sender, session)
        elif name == Name.CLOSE:
            return self._close(mail, position, entry, session, reply_command, sender)
        elif name == Name.SCREEN:
            rows = self.injector.read_lines(target, reply_command.lines)
            pre = plain_lines(rows or [], reply_command.lines)
            lines = [f"The last {len(pre)} line(s) of session {session.name}'s terminal:"]
            failed = None if rows is not None else f"could not read the terminal of session {session.name}"
        else:
            lines = [f"Pressed Escape in session {session.name}: Claude stops its current turn, if it had one."]
            if not self.injector.press_escape(target):
                failed = f"could not press Escape in session {session.name}: its terminal is gone or not answering"
        if failed is not None:
            return self._command_refused(mail, position, entry, session, sender, Code.COMMAND_FAILED, failed)
        return self._answer(mail, position, entry, session, reply_command, sender, lines, pre)

    def _close(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        session: Session,
        command: ReplyCommand,
        sender: str,
    ) -> Outcome:
        """``#close``: refused while replies wait for the session (they would be lost); otherwise
        ``/exit`` is typed like a reply (the row ``injecting`` first, only into an idle claude), then
        the pane is waited for and, when its command exited but the pane stayed, removed."""
        if not session.live:  # its terminal is gone: closed for good (never resumed)
            sessions.end(self.conn, session.id, reason=EndReason.CLOSED, replace_reason=True)
            lines = [f"Session {session.name} had already ended; it is now closed and will not be resumed."]
            return self._answer(mail, position, entry, session, command, sender, lines)
        if waiting.has_waiting(self.conn, session.id):
            reason = (
                f"replies are waiting to be typed into session {session.name}; #close is refused until they are "
                "(send #esc to stop Claude's turn, or #close again later)"
            )
            return self._command_refused(mail, position, entry, session, sender, Code.CLOSE_REPLIES_WAITING, reason)
        target = target_of(session)
        waiting.start_typing(
            self.conn, entry.id, session_id=session.id, sender=sender, text="/exit", raw=mail.raw, preview="/exit"
        )
        fault_point("before-inject")
        result = self.injector.inject(target, "/exit")  # only into an idle claude, like any reply
        waiting.remove(self.conn, entry.id)
        failed: str | None = None
        if result.outcome == InjectionOutcome.BUSY:
            failed = f"could not close session {session.name}: Claude is working (send #esc first)"
        elif result.outcome == InjectionOutcome.DIALOG_OPEN:
            failed = f"could not close session {session.name}: a permission dialog is open; answer it first"
        elif result.outcome != InjectionOutcome.TARGET_GONE and not result.delivered:
            failed = f"could not close session {session.name}: {result.detail or result.outcome.value}"
        if failed is not None:
            return self._command_refused(mail, position, entry, session, sender, Code.COMMAND_FAILED, failed)
        deadline = time.monotonic() + CLOSE_WAIT_SECONDS
        gone = self.injector.remove_dead(target)
        while not gone and time.monotonic() < deadline:
            time.sleep(0.1)
            gone = self.injector.remove_dead(target)
        if gone:
            sessions.end(self.conn, session.id, reason=EndReason.CLOSED, replace_reason=True)
            lines = [f"Typed /exit into session {session.name}: Claude Code exited and its terminal is closed."]
        else:
            lines = [
                (
                    f"Typed /exit into session {session.name}, but its terminal was still running something "
                    f"{CLOSE_WAIT_SECONDS:g} s later; it was left as it is."
                )
            ]
        return self._answer(mail, position, entry, session, command, sender, lines, typed="/exit")

    def _new(
        self,
        mail: InboundMail,
        position: Position,
        entry: LedgerEntry,
        command: ReplyCommand,
        sender: str,
        replying_to: Session | None,
    ) -> Outcome:
        """``#new [@HOST] DIR [prompt]`` (see :mod:`taskping.relay.new_session`): every check, the
        prompt's guard included, before anything starts; then the row ``injecting``, the session
        started, threaded under this mail, and the prompt typed once claude is READY."""
        s = self.settings
        machine = new_session.this_machine(s.host_id)

        def no(code: Code, reason: str) -> Outcome:
            return self._command_refused(mail, position, entry, replying_to, sender, code, reason)

        if not s.allowed_roots:
            return no(
                Code.NEW_NO_ROOTS,
                f"#new is off on {machine}: set ALLOWED_ROOTS to the directories #new may start sessions in, "
                "then restart the relay",
            )
        if command.host is not None and not new_session.names_this_machine(command.host, s.host_id):
            return no(Code.NEW_NEEDS_HOST, f"@{command.host} is not this machine ({machine}); send it as a new email")
        if command.host is None and replying_to is None and ledger.seen_foreign(self.conn):
            return no(
                Code.NEW_NEEDS_HOST,
                f"several machines read this mailbox, so #new must name one: #new @HOST DIR (this is {machine})",
            )
        directory = new_session.allowed_directory(command.directory, s.allowed_roots)
        if isinstance(directory, str):
            return no(Code.NEW_DIR_NOT_ALLOWED, directory)
        guarded = None
        if command.prompt:
            self._step = Step.GUARD
            checked = guard_prompt(command.prompt, s)
            if isinstance(checked, Refusal):
                return self._refuse(mail, position, entry, checked, tell=sender, session=replying_to)
            guarded = checked
        self._step = Step.COMMAND
        ledger.start_command(self.conn, entry.id, preview=audit.preview(guarded.text) if guarded else None)
        fault_point("before-new")
        started = new_session.start(s, directory, os.environ)
        if isinstance(started, str):
            return no(Code.NEW_FAILED, f"could not start claude in {directory}: {started}")
        found = sessions.by_token(self.conn, started.spawned.token)
        assert found is not None  # spawn registered it
        ledger.attach_session(self.conn, entry.id, found.id)
        if mail.message_id:
            sessions.set_thread_root(self.conn, found.id, mail.message_id)
        session = sessions.get(self.conn, found.id) or found
        attach = f"tmux attach -t {session.name}"
        if os.environ.get("TMUX"):
            attach = f"tmux -S {started.spawned.socket} attach -t {session.name}"
        lines = [
            f"Started session {session.name} in {directory} on {machine} (in tmux: #new always uses tmux).",
            f"Attach to it with: {attach}",
        ]
        if guarded is None:
            lines.append("Reply to this mail to type a prompt into it.")
        else:
            result = self._type_first_prompt(session, guarded.text)
            if result.delivered:
                lines.append("Typed your prompt into it; Claude's answer comes in this thread.")
            elif result.outcome == InjectionOutcome.DIALOG_OPEN:
                lines.append(
                    "Your prompt was not typed: Claude shows a dialog. Answer it at the terminal, then reply to "
                    "this mail to type the prompt."
                )
            else:
                lines.append(
                    f"Your prompt was not typed ({result.detail or result.outcome.value}); reply to this mail to "
                    "type it."
                )
        return self._answer(
            mail, position, entry, session, command, sender, lines, typed=guarded.text if guarded else None
        )

    def _type_first_prompt(self, session: Session, text: str) -> InjectionResult:
        started = time.time()

        def submitted() -> bool:
            current = sessions.get(self.conn, session.id)
            return bool(current and current.last_prompt_at and current.last_prompt_at >= started)

        return self.injector.inject(target_of(session), text, submitted=submitted)
