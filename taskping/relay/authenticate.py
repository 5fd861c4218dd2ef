"""Step 5, authenticate (after dedupe's Message-ID check): is this really the person, writing by hand?

In order, each a drop (nothing is ever sent back to an unauthenticated
sender):

1. our own mail (``X-TaskPing``) and automatic mail (``Auto-Submitted``
   other than ``no``, ``Precedence: bulk|junk|list``, out-of-office markers);
2. the From header must be one header holding exactly one address, equal
   (case-insensitively, display names ignored) to one in ALLOWED_SENDERS;
3. with SENDER_AUTH=authres: the receiving provider's verdict, read with a
   real RFC 8601 parser (:mod:`taskping.relay.authres`, whose module doc
   holds the rules): the topmost contiguous run of ``Authentication-Results``
   headers whose authserv-id is in TRUSTED_AUTHSERV_ID (exact ids or
   ``*.domain``), not below the provider's entry ``Received``, must show a
   ``dmarc=pass`` whose ``header.from`` is the From domain, or a ``dkim=pass``
   aligned with it; an unreadable trusted header is a refusal, never a pass;
4. with SENDER_AUTH=dkim: a DKIM signature verified here (see
   :mod:`taskping.relay.dkim_verify`).

Returns :class:`Authenticated` (who, and how we know) or a
:class:`~taskping.session_map.vocabulary.Refusal` with a stable code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from taskping.config import DnsServer
from taskping.relay import authres, dkim_verify
from taskping.relay.authres import misplaced
from taskping.relay.dkim_verify import aligned
from taskping.relay.parse import InboundMail
from taskping.session_map.vocabulary import Code, Refusal, Step

__all__ = ["Authenticated", "aligned", "authenticate", "check_authres", "is_automatic", "misplaced"]

_AUTOREPLY_SUBJECT_RE = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|autoreply|自动回复|自動回覆|自动答复)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Authenticated:
    """The sender passed: ``sender`` is the authenticated address, ``reason`` how we know."""

    sender: str
    reason: str

    @property
    def ok(self) -> bool:
        return True


def _no(code: Code, reason: str) -> Refusal:
    return Refusal(Step.AUTHENTICATE, code, reason)


def check_authres(mail: InboundMail, trusted_authserv_id: str | Sequence[str], from_domain: str) -> tuple[bool, str]:
    """The provider's verdict on ``from_domain`` (see :func:`taskping.relay.authres.verdict`).

    Read from the message's trace (Received and Authentication-Results in header
    order), never from the Authentication-Results alone: without the Received
    headers around them the position rule could not apply, so a message whose
    trace is missing fails here rather than passing on a weaker rule."""
    if mail.authentication_results and not mail.trace:
        return False, "the message's trace headers could not be read; Authentication-Results are not trusted"
    found = authres.verdict(mail.trace, authres.TrustedIds.of(trusted_authserv_id), from_domain)
    return found.ok, found.reason


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
    trusted_authserv_id: str | Sequence[str] | None,
    own_address: str | None = None,
    dkim_dns_timeout: float = 5,
    dkim_dns_server: DnsServer | None = None,
) -> Authenticated | Refusal:
    automatic = is_automatic(mail)
    if automatic:
        return _no(Code.AUTOMATIC, f"automatic mail dropped ({automatic})")
    if len(mail.from_headers) != 1:
        return _no(Code.FROM_MALFORMED, f"expected one From header, found {len(mail.from_headers)}")
    if mail.from_defects:
        return _no(Code.FROM_MALFORMED, f"From header is malformed ({', '.join(sorted(set(mail.from_defects)))})")
    if len(mail.from_addresses) != 1:
        return _no(Code.FROM_MALFORMED, f"From must hold exactly one address, found {len(mail.from_addresses)}")
    sender = mail.from_addresses[0]
    if own_address and sender == own_address.lower():
        return _no(Code.OWN_ADDRESS, "mail from TaskPing's own address")
    if sender not in allowed_senders:
        return _no(Code.SENDER_NOT_ALLOWED, "sender not in ALLOWED_SENDERS")
    if mode == "authres":
        if not trusted_authserv_id:
            return _no(Code.AUTH_MISCONFIGURED, "SENDER_AUTH=authres needs TRUSTED_AUTHSERV_ID")
        ok, why = check_authres(mail, trusted_authserv_id, sender.rpartition("@")[2])
        return Authenticated(sender, why) if ok else _no(Code.NOT_AUTHENTICATED, why)
    if mode == "dkim":
        checked = dkim_verify.verify(
            mail.raw, sender.rpartition("@")[2], timeout=dkim_dns_timeout, dns_server=dkim_dns_server
        )
        return Authenticated(sender, checked.reason) if checked.ok else _no(Code.NOT_AUTHENTICATED, checked.reason)
    if mode == "none":
        return Authenticated(sender, "allowlisted (SENDER_AUTH=none: not verified)")
    return _no(Code.AUTH_MISCONFIGURED, f"SENDER_AUTH={mode} is not supported by this relay")
