"""Writing a notification's MIME bytes without the ``email`` package.

The Stop hook runs on every turn and composes the mail there; importing
``email.message``/``email.policy``/``email.utils`` costs more than everything
else the hook does (~35 ms of a ~120 ms run, most of it compiling the header
parser's regular expressions). A notification has a fixed shape, so it is
written directly, in the same form :func:`taskping.outgoing.build` produces:

* headers: From, To, Subject, Date, Message-ID, In-Reply-To/References to the
  thread root, ``Auto-Submitted: auto-generated``, ``X-Auto-Response-Suppress``,
  ``X-TaskPing: KIND``, MIME-Version;
* ``multipart/alternative`` with a text/plain and a text/html part, both
  UTF-8 in base64 (always safe: no line-length or 8-bit questions);
* CRLF line ends, header lines folded at 78 characters.

The Subject is the one header with free text (Claude's first line, the project
directory's name): its printable-ASCII words are written as they are, and
from the first word that is not, the rest is RFC 2047 encoded-words (UTF-8,
base64) of at most 75 characters, split between characters. Control
characters are never written raw, so a newline in a directory name cannot
start a header of its own. Tests parse the result with the ``email`` package
(and property-test the Subject) to hold it to the standard reading.
"""

from __future__ import annotations

import binascii
import os
import time

CRLF = "\r\n"
FOLD_AT = 78
#: UTF-8 bytes per encoded-word: base64 of 42 bytes is 56 characters, plus ``=?utf-8?b?``/``?=``
#: = 68, so even the first one fits after ``Subject: `` within 78 characters.
WORD_BYTES = 42
#: A longer readable word (a URL) is encoded too, so that no header line passes 78 characters.
PLAIN_WORD_MAX = 68
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def new_message_id(email_from: str, at: float | None = None, host: str | None = None) -> str:
    """``<tp.HOST.SECONDS.RANDOM@domain>`` on EMAIL_FROM's domain, ``<tp.SECONDS.RANDOM@domain>``
    without a host (as :func:`taskping.outgoing.new_message_id`)."""
    domain = email_from.rpartition("@")[2] or "taskping.invalid"
    prefix = f"tp.{host}." if host else "tp."
    return f"<{prefix}{int(time.time() if at is None else at)}.{os.urandom(10).hex()}@{domain}>"


def rfc5322_date(at: float | None = None) -> str:
    """``Mon, 30 Nov 2026 12:00:00 +0000``: fixed English names, whatever the locale."""
    t = time.gmtime(time.time() if at is None else at)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _plain(word: str) -> bool:
    return len(word) <= PLAIN_WORD_MAX and all(" " < c <= "~" for c in word) and "=?" not in word


def _encoded_words(text: str) -> list[str]:
    """``text`` as UTF-8 base64 encoded-words, each whole characters and ≤ 75 characters."""
    chunks: list[bytes] = []
    chunk = b""
    for char in text:
        data = char.encode("utf-8", "surrogatepass")
        if chunk and len(chunk) + len(data) > WORD_BYTES:
            chunks.append(chunk)
            chunk = b""
        chunk += data
    if chunk:
        chunks.append(chunk)
    return ["=?utf-8?b?" + binascii.b2a_base64(c, newline=False).decode("ascii") + "?=" for c in chunks]


def subject_header(subject: str) -> str:
    """The folded ``Subject:`` line (without its CRLF).

    Leading words of printable ASCII stay readable; the rest, from the first word that is not
    (or an empty one: a run of spaces), becomes encoded-words. The space before the first
    encoded-word is the separator a reader keeps; spaces between encoded-words are dropped.
    """
    words = subject.split(" ")
    plain = 0
    while plain < len(words) and words[plain] and _plain(words[plain]):
        plain += 1
    rest = " ".join(words[plain:])
    if plain < len(words) and not rest and plain:
        plain -= 1  # a single trailing space: carry the last plain word into the encoded part
        rest = words[plain] + " "
    return fold("Subject:", words[:plain] + (_encoded_words(rest) if rest else []))


def fold(name: str, tokens: list[str]) -> str:
    """``name`` and ``tokens`` joined by single spaces, a line break (CRLF + space, which
    unfolds back to that space) before a token that would pass 78 characters."""
    lines: list[str] = []
    line = name
    for index, token in enumerate(tokens):
        if index and len(line) + 1 + len(token) > FOLD_AT:
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return CRLF.join(lines)


def _base64_body(text: str) -> str:
    """The part's base64 lines. Its text is first put in the form ``EmailMessage.set_content``
    gives it (its UTF-8 lines, split at CR, LF or CRLF only, joined with CRLF, plus a final
    CRLF), so both builders read back alike."""
    data = b"\r\n".join(text.encode("utf-8", "surrogatepass").splitlines()) + b"\r\n"
    return CRLF.join(
        binascii.b2a_base64(data[i : i + 57], newline=False).decode("ascii") for i in range(0, len(data), 57)
    )


def build(
    *,
    email_from: str,
    email_to: str,
    subject: str,
    text: str,
    html: str,
    kind: str,
    thread_root: str | None = None,
    message_id: str | None = None,
    host: str | None = None,
) -> tuple[str, bytes]:
    """``(message id, raw bytes)`` of one notification; replies thread under ``thread_root``."""
    message_id = message_id or new_message_id(email_from, host=host)
    boundary = f"===============tp{os.urandom(12).hex()}=="
    headers = [
        f"From: TaskPing <{email_from}>",
        f"To: {email_to}",
        subject_header(subject),
        f"Date: {rfc5322_date()}",
        f"Message-ID: {message_id}",
    ]
    if thread_root:
        headers += [f"In-Reply-To: {thread_root}", f"References: {thread_root}"]
    headers += [
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: All",
        f"X-TaskPing: {kind}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"',
    ]
    parts = []
    for subtype, body in (("plain", text), ("html", html)):
        parts.append(
            f"--{boundary}{CRLF}"
            f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: base64{CRLF}{CRLF}"
            f"{_base64_body(body)}{CRLF}"
        )
    raw = CRLF.join(headers) + CRLF + CRLF + "".join(parts) + f"--{boundary}--{CRLF}"
    return message_id, raw.encode("ascii")
