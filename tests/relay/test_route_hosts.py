"""Which replies belong to another machine (route.is_foreign), by subject token or by thread,
and the host part a notification's Message-ID carries. On a real (temporary) session map."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taskping.outgoing import new_message_id
from taskping.relay.parse import parse
from taskping.relay.route import is_foreign
from taskping.relay.twin import foreign_twin_ids
from taskping.session_map import connect
from taskping.tokens import default_host_id, host_part, new_token, subject_tag

OURS, THEIRS = "machine-a", "machine-b"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect(tmp_path / "state" / "taskping.db")
    yield c
    c.close()


def _reply(subject: str, parent: str | None) -> bytes:
    thread = f"In-Reply-To: {parent}\r\nReferences: {parent}\r\n" if parent else ""
    return (
        f"From: me@example.test\r\nTo: taskping@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <r1@example.test>\r\n{thread}\r\nplease continue\r\n"
    ).encode()


FROM = "taskping@example.test"
CASES: dict[str, Callable[[], tuple[str, str | None, bool]]] = {  # name: (subject, parent Message-ID, foreign?)
    "thread names another machine": (lambda: ("Re: done", new_message_id(FROM, host_part(THEIRS)), True)),
    "thread names us (unknown: refused later)": (lambda: ("Re: done", new_message_id(FROM, host_part(OURS)), False)),
    "older id names no machine": (lambda: ("Re: done", new_message_id(FROM), False)),
    "not TaskPing's thread": (lambda: ("Re: done", "<CAF+x@mail.gmail.com>", False)),
    "no thread, no token": (lambda: ("Re: done", None, False)),
    "another machine's token": (lambda: (f"Re: {subject_tag(new_token(THEIRS))} done", None, True)),
    "our token": (lambda: (f"Re: {subject_tag(new_token(OURS))} done", None, False)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_foreign_by_token_or_thread(conn: sqlite3.Connection, case: str) -> None:
    subject, parent, foreign = CASES[case]()
    assert is_foreign(conn, parse(_reply(subject, parent)), OURS) is foreign


def test_default_host_id_is_stable_and_not_empty() -> None:
    assert default_host_id() == default_host_id() != ""
    assert host_part() == host_part(default_host_id())


def test_a_twin_minted_in_the_same_second_as_our_first_notification_is_found(conn: sqlite3.Connection) -> None:
    """Message-IDs count whole seconds: the other machine's first notification, minted in the second
    our own first one was (two machines started together), is after it, not before."""
    host = host_part(OURS)
    ours_at = 1_800_000_000.7
    ours = f"<tp.{host}.1800000000.aaaa@example.test>"
    conn.execute(
        "INSERT INTO sessions (token, name, kind, target_socket, state, created_at, updated_at, expires_at)"
        " VALUES ('t', 's', 'tmux', 'sock', 'idle', 0, 0, 9e9)"
    )
    conn.execute(
        "INSERT INTO notifications (message_id, session_id, kind, created_at) VALUES (?, 1, 'stop', ?)", (ours, ours_at)
    )
    same_second = f"<tp.{host}.1800000000.bbbb@example.test>"
    second_before = f"<tp.{host}.1799999999.cccc@example.test>"
    headers = [f"In-Reply-To: {m}\r\n".encode() for m in (ours, second_before, same_second)]
    assert foreign_twin_ids(conn, host, headers, ours_at) == [same_second]
