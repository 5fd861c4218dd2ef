"""One canonical reading: refuse any message that two readers could read differently.

TaskPing trusts a message because the provider (Authentication-Results) or the
DKIM verifier vouched for it. That is only worth something if TaskPing reads
the very header section they read. Python's email parser, dkimpy and MTAs do
not agree on malformed input:

* Python ends a line at a lone CR (``\\r`` not followed by ``\\n``); MTAs and
  dkimpy do not. One header value that hides, behind lone CRs, a whole header
  block and a ``\\r\\r`` "blank line" gives Python a different From, Subject,
  In-Reply-To and body than the signed message.
* A lone LF among CRLF line ends is a line end to some readers and not to
  others.
* ``From : x`` (obsolete whitespace before the colon) is a From header to
  Python and to many providers, but dkimpy skips a line starting ``From `` as
  an mbox separator.
* A NUL, 8-bit bytes in a header name, a line without a colon, a first line
  that is a continuation, a whitespace-only line: each is read in at least
  two ways somewhere.
* A second copy of a singleton header (RFC 5322 section 3.6): DKIM verifies
  the bottom-most copy of a signed header, TaskPing (and most clients) read
  the top one.

So the header section (the bytes up to the first empty line) is scanned here,
as bytes, before any parser sees it, and any of the above makes the message
*unreadable*: the pipeline drops it with the reason. Consistent line ends
are fine either way: a message with LF only (no CR at all, as an IMAP server
may store it) is read alike by everyone.

The body is parsed by Python's email package for the extractor, and dkimpy
hashes it with only CRLF and LF as line ends. A lone CR in the body is
therefore also refused: Python would see a line break (a MIME boundary
line, a quote marker at the start of a "line") where the signer and the
person's mail client saw none. Normalising it away would make TaskPing read
bytes nobody signed; refusing costs nothing a real phone client sends
(quoted-printable and base64 never carry a raw lone CR).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 5322 section 3.6: at most one of each (MIME's own singletons added: the body is read through them).
SINGLETONS = (
    "from",
    "sender",
    "reply-to",
    "to",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
)
MAX_HEADER_SECTION = 256 * 1024  # bytes; the fetch step downloads at most this much before judging
_FTEXT_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
_LONE_CR = re.compile(rb"\r(?!\n)")


@dataclass(frozen=True)
class Field:
    """One header field as it stands in the bytes: its name and its raw value (folding kept)."""

    name: str  # as written (ASCII)
    value: bytes  # everything after the colon, continuation lines included, line ends removed


@dataclass(frozen=True)
class HeaderSection:
    """The scan of a header section: its fields, where it ends, and why it cannot be read (if so)."""

    fields: tuple[Field, ...]
    end: int  # offset of the body: just past the empty line (len(raw) when there is none)
    problem: str | None  # None when the section has one reading


def _lines(raw: bytes) -> list[tuple[int, bytes, bytes]]:
    """(offset, content, line end) of each header line up to and including the first empty one."""
    out: list[tuple[int, bytes, bytes]] = []
    pos = 0
    while pos < len(raw):
        nl = raw.find(b"\n", pos)
        if nl < 0:
            out.append((pos, raw[pos:], b""))
            break
        line = raw[pos:nl]
        if line.endswith(b"\r"):
            out.append((pos, line[:-1], b"\r\n"))
        else:
            out.append((pos, line, b"\n"))
        pos = nl + 1
        if not out[-1][1]:
            break  # the empty line: the header section ends here
    return out


def scan(raw: bytes) -> HeaderSection:
    """Scan the header section of ``raw`` byte by byte (see the module doc)."""
    lines = _lines(raw)
    end = 0
    fields: list[tuple[str, bytearray]] = []
    problem: str | None = None
    endings: set[bytes] = set()
    for number, (offset, content, ending) in enumerate(lines, start=1):
        end = offset + len(content) + len(ending)
        if ending:
            endings.add(ending)
        if not content and ending:
            if len(endings) > 1:
                problem = f"malformed header section: mixed CRLF and LF line ends at header line {number}"
            break  # the empty line
        problem = _line_problem(number, content, bool(fields))
        if problem is None and len(endings) > 1:
            problem = f"malformed header section: mixed CRLF and LF line ends at header line {number}"
        if problem is not None:
            break
        if content[:1] in (b" ", b"\t"):
            fields[-1][1].extend(b"\r\n" + content)
        else:
            name, _, value = content.partition(b":")
            fields.append((name.decode("ascii"), bytearray(value)))
    else:
        end = len(raw)
    parsed = tuple(Field(name, bytes(value)) for name, value in fields)
    if problem is None and end >= MAX_HEADER_SECTION:
        problem = f"header section over {MAX_HEADER_SECTION:,} bytes"
    if problem is None:
        problem = _duplicate(parsed)
    return HeaderSection(parsed, end, problem)


def _line_problem(number: int, content: bytes, after_field: bool) -> str | None:
    """Why one header line (its line end removed) has no single reading, or None."""
    where = f"in header line {number}"
    if b"\r" in content:
        return f"malformed header section: lone CR {where}"
    if b"\0" in content:
        return f"malformed header section: NUL {where}"
    if content[:1] in (b" ", b"\t"):
        if not after_field:
            return f"malformed header section: header line {number} is a continuation with no field before it"
        if not content.strip(b" \t"):
            return f"malformed header section: whitespace-only line {where}"
        return None
    name_end = content.find(b":")
    if name_end < 0:
        return f"malformed header section: header line {number} is not a field (no colon)"
    name = content[:name_end]
    if not name:
        return f"malformed header section: empty header name {where}"
    if name.rstrip(b" \t") != name and _FTEXT_NAME.fullmatch(name.rstrip(b" \t")):
        return f"malformed header section: whitespace before the colon {where} (obsolete syntax)"
    if any(b > 0x7E for b in name):
        return f"malformed header section: 8-bit byte in a header name {where}"
    if not _FTEXT_NAME.fullmatch(name):
        return f"malformed header section: invalid header name {where}"
    return None


def _duplicate(fields: tuple[Field, ...]) -> str | None:
    counts: dict[str, int] = {}
    for f in fields:
        key = f.name.lower()
        counts[key] = counts.get(key, 0) + 1
    for key in SINGLETONS:
        if counts.get(key, 0) > 1:
            name = next(f.name for f in fields if f.name.lower() == key)
            return f"duplicate {_canonical_name(name)} header ({counts[key]})"
    return None


def _canonical_name(name: str) -> str:
    special = {"message-id": "Message-ID", "mime-version": "MIME-Version"}
    return special.get(name.lower(), "-".join(p.capitalize() for p in name.split("-")))


def body_problem(raw: bytes, body_start: int) -> str | None:
    """Why the body has no single reading (a lone CR, see the module doc), or None."""
    match = _LONE_CR.search(raw, body_start)
    if match is None:
        return None
    line = raw.count(b"\n", body_start, match.start()) + 1
    return f"malformed body: lone CR in body line {line}"


def unreadable(raw: bytes) -> tuple[HeaderSection, str | None]:
    """The header scan and why ``raw`` cannot be read one way (header section, then body), or None."""
    section = scan(raw)
    if section.problem is not None:
        return section, section.problem
    return section, body_problem(raw, section.end)
