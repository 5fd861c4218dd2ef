"""Step 3, authenticate: is this really the person, writing by hand?

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

__all__ = ["AuthVerdict", "aligned", "authenticate", "check_authres", "is_automatic", "misplaced"]

_AUTOREPLY_SUBJECT_RE = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|autoreply|自动回复|自動回覆|自动答复)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AuthVerdict:
    ok: bool
    reason: str
    sender: str | None = None  # the authenticated address, when ok


def check_authres(
    mail: InboundMail, trusted_authserv_id: str | Sequence[str], from_domain: str
) -> tuple[bool, str]:
    """The provider's verdict on ``from_domain`` (see :func:`taskping.relay.authres.verdict`)."""
    trace = mail.trace or [("authentication-results", v) for v in mail.authentication_results]
    found = authres.verdict(trace, authres.TrustedIds.of(trusted_authserv_id), from_domain)
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
        if not trusted_authserv_id:
            return AuthVerdict(False, "SENDER_AUTH=authres needs TRUSTED_AUTHSERV_ID")
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
