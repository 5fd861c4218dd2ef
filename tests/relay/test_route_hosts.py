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
