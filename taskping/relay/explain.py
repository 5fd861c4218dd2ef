"""``taskping explain``: the relay's decision on a saved message, step by step, changing nothing.

"Why wasn't my reply typed?" has one honest answer: what the relay itself
would decide. So this module runs the relay's own step functions, in the
relay's order (:meth:`taskping.relay.pipeline.Pipeline._plan` and the header
screen of :mod:`taskping.relay.fetch`), and records which step stopped the
message and why:

``parse`` (the canonical reading, size) → ``screen`` (what the relay decides
from the header alone: another machine's reply, header-only authentication)
→ ``dedupe`` (the ledger: handled before?) → ``authenticate`` → ``route``
(with the signed-thread rule) → ``extract`` → ``replay`` → ``guard``.

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
from taskping.relay.authenticate import authenticate
from taskping.relay.canonical import MAX_HEADER_SECTION, scan
from taskping.relay.extract import extract_reply, to_command
from taskping.relay.guard import Refused, guard
from taskping.relay.parse import InboundMail, parse, parse_header
from taskping.relay.pipeline import Pipeline
from taskping.relay.route import Unroutable, is_foreign, route
from taskping.session_map import ledger, notifications, waiting
from taskping.session_map.db import SCHEMA_VERSION

STEPS = ("parse", "screen", "dedupe", "authenticate", "route", "extract", "replay", "guard")


class SnapshotError(Exception):
    """The session map cannot be read (not a TaskPing map, or a newer schema)."""


@dataclass(frozen=True)
class Step:
    """One step's verdict: ``ok`` False is where the relay stops (refused or dropped)."""

    step: str
    ok: bool
    reason: str


