"""Pure checks of the pieces the attack suite exercises end to end."""

from __future__ import annotations

import pytest

from taskping.config import ConfigError, DnsServer, load_settings
from taskping.relay.authenticate import authenticate, misplaced
from taskping.relay.parse import parse

ME = "me@example.test"

GMAIL_LIKE = [
    ("received", "by 2002:a05:6a20:1::1 with SMTP id x; Sat, 21 Nov 2026 09:00:01 -0800"),
    ("received", "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS"),
    ("authentication-results", "mx.google.com; dkim=pass header.d=example.test; dmarc=pass"),
    ("received", "by mail-sor-f41.google.com with SMTP id y"),
]


def test_provider_header_right_under_its_entry_received_counts() -> None:
    assert misplaced(GMAIL_LIKE, 2, "mx.google.com") is None


def test_header_below_the_senders_received_is_the_senders() -> None:
    trace = [*GMAIL_LIKE[:2], GMAIL_LIKE[3], ("authentication-results", "mx.google.com; dmarc=pass")]
    assert "sits below a Received header by mail-sor-f41.google.com" in (misplaced(trace, 3, "mx.google.com") or "")


def test_no_entry_received_means_no_position_check() -> None:
    assert misplaced([("authentication-results", "x; dmarc=pass")], 0, "mx.google.com") is None


def test_authres_uses_the_position_rule() -> None:
    raw = (
        b"Received: from a by mx.trusted with ESMTP\r\nReceived: from b by smtp.evil.example\r\n"
        b"Authentication-Results: mx.trusted; dmarc=pass\r\nFrom: me@example.test\r\nSubject: x\r\n\r\nhi\r\n"
    )
    v = authenticate(parse(raw), allowed_senders=(ME,), mode="authres", trusted_authserv_id="mx.trusted")
    assert not v.ok and "sits below" in v.reason


def test_dkim_mode_without_signature_is_dropped() -> None:
    raw = b"From: me@example.test\r\nSubject: x\r\n\r\nhi\r\n"
    v = authenticate(
        parse(raw),
        allowed_senders=(ME,),
        mode="dkim",
        trusted_authserv_id=None,
        dkim_dns_server=DnsServer("127.0.0.1", 9),
        dkim_dns_timeout=1,
    )
    assert not v.ok and v.reason == "no DKIM-Signature header"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5300", ("::1", 5300)),
        ("::1", ("::1", 53)),
    ],
)
def test_dns_server_values(value: str, parsed: tuple[str, int], tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "e").write_text("")
    settings = load_settings(tmp_path / "e", environ={"DKIM_DNS_SERVER": value})
    assert settings.dkim_dns_server == parsed
    assert settings.dkim_dns_timeout == 5


@pytest.mark.parametrize("value", ["dns.example", "127.0.0.1:0", "127.0.0.1:x", "[::1]x"])
def test_bad_dns_server_is_a_config_error(value: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "e").write_text("")
    with pytest.raises(ConfigError, match="DKIM_DNS_SERVER"):
        load_settings(tmp_path / "e", environ={"DKIM_DNS_SERVER": value})
