"""RFC 8601 Authentication-Results, read the way the provider wrote it.

Why a real tokenizer: the provider copies strings the sender chose (the
envelope sender, HELO names, reasons) into its own header. RFC 8601 lets it
do that safely by quoting: ``smtp.mailfrom="x; dmarc=pass y"@evil.example``
is one property value, and ``(a; dmarc=pass)`` is one comment. Splitting on
``;`` and stripping ``(...)`` with a regular expression reads those as a
second method result, a ``dmarc=pass`` the provider never wrote. So this
module follows the grammar of RFC 8601 section 2.2 with RFC 5322 CFWS
(folding white space and nested comments holding quoted-pairs) and
quoted-strings with ``\\`` escapes, and anything it cannot read is
:class:`Unreadable`, with the reason: never a partial result.

Leniencies, each because a real provider writes it and none can turn a
non-pass into a pass:

* a ``;`` with nothing after it ends the header (Yahoo ends every header so);
* keywords may hold ``_`` (Yahoo's ``dkim=dkim_pass``, which is not ``pass``);
* a property without a ptype (Yahoo's ``arc_overridden_status=...``) is
  kept under its bare name and never consulted;
* an unquoted property value may hold ``:``, ``/``, ``=`` and the like
  (IPv6 addresses in ``smtp.remote-ip``, base64 in ``header.b``), but never
  ``;``, ``(``, ``)``, ``"``, ``\\`` or white space, so it cannot hide a
  separator;
* a header truncated by the parser (``MAX_HEADER_CHARS``) is unreadable.

The provider's block, and how its results are combined (see :func:`verdict`):

* **Which headers.** Only headers whose authserv-id is trusted
  (``TRUSTED_AUTHSERV_ID``: exact ids, or ``*.domain`` for any host under
  ``domain``). The verdict is the topmost contiguous run of them, in header
  order, not interrupted by a ``Received`` header or a header with another
  (or no readable) authserv-id: the provider adds its headers above what the
  sender wrote, one per method for Proton and iCloud, several for Fastmail.
  Trusted headers further down are the sender's and never count.
* **Position.** When the provider's entry ``Received`` header can be found,
  a run that starts below the next ``Received`` under it was written before
  the provider saw the message (:func:`misplaced`).
* **One unreadable header in the run refuses the message**: a header with a
  trusted id that cannot be parsed is never a pass, nor skipped.
* **Per method, each judged on its own alignment.** ``dmarc`` counts when
  the run has at least one dmarc result and every one is ``pass`` with a
  ``header.from`` equal (case-insensitive, exact) to the From domain: a
  message has one DMARC evaluation, so two that disagree mean one was not
  written by the provider (or the provider copied something unquoted), and
  a pass without ``header.from`` says nothing about our From. ``dkim``
  counts when some ``dkim=pass`` has ``header.d`` (or the domain of
  ``header.i``) aligned with the From domain and no other dkim result in the
  run is a non-pass for an aligned domain or for no domain at all
  (``dkim=none``: "no signature", which contradicts any pass). The message
  passes when either method counts: a failing dkim result (Proton writes
  ``dkim=fail`` above an aligned ``dmarc=pass`` when one of two checks of a
  signature failed) never cancels an aligned dmarc pass, because DMARC
  already required an aligned pass of its own. ``spf`` alone never counts;
  nor does Yahoo's old ``dmarc=success`` (not an RFC 8601 result).

What this cannot do: a provider that adds no header, or does not remove
look-alikes carrying its id (RFC 8601 section 5), lets a sender who talks to
its MX directly place a header right under the provider's own. Within the
run such a header only counts if it adds a method the provider was silent
on; the per-method rules above refuse it when it contradicts the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from taskping.relay.dkim_verify import aligned
from taskping.relay.parse import MAX_HEADER_CHARS

# RFC 2045 token: any printable ASCII but SPACE and tspecials.
_TSPECIALS = set('()<>@,;:\\"/[]?=')
_WSP = " \t"
_BARE_STOP = set(';()"\\') | set(_WSP) | {"\r", "\n"}
_DOMAIN_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


@dataclass(frozen=True)
class PValue:
    """A property value: ``text`` as written (quotes removed), and the domain it names.

    ``domain`` is the part after ``@`` for ``local@domain`` / ``@domain``
    forms, else the whole value (``header.d=example.test``).
    """

    text: str
    domain: str


@dataclass(frozen=True)
class MethodResult:
    """One ``method[/version]=result [reason=...] ptype.property=value ...``."""

    method: str  # lower-case, version dropped
    result: str  # lower-case
    reason: str | None
    props: tuple[tuple[str, PValue], ...]  # ("header.from", ...), names lower-case, in order

    def prop(self, name: str) -> PValue | None:
        """The first value of property ``name`` (``ptype.property``), or None."""
        return next((v for k, v in self.props if k == name), None)


@dataclass(frozen=True)
class AuthResHeader:
    authserv_id: str  # lower-case, trailing dot removed
    results: tuple[MethodResult, ...]


@dataclass(frozen=True)
class Unreadable:
    """A header value that does not follow the grammar; ``reason`` says where."""

    reason: str


class _Unparseable(Exception):
    """Internal: the header value does not follow the RFC 8601 grammar here."""


class _Reader:
    """A cursor over one header value; every ``read_*`` raises :class:`_Unparseable`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def fail(self, why: str) -> _Unparseable:
        return _Unparseable(f"{why} at character {self.pos + 1}")

    def _fws(self) -> bool:
        """Skip one run of folding white space; a CR or LF not in CRLF WSP is refused."""
        start = self.pos
        while not self.at_end():
            ch = self.peek()
            if ch in _WSP:
                self.pos += 1
            elif self.text[self.pos : self.pos + 2] == "\r\n" and self.text[self.pos + 2 : self.pos + 3] in (" ", "\t"):
                self.pos += 3  # CRLF followed by WSP: a fold
            elif ch in "\r\n":
                raise self.fail("a line break that is not folding white space")
            else:
                break
        return self.pos > start

    def _comment(self) -> None:
        """Skip one comment (at ``(``), nested comments and quoted-pairs included."""
        depth = 0
        while True:
            if self.at_end():
                raise self.fail("an unterminated comment")
            ch = self.peek()
            if ch == "(":
                depth += 1
                self.pos += 1
            elif ch == ")":
                depth -= 1
                self.pos += 1
                if depth == 0:
                    return
            elif ch == "\\":
                self._quoted_pair()
            elif ch in "\r\n \t":
                self._fws()
            else:
                self.pos += 1

    def _quoted_pair(self) -> str:
        nxt = self.text[self.pos + 1 : self.pos + 2]
        if not nxt or nxt in "\r\n":
            raise self.fail("a backslash with nothing to escape")
        self.pos += 2
        return nxt

    def cfws(self) -> bool:
        """Skip [CFWS]; True when anything was skipped."""
        start = self.pos
        while True:
            self._fws()
            if self.peek() == "(":
                self._comment()
            else:
                return self.pos > start

    def quoted_string(self) -> str:
        """The content of the quoted-string at ``"``, escapes resolved."""
        self.pos += 1
        out: list[str] = []
        while True:
            if self.at_end():
                raise self.fail("an unterminated quoted-string")
            ch = self.peek()
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\":
                out.append(self._quoted_pair())
            elif ch in "\r\n":
                start = self.pos
                self._fws()
                out.append(self.text[start : self.pos].replace("\r\n", ""))
            else:
                out.append(ch)
                self.pos += 1

    def keyword(self, what: str) -> str:
        """An ldh-str (letters, digits, ``-``; ``_`` tolerated), lower-cased."""
        start = self.pos
        while not self.at_end() and (self.peek().isascii() and (self.peek().isalnum() or self.peek() in "-_")):
            self.pos += 1
        word = self.text[start : self.pos]
        if not word or not word[0].isalnum():
            raise self.fail(f"expected {what}")
        return word.lower()

    def token(self, what: str) -> str:
        start = self.pos
        while not self.at_end():
            ch = self.peek()
            if not ch.isascii() or ord(ch) <= 32 or ord(ch) == 127 or ch in _TSPECIALS:
                break
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"expected {what}")
        return self.text[start : self.pos]

    def value(self, what: str) -> str:
        """RFC 2045 value: a token or a quoted-string."""
        return self.quoted_string() if self.peek() == '"' else self.token(what)

    def _bare(self) -> str:
        start = self.pos
        while not self.at_end() and self.peek() not in _BARE_STOP:
            if not self.peek().isascii() or not self.peek().isprintable():
                raise self.fail("a character that is not printable ASCII")
            self.pos += 1
        return self.text[start : self.pos]

    def pvalue(self) -> PValue:
        """``[CFWS] (value / [[local-part] "@"] domain-name) [CFWS]``."""
        self.cfws()
        if self.peek() == '"':
            local = self.quoted_string()
            if self.peek() != "@":
                return PValue(local, local)
            self.pos += 1
            domain = self._bare()
            if not domain or "@" in domain or not set(domain) <= _DOMAIN_CHARS:
                raise self.fail("expected a domain after the quoted local-part")
            return PValue(f'"{local}"@{domain}', domain)
        text = self._bare()
        if not text:
            raise self.fail("expected a property value")
        domain = text.rpartition("@")[2]
        return PValue(text, domain)