@dataclass
class Explanation:
    """The steps that ran, in order, and the text the relay would type (None: nothing)."""

    steps: list[Step] = field(default_factory=list)
    would_type: str | None = None
    session: str | None = None

    @property
    def typed(self) -> bool:
        return self.would_type is not None

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` shape: ``{"steps": [{"step", "ok", "reason"}], "would_type": str|null}``."""
        return {
            "steps": [{"step": s.step, "ok": s.ok, "reason": s.reason} for s in self.steps],
            "would_type": self.would_type,
        }


class _NoTerminal:
    """The injector of a dry run: the Pipeline object is only used for its read-only checks."""

    def inject(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never types")

    def discard(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never types")

    def screen_state(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never reads a terminal")

    def exists(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("taskping explain never reads a terminal")


def snapshot(path: Path) -> sqlite3.Connection:
    """An in-memory copy of the session map at ``path``, read through a read-only connection.

    A missing file gives an empty map of the current schema (no session will
    match), so a message can be explained before the first session exists; an
    older schema is migrated in the copy, as the relay would migrate the file.
    """
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    memory.row_factory = sqlite3.Row
    if path.exists():
        try:
            source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=15)
            try:
                source.backup(memory)
            finally:
                source.close()
            version = memory.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            memory.close()
            raise SnapshotError(f"cannot read the session map {str(path)!r}: {exc}") from None
        if version > SCHEMA_VERSION:
            memory.close()
            raise SnapshotError(
                f"the session map {str(path)!r} has schema v{version}, newer than this TaskPing (v{SCHEMA_VERSION})"
            )
    from taskping.session_map.db import _migrate  # an older or missing schema brought up to date in memory only

    _migrate(memory)
    memory.execute("PRAGMA foreign_keys = ON")
    return memory


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

    def say(self, step: str, ok: bool, reason: str) -> bool:
        """Record a verdict; the step after it becomes the current one (named if it raises)."""
        self.out.steps.append(Step(step, ok, reason))
        self.current = STEPS[min(STEPS.index(step) + 1, len(STEPS) - 1)]
        return ok

    def run(self) -> Explanation:
        mail = parse(self.raw)
        if not self.say_parse(mail) or not self.say_screen():
            return self.out
        try:
            self.rest(mail)
        except Exception as exc:  # noqa: BLE001 - the relay records such a message as not processed
            self.say(self.current, False, f"could not be processed ({exc.__class__.__name__}); nothing would be typed")
            self.out.would_type = None
        return self.out

    def say_parse(self, mail: InboundMail) -> bool:
        if mail.unreadable:
            return self.say("parse", False, f"dropped: {mail.unreadable}")
        if mail.size > self.settings.max_message_bytes:
            return self.say("parse", False, f"dropped: message is {mail.size:,} bytes, over MAX_MESSAGE_BYTES "
                                            f"({self.settings.max_message_bytes:,})")
        return self.say("parse", True, f"one reading; From {mail.sole_sender or '?'}, {mail.size:,} bytes")

    def say_screen(self) -> bool:
        header = parse_header(header_section(self.raw), len(self.raw))
        if not header.unreadable and is_foreign(self.conn, header, self.settings.host_id):
            return self.say("screen", False, "left alone: a reply to another machine's session, for its relay")
        if header.unreadable:
            return self.say("screen", False, f"dropped: {header.unreadable} (judged on the header)")
        verdict = self.pipeline._header_verdict(header)
        if not verdict.ok:
            return self.say("screen", False, f"dropped: {verdict.reason} (judged on the header; not downloaded)")
        return self.say("screen", True, "the header passes; the relay would download the whole message")

    def rest(self, mail: InboundMail) -> None:
        s = self.settings
        entry, created = ledger.claim(  # in the in-memory copy only
            self.conn, message_key=mail.message_key, message_id=mail.message_id, content_hash=mail.content_hash,
            folder=None, uidvalidity=None, uid=None, sender=mail.sole_sender,
        )
        if not created:
            return self._seen_before(entry)
        self.say("dedupe", True, "not handled before (no ledger entry)")

        verdict = authenticate(mail, allowed_senders=s.allowed_senders, mode=self.pipeline.mode,
                               trusted_authserv_id=s.trusted_authserv_id, own_address=s.email_from,
                               dkim_dns_timeout=s.dkim_dns_timeout, dkim_dns_server=s.dkim_dns_server)
        if not verdict.ok or verdict.sender is None:
            self.say("authenticate", False, f"dropped (nothing sent back): {verdict.reason}")
            return
        sender = verdict.sender
        self.say("authenticate", True, f"{sender}: {verdict.reason}")

        routed = route(self.conn, mail)
        if isinstance(routed, Unroutable):
            self.say("route", False, f"refused: {routed.reason}")
            return
        session = routed.session
        unsigned = self.pipeline._unsigned_thread(mail, routed.via, sender)
        if unsigned:
            self.say("route", False, f"refused: {unsigned}")
            return
        self.out.session = session.name
        self.say("route", True, f"session {session.name} (matched by {routed.via.replace('+', ' and ')})")

        extraction = extract_reply(text=mail.text, html=mail.html,
                                   sent_texts=notifications.texts_for_session(self.conn, session.id))
        if not extraction.ok or extraction.text is None:
            self.say("extract", False, f"refused: {extraction.refusal or 'no new text found'}")
            return
        command = to_command(extraction.text)
        self.say("extract", True, f"{len(command)} characters of new text from the {extraction.source} body")

        replay = dedupe.record_and_check_replay(self.conn, entry.id, sender=sender, session=session, mail=mail,
                                                text=command)
        if replay:
            self.say("replay", False, f"refused: {replay}")
            return
        self.say("replay", True, "not a replay of a reply already typed")

        guarded = guard(command, session, self.conn, s)
        if isinstance(guarded, Refused):
            self.say("guard", False, f"refused: {guarded.reason}")
            return
        notes = [f"changed: {', '.join(guarded.codes())}"] if guarded.changed else []
        if waiting.has_waiting(self.conn, session.id):
            notes.append("would wait behind the replies already waiting for this session")
        notes.append("typed only when claude's screen is ready (read at typing time)")
        self.say("guard", True, "allowed; " + "; ".join(notes))
        self.out.would_type = guarded.text

    def _seen_before(self, entry: ledger.LedgerEntry) -> None:
        if entry.final:
            why = f": {entry.reason}" if entry.reason else ""
            self.say("dedupe", False, f"already handled by the relay ({entry.status}{why}); it is not read again")
        elif entry.status == "injecting":
            self.say("dedupe", False, "the relay stopped while typing this reply; it is not typed again")
        elif entry.status == "waiting":
            self.say("dedupe", False, "already waiting for its session to be ready")
        else:
            self.say("dedupe", False, f"already in the ledger ({entry.status}); the relay is deciding it")


def explain(raw: bytes, settings: Settings, conn: sqlite3.Connection) -> Explanation:
    """Run the relay's steps on ``raw`` against ``conn`` (a :func:`snapshot`: it is written to).

    Raises ConfigError (from the settings) like the relay would at start.
    """
    return _Run(raw, settings, conn).run()
