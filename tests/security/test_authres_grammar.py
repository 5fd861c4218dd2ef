"""The RFC 8601 tokenizer on its own: what it reads, and what it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskping.relay.authres import AuthResHeader, TrustedIds, Unreadable, authserv_id, parse_header, received_by
from taskping.relay.parse import MAX_HEADER_CHARS


def read(value: str) -> AuthResHeader:
    found = parse_header(value)
    assert isinstance(found, AuthResHeader), found
    return found


def methods(value: str) -> list[tuple[str, str]]:
    return [(r.method, r.result) for r in read(value).results]


def test_quoted_string_is_one_value_with_escapes_resolved() -> None:
    header = read('mx.x; spf=pass smtp.mailfrom="a\\"; dmarc=pass \\\\ (b"@evil.example')
    assert [(r.method, r.result) for r in header.results] == [("spf", "pass")]
    value = header.results[0].prop("smtp.mailfrom")
    assert value is not None and value.domain == "evil.example"
    assert value.text == '"a"; dmarc=pass \\ (b"@evil.example'


def test_nested_comments_with_quoted_pairs_are_skipped_whole() -> None:
    assert methods("mx.x (a (b \\) ; dmarc=pass) (c)) ; spf=fail (x (y (z; dkim=pass))) smtp.helo=h") == [
        ("spf", "fail")
    ]


def test_comment_right_after_the_result_without_space() -> None:
    """Yahoo writes ``dmarc=pass(p=REJECT)``."""
    header = read("atlas1.mail.yahoo.com; dmarc=pass(p=REJECT,sp=REJECT) header.from=example.test;")
    found = header.results[0].prop("header.from")
    assert header.results[0].result == "pass" and found is not None and found.domain == "example.test"


def test_folding_white_space_and_the_version() -> None:
    header = read("mx.x 1;\r\n\tdkim=pass\r\n header.i=@example.test;\r\n  dmarc=none")
    assert header.authserv_id == "mx.x"
    assert [(r.method, r.result) for r in header.results] == [("dkim", "pass"), ("dmarc", "none")]


def test_method_version_reason_and_property_forms() -> None:
    header = read('mx.x; dkim/1 = fail reason="sig; bad" header . d = example.test header.b="a/b+c="')
    r = header.results[0]
    assert (r.method, r.result, r.reason) == ("dkim", "fail", "sig; bad")
    d, b = r.prop("header.d"), r.prop("header.b")
    assert d is not None and d.domain == "example.test" and b is not None and b.text == "a/b+c="


def test_no_result() -> None:
    assert read("mx.x; none").results == ()
    assert read("mx.x 1 ; none").results == ()


def test_leniencies_real_providers_need() -> None:
    """Yahoo's trailing ';', ``dkim_pass`` and bare ``arc_overridden_status``; an unquoted IPv6."""
    assert methods(
        "atlas1.mail.yahoo.com; dkim=dkim_pass header.i=@example.test; "
        "spf=softfail smtp.mailfrom=x arc_overridden_status=NOT_OVERRIDDEN;"
    ) == [("dkim", "dkim_pass"), ("spf", "softfail")]
    assert methods("mail.protonmail.ch; arc=none smtp.remote-ip=2001:db8::1") == [("arc", "none")]