def _lead_id(reader: _Reader) -> str | None:
    """Read ``[CFWS] authserv-id``; None when it is not followed by CFWS, ``;`` or the end."""
    try:
        reader.cfws()
        authserv_id = reader.value("an authserv-id")
    except _Unparseable:
        return None
    if not (reader.at_end() or reader.peek() in "; \t\r\n("):
        return None
    return authserv_id.lower().rstrip(".")


def authserv_id(value: str) -> str | None:
    """The authserv-id of a header value, or None when it has none we can read.

    Microsoft writes no authserv-id (``spf=pass ...``): that is None, never ``spf``.
    """
    return _lead_id(_Reader(value))


def _methodspec(reader: _Reader) -> MethodResult:
    method = reader.keyword("a method name")
    reader.cfws()
    if reader.peek() == "/":
        reader.pos += 1
        reader.cfws()
        if not reader.peek().isdigit():
            raise reader.fail("expected a method version")
        while reader.peek().isdigit():
            reader.pos += 1
        reader.cfws()
    if reader.peek() != "=":
        raise reader.fail(f"expected '=' after method {method!r}")
    reader.pos += 1
    reader.cfws()
    result = reader.keyword(f"a result for {method}")
    reason: str | None = None
    props: list[tuple[str, PValue]] = []
    while True:
        spaced = reader.cfws()
        if reader.at_end() or reader.peek() == ";":
            break
        if not spaced:
            raise reader.fail(f"unexpected {reader.peek()!r}")
        name = reader.keyword("a property name")
        reader.cfws()
        if reader.peek() == ".":
            reader.pos += 1
            reader.cfws()
            name = f"{name}.{reader.keyword('a property name after the dot')}"
            reader.cfws()
        if reader.peek() != "=":
            raise reader.fail(f"expected '=' after {name!r}")
        reader.pos += 1
        if name == "reason":
            reader.cfws()
            if reason is not None:
                raise reader.fail("a second reason")
            reason = reader.value("a reason")
        else:
            props.append((name, reader.pvalue()))
    return MethodResult(method, result, reason, tuple(props))


