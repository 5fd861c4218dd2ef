"""What real providers write into a received reply, read by the real parser.

The ``Authentication-Results`` blocks follow shapes seen in public mail
corpora (ids, header order, one header per method or several methods per
header, comments, folding); addresses, keys and trace ids are placeholders.
The person writes from ``me@example.test``; the provider is the one hosting
TaskPing's mailbox. Each provider gets its genuine reply (typed) and the
forgery its shape invites (refused).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from taskping.config import ConfigError, load_settings
from taskping.relay.authenticate import Authenticated, authenticate
from taskping.relay.parse import parse
from taskping.session_map.vocabulary import Refusal

ME = "me@example.test"
DATE = "Sat, 21 Nov 2026 09:00:01 +0000"
SENDER_RECEIVED = f"Received: from [198.51.100.7] by mail.example.test with ESMTPSA id s1; {DATE}"
EVIL_RECEIVED = f"Received: from [203.0.113.66] by smtp.evil.example with ESMTPSA id e1; {DATE}"


def mail(*top: str, from_: str = ME) -> bytes:
    """``top`` (what the provider and the hops wrote, topmost first) above the person's own headers."""
    lines = [
        *top,
        f"From: Me <{from_}>",
        "To: taskping@provider.example",
        "Subject: Re: [TaskPing] build done",
        "Message-ID: <r1@example.test>",
        f"Date: {DATE}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    text = "\r\n".join(line.replace("\n", "\r\n") for line in lines)
    return (text + "\r\n\r\nrun the tests\r\n").encode()


def check(raw: bytes, trusted: str | Sequence[str]) -> Authenticated | Refusal:
    return authenticate(parse(raw), allowed_senders=(ME,), mode="authres", trusted_authserv_id=trusted)


# --------------------------------------------------------------------------- Gmail

GMAIL_ENTRY = (
    f"Received: from mail.example.test (mail.example.test. [203.0.113.5])\n"
    f"        by mx.google.com with ESMTPS id a1si1234567qkb.12.2026.11.21.09.00.01\n"
    f"        for <taskping@gmail.com>\n"
    f"        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\n        {DATE}"
)


def gmail(results: str, *below: str) -> bytes:
    return mail(
        "Delivered-To: taskping@gmail.com",
        f"Received: by 2002:a05:6a20:1e2f:b0:1a1:1a1a:1a1a with SMTP id x12csp1;\n        {DATE}",
        "X-Received: by 2002:a05:620a:1:b0:1 with SMTP id y; " + DATE,
        "Return-Path: <me@example.test>",
        GMAIL_ENTRY,
        "Received-SPF: pass (google.com: domain of me@example.test designates 203.0.113.5 as permitted sender)"
        " client-ip=203.0.113.5;",
        "Authentication-Results: mx.google.com;\n" + results,
        *below,
        SENDER_RECEIVED,
    )


GMAIL_PASS = (
    '       dkim=pass header.i=@example.test header.s=s1 header.b="Ab/Cd+Ef";\n'
    "       spf=pass (google.com: domain of me@example.test designates 203.0.113.5 as permitted sender)"
    " smtp.mailfrom=me@example.test;\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.test"
)


def test_gmail_dmarc_pass() -> None:
    v = check(gmail(GMAIL_PASS), "mx.google.com")
    assert v.ok and v.reason == "dmarc=pass header.from=example.test (mx.google.com)"


def test_gmail_writes_header_i_never_header_d() -> None:
    v = check(
        gmail(
            '       dkim=pass header.i=@example.test header.s=s1 header.b="Ab/Cd+Ef";\n'
            "       spf=none smtp.mailfrom=me@example.test"
        ),
        "mx.google.com",
    )
    assert v.ok and v.reason.startswith("dkim=pass header.d=example.test")


def test_gmail_fail_with_a_forged_pass_appended_right_under_it() -> None:
    """A sender talking to Gmail's MX directly can place a header right under Gmail's: it contradicts, so no."""
    forged = (
        "Authentication-Results: mx.google.com; dkim=pass header.i=@example.test; dmarc=pass header.from=example.test"
    )
    v = check(
        gmail(
            "       dkim=fail header.i=@example.test header.s=s1;\n       dmarc=fail (p=NONE) header.from=example.test",
            forged,
        ),
        "mx.google.com",
    )
    assert not v.ok and "does not pass" in v.reason


def test_gmail_forgery_below_the_senders_received_is_the_senders() -> None:
    raw = mail(
        "Delivered-To: taskping@gmail.com",
        GMAIL_ENTRY,
        EVIL_RECEIVED,
        "Authentication-Results: mx.google.com; dkim=pass header.i=@example.test; dmarc=pass header.from=example.test",
    )
    v = check(raw, "mx.google.com")
    assert not v.ok and "sits below a Received header by smtp.evil.example" in v.reason


# --------------------------------------------------------------------------- Fastmail


def fastmail(mx: str, dkim_dmarc: str, *, pre_2023: bool = False) -> bytes:
    """Several headers per message, one per-MX id; the topmost holds only x-csa/x-me-sender/x-ptr."""
    hops = (
        []
        if pre_2023
        else [
            (
                f"Received: from ams-compute-02.internal (ams-compute-02.internal [10.64.2.62])\n"
                f"\t by slotai03m05 (Cyrus 3.13.7) with LMTPA;\n\t {DATE}"
            ),
            f"Received: from {mx.split('.')[0]} ([10.202.2.203])\n  by ams-compute-02.internal (LMTPProxy); {DATE}",
            f"Received: from {mx} (localhost [127.0.0.1])\n\tby mailmx.phl.internal (Postfix) with ESMTP id A7;\n\t{DATE}",
            (
                f"Received: from mailmx.phl.internal (localhost [127.0.0.1])\n    by {mx} (Authentication Milter) with ESMTP\n"
                f"    id 35022C783BF.281071EA00F1;\n    {DATE}"
            ),
        ]
    )
    return mail(
        "Return-Path: <me@example.test>",
        *hops,
        f"ARC-Authentication-Results: i=1; {mx};\n    x-csa=none;\n    dkim=pass header.d=example.test;\n"
        "    dmarc=pass header.from=example.test",
        f"Authentication-Results: {mx};\n    x-csa=none;\n    x-me-sender=none;\n"
        "    x-ptr=pass smtp.helo=mail.example.test\n      policy.ptr=mail.example.test",
        f"Authentication-Results: {mx};\n    bimi=none (No BIMI records found)",
        f"Authentication-Results: {mx};\n    arc=none (no signatures found)",
        f"Authentication-Results: {mx};\n" + dkim_dmarc,
        "X-ME-Authentication-Results: " + mx + ";\n    x-tls=pass smtp.version=TLSv1.3 smtp.bits=256/256",
        "Received-SPF: pass\n    (example.test: Sender is authorized to use 'me@example.test' in 'mfrom' identity)\n"
        f"    receiver={mx};\n    identity=mailfrom;",
        f"Received: from mail.example.test (mail.example.test [203.0.113.5])\n\t(using TLSv1.3)\n\t(No client certificate"
        f" requested)\n\tby {mx} (Postfix) with ESMTPS id 281071EA00F1\n\tfor <taskping@fastmail.com>; {DATE}",
        SENDER_RECEIVED,
    )


FASTMAIL_PASS = (
    "    dkim2=none (no signatures found);\n"
    "    dkim=pass (2048-bit rsa key sha256) header.d=example.test\n"
    "      header.i=@example.test header.b=ZMMr8Ob+ header.a=rsa-sha256\n      header.s=s1;\n"
    "    dmarc=pass policy.published-domain-policy=reject\n"
    "      policy.applied-disposition=none policy.evaluated-disposition=none\n"
    "      (p=reject,d=none,d.eval=none) policy.policy-from=p\n      header.from=example.test;\n"
    "    iprev=pass smtp.remote-ip=203.0.113.5 (mail.example.test);\n"
    "    spf=pass smtp.mailfrom=me@example.test\n      smtp.helo=mail.example.test"
)

FASTMAIL_IDS = tuple(f"mx{n}.messagingengine.com" for n in range(1, 9))


@pytest.mark.parametrize("mx", ["mx3.messagingengine.com", "mx8.messagingengine.com", "phl-mx-04.messagingengine.com"])
def test_fastmail_block_read_together_with_a_pattern(mx: str) -> None:
    v = check(fastmail(mx, FASTMAIL_PASS), "*.messagingengine.com")
    assert v.ok and v.reason == f"dmarc=pass header.from=example.test ({mx})"


def test_fastmail_per_mx_ids_listed() -> None:
    assert check(fastmail("mx4.messagingengine.com", FASTMAIL_PASS, pre_2023=True), FASTMAIL_IDS).ok
    v = check(fastmail("phl-mx-04.messagingengine.com", FASTMAIL_PASS), FASTMAIL_IDS)
    assert not v.ok and v.reason == f"no Authentication-Results header from {', '.join(FASTMAIL_IDS)}"


def test_fastmail_fail() -> None:
    v = check(
        fastmail(
            "mx2.messagingengine.com",
            "    dkim=none (no signatures found);\n"
            "    dmarc=fail policy.published-domain-policy=reject header.from=example.test;\n"
            "    spf=fail smtp.mailfrom=me@example.test",
        ),
        "*.messagingengine.com",
    )
    assert not v.ok and "does not pass: dmarc=fail; dkim=none" in v.reason


def test_fastmail_forgery_under_the_entry_received_is_refused() -> None:
    """A sender that connects to mx1 directly writes right under Fastmail's entry Received."""
    raw = fastmail("mx1.messagingengine.com", "    dkim=none;\n    dmarc=fail header.from=example.test", pre_2023=True)
    forged = b"Authentication-Results: mx1.messagingengine.com; dmarc=pass header.from=example.test\r\n"
    raw = raw.replace(SENDER_RECEIVED.encode() + b"\r\n", forged + SENDER_RECEIVED.encode() + b"\r\n")
    v = check(raw, "*.messagingengine.com")
    assert not v.ok and "does not pass" in v.reason


def test_fastmail_block_alone_when_the_topmost_is_forged_lower() -> None:
    """Only a forged header (the provider's id, below the sender's Received) and no provider block."""
    raw = mail(
        f"Received: from smtp.evil.example by mx5.messagingengine.com (Postfix) with ESMTPS id 1; {DATE}",
        EVIL_RECEIVED,
        "Authentication-Results: mx5.messagingengine.com; dmarc=pass header.from=example.test",
    )
    v = check(raw, "*.messagingengine.com")
    assert not v.ok and "sits below a Received header by smtp.evil.example" in v.reason


# --------------------------------------------------------------------------- Proton

PROTON_ENTRY = (
    f"Received: from mail.example.test (mail.example.test [203.0.113.5])\n (using TLSv1.3 with cipher"
    f" TLS_AES_256_GCM_SHA384 (256/256 bits))\n (No client certificate requested)\n by mailin043.protonmail.ch"
    f" (Postfix) with ESMTPS id 4Fq1\n for <taskping@proton.me>; {DATE}"
)


def proton(*per_method: str, below: Sequence[str] = ()) -> bytes:
    """One header per method, all above Proton's entry Received."""
    return mail(
        "Return-Path: <me@example.test>",
        "X-Original-To: taskping@proton.me",
        "Delivered-To: taskping@proton.me",
        *(f"Authentication-Results: mail.protonmail.ch; {m}" for m in per_method),
        PROTON_ENTRY,
        *below,
        SENDER_RECEIVED,
    )


def test_proton_dkim_fail_above_dmarc_pass() -> None:
    """Proton's first check of a signature can fail; the aligned dmarc pass still counts."""
    v = check(
        proton(
            "dkim=fail (Bad 0 bit\n    rsa-sha256 signature.) header.d=example.test header.a=rsa-sha256",
            "dmarc=pass (p=quarantine dis=none)\n header.from=example.test",
            "spf=pass smtp.mailfrom=example.test",
            "arc=none smtp.remote-ip=203.0.113.5",
            'dkim=pass (2048-bit key)\n header.d=example.test header.i=@example.test\n header.b="XFVjBFda"',
        ),
        "mail.protonmail.ch",
    )
    assert v.ok and v.reason == "dmarc=pass header.from=example.test (mail.protonmail.ch)"


def test_proton_dkim_fail_alone_cancels_dkim_but_not_dmarc() -> None:
    v = check(
        proton(
            "dkim=fail (Bad signature) header.d=example.test",
            "dmarc=fail (p=none dis=none) header.from=example.test",
            "dkim=pass (2048-bit key) header.d=example.test",
        ),
        "mail.protonmail.ch",
    )
    assert not v.ok and "dkim=pass but also dkim=fail for example.test" in v.reason


def test_proton_forgery_below_its_received_is_not_in_the_block() -> None:
    forged = "Authentication-Results: mail.protonmail.ch; dmarc=pass header.from=example.test"
    v = check(
        proton(
            "dkim=none",
            "dmarc=fail (p=none dis=none) header.from=example.test",
            "spf=none smtp.mailfrom=evil.example",
            below=[forged],
        ),
        "mail.protonmail.ch",
    )
    assert not v.ok and "does not pass: dmarc=fail" in v.reason


def test_proton_appended_pass_that_contradicts_the_block() -> None:
    v = check(
        proton(
            "dkim=none",
            "dmarc=none (p=none dis=none) header.from=example.test",
            "dmarc=pass header.from=example.test",
            "dkim=pass header.d=example.test",
        ),
        "mail.protonmail.ch",
    )
    assert not v.ok and "dmarc=none/pass" in v.reason and "dkim=pass but also dkim=none" in v.reason


# --------------------------------------------------------------------------- iCloud


def icloud(dmarc: str, dkim: str) -> bytes:
    """A different id per method."""
    return mail(
        'Authentication-Results: bimi.icloud.com; bimi=skipped reason="insufficient dmarc"',
        f"Authentication-Results: dmarc.icloud.com; {dmarc}",
        f"Authentication-Results: dkim-verifier.icloud.com;\n\t{dkim}",
        "Authentication-Results: spf.icloud.com; spf=pass (spf.icloud.com: domain of me@example.test designates"
        " 203.0.113.5 as permitted sender) smtp.mailfrom=me@example.test",
        f"Received: from mail.example.test (mail.example.test [203.0.113.5]) by mx01.mail.icloud.com with ESMTPS;"
        f" {DATE}",
        SENDER_RECEIVED,
    )


ICLOUD_IDS = ("dmarc.icloud.com", "dkim-verifier.icloud.com", "spf.icloud.com", "bimi.icloud.com")


@pytest.mark.parametrize("trusted", ["*.icloud.com", ICLOUD_IDS])
def test_icloud_one_id_per_method(trusted: str | tuple[str, ...]) -> None:
    raw = icloud(
        "dmarc=pass header.from=example.test",
        "dkim=pass (2048-bit key) header.d=example.test header.i=@example.test header.b=HYnahEVt",
    )
    v = check(raw, trusted)
    assert v.ok and v.reason == (
        "dmarc=pass header.from=example.test "
        "(bimi.icloud.com, dmarc.icloud.com, dkim-verifier.icloud.com, spf.icloud.com)"
    )


def test_icloud_dkim_header_counts_with_dmarc_none_from_another_header() -> None:
    v = check(
        icloud("dmarc=none header.from=example.test", "dkim=pass (2048-bit key) header.d=example.test"), "*.icloud.com"
    )
    assert v.ok and v.reason.startswith("dkim=pass header.d=example.test")


def test_icloud_only_the_dmarc_id_trusted_sees_only_its_header() -> None:
    v = check(icloud("dmarc=none header.from=example.test", "dkim=pass header.d=example.test"), "dmarc.icloud.com")
    assert not v.ok and "no dkim result" in v.reason


# --------------------------------------------------------------------------- Yahoo / AOL


def yahoo(atlas: str, results: str) -> bytes:
    return mail(
        f"Received: from 127.0.0.1\n by {atlas} with HTTP; {DATE}",
        "Return-Path: <me@example.test>",
        "X-Originating-Ip: [203.0.113.5]",
        "Received-SPF: pass (domain of example.test designates 203.0.113.5 as permitted sender)",
        f"Authentication-Results: {atlas};\n{results}",
        f"X-Apparently-To: taskping@yahoo.com; {DATE}",
        f"Received: from 203.0.113.5 (EHLO mail.example.test)\n by 10.217.151.75 with SMTPs; {DATE}",
        SENDER_RECEIVED,
    )


@pytest.mark.parametrize(
    "atlas",
    [
        "atlas-production.v2-mail-prod1-gq1.omega.yahoo.com",
        "atlas206.aol.mail.ne1.yahoo.com",
        "atlas122.free.mail.gq1.yahoo.com",
    ],
)
def test_yahoo_a_different_host_each_time(atlas: str) -> None:
    v = check(
        yahoo(
            atlas,
            " dkim=pass header.i=@example.test header.s=s1;\n spf=pass smtp.mailfrom=example.test;\n"
            " dmarc=pass(p=REJECT,sp=REJECT) header.from=example.test;",
        ),
        "*.yahoo.com",
    )
    assert v.ok and v.reason == f"dmarc=pass header.from=example.test ({atlas})"


def test_yahoo_old_dmarc_success_is_not_pass_but_dkim_still_counts() -> None:
    atlas = "atlas101.aol.mail.bf1.yahoo.com"
    v = check(
        yahoo(
            atlas,
            " dkim=pass header.i=@example.test header.s=s1;\n spf=pass smtp.mailfrom=example.test;\n"
            " dmarc=success(p=REJECT) header.from=example.test;",
        ),
        "*.yahoo.com",
    )
    assert v.ok and v.reason.startswith("dkim=pass header.d=example.test")
    v = check(
        yahoo(
            atlas,
            " dkim=unknown;\n spf=softfail smtp.mailfrom=example.test arc_overridden_status=NOT_OVERRIDDEN;\n"
            " dmarc=success(p=REJECT) header.from=example.test;",
        ),
        "*.yahoo.com",
    )
    assert not v.ok and "dmarc=success" in v.reason


def test_yahoo_lookalike_ids_are_not_yahoo() -> None:
    for atlas in ("atlas1.yahoo.com.evil.example", "atlas1.evilyahoo.com"):
        raw = yahoo(atlas, " dkim=pass header.i=@example.test;\n dmarc=pass header.from=example.test;")
        assert check(raw, "*.yahoo.com").reason == "no Authentication-Results header from *.yahoo.com"


# --------------------------------------------------------------------------- GMX, Microsoft, nothing

GMX_ENTRY = (
    f"Received: from mail.example.test ([203.0.113.5]) by mx-ha.gmx.net (mxgmx114\n [212.227.17.5]) with ESMTPS"
    f" (Nemesis) id 1MaJKP-1pWHuy2AM9-00WQcz for\n <taskping@gmx.net>; {DATE}"
)


def test_gmx_reports_dkim_only() -> None:
    v = check(
        mail("Authentication-Results: gmx.net; dkim=pass header.i=@example.test", GMX_ENTRY, SENDER_RECEIVED), "gmx.net"
    )
    assert v.ok and v.reason == "dkim=pass header.d=example.test (gmx.net)"


def test_gmx_silent_on_dmarc_a_dmarc_pass_under_its_received_is_not_its() -> None:
    forged = "Authentication-Results: gmx.net; dmarc=pass header.from=example.test"
    v = check(
        mail("Authentication-Results: gmx.net; dkim=fail header.i=@example.test", GMX_ENTRY, forged, EVIL_RECEIVED),
        "gmx.net",
    )
    assert not v.ok and "does not pass: no dmarc result; dkim=fail d=example.test" in v.reason


MICROSOFT = (
    "Authentication-Results: spf=pass (sender IP is 203.0.113.5)\n smtp.mailfrom=example.test; dkim=pass"
    " (signature was verified)\n header.d=example.test;dmarc=pass action=none\n"
    " header.from=example.test;compauth=pass reason=100"
)


@pytest.mark.parametrize("trusted", ["outlook.com", "*.outlook.com", "*.protection.outlook.com", "spf"])
def test_microsoft_writes_no_authserv_id_so_authres_cannot_work(trusted: str) -> None:
    raw = mail(
        MICROSOFT,
        f"Received: from mail.example.test by AM0PR01MB1234.eurprd01.prod.outlook.com with ESMTPS; {DATE}",
        SENDER_RECEIVED,
    )
    v = check(raw, trusted)
    assert not v.ok and v.reason.startswith("no Authentication-Results header from")


def test_no_authentication_results_at_all() -> None:
    v = check(mail(f"Received: from mail.example.test by mx.web.de with ESMTPS; {DATE}", SENDER_RECEIVED), "web.de")
    assert not v.ok and v.reason == "no Authentication-Results header from web.de"


# --------------------------------------------------------------------------- several providers configured


def test_several_ids_from_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "env").write_text("TRUSTED_AUTHSERV_ID= mx.google.com , *.messagingengine.com,MX.Google.Com.\n")
    ids = load_settings(tmp_path / "env", environ={}).trusted_authserv_id
    assert ids == ("mx.google.com", "*.messagingengine.com")
    assert check(gmail(GMAIL_PASS), ids).ok
    assert check(fastmail("mx6.messagingengine.com", FASTMAIL_PASS), ids).ok
    assert not check(yahoo("atlas1.free.mail.yahoo.com", " dmarc=pass header.from=example.test;"), ids).ok


@pytest.mark.parametrize(
    "value",
    [
        "*.com",
        "*",
        "*.",
        "mx google.com",
        "mx..google.com",
        ",",
        "mx.google.com;x",
        "*.*.example.com",
        "evil.example/x",
    ],
)
def test_bad_trusted_ids_are_config_errors(value: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "env").write_text("")
    with pytest.raises(ConfigError, match="TRUSTED_AUTHSERV_ID"):
        load_settings(tmp_path / "env", environ={"TRUSTED_AUTHSERV_ID": value})
