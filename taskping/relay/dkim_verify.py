"""SENDER_AUTH=dkim: verify the reply's DKIM signature here, with dkimpy.

A message passes when at least one ``DKIM-Signature`` header

* verifies (the public key fetched from DNS, the header hash and the body
  hash all check out; dkimpy also honours ``x=`` expiry and refuses keys
  under 1024 bits),
* has a ``d=`` aligned with the From domain (the same domain, or From is a
  subdomain of ``d``: relaxed DMARC-style alignment),
* covers From and Subject, every instance of each: ``h=`` must name
  ``from`` and ``subject`` at least as many times as the message has such
  headers (a Subject the sender's server never signed, added above the signed
  one, would otherwise route the reply elsewhere),
* covers the whole body: no ``l=`` tag (with ``l=`` anyone can append text
  to a genuine message).

DNS goes through the system resolver, or through ``DKIM_DNS_SERVER``
(``IP[:PORT]``) when set; each lookup gives up after ``DKIM_DNS_TIMEOUT``
seconds. A lookup that fails is a failed signature, never a pass.

What DKIM does not prove: that the message is new (a genuine signed reply
can be re-sent; the dedupe step's replay check handles that) nor anything
about headers outside ``h=``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from taskping.config import DnsServer
from taskping.relay.canonical import scan

REQUIRED_HEADERS = ("from", "subject")
_SPLIT_H = re.compile(r"\s*:\s*")
_quiet = logging.getLogger("taskping.dkim")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


@dataclass(frozen=True)
class DkimVerdict:
    ok: bool
    reason: str


def aligned(d: str, from_domain: str) -> bool:
    """Relaxed DMARC-style alignment: the same domain, or From is a subdomain of d."""
    d = d.strip(".").lower()
    from_domain = from_domain.strip(".").lower()
    return bool(d) and "." in d and (from_domain == d or from_domain.endswith("." + d))


class _Lookup:
    """A dkimpy ``dnsfunc`` that remembers why a lookup failed."""

    def __init__(self, server: DnsServer | None, timeout: float) -> None:
        import dns.resolver

        if server:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [server.ip]
            self.resolver.port = server.port
        else:
            self.resolver = dns.resolver.Resolver()  # /etc/resolv.conf
        self.timeout = timeout
        self.failure: str | None = None

    def __call__(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        import dns.exception
        import dns.rdatatype
        import dns.resolver

        qname = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        self.failure = None
        try:
            answer = self.resolver.resolve(qname, dns.rdatatype.TXT, lifetime=self.timeout, search=False)
        except dns.resolver.NXDOMAIN:
            self.failure = f"no DKIM key at {qname.rstrip('.')} (NXDOMAIN)"
            return None
        except dns.resolver.NoAnswer:
            self.failure = f"no DKIM key at {qname.rstrip('.')} (no TXT record)"
            return None
        except dns.exception.Timeout:
            self.failure = f"DNS lookup of {qname.rstrip('.')} timed out after {self.timeout} s"
            return None
        except dns.exception.DNSException as exc:
            self.failure = f"DNS lookup of {qname.rstrip('.')} failed ({exc.__class__.__name__})"
            return None
        for rdata in answer:
            return b"".join(rdata.strings)
        self.failure = f"no DKIM key at {qname.rstrip('.')}"
        return None


def _header_count(raw: bytes, name: str) -> int:
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    pattern = re.compile(rb"^" + re.escape(name.encode()) + rb"[ \t]*:", re.IGNORECASE | re.MULTILINE)
    return len(pattern.findall(head))


def _shape_problem(tags: dict[bytes, bytes], raw: bytes, from_domain: str) -> str | None:
    """What disqualifies a signature before any cryptography (alignment, ``l=``, coverage), or None."""
    d = tags.get(b"d", b"").decode("ascii", "replace").lower()
    covered = [h.lower() for h in _SPLIT_H.split(tags.get(b"h", b"").decode("ascii", "replace").strip())]
    if not aligned(d, from_domain):
        return f"d= is not aligned with the From domain {from_domain}"
    if b"l" in tags:
        return "l= limits the signed body (unsigned text may follow)"
    missing = [h for h in REQUIRED_HEADERS if covered.count(h) < max(1, _header_count(raw, h))]
    if missing:
        return f"does not sign every {', '.join(missing)} header"
    return None


@dataclass(frozen=True)
class AlignedSignature:
    """One DKIM-Signature aligned with the From domain, read the way dkimpy reads the header
    section: its ``b=`` value (whitespace removed) and the header names its ``h=`` covers."""

    b: bytes
    covered: tuple[str, ...]


def aligned_signatures(raw: bytes, from_domain: str) -> list[AlignedSignature]:
    """The signatures in ``raw`` whose ``d=`` is aligned with ``from_domain`` (not verified here)."""
    import dkim

    try:
        headers = dkim.DKIM(raw).headers
    except Exception:  # noqa: BLE001 - a message dkimpy cannot read carries no usable signature
        return []
    found: list[AlignedSignature] = []
    for name, value in headers:
        if name.lower() != b"dkim-signature":
            continue
        try:
            tags = dkim.util.parse_tag_value(value)
        except Exception:  # noqa: BLE001 - a malformed signature is skipped
            continue
        b = re.sub(rb"\s+", b"", tags.get(b"b", b""))
        if b and aligned(tags.get(b"d", b"").decode("ascii", "replace"), from_domain):
            covered = tuple(h.lower() for h in _SPLIT_H.split(tags.get(b"h", b"").decode("ascii", "replace").strip()))
            found.append(AlignedSignature(b, covered))
    return found


def signs_all(raw: bytes, from_domain: str, names: list[str]) -> bool:
    """Whether one signature aligned with ``from_domain`` covers every header in ``names``."""
    wanted = {n.lower() for n in names}
    return any(wanted <= set(sig.covered) for sig in aligned_signatures(raw, from_domain))


def _candidates(values: list[bytes], raw: bytes, from_domain: str) -> Iterator[tuple[int, str, str, str | None]]:
    """For each of the first 8 signatures: (index, d=, label, what disqualifies it or None)."""
    import dkim

    for idx, value in enumerate(values[:8]):
        try:
            tags = dkim.util.parse_tag_value(value)
        except Exception:  # noqa: BLE001 - a malformed signature is reported, not raised
            yield idx, "", f"signature {idx + 1}", "unparseable"
            continue
        d = tags.get(b"d", b"").decode("ascii", "replace").lower()
        yield idx, d, f"signature {idx + 1} (d={d or '?'})", _shape_problem(tags, raw, from_domain)


def precheck(header: bytes, from_domain: str) -> DkimVerdict:
    """What can be judged from the header section alone (the fetch step, before downloading
    the body): is there a signature that :func:`verify` could accept at all? ``ok`` here is
    no pass, only "worth downloading"; the body hash and the signature are checked later."""

    values = [f.value for f in scan(header).fields if f.name.lower() == "dkim-signature"]
    if not values:
        return DkimVerdict(False, "no DKIM-Signature header")
    problems: list[str] = []
    for _idx, d, label, problem in _candidates(values, header, from_domain):
        if problem is None:
            return DkimVerdict(True, f"DKIM signature d={d} present (verified after download)")
        problems.append(f"{label}: {problem}")
    return DkimVerdict(False, "DKIM: " + "; ".join(problems))


def verify(
    raw: bytes,
    from_domain: str,
    *,
    timeout: float = 5,
    dns_server: DnsServer | None = None,
    dnsfunc: Callable[..., bytes | None] | None = None,
) -> DkimVerdict:
    """Does ``raw`` carry a valid DKIM signature aligned with ``from_domain`` (see the module doc)?"""
    import dkim

    try:
        checker = dkim.DKIM(raw, logger=_quiet, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - a message dkimpy cannot read has no valid signature
        return DkimVerdict(False, f"DKIM: message unreadable ({exc.__class__.__name__})")
    signatures = [value for name, value in checker.headers if name.lower() == b"dkim-signature"]
    if not signatures:
        return DkimVerdict(False, "no DKIM-Signature header")
    lookup = dnsfunc or _Lookup(dns_server, timeout)
    problems: list[str] = []
    for idx, d, label, problem in _candidates(signatures, raw, from_domain):
        if problem:
            problems.append(f"{label}: {problem}")
            continue
        if isinstance(lookup, _Lookup):
            lookup.failure = None
        try:
            good = checker.verify(idx=idx, dnsfunc=lookup)
        except dkim.DKIMException as exc:
            problems.append(f"{label}: {exc}"[:300])
            continue
        except Exception as exc:  # noqa: BLE001 - never a crash, never a pass
            problems.append(f"{label}: verification error ({exc.__class__.__name__})")
            continue
        if good:
            return DkimVerdict(True, f"dkim=pass d={d} (verified locally)")
        failure = lookup.failure if isinstance(lookup, _Lookup) else None
        problems.append(f"{label}: {failure or 'signature does not verify'}")
    return DkimVerdict(False, "DKIM: " + "; ".join(problems))