def parse_header(value: str) -> AuthResHeader | Unreadable:
    """One ``Authentication-Results`` value (without the field name), read by the grammar."""
    if len(value) >= MAX_HEADER_CHARS:
        return Unreadable(f"longer than {MAX_HEADER_CHARS} characters (cut, so not read)")
    reader = _Reader(value)
    found = _lead_id(reader)
    if found is None:
        return Unreadable("no authserv-id")
    try:
        if reader.cfws() and reader.peek().isdigit():
            while reader.peek().isdigit():
                reader.pos += 1
            reader.cfws()
        results: list[MethodResult] = []
        while not reader.at_end():
            if reader.peek() != ";":
                raise reader.fail(f"expected ';', found {reader.peek()!r}")
            reader.pos += 1
            reader.cfws()
            if reader.at_end():
                break  # a trailing ';' (Yahoo)
            if not results and reader.text[reader.pos : reader.pos + 4].lower() == "none":
                save = reader.pos
                reader.pos += 4
                reader.cfws()
                if reader.at_end():
                    break  # no-result: "; none"
                reader.pos = save
            results.append(_methodspec(reader))
    except _Unparseable as exc:
        return Unreadable(str(exc))
    return AuthResHeader(found, tuple(results))


# --------------------------------------------------------------------------- trusted ids