def test_authserv_id_is_read_alone_and_microsoft_has_none() -> None:
    assert authserv_id(" (c) MX.Example.Test.; dmarc=pass") == "mx.example.test"
    assert authserv_id('"mx.example.test"; dmarc=pass') == "mx.example.test"
    assert authserv_id("spf=pass (sender IP is 203.0.113.1) smtp.mailfrom=example.test; dkim=pass") is None
    assert authserv_id("(unterminated mx.x; dmarc=pass") is None
    assert authserv_id("") is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "no authserv-id"),
        ("; dmarc=pass", "no authserv-id"),
        ("spf=pass smtp.mailfrom=a@b.c", "no authserv-id"),
        ("mx.x dmarc=pass", "expected ';'"),
        ("mx.x; dmarc", "expected '='"),
        ("mx.x; dmarc=", "expected a result"),
        ("mx.x; =pass", "expected a method name"),
        ("mx.x; dmarc=pass header.from", "expected '='"),
        ("mx.x; dmarc=pass header.=x", "expected a property name after the dot"),
        ("mx.x; dmarc=pass header.from=", "expected a property value"),
        ("mx.x; dmarc=pass header.from=a (open", "unterminated comment"),
        ('mx.x; dmarc=pass reason="open', "unterminated quoted-string"),
        ('mx.x; dmarc=pass reason="a" reason="b"', "a second reason"),
        ('mx.x; dmarc=pass header.from="x"@', "expected a domain"),
        ('mx.x; dmarc=pass header.from="x"@a;b', "expected '=' after method 'b'"),
        ('mx.x; dmarc=pass header.from=a"b"', "unexpected"),
        ("mx.x; dmarc=pass\rheader.from=a", "line break"),
        ("mx.x; dmarc=pass\nheader.from=a", "line break"),
        ("mx.x; dmarc=pass\r\nheader.from=a", "line break"),
        ("mx.x; dmarc=pass header.from=ex\u00e4mple.test", "not printable ASCII"),
        ("mx.x; dkim/x=pass", "method version"),
        ("mx.x; dmarc=pass; ;", "expected a method name"),
        ("mx.x; dmarc=pass (a \\", "backslash"),
        ("mx.x; dmarc=pass header.from=a" + " " * MAX_HEADER_CHARS, "cut, so not read"),
    ],
)
def test_garbage_is_unreadable_with_a_reason(value: str, why: str) -> None:
    found = parse_header(value)
    assert isinstance(found, Unreadable), found
    assert why in found.reason


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('mx.; =()"\\@abdfkimprs-_/\r\n\t1')), max_size=80))
def test_any_text_is_read_or_refused_never_raises(value: str) -> None:
    found = parse_header("mx.x; " + value)
    assert isinstance(found, (AuthResHeader, Unreadable))


@pytest.mark.parametrize(
    ("configured", "found", "ok"),
    [
        (("mx.google.com",), "mx.google.com", True),
        (("mx.google.com",), "MX.Google.Com.", True),
        (("mx.google.com",), "mx.google.com.evil.example", False),
        (("mx.google.com",), "x.mx.google.com", False),
        (("*.example.com",), "mx1.example.com", True),
        (("*.example.com",), "a.b.example.com", True),
        (("*.example.com",), "example.com", False),
        (("*.example.com",), "evilexample.com", False),
        (("*.example.com",), "mx1.example.com.evil.example", False),
        (("mx1.messagingengine.com", "mx2.messagingengine.com"), "mx2.messagingengine.com", True),
        (("mx1.messagingengine.com", "mx2.messagingengine.com"), "mx3.messagingengine.com", False),
    ],
)
def test_trusted_ids_and_patterns(configured: tuple[str, ...], found: str, ok: bool) -> None:
    assert TrustedIds.of(configured).matches(found) is ok


def test_provider_hosts_for_the_position_rule() -> None:
    exact, pattern = TrustedIds.of("mx.google.com"), TrustedIds.of(("*.example.com",))
    assert exact.provider_host("mx.google.com") and exact.provider_host("a.mx.google.com")
    assert not exact.provider_host("mx.google.com.evil.example")
    assert pattern.provider_host("mx4.example.com") and not pattern.provider_host("evilexample.com")


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("from a.example (a.example [203.0.113.1]) by mx.google.com with ESMTPS id x", "mx.google.com"),
        ("from a (helo (by evil.example)) by MX4.Example.COM. with ESMTP", "mx4.example.com"),
        ("from [10.0.0.1] by [192.0.2.1]; Sat, 21 Nov 2026 09:00:00 +0000", "192.0.2.1"),
        ("from a (unbalanced by evil.example", None),
        ("from a with HTTP; by", None),
    ],
)
def test_received_by(value: str, host: str | None) -> None:
    assert received_by(value) == host
