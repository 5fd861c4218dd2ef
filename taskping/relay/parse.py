"""Step 2, parse: raw RFC 5322 bytes → a typed :class:`InboundMail`.

First the canonical reading (:mod:`taskping.relay.canonical`): a message
that two readers could read differently (lone CR, mixed line ends, obsolete
or invalid header syntax, a second copy of a singleton header) is not read
at all: it becomes an InboundMail with ``unreadable`` set and nothing taken
from it but a Message-ID to find the refusal by, which the pipeline drops before any other step.

Headers come from mail-parser; the From header is re-parsed strictly with the
standard library's address parser (so ``"you@x" <evil@y>`` is one address,
``evil@y``, and two addresses are two), and its address must be written
literally (:mod:`taskping.relay.addresses`). The trace (Received and
Authentication-Results, in order) is taken from the canonical scan itself.
The body parts come from the extractor's MIME walker, which skips attachments
and attached messages and unwraps ``format=flowed`` text (iOS Mail), as
`taskping extract` does.
Nothing here raises on bad input: defects are recorded on the value.
"""

from __future__ import annotations

import hashlib
import re
from email.policy import default as default_policy

import mailparser
from pydantic import BaseModel, ConfigDict, Field, field_validator

from taskping.extract.mime import body_parts
from taskping.relay import canonical
from taskping.relay.addresses import literal_problem, unfold

_MSGID_RE = re.compile(r"<[^<>\s]{1,500}>")
MAX_HEADER_CHARS = 4000


