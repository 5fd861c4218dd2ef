"""Issue 8, items 2 and 3: forged verdicts inside a genuine provider header.

Each message is built as raw bytes and read by the real parser; the only
trusted header is the provider's (``mx.trusted``), and what the attacker
controls is what a provider copies into it: the envelope sender, a reason, a
comment. These tests call only ``authenticate(parse(raw), ...)`` with a
single id string, so they run unchanged against the code before the RFC 8601
parser (where every case marked ``old: typed`` passed authentication).
"""

from __future__ import annotations

import pytest

from taskping.relay.authenticate import authenticate
from taskping.relay.parse import parse

ME = "me@example.test"
ENTRY = (
    "Received: from mail.evil.example ([203.0.113.9]) by mx.trusted with ESMTPS id 1; Sat, 21 Nov 2026 09:00:01 +0000"
)
SENDER = "Received: from [198.51.100.7] by mail.evil.example with ESMTPSA id 2; Sat, 21 Nov 2026 09:00:00 +0000"


def message(authres: str, *, from_: str = f"Me <{ME}>") -> bytes:
    """The provider's header above its entry Received, then what the sender wrote."""
    lines = [
        f"Authentication-Results: {authres}",
        ENTRY,
        SENDER,
        f"From: {from_}",
        "To: tp@example.test",
        "Subject: Re: [TaskPing] hi",
        "Message-ID: <a1@evil.example>",
    ]
    return ("\r\n".join(lines) + "\r\n\r\nrm -rf ~\r\n").encode()


def verdict(raw: bytes):  # type: ignore[no-untyped-def]
    return authenticate(parse(raw), allowed_senders=(ME,), mode="authres", trusted_authserv_id="mx.trusted")


# The provider's own result is a fail (or none); the pass is text the attacker chose.
ITEM_2 = [
    # old: typed. RFC 8601 quoted local part copied from MAIL FROM, split on its ';'
    (
        'mx.trusted; spf=pass smtp.mailfrom="x; dmarc=pass header.from=example.test y"@evil.example; dkim=none',
        "quoted-local-part",
    ),
    # old: typed. an escaped quote inside the quoted-string
    (
        'mx.trusted; spf=pass smtp.mailfrom="x\\"; dmarc=pass header.from=example.test; \\""@evil.example',
        "escaped-quote",
    ),
    # old: typed. a '(' inside a quoted-string is not a comment
    (
        'mx.trusted; spf=pass smtp.mailfrom="(x; dmarc=pass header.from=example.test; y"@evil.example',
        "paren-in-quoted-string",
    ),
    # old: typed. reason= is a quoted value, not a place for results
    (
        'mx.trusted; dkim=fail reason="bad; dmarc=pass header.from=example.test" header.d=example.test',
        "semicolon-in-reason",
    ),
    # old: typed. comments nested deeper than the old regex loop unwrapped
    (
        (
            "mx.trusted; spf=fail (a (b (c (d (e (f) e) d) c) b) a; dmarc=pass header.from=example.test) "
            "smtp.mailfrom=evil.example"
        ),
        "deeply-nested-comment",
    ),
    # old: refused (comments were stripped), kept so the new parser is held to it
    (
        "mx.trusted; spf=pass (x; dmarc=pass header.from=example.test) smtp.mailfrom=evil.example",
        "semicolon-in-comment",
    ),
    # a '"' inside a comment is plain text: it opens no quoted-string that could end the comment later
    (
        'mx.trusted; spf=pass (x "; dmarc=pass header.from=example.test) smtp.mailfrom=evil.example',
        "quote-inside-comment",
    ),
    (
        "mx.trusted; spf=pass (x \\) ; dmarc=pass header.from=example.test) smtp.mailfrom=evil.example",
        "escaped-paren-in-comment",
    ),
]

ITEM_3 = [
    # old: typed. a dmarc pass for another From domain (the provider read another From)
    (
        (
            "mx.trusted; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example; "
            "dmarc=pass header.from=evil.example"
        ),
        "dmarc-for-another-domain",
    ),
    # old: typed. a dmarc pass that names no From domain at all
    ("mx.trusted; dmarc=pass", "dmarc-without-header-from"),
    # old: typed. a sub-domain is not the From domain (DMARC names the exact one)
    ("mx.trusted; dmarc=pass header.from=mail.example.test", "dmarc-for-a-subdomain"),
    # old: typed. header.from holding an addr-spec whose domain is the attacker's
    ('mx.trusted; dmarc=pass header.from="example.test"@evil.example', "dmarc-from-addr-spec"),
]


@pytest.mark.parametrize(("authres", "name"), ITEM_2, ids=[n for _, n in ITEM_2])
def test_results_hidden_in_quoted_strings_and_comments_do_not_count(authres: str, name: str) -> None:
    v = verdict(message(authres))
    assert not v.ok, name
    assert "does not pass" in v.reason


@pytest.mark.parametrize(("authres", "name"), ITEM_3, ids=[n for _, n in ITEM_3])
def test_dmarc_pass_counts_only_for_the_from_domain(authres: str, name: str) -> None:
    v = verdict(message(authres))
    assert not v.ok, name
    assert "does not pass" in v.reason


@pytest.mark.parametrize(
    "authres",
    [
        'mx.trusted; dmarc=pass header.from=example.test; spf=pass smtp.mailfrom="unterminated@evil.example',
        "mx.trusted; dmarc=pass header.from=example.test (unterminated comment",
        'mx.trusted; dmarc=pass header.from=example.test header.b="a"b',
        "mx.trusted; dmarc=pass header.from=example.test; spf=pass smtp.mailfrom=x@evil.example garbage",
        "mx.trusted; dmarc=pass header.from=example.test; =pass",
        "mx.trusted; dmarc=pass header.from=example.test; dkim",
    ],
)
def test_an_unreadable_trusted_header_is_refused_not_skimmed(authres: str) -> None:
    v = verdict(message(authres))
    assert not v.ok
    assert "cannot be read" in v.reason


def test_the_same_header_without_the_trick_is_a_pass() -> None:
    """The control: a well-formed provider header with an aligned dmarc pass is typed."""
    v = verdict(
        message(
            'mx.trusted; spf=pass smtp.mailfrom="me; x"@example.test; dmarc=pass (p=reject) header.from=example.test'
        )
    )
    assert v.ok and v.reason.startswith("dmarc=pass header.from=example.test")
