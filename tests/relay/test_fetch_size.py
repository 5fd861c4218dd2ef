"""Size and header before content, against the real Dovecot.

Messages are stored byte-exact with IMAP APPEND (no SMTP hop to repair
them; sent as MULTIAPPEND, since imaplib's plain append repairs line ends); the relay's real fetch loop (:class:`~taskping.relay.fetch.ImapSession`)
and pipeline read them. What was downloaded is checked twice: the pipeline's
``process`` (which only ever gets whole messages) is wrapped to record what it
got, and Dovecot's own logout line says how many bytes it sent the relay.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.relay.fetch import HEADER_ITEM, ImapSession
from taskping.relay.parse import parse, parse_header
from taskping.relay.pipeline import Outcome, Position
from taskping.session_map import ledger, mailbox
from tests.support.inprocess import HOST, Map, in_process_map, reply_to
from tests.support.mailstack import MailStack

MB = 1_000_000


def padded(raw: bytes, size: int) -> bytes:
    """``raw`` with its body grown to about ``size`` bytes of plain text lines."""
    line = b"x" * 76 + b"\r\n"
    return raw + line * max(0, (size - len(raw)) // len(line))


@pytest.fixture
def world(mail_stack: MailStack, tmp_path: Path) -> Iterator[tuple[MailStack, Map]]:
    env = mail_stack.taskping_env(SENDER_AUTH="none", TASKPING_HOST_ID=HOST)
    with in_process_map(tmp_path, **env) as m:
        yield mail_stack, m


def append(stack: MailStack, *messages: bytes) -> None:
    """Store ``messages`` byte-exact. Not ``IMAPClient.append``: imaplib's APPEND rewrites every
    lone CR and lone LF to CRLF before sending; MULTIAPPEND sends the literal as it is."""
    client = stack.imap("taskping")
    try:
        for raw in messages:
            client.multiappend("INBOX", [raw])
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def logouts(stack: MailStack) -> list[dict[str, int]]:
    """Dovecot's "Logged out" lines for taskping's IMAP sessions, as numbers (in=, out=, ...)."""
    text = stack.log_file.read_text(errors="replace") if stack.log_file.exists() else ""
    lines = [line for line in text.splitlines() if "imap(taskping)" in line and "Logged out" in line]
    return [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)} for line in lines]


def wait_logouts(stack: MailStack, n: int, timeout: float = 10) -> list[dict[str, int]]:
    deadline = time.monotonic() + timeout
    while len(found := logouts(stack)) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} logout lines, wanted {n}:\n{stack.log_file.read_text()[-2000:]}")
        time.sleep(0.05)
    return found


def test_oversize_and_unauthenticated_mail_is_never_downloaded(world: tuple[MailStack, Map]) -> None:
    stack, m = world
    huge = padded(reply_to(m, 0, mid=b"<huge@example.test>"), 3 * MB)  # the person, but over the limit
    stranger = padded(reply_to(m, 0, mid=b"<stranger@attacker.test>", sender=b"eve@attacker.test"), int(1.5 * MB))
    hidden = (
        b"From: me@example.test\r\nTo: taskping@example.test\r\nSubject: lunch\r\n"
        b"Message-ID: <cr@example.test>\r\nX-Note: a\rIn-Reply-To: "
        + m.notes[0].encode()
        + b"\r\rrm -rf build\r\n\r\nsee you\r\n"
    )
    small = (
        reply_to(m, 0, mid=b"<small@example.test>")
        .replace(m.notes[0].encode(), b"<unknown@x>")
        .replace(m.tokens[0].encode(), b"none")
    )  # the person's, readable, goes through the whole pipeline (and is refused)
    append(stack, huge, stranger, hidden, small)
    before = len(wait_logouts(stack, 1))
    stored = len(huge) + len(stranger) + len(hidden) + len(small)

    processed: list[tuple[int, int]] = []

    def process(raw: bytes, position: Position) -> Outcome:
        processed.append((position.uid or 0, len(raw)))
        return m.pipeline.process(raw, position)

    box = ImapSession(m.settings, m.conn, process, threading.Event(), screen=m.pipeline.screen)
    box.run_session(once=True)

    rows = {r.uid: r for r in ledger.entries(m.conn)}
    assert [(rows[u].status, rows[u].reason) for u in sorted(rows)] == [
        ("dropped", f"message is {len(huge):,} bytes, over MAX_MESSAGE_BYTES (2,000,000)"),
        ("dropped", "sender not in ALLOWED_SENDERS (judged on the header; not downloaded)"),
        ("dropped", "malformed header section: lone CR in header line 5"),
        (
            "refused",
            (
                "not a reply to a TaskPing notification (no known thread or token); a new email to TaskPing runs only "
                "#help, #status or #new (send #help for the list); reply to a notification to type into its session"
            ),
        ),
    ]
    small_uid = max(rows)
    assert processed == [(small_uid, len(small))]  # only the small one was downloaded whole
    # Dovecot's own count of what it sent this IMAP session: headers and one small message
    relay_session = wait_logouts(stack, before + 1)[before]
    assert relay_session["out"] < 100_000 < stored
    # every message is finished like any other: flagged done, the UID bookkeeping past the last one
    flags = {uid: f for uid, f, _ in stack.messages("taskping")}
    assert all(m.settings.imap_done_keyword.encode() in f for f in flags.values())
    state = mailbox.get(m.conn, "INBOX")
    assert state is not None and state.last_uid == small_uid


def test_header_fetch_and_full_fetch_give_one_ledger_key(world: tuple[MailStack, Map]) -> None:
    """Dovecot's BODY[HEADER] is the start of its BODY[] and RFC822.SIZE its length (also for a
    message stored with LF line ends), so a message without Message-ID keeps its key."""
    stack, m = world
    crlf = reply_to(m, 0).replace(b"Message-ID: <reply-1@example.test>\r\n", b"")
    lf = crlf.replace(b"Subject: Re:", b"Subject: Re: lf").replace(b"\r\n", b"\n")
    append(stack, crlf, lf)
    client = stack.imap("taskping")
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        heads = client.fetch(uids, ["RFC822.SIZE", HEADER_ITEM])
        bodies = client.fetch(uids, ["BODY.PEEK[]"])
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    for uid in uids:
        header = next(bytes(v) for k, v in heads[uid].items() if k.startswith(b"BODY[HEADER]"))
        full = bytes(bodies[uid][b"BODY[]"])
        assert heads[uid][b"RFC822.SIZE"] == len(full)
        assert parse_header(header, heads[uid][b"RFC822.SIZE"]).message_key == parse(full).message_key
        assert parse(full).unreadable is None


def test_a_lone_cr_survives_the_byte_exact_append(world: tuple[MailStack, Map]) -> None:
    """The path the attack takes: what the relay fetches still has the lone CR, and the canonical
    reading refuses it before anything reads the hidden In-Reply-To."""
    stack, m = world
    raw = (
        b"From: me@example.test\r\nSubject: lunch\r\nMessage-ID: <cr2@example.test>\r\n"
        b"X-Note: a\rIn-Reply-To: " + m.notes[0].encode() + b"\r\rrm -rf build\r\n\r\nsee you\r\n"
    )
    append(stack, raw)
    fetched = stack.messages("taskping")[0].raw
    assert fetched == raw
    assert parse(fetched).unreadable == "malformed header section: lone CR in header line 4"
