"""Parsing never yields text that later steps cannot encode."""

from __future__ import annotations

from taskping.relay.parse import parse, scrub


def test_undecodable_bodies_and_headers_become_valid_text() -> None:
    raw = (b"From: =?utf-7?q?+AGEAYgBj-?= <me@example.test>\r\nSubject: =?utf-8?b?/w==?=\r\n"
           b"Content-Type: text/plain; charset=utf-7\r\n\r\n+2D3+-bad\xed\xa0\x80 text\r\n")
    mail = parse(raw)
    for value in (mail.text or "", mail.subject, *mail.from_headers):
        value.encode("utf-8")  # no lone surrogates left
    assert mail.from_addresses == ["me@example.test"]
    assert "text" in (mail.text or "")


def test_scrub_keeps_valid_text() -> None:
    assert scrub("plain, 中文, emoji 🙂") == "plain, 中文, emoji 🙂"
    assert scrub("a\udcffb") == "a\ufffdb"
