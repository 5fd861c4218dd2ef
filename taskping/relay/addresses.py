"""The From address must be written literally, not merely decode to an allowed one.

The standard library's address parser is generous: it decodes encoded-words
inside an addr-spec (``=?utf-8?q?me?=@example.test`` becomes
``me@example.test``), drops comments inside an address
(``me(x)@example.test``, ``<me@(x)example.test>``), unquotes local parts
(``"me"@example.test``), skips obsolete routes (``<@relay:me@example.test>``)
and opens groups (``friends: me@example.test;``), mostly without a defect.
The provider that checked DMARC, the DKIM signer and the person's own mail
client may read any of those differently (or not at all), so an address that
only *becomes* the allowlisted one after such repairs must not match it.

The rule: the header value (unfolded) is either a bare addr-spec, or an
optional display name followed by ``<addr-spec>`` at the very end; the
addr-spec is plain ASCII dot-atom ``local@domain`` with no encoded-word, and
the library's reading of the whole value is exactly that one address. The
display name may be anything the library reads as a phrase (encoded-words and
quoted strings included: only the address matters), except characters that
belong to address syntax outside quotes (``< > @ ( ) : ; , [ ]``), which would
make another reader see a second address, a comment or a group.
"""

from __future__ import annotations

import re

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
ADDR_SPEC = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+")
_ANGLE_TAIL = re.compile(r"<([^<>]*)>\Z")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_ADDRESS_SYNTAX = re.compile(r'[<>@():;,\[\]"\\]')


def unfold(value: str) -> str:
    """A header value with its folding (CRLF or LF before whitespace) removed, trimmed."""
    return re.sub(r"\r?\n(?=[ \t])", "", value).strip(" \t\r\n")


def literal_problem(raw_value: str, parsed: list[str]) -> str | None:
    """Why the From value's address is not the literal one the library read (``parsed``), or None."""
    value = unfold(raw_value)
    tail = _ANGLE_TAIL.search(value)
    if tail is None:
        literal, display = value, ""
        bare = _QUOTED.sub("", value)
        if ":" in bare or ";" in bare:
            return "address not literal: group syntax"
        if "<" in bare or ">" in bare:
            return "address not literal: text after the angle-addr"
    else:
        literal, display = tail.group(1), value[: tail.start()]
    if "=?" in literal:
        return "address not literal: encoded-word in the address"
    if not ADDR_SPEC.fullmatch(literal):
        return f"address not literal: {_describe(literal)}"
    if _ADDRESS_SYNTAX.search(_QUOTED.sub("", display)):
        return "address not literal: address syntax in the display name"
    if parsed != [literal.lower()]:
        return "address not literal: the address read differs from the one written"
    return None


def _describe(literal: str) -> str:
    """A short name for what makes ``literal`` not a plain dot-atom addr-spec."""
    if "(" in literal or ")" in literal:
        return "comment in the address"
    if '"' in literal:
        return "quoted local part"
    if literal.startswith("@") or literal.count("@") > 1:
        return "route or extra @ in the address"
    if ":" in literal or ";" in literal:
        return "group syntax"
    if "[" in literal:
        return "domain literal"
    if any(c.isspace() for c in literal):
        return "whitespace in the address"
    if any(ord(c) > 0x7E for c in literal):
        return "non-ASCII address"
    return "not a plain local@domain address"
