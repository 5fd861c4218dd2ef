"""Step 3, authenticate: is this really the person, writing by hand?

In order, each a drop (nothing is ever sent back to an unauthenticated
sender):

1. our own mail (``X-TaskPing``) and automatic mail (``Auto-Submitted``
   other than ``no``, ``Precedence: bulk|junk|list``, out-of-office markers);
2. the From header must be one header holding exactly one address, equal
   (case-insensitively, display names ignored) to one in ALLOWED_SENDERS;
3. with SENDER_AUTH=authres: the topmost ``Authentication-Results`` header
   whose authserv-id is TRUSTED_AUTHSERV_ID must show ``dmarc=pass``, or
   ``dkim=pass`` with ``header.d`` aligned to the From domain (RFC 8601:
   headers with any other authserv-id are ignored, and the receiving server's
   header is the topmost one with its id, above anything the sender wrote).
   Position check: when the receiving server's own ``Received`` header can be
   found (the topmost one whose ``by`` host is the authserv-id or a host
   under it), that header marks
   where the message entered the provider; the counted
   ``Authentication-Results`` must not sit below the next ``Received`` header
   under it, because everything down there was written before the provider
   saw the message. What this cannot catch, and why the provider must always
   add its own header: a sender who talks SMTP to the provider directly can put
   a forged header right under the entry ``Received``; only the provider's own,
   higher header (and its deleting of look-alikes, RFC 8601 section 5) beats it;
4. with SENDER_AUTH=dkim: a DKIM signature verified here (see
   :mod:`taskping.relay.dkim_verify`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from taskping.relay import dkim_verify
from taskping.relay.dkim_verify import aligned
from taskping.relay.parse import InboundMail

_COMMENT_RE = re.compile(r"\([^()]*\)")
_AUTOREPLY_SUBJECT_RE = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|autoreply|自动回复|自動回覆|自动答复)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AuthVerdict:
    ok: bool
    reason: str
    sender: str | None = None  # the authenticated address, when ok


@dataclass(frozen=True)
class AuthResult:
    """One method's result inside an Authentication-Results header."""

    method: str
    result: str
    props: dict[str, str]


def parse_authentication_results(value: str) -> tuple[str, list[AuthResult]]:
    """``(authserv-id, results)`` of one header value (RFC 8601, comments dropped)."""
    text = value
    for _ in range(5):
        stripped = _COMMENT_RE.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    parts = [p.strip() for p in text.split(";")]
    head = parts[0].split()
    authserv_id = head[0].lower().rstrip(".") if head else ""
    results: list[AuthResult] = []
    for part in parts[1:]:
        tokens = part.split()
        if not tokens or "=" not in tokens[0]:
            continue
        method, _, result = tokens[0].partition("=")
        props: dict[str, str] = {}
        for token in tokens[1:]:
            key, sep, val = token.partition("=")
            if sep and "." in key:
                props[key.lower()] = val.strip('"').lower()
        results.append(AuthResult(method.lower().split("/")[0], result.lower(), props))
    return authserv_id, results


_BY_RE = re.compile(r"\bby\s+([^\s;]+)", re.IGNORECASE)


def _strip_comments(text: str) -> str:
    for _ in range(5):
        stripped = _COMMENT_RE.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return text


def received_by(value: str) -> str | None:
    """The ``by`` host of a Received header value, lower-cased, or None."""
    match = _BY_RE.search(_strip_comments(value))
    return match.group(1).lower().strip(".[]") if match else None


def _same_provider(host: str, authserv_id: str) -> bool:
    return host == authserv_id or host.endswith("." + authserv_id)


