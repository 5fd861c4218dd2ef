"""Sender authentication on parsed mail (pure: no servers)."""

from __future__ import annotations

import pytest

from taskping.relay.authenticate import aligned, authenticate
from taskping.relay.authres import AuthResHeader, parse_header
from taskping.relay.parse import parse

ME = "me@example.test"


def mail(from_: str = f"Me <{ME}>", *headers: str, extra_from: str | None = None) -> bytes:
    lines = [f"From: {from_}"]
    if extra_from:
        lines.append(f"From: {extra_from}")
    lines += ["To: tp@example.test", "Subject: Re: hi", "Message-ID: <x@example.test>", *headers]
    return ("\r\n".join(lines) + "\r\n\r\nhello\r\n").encode()


def verdict(raw: bytes, mode: str = "none", trusted: str | None = None):  # type: ignore[no-untyped-def]
    return authenticate(
        parse(raw), allowed_senders=(ME,), mode=mode, trusted_authserv_id=trusted, own_address="tp@example.test"
    )


@pytest.mark.parametrize(
    ("from_", "ok"),
    [
        (f"Me <{ME}>", True),
        ("ME@EXAMPLE.TEST", True),
        (f'"{ME}" <evil@x.example>', False),  # display-name spoofing (the old TaskPing's hole)
        (f"{ME}, evil@x.example", False),  # two addresses
        ("me@example.test.", False),  # trailing dot
        ("me+tag@example.test", False),  # plus tag not allowed
        ("mе@example.test", False),  # noqa: RUF001 - the Cyrillic e homoglyph is the point
        ("", False),
        ("<>", False),
        ("Me <me@example.test", False),  # broken
    ],
)
def test_from_must_be_exactly_one_allowlisted_address(from_: str, ok: bool) -> None:
    assert verdict(mail(from_)).ok is ok


def test_two_from_headers_are_refused() -> None:
    v = verdict(mail(f"Me <{ME}>", extra_from=f"Me <{ME}>"))
    assert not v.ok and "one From header" in v.reason


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "X-Autoreply: yes",
        "X-TaskPing: stop",
        "Subject-Is-Ignored: x",
    ],
)
def test_automatic_mail_is_dropped(header: str) -> None:
    v = verdict(mail(f"Me <{ME}>", header))
    assert v.ok is (header.startswith("Subject-Is-Ignored"))


def test_out_of_office_subject_is_dropped() -> None:
    raw = mail(f"Me <{ME}>").replace(b"Subject: Re: hi", "Subject: 自动回复: hi".encode())
    assert not verdict(raw).ok


def test_auto_submitted_no_is_a_person() -> None:
    assert verdict(mail(f"Me <{ME}>", "Auto-Submitted: no")).ok


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        (["Authentication-Results: mx.trusted; dmarc=pass header.from=example.test"], True),
        (["Authentication-Results: mx.trusted; dkim=pass header.d=example.test; dmarc=none"], True),
        (["Authentication-Results: mx.trusted; dkim=pass (good) header.d=mail.example.test"], False),
        (["Authentication-Results: mx.trusted; dkim=pass header.d=other.example"], False),
        (["Authentication-Results: mx.trusted; dkim=fail header.d=example.test; dmarc=fail"], False),
        (["Authentication-Results: evil.example; dmarc=pass"], False),
        ([], False),
        # the receiving server's header is the topmost with its id; a forged one below it does not count
        (["Authentication-Results: mx.trusted; dmarc=fail", "Authentication-Results: mx.trusted; dmarc=pass"], False),
        (["Authentication-Results: MX.Trusted (comment; dmarc=pass) ; dmarc=pass header.from=example.test"], True),
        # a dmarc=pass says nothing about our From unless its header.from names it
        (["Authentication-Results: mx.trusted; dmarc=pass"], False),
        (["Authentication-Results: mx.trusted; dmarc=pass header.from=evil.example"], False),
        (["Authentication-Results: mx.trusted; dmarc=pass header.from=mail.example.test"], False),
        (["Authentication-Results: mx.trusted; dmarc=pass header.from=EXAMPLE.TEST"], True),
        # unreadable trusted header: refused, whatever it seems to say
        (["Authentication-Results: mx.trusted; dmarc=pass header.from=example.test (open"], False),
    ],
)
def test_authres_rules(headers: list[str], ok: bool) -> None:
    assert verdict(mail(f"Me <{ME}>", *headers), mode="authres", trusted="mx.trusted").ok is ok


def test_alignment_and_parser() -> None:
    assert aligned("example.test", "example.test")
    assert aligned("example.test", "mail.example.test")
    assert not aligned("test", "example.test")
    assert not aligned("evil-example.test", "example.test")
    header = parse_header("mx.x 1; spf=pass smtp.mailfrom=a@b.c; dkim=pass header.d=b.c")
    assert isinstance(header, AuthResHeader) and header.authserv_id == "mx.x"
    assert [r.method for r in header.results] == ["spf", "dkim"]
    found = header.results[1].prop("header.d")
    assert found is not None and found.domain == "b.c"


def test_garbage_never_raises() -> None:
    for raw in (b"", b"\x00\xff\xfe", b"From: \r\n\r\n", b"From: =?utf-8?b?broken?= <\r\n\r\nx"):
        assert not verdict(raw).ok