@dataclass(frozen=True)
class TrustedIds:
    """TRUSTED_AUTHSERV_ID: exact ids and ``*.domain`` patterns (lower-case)."""

    ids: tuple[str, ...]

    @classmethod
    def of(cls, configured: str | Sequence[str]) -> TrustedIds:
        items = [configured] if isinstance(configured, str) else list(configured)
        return cls(tuple(i.strip().lower().rstrip(".") for i in items if i.strip()))

    def matches(self, found: str) -> bool:
        """Is ``found`` (an authserv-id) one of ours? ``*.d`` matches hosts under d, not d itself."""
        found = found.lower().rstrip(".")
        for pattern in self.ids:
            if pattern.startswith("*."):
                if found.endswith(pattern[1:]):
                    return True
            elif found == pattern:
                return True
        return False

    def provider_host(self, host: str) -> bool:
        """Is ``host`` (a Received ``by`` host) one of the provider's servers?"""
        for pattern in self.ids:
            base = pattern[1:] if pattern.startswith("*.") else None
            if base is not None and host.endswith(base):
                return True
            if base is None and (host == pattern or host.endswith("." + pattern)):
                return True
        return False

    def __str__(self) -> str:
        return ", ".join(self.ids)


# --------------------------------------------------------------------------- position


def strip_comments(text: str) -> str | None:
    """``text`` with RFC 5322 comments (nested, with quoted-pairs) replaced by a space; None if unbalanced."""
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and depth:
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            if not depth:
                return None
            depth -= 1
            if not depth:
                out.append(" ")
        elif not depth:
            out.append(ch)
        i += 1
    return None if depth else "".join(out)


def received_by(value: str) -> str | None:
    """The ``by`` host of a Received header value, lower-cased, or None."""
    text = strip_comments(value)
    if text is None:
        return None
    words = text.replace(";", " ; ").split()
    for i, word in enumerate(words[:-1]):
        if word.lower() == "by" and words[i + 1] != ";":
            return words[i + 1].lower().strip(".[]")
    return None


def misplaced(trace: Sequence[tuple[str, str]], ar_index: int, trusted: TrustedIds | str) -> str | None:
    """Why the Authentication-Results at ``trace[ar_index]`` cannot be the receiving server's, or None.

    ``trace`` holds the Received and Authentication-Results headers, topmost
    first. The provider's entry ``Received`` is the topmost one whose ``by``
    host is the provider's; everything under the next ``Received`` below it
    was written before the provider saw the message.
    """
    ids = trusted if isinstance(trusted, TrustedIds) else TrustedIds.of(trusted)
    entry = next(
        (
            i
            for i, (name, value) in enumerate(trace)
            if name == "received" and ids.provider_host(received_by(value) or "")
        ),
        None,
    )
    if entry is None:
        return None  # cannot tell; rely on the provider adding its own header (see the module doc)
    below_entry = next((i for i in range(entry + 1, len(trace)) if trace[i][0] == "received"), None)
    if below_entry is not None and ar_index > below_entry:
        by = received_by(trace[below_entry][1]) or "?"
        return (
            f"Authentication-Results from {ids} sits below a Received header by {by}, "
            f"written before the message reached {ids}: the sender wrote it"
        )
    return None


