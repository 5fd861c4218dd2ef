"""Step 2, parse: raw RFC 5322 bytes → a typed :class:`InboundMail`.

Headers come from mail-parser; the From header is re-parsed strictly with the
standard library's address parser (so ``"you@x" <evil@y>`` is one address,
``evil@y``, and two addresses are two). The body parts come from the
extractor's MIME walker, which skips attachments and attached messages and
unwraps ``format=flowed`` text (iOS Mail), as `taskping extract` does.
Nothing here raises on bad input: defects are recorded on the value.
"""

from __future__ import annotations

import hashlib
import re
from email.policy import default as default_policy

import mailparser
from pydantic import BaseModel, ConfigDict, Field, field_validator

from taskping.relay.extract.mime import body_parts

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
        """The ledger key: the Message-ID, or a hash of the bytes when there is none."""
        return self.message_id or f"sha256:{self.content_hash}"


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


def _trace(message: object) -> list[tuple[str, str]]:
    """Received and Authentication-Results headers in header order (their relative position matters)."""
    items = getattr(message, "items", None)
    if items is None:
        return []
    try:
        pairs = list(items())
    except Exception:  # noqa: BLE001
        return []
    out = [(str(k).lower(), str(v)[:MAX_HEADER_CHARS]) for k, v in pairs if str(k).lower() in _TRACE]
    return out[:200]


def _first(message: object, name: str) -> str | None:
    values = _header_list(message, name)
    return values[0].strip() if values else None


def parse_addresses(raw_value: str) -> tuple[list[str], list[str]]:
    """Strictly parse one address header: (lower-cased addr-specs, defects)."""
    try:
        header = default_policy.header_factory("From", raw_value)
        addresses = [a.addr_spec.lower() for a in header.addresses]  # type: ignore[attr-defined]
        defects = [d.__class__.__name__ for d in header.defects]  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any parser failure is a defect, not a crash
        return [], [f"unparseable: {exc.__class__.__name__}"]
    return addresses, defects


_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond")


def parse(raw: bytes) -> InboundMail:
    content_hash = hashlib.sha256(raw).hexdigest()
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
        addresses += found
        from_defects += bad
    ids = _ids(_first(message, "Message-ID"))
    bodies = body_parts(raw)
    autoreply = any(_first(message, h) for h in _AUTOREPLY_HEADERS)
    to_raw = _first(message, "To") or ""
    return InboundMail(
        message_id=ids[0] if ids else None,
        content_hash=content_hash,
        size=len(raw),
        from_headers=from_headers,
        from_addresses=addresses,
        from_defects=from_defects,
        sender_header=_first(message, "Sender"),
        reply_to=_first(message, "Reply-To"),
        to=parse_addresses(to_raw)[0] if to_raw else [],
        subject=" ".join(str(subject).split())[:MAX_HEADER_CHARS],
        in_reply_to=_ids(_first(message, "In-Reply-To")),
        references=_ids(" ".join(_header_list(message, "References"))),
        authentication_results=_header_list(message, "Authentication-Results"),
        trace=_trace(message),
        auto_submitted=_first(message, "Auto-Submitted"),
        precedence=_first(message, "Precedence"),
        x_autoreply=bool(autoreply),
        x_taskping=_first(message, "X-TaskPing"),
        text=bodies.text,
        html=bodies.html,
        defects=defects,
        raw=raw,
    )