class InboundMail(BaseModel):
    """One received message, as the pipeline sees it."""

    model_config = ConfigDict(frozen=True)

    message_id: str | None
    content_hash: str
    size: int
    from_headers: list[str]
    from_addresses: list[str]  # addr-specs, lower-cased, in header order
    from_defects: list[str]
    sender_header: str | None
    reply_to: str | None
    to: list[str]
    subject: str
    date: str = ""  # the Date header as written (the replay key of a fresh #help/#status)
    in_reply_to: list[str]
    references: list[str]
    authentication_results: list[str]  # topmost first
    trace: list[tuple[str, str]] = []  # ("received" | "authentication-results", value), topmost first
    auto_submitted: str | None
    precedence: str | None
    x_autoreply: bool  # any of the usual out-of-office markers
    x_taskping: str | None  # set on mail TaskPing itself sent
    text: str | None
    html: str | None
    defects: list[str]
    raw: bytes = Field(default=b"", repr=False)  # the message as received (local DKIM verification)
    unreadable: str | None = None  # why the message has no single reading (then nothing else was read)
    identity: str = ""  # sha256 of the header section and the size: the same for a header-only fetch
    header_only: bool = False  # parsed from the header section alone (fetch screens before downloading)

    @field_validator("*", mode="before")
    @classmethod
    def _valid_unicode(cls, value: object) -> object:
        """Undecodable bytes (a bogus charset, broken encoded words) can leave lone
        surrogates behind; they are not text and would fail later (UTF-8 encoding in
        the guard, SQLite). Replace them here, once, for every string field."""
        if isinstance(value, str):
            return scrub(value)
        if isinstance(value, list):
            return [scrub(v) if isinstance(v, str) else v for v in value]
        return value

    @property
    def sole_sender(self) -> str | None:
        """The From address when the header holds exactly one, else None."""
        return self.from_addresses[0] if len(self.from_addresses) == 1 else None

    @property
    def message_key(self) -> str:
        """The ledger key: the Message-ID, or else a hash of the header section and the size.

        Not a hash of the whole message: the fetch step screens a message on its
        header alone and may record it before (or instead of) downloading the body,
        and the full download of the same message must land on the same row.
        """
        return self.message_id or f"sha256:{self.identity or self.content_hash}"


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def scrub(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD."""
    return _SURROGATE_RE.sub("\ufffd", text)


def _ids(value: str | None) -> list[str]:
    return _MSGID_RE.findall(value or "")[:50]


def _header_list(message: object, name: str) -> list[str]:
    get_all = getattr(message, "get_all", None)
    values = get_all(name) if get_all else None
    return [str(v)[:MAX_HEADER_CHARS] for v in (values or [])]


_TRACE = ("received", "authentication-results")
MAX_TRACE_FIELDS = 200


def _trace(section: canonical.HeaderSection) -> list[tuple[str, str]]:
    """Received and Authentication-Results headers in header order (their relative position matters).

    Read from the canonical scan (the bytes as they stand, already checked to have
    one reading), not from a second parser: there is nothing here that can fail,
    so the Authentication-Results position rule always has the Received headers
    it needs. Values are unfolded the way the standard library's compat32 reads
    them (leading blanks dropped, folding kept); bytes that are not UTF-8 become U+FFFD.
    """
    out: list[tuple[str, str]] = []
    for f in section.fields:
        name = f.name.lower()
        if name in _TRACE:
            value = f.value.lstrip(b" \t").decode("utf-8", "replace")
            out.append((name, scrub(value)[:MAX_HEADER_CHARS]))
    return out[:MAX_TRACE_FIELDS]


def _first(message: object, name: str) -> str | None:
    values = _header_list(message, name)
    return values[0].strip() if values else None


def parse_addresses(raw_value: str) -> tuple[list[str], list[str]]:
    """Strictly parse one address header: (lower-cased addr-specs, defects)."""
    try:
        header = default_policy.header_factory("From", unfold(raw_value))
        addresses = [a.addr_spec.lower() for a in header.addresses]
        defects = [d.__class__.__name__ for d in header.defects]
    except Exception as exc:  # noqa: BLE001 - any parser failure is a defect, not a crash
        return [], [f"unparseable: {exc.__class__.__name__}"]
    return addresses, defects


_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond")


def _identity(raw: bytes, header_end: int, size: int) -> str:
    return hashlib.sha256(raw[:header_end] + b"\0" + str(size).encode()).hexdigest()


def parse_header(header: bytes, size: int) -> InboundMail:
    """The message as far as its header section tells (IMAP ``BODY.PEEK[HEADER]`` and
    ``RFC822.SIZE``): no body, ``size`` the whole message's size."""
    return parse(header, size=size, header_only=True)


def parse(raw: bytes, *, size: int | None = None, header_only: bool = False) -> InboundMail:
    content_hash = hashlib.sha256(raw).hexdigest()
    size = len(raw) if size is None else size
    if header_only:
        section = canonical.scan(raw)
        problem = section.problem
    else:
        section, problem = canonical.unreadable(raw)
    identity = _identity(raw, section.end, size)
    if problem is not None:
        label = next((f.value for f in section.fields if f.name.lower() == "message-id"), b"")
        ids = _ids(label.decode("ascii", "replace"))
        return _unreadable(raw, ids[0] if ids else None, content_hash, identity, size, problem, header_only)
    defects: list[str] = []
    try:
        parsed = mailparser.parse_from_bytes(raw)
        message = parsed.message
        subject = parsed.subject or ""
        defects += [str(d) for d in (parsed.defects_categories or [])]
    except Exception as exc:  # noqa: BLE001
        parsed, message, subject = None, None, ""
        defects.append(f"unparseable message: {exc.__class__.__name__}")
    from_headers = _header_list(message, "From")
    addresses: list[str] = []
    from_defects: list[str] = []
    for value in from_headers:
        found, bad = parse_addresses(value)
        literal = literal_problem(value, found) if len(found) == 1 else None
        addresses += found
        from_defects += bad + ([literal] if literal else [])
    if any(f.name.lower() == "from" and len(f.value) >= MAX_HEADER_CHARS for f in section.fields):
        from_defects.append(f"From header over {MAX_HEADER_CHARS} characters")  # it was read cut short
    ids = _ids(_first(message, "Message-ID"))
    bodies = body_parts(raw) if not header_only else None
    autoreply = any(_first(message, h) for h in _AUTOREPLY_HEADERS)
    to_raw = _first(message, "To") or ""
    return InboundMail(
        message_id=ids[0] if ids else None,
        content_hash=content_hash,
        size=size,
        from_headers=from_headers,
        from_addresses=addresses,
        from_defects=from_defects,
        sender_header=_first(message, "Sender"),
        reply_to=_first(message, "Reply-To"),
        to=parse_addresses(to_raw)[0] if to_raw else [],
        subject=" ".join(str(subject).split())[:MAX_HEADER_CHARS],
        date=" ".join((_first(message, "Date") or "").split())[:MAX_HEADER_CHARS],
        in_reply_to=_ids(_first(message, "In-Reply-To")),
        references=_ids(" ".join(_header_list(message, "References"))),
        authentication_results=_header_list(message, "Authentication-Results"),
        trace=_trace(section),
        auto_submitted=_first(message, "Auto-Submitted"),
        precedence=_first(message, "Precedence"),
        x_autoreply=bool(autoreply),
        x_taskping=_first(message, "X-TaskPing"),
        text=bodies.text if bodies else None,
        html=bodies.html if bodies else None,
        defects=defects,
        raw=raw,
        identity=identity,
        header_only=header_only,
    )


def unparsed(raw: bytes, problem: str, *, size: int | None = None, header_only: bool = False) -> InboundMail:
    """The message as a pipeline that could not parse it records it: nothing read, keyed on its bytes.

    For the pipeline's safety net when :func:`parse` itself raised (it is not meant to):
    the message still gets a ledger row (``sha256:`` of its header section and size, the
    key :func:`parse` would give a message without a Message-ID) and an audit line."""
    end = raw.find(b"\r\n\r\n")
    end = len(raw) if end < 0 else end + 4
    size = len(raw) if size is None else size
    return _unreadable(
        raw, None, hashlib.sha256(raw).hexdigest(), _identity(raw, end, size), size, problem, header_only
    )


def _unreadable(
    raw: bytes, message_id: str | None, content_hash: str, identity: str, size: int, problem: str, header_only: bool
) -> InboundMail:
    """A message refused by the canonical reading: nothing in it is read but the first
    Message-ID the byte scan met, the label (and ledger key) its refusal is found under.
    Keying on it is no new risk: any mail, readable or not, can carry any Message-ID."""
    return InboundMail(
        message_id=message_id,
        content_hash=content_hash,
        size=size,
        from_headers=[],
        from_addresses=[],
        from_defects=[],
        sender_header=None,
        reply_to=None,
        to=[],
        subject="",
        in_reply_to=[],
        references=[],
        authentication_results=[],
        trace=[],
        auto_submitted=None,
        precedence=None,
        x_autoreply=False,
        x_taskping=None,
        text=None,
        html=None,
        defects=[problem],
        raw=raw,
        unreadable=problem,
        identity=identity,
        header_only=header_only,
    )
