"""Parsing never yields text that later steps cannot encode."""

from __future__ import annotations

import pytest

from taskping.relay.parse import parse, scrub


def test_undecodable_bodies_and_headers_become_valid_text() -> None:
    raw = (
        b"From: =?utf-7?q?+AGEAYgBj-?= <me@example.test>\r\nSubject: =?utf-8?b?/w==?=\r\n"
        b"Content-Type: text/plain; charset=utf-7\r\n\r\n+2D3+-bad\xed\xa0\x80 text\r\n"
    )
    mail = parse(raw)
    for value in (mail.text or "", mail.subject, *mail.from_headers):
        value.encode("utf-8")  # no lone surrogates left
    assert mail.from_addresses == ["me@example.test"]
    assert "text" in (mail.text or "")


def test_scrub_keeps_valid_text() -> None:
    assert scrub("plain, 中文, emoji 🙂") == "plain, 中文, emoji 🙂"
    assert scrub("a\udcffb") == "a\ufffdb"


# -- the From address must be written literally (issue 8): what the standard library repairs, and what we refuse

from taskping.relay.authenticate import authenticate  # noqa: E402 - imported where its tests begin


def _from(value: bytes) -> bytes:
    return (
        b"From: "
        + value
        + b"\r\nTo: taskping@example.test\r\nSubject: Re: x\r\nMessage-ID: <a@example.test>\r\n\r\nhi\r\n"
    )


# (From value, the address the standard library reads, the defect we record)
NOT_LITERAL = [
    (b"=?utf-8?q?me?=@example.test", "address not literal: encoded-word in the address"),
    (b"<=?utf-8?q?me?=@example.test>", "address not literal: encoded-word in the address"),
    (b"Me <me@=?utf-8?q?example.test?=>", "address not literal: encoded-word in the address"),
    (b"me(comment)@example.test", "address not literal: comment in the address"),
    (b"<me@(c)example.test>", "address not literal: comment in the address"),
    (b"me@example.test (Me)", "address not literal: comment in the address"),
    (b'"me"@example.test', "address not literal: quoted local part"),
    (b'Me <"me"@example.test>', "address not literal: quoted local part"),
    (b"<@relay.evil.test:me@example.test>", "address not literal: route or extra @ in the address"),
    (b"friends: me@example.test;", "address not literal: group syntax"),
    (b"friends: <me@example.test>;", "address not literal: group syntax"),
    (b"<me @example.test>", "address not literal: whitespace in the address"),
    (b"Me <me@example.test> trailing", "address not literal: text after the angle-addr"),
    (b"me@example.test <me@example.test>", "address not literal: address syntax in the display name"),
    (b"Me (work) <me@example.test>", "address not literal: address syntax in the display name"),
]


@pytest.mark.parametrize(("value", "defect"), NOT_LITERAL, ids=[v.decode() for v, _ in NOT_LITERAL])
def test_an_address_that_only_decodes_to_the_allowed_one_does_not_match(value: bytes, defect: str) -> None:
    mail = parse(_from(value))
    assert mail.unreadable is None
    assert mail.from_addresses == ["me@example.test"]  # what the library makes of it: the allowed address...
    assert defect in mail.from_defects  # ...which we do not take
    verdict = authenticate(mail, allowed_senders=("me@example.test",), mode="none", trusted_authserv_id=None)
    assert not verdict.ok and verdict.reason.startswith("From header is malformed")


LITERAL = [
    b"me@example.test",
    b"<me@example.test>",
    b"Me <me@example.test>",
    b"Me <ME@Example.Test>",
    b'"Me, the <boss>" <me@example.test>',
    b"=?utf-8?q?M=C3=A9_=3Cboss=40evil=2Etest=3E?= <me@example.test>",
    "Mé Ünïcode <me@example.test>".encode(),
    b"Me\r\n <me@example.test>",
]


@pytest.mark.parametrize("value", LITERAL, ids=[v.decode(errors="replace") for v in LITERAL])
def test_display_names_of_any_kind_are_fine(value: bytes) -> None:
    mail = parse(_from(value))
    assert (mail.unreadable, mail.from_addresses, mail.from_defects) == (None, ["me@example.test"], [])
    verdict = authenticate(mail, allowed_senders=("me@example.test",), mode="none", trusted_authserv_id=None)
    assert verdict.ok and verdict.sender == "me@example.test"


def test_a_quoted_allowed_address_as_display_name_is_the_other_address() -> None:
    mail = parse(_from(b'"me@example.test" <evil@attacker.test>'))
    assert (mail.from_addresses, mail.from_defects) == (["evil@attacker.test"], [])


def test_a_from_header_too_long_to_read_whole_is_refused() -> None:
    value = b"me@example.test" + b" " * 4000 + b", evil@attacker.test"
    mail = parse(_from(value))
    assert "From header over 4000 characters" in mail.from_defects