def misplaced(trace: list[tuple[str, str]], ar_index: int, trusted: str) -> str | None:
    """Why the Authentication-Results at ``trace[ar_index]`` cannot be the receiving server's, or None.

    ``trace`` holds the Received and Authentication-Results headers, topmost first.
    """
    entry = next(
        (i for i, (name, value) in enumerate(trace)
         if name == "received" and _same_provider(received_by(value) or "", trusted)),
        None,
    )
    if entry is None:
        return None  # cannot tell; rely on the provider adding its own header (see the module doc)
    below_entry = next((i for i in range(entry + 1, len(trace)) if trace[i][0] == "received"), None)
    if below_entry is not None and ar_index > below_entry:
        by = received_by(trace[below_entry][1]) or "?"
        return (f"Authentication-Results from {trusted} sits below a Received header by {by}, "
                f"written before the message reached {trusted}: the sender wrote it")
    return None


def check_authres(mail: InboundMail, trusted_authserv_id: str, from_domain: str) -> tuple[bool, str]:
    trusted = trusted_authserv_id.lower().rstrip(".")
    trace = mail.trace or [("authentication-results", v) for v in mail.authentication_results]
    for index, (name, value) in enumerate(trace):
        if name != "authentication-results":
            continue
        authserv, results = parse_authentication_results(value)
        if authserv != trusted:
            continue
        # The topmost header with the trusted id is the receiving server's verdict; only it counts.
        wrong_place = misplaced(trace, index, trusted)
        if wrong_place:
            return False, wrong_place
        if any(r.method == "dmarc" and r.result == "pass" for r in results):
            return True, "dmarc=pass"
        for r in results:
            if r.method == "dkim" and r.result == "pass":
                d = r.props.get("header.d") or r.props.get("header.i", "").rpartition("@")[2]
                if aligned(d, from_domain):
                    return True, f"dkim=pass header.d={d}"
        summary = ", ".join(f"{r.method}={r.result}" for r in results) or "no results"
        return False, f"Authentication-Results from {trusted} does not pass: {summary}"
    return False, f"no Authentication-Results header from {trusted}"


def is_automatic(mail: InboundMail) -> str | None:
    """Why this message is automatic (and must be dropped), or None."""
    if mail.x_taskping:
        return "our own notification"
    auto = (mail.auto_submitted or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if (mail.precedence or "").strip().lower() in ("bulk", "junk", "list"):
        return f"Precedence: {mail.precedence}"
    if mail.x_autoreply:
        return "auto-reply header"
    if _AUTOREPLY_SUBJECT_RE.search(mail.subject):
        return "out-of-office subject"
    return None


def authenticate(
    mail: InboundMail,
    *,
    allowed_senders: tuple[str, ...],
    mode: str,
    trusted_authserv_id: str | None,
    own_address: str | None = None,
    dkim_dns_timeout: float = 5,
    dkim_dns_server: str | None = None,
) -> AuthVerdict:
    automatic = is_automatic(mail)
    if automatic:
        return AuthVerdict(False, f"automatic mail dropped ({automatic})")
    if len(mail.from_headers) != 1:
        return AuthVerdict(False, f"expected one From header, found {len(mail.from_headers)}")
    if mail.from_defects:
        return AuthVerdict(False, f"From header is malformed ({', '.join(sorted(set(mail.from_defects)))})")
    if len(mail.from_addresses) != 1:
        return AuthVerdict(False, f"From must hold exactly one address, found {len(mail.from_addresses)}")
    sender = mail.from_addresses[0]
    if own_address and sender == own_address.lower():
        return AuthVerdict(False, "mail from TaskPing's own address")
    if sender not in allowed_senders:
        return AuthVerdict(False, "sender not in ALLOWED_SENDERS")
    if mode == "authres":
        assert trusted_authserv_id
        ok, why = check_authres(mail, trusted_authserv_id, sender.rpartition("@")[2])
        if not ok:
            return AuthVerdict(False, why)
        return AuthVerdict(True, why, sender)
    if mode == "dkim":
        checked = dkim_verify.verify(
            mail.raw, sender.rpartition("@")[2], timeout=dkim_dns_timeout, dns_server=dkim_dns_server
        )
        return AuthVerdict(checked.ok, checked.reason, sender if checked.ok else None)
    if mode == "none":
        return AuthVerdict(True, "allowlisted (SENDER_AUTH=none: not verified)", sender)
    return AuthVerdict(False, f"SENDER_AUTH={mode} is not supported by this relay")