# --------------------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


def provider_block(trace: Sequence[tuple[str, str]], trusted: TrustedIds) -> tuple[int, list[str]] | None:
    """(index of the first header, raw values) of the topmost contiguous run of trusted headers."""
    start = next(
        (
            i
            for i, (name, value) in enumerate(trace)
            if name == "authentication-results" and trusted.matches(authserv_id(value) or "")
        ),
        None,
    )
    if start is None:
        return None
    values: list[str] = []
    for name, value in trace[start:]:
        if name != "authentication-results" or not trusted.matches(authserv_id(value) or ""):
            break
        values.append(value)
    return start, values


def _dkim_domain(r: MethodResult) -> str:
    found = r.prop("header.d") or r.prop("header.i")
    return found.domain.lower() if found else ""


def _judge_dmarc(results: list[MethodResult], from_domain: str) -> tuple[bool, str]:
    dmarc = [r for r in results if r.method == "dmarc"]
    if not dmarc:
        return False, "no dmarc result"
    if any(r.result != "pass" for r in dmarc):
        return False, "dmarc=" + "/".join(r.result for r in dmarc)
    froms = [r.prop("header.from") for r in dmarc]
    if any(f is None for f in froms):
        return False, "dmarc=pass without header.from (not counted)"
    domains = {f.domain.lower() for f in froms if f is not None}
    if domains != {from_domain.lower()}:
        return False, f"dmarc=pass for header.from={', '.join(sorted(domains))}, not {from_domain}"
    return True, f"dmarc=pass header.from={from_domain}"


def _judge_dkim(results: list[MethodResult], from_domain: str) -> tuple[bool, str]:
    dkim = [r for r in results if r.method == "dkim"]
    if not dkim:
        return False, "no dkim result"
    passes = [r for r in dkim if r.result == "pass" and aligned(_dkim_domain(r), from_domain)]
    if not passes:
        return False, "dkim=" + "/".join(
            f"{r.result}" + (f" d={_dkim_domain(r)}" if _dkim_domain(r) else "") for r in dkim
        )
    against = [r for r in dkim if r.result != "pass" and (not _dkim_domain(r) or aligned(_dkim_domain(r), from_domain))]
    if against:
        return False, f"dkim=pass but also dkim={against[0].result} for {_dkim_domain(against[0]) or 'no signature'}"
    return True, f"dkim=pass header.d={_dkim_domain(passes[0])}"


def verdict(trace: Sequence[tuple[str, str]], trusted: TrustedIds, from_domain: str) -> Verdict:
    """Does the provider's block (see the module doc) vouch for ``from_domain``?"""
    block = provider_block(trace, trusted)
    if block is None:
        return Verdict(False, f"no Authentication-Results header from {trusted}")
    start, values = block
    wrong_place = misplaced(trace, start, trusted)
    if wrong_place:
        return Verdict(False, wrong_place)
    results: list[MethodResult] = []
    ids: list[str] = []
    for value in values:
        parsed = parse_header(value)
        if isinstance(parsed, Unreadable):
            return Verdict(False, f"Authentication-Results from {authserv_id(value)} cannot be read: {parsed.reason}")
        results += parsed.results
        if parsed.authserv_id not in ids:
            ids.append(parsed.authserv_id)
    by = ", ".join(ids)
    dmarc_ok, dmarc_why = _judge_dmarc(results, from_domain)
    if dmarc_ok:
        return Verdict(True, f"{dmarc_why} ({by})")
    dkim_ok, dkim_why = _judge_dkim(results, from_domain)
    if dkim_ok:
        return Verdict(True, f"{dkim_why} ({by})")
    return Verdict(False, f"Authentication-Results from {by} does not pass: {dmarc_why}; {dkim_why}")
