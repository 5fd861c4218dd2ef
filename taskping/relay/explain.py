"""``taskping explain``: the relay's decision on a saved message, step by step, changing nothing.

"Why wasn't my reply typed?" has one honest answer: what the relay itself
would decide. So this module runs the relay's own step functions, in the
relay's order (:meth:`taskping.relay.pipeline.Pipeline._plan` and the header
screen of :mod:`taskping.relay.fetch`), and records which step stopped the
message and why:

``parse`` (the canonical reading, size) → ``screen`` (what the relay decides
from the header alone: another machine's reply, header-only authentication)
→ ``dedupe`` (the ledger's message key: handled before?) → ``authenticate`` →
``route`` (with the signed-thread rule) → ``extract`` → ``replay`` (dedupe's
second half: the same reply re-sent) → ``guard``. Each step that stops the
message says its stable reason code (:class:`~taskping.session_map.vocabulary.Code`).

Nothing is written to the real session map, nothing is typed and no mail is
sent: the session map is opened read-only (``mode=ro``) and copied into
memory (:func:`snapshot`), and the steps that record something (the ledger
claim, the replay keys) write to that copy only, which is then thrown away.
So the replay check is the relay's own, keys and all, without keeping any.

What it cannot tell: whether the terminal is READY at the moment of typing
(the injector reads the screen right before the first key) and DNS answers
for SENDER_AUTH=dkim at another moment.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from taskping.config import Settings
from taskping.relay import dedupe
from taskping.relay.canonical import MAX_HEADER_SECTION, scan
from taskping.relay.commands import FRESH, Name, fresh_text, not_a_command, parse_command
from taskping.relay.guard import guard
from taskping.relay.parse import InboundMail, parse, parse_header
from taskping.relay.pipeline import Pipeline, extract_command
from taskping.relay.route import is_foreign, route
from taskping.session_map import ledger, waiting
from taskping.session_map.db import SchemaTooNew, memory_copy
from taskping.session_map.vocabulary import Code, Refusal, Status

STEPS = ("parse", "screen", "dedupe", "authenticate", "route", "extract", "replay", "command", "guard")


class SnapshotError(Exception):
    """The session map cannot be read (not a TaskPing map, or a newer schema)."""


@dataclass(frozen=True)
class Verdict:
    """One step's verdict: ``ok`` False is where the relay stops (refused or dropped)."""

    step: str
    ok: bool
    reason: str
    code: Code | None = None  # the stable reason code where the step stopped the message


@dataclass
class Explanation:
    """The steps that ran, in order, and the text the relay would type (None: nothing)."""

    steps: list[Verdict] = field(default_factory=list)
    would_type: str | None = None
    session: str | None = None

    @property
    def typed(self) -> bool:
        return self.would_type is not None

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` shape: ``{"steps": [{"step", "ok", "code", "reason"}], "would_type": str|null}``."""
        return {
            "steps": [
                {"step": s.step, "ok": s.ok, "code": None if s.code is None else str(s.code), "reason": s.reason}
                for s in self.steps
            ],
            "would_type": self.would_type,
        }


class _NoTerminal:
    """The injector of a dry run: the Pipeline object is only used for its read-only checks."""

    def inject(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never types")

    def discard(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never types")

    def press_escape(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never types")

    def read_lines(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never reads a terminal")

    def remove_dead(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never closes a terminal")

    def screen_state(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never reads a terminal")

    def exists(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never reads a terminal")


def snapshot(path: Path) -> sqlite3.Connection:
    """An in-memory copy of the session map at ``path`` (:func:`taskping.session_map.db.memory_copy`).

    A missing file gives an empty map of the current schema (no session will
    match), so a message can be explained before the first session exists; an
    older schema is migrated in the copy, as the relay would migrate the file.
    """
    try:
        return memory_copy(path)
    except SchemaTooNew as exc:
        raise SnapshotError(str(exc)) from None
    except sqlite3.Error as exc:
        raise SnapshotError(f"cannot read the session map {str(path)!r}: {exc}") from None


def header_section(raw: bytes) -> bytes:
    """What the relay's fetch step downloads first (``BODY.PEEK[HEADER]``, at most MAX_HEADER_SECTION)."""
    return raw[: min(scan(raw).end, MAX_HEADER_SECTION)]


class _Run:
    """One explanation being built; each method is one step and returns False to stop."""

    def __init__(self, raw: bytes, settings: Settings, conn: sqlite3.Connection) -> None:
        self.raw = raw
        self.settings = settings
        self.conn = conn
        self.pipeline = Pipeline(settings, conn, _NoTerminal())
        self.out = Explanation()
        self.current = STEPS[0]

    def say(self, step: str, ok: bool, reason: str, code: Code | None = None) -> bool:
        """Record a verdict; the step after it becomes the current one (named if it raises)."""
        self.out.steps.append(Verdict(step, ok, reason, code))
        self.current = STEPS[min(STEPS.index(step) + 1, len(STEPS) - 1)]
        return ok

    def run(self) -> Explanation:
        mail = parse(self.raw)
        if not self.say_parse(mail) or not self.say_screen():
            return self.out
        try:
            self.rest(mail)
        except Exception as exc:  # noqa: BLE001 - the relay records such a message as not processed
            self.say(
                self.current,
                False,
                f"could not be processed ({exc.__class__.__name__}); nothing would be typed",
                Code.INTERNAL_ERROR,
            )
            self.out.would_type = None
        return self.out

    def say_parse(self, mail: InboundMail) -> bool:
        if mail.unreadable:
            return self.say("parse", False, f"dropped: {mail.unreadable}", Code.UNREADABLE)
        if mail.size > self.settings.max_message_bytes:
            return self.say(
                "parse",
                False,
                f"dropped: message is {mail.size:,} bytes, over MAX_MESSAGE_BYTES "
                f"({self.settings.max_message_bytes:,})",
                Code.TOO_LARGE,
            )
        return self.say("parse", True, f"one reading; From {mail.sole_sender or '?'}, {mail.size:,} bytes")

    def say_screen(self) -> bool:
        header = parse_header(header_section(self.raw), len(self.raw))
        if not header.unreadable and is_foreign(self.conn, header, self.settings.host_id):
            return self.say(
                "screen", False, "left alone: a reply to another machine's session, for its relay", Code.FOREIGN
            )
        if header.unreadable:
            return self.say("screen", False, f"dropped: {header.unreadable} (judged on the header)", Code.UNREADABLE)
        verdict = self.pipeline._header_verdict(header)
        if isinstance(verdict, Refusal):
            return self.say(
                "screen", False, f"dropped: {verdict.reason} (judged on the header; not downloaded)", verdict.code
            )
        return self.say("screen", True, "the header passes; the relay would download the whole message")

    def refused(self, refusal: Refusal, *, told: bool = True) -> None:
        """A step said no: the relay refuses (tells the sender) or, before authentication, drops."""
        self.say(
            str(refusal.step),
            False,
            f"{'refused' if told else 'dropped (nothing sent back)'}: {refusal.reason}",
            refusal.code,
        )

    def rest(self, mail: InboundMail) -> None:
        s = self.settings
        entry, created = ledger.claim(  # in the in-memory copy only
            self.conn,
            message_key=mail.message_key,
            message_id=mail.message_id,
            content_hash=mail.content_hash,
            folder=None,
            uidvalidity=None,
            uid=None,
            sender=mail.sole_sender,
        )
        if not created:
            return self._seen_before(entry)
        self.say("dedupe", True, "not handled before (no ledger entry)")

        verdict = self.pipeline._authenticate(mail)
        if isinstance(verdict, Refusal):
            return self.refused(verdict, told=False)
        sender = verdict.sender
        self.say("authenticate", True, f"{sender}: {verdict.reason}")

        routed = route(self.conn, mail, resume_gone=self.settings.resume_gone_sessions)
        if isinstance(routed, Refusal) and routed.code == Code.NOT_A_REPLY:
            return self._fresh(mail, routed)
        if isinstance(routed, Refusal):
            return self.refused(routed)
        session = routed.session
        unsigned = self.pipeline._unsigned_thread(mail, routed, sender)
        if unsigned is not None:
            return self.refused(unsigned)
        self.out.session = session.name
        back = "" if session.live else "; it has ended, and the reply would resume it (claude --resume)"
        self.say("route", True, f"session {session.name} (matched by {routed.via.replace('+', ' and ')}){back}")

        command = extract_command(self.conn, mail, session)
        if isinstance(command, Refusal):
            return self.refused(command)
        self.say("extract", True, f"{len(command.text)} characters of new text from the {command.source} body")

        replay = dedupe.record_and_check_replay(
            self.conn, entry.id, sender=sender, session=session, mail=mail, text=command.text
        )
        if replay is not None:
            return self.refused(replay)
        self.say("replay", True, "not a replay of a reply already typed")

        reply_command = parse_command(command.text)
        if reply_command is not None:
            self.say(
                "command",
                True,
                f"{reply_command.describe()} is a reply command: run and answered in the thread, never typed",
                Code(f"command-{reply_command.name}"),
            )
            return None

        guarded = guard(command.text, session, self.conn, s)
        if isinstance(guarded, Refusal):
            return self.refused(guarded)
        notes = [f"changed: {', '.join(guarded.codes())}"] if guarded.changed else []
        if waiting.has_waiting(self.conn, session.id):
            notes.append("would wait behind the replies already waiting for this session")
        notes.append("typed only when claude's screen is ready (read at typing time)")
        self.say("guard", True, "allowed; " + "; ".join(notes))
        self.out.would_type = guarded.text

    def _fresh(self, mail: InboundMail, not_a_reply: Refusal) -> None:
        """A mail that answers no session: a ``#help``/``#status``/``#new`` command, or refused."""
        text = fresh_text(mail)
        command = parse_command(text) if text is not None else None
        if command is None or command.name not in FRESH:
            return self.refused(not_a_command(not_a_reply))
        self.say("route", True, "a new email, not a reply: a command for this machine")
        self.say(
            "command",
            True,
            f"{command.describe()} in a new email: run and answered in a new thread, never typed (the relay "
            "also refuses a copy of one already run"
            + (", and checks ALLOWED_ROOTS and @HOST)" if command.name == Name.NEW else ")"),
            Code(f"command-{command.name}"),
        )
        return None

    def _seen_before(self, entry: ledger.LedgerEntry) -> None:
        if entry.final:
            why = f": {entry.reason}" if entry.reason else ""
            self.say(
                "dedupe",
                False,
                f"already handled by the relay ({entry.status}{why}); it is not read again",
                Code.DUPLICATE,
            )
        elif entry.status == Status.INJECTING:
            self.say(
                "dedupe", False, "the relay stopped while typing this reply; it is not typed again", Code.FATE_UNKNOWN
            )
        elif entry.status == Status.WAITING:
            self.say("dedupe", False, "already waiting for its session to be ready", Code.DUPLICATE)
        else:
            self.say(
                "dedupe", False, f"already in the ledger ({entry.status}); the relay is deciding it", Code.DUPLICATE
            )


def explain(raw: bytes, settings: Settings, conn: sqlite3.Connection) -> Explanation:
    """Run the relay's steps on ``raw`` against ``conn`` (a :func:`snapshot`: it is written to).

    Raises ConfigError (from the settings) like the relay would at start.
    """
    return _Run(raw, settings, conn).run()
