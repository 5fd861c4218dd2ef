"""A session map with sessions and notifications, and a Pipeline to fuzz (no terminal)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from taskping.config import Settings
from taskping.relay.pipeline import Pipeline
from taskping.session_map import connect, sessions
from tests.support.inprocess import NoTerminal, map_settings, tracked_session  # the fuzz stops at guard

HOST = "fuzzhost"


@dataclass
class FuzzMap:
    settings: Settings
    pipeline: Pipeline
    conn: object
    tokens: list[str]
    notes: list[str]  # Message-IDs of notifications we "sent"
    bodies: list[str]


@pytest.fixture(scope="module")
def fuzz_map(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzMap]:
    root: Path = tmp_path_factory.mktemp("fuzzmap")
    settings = map_settings(root, HOST, RATE_LIMIT_PER_MINUTE="600")
    conn = connect(settings.session_map_path)
    conn.execute("PRAGMA synchronous = OFF")  # thousands of ledger writes; durability is not what is fuzzed here
    tokens, notes, bodies = [], [], []
    for i, (state, ttl) in enumerate([("idle", 86400), ("busy", 86400), ("idle", 86400), ("idle", 60)]):
        body = f"Claude finished the task in session fuzz-{i}.\n\nReply to this email to continue."
        s, token, mid = tracked_session(conn, i, name=f"fuzz-{i}", body=body, ttl=ttl, state=state, host=HOST)
        if i == 2:
            sessions.end(conn, s.id, reason="fuzz: an ended session")
        if i == 3:
            conn.execute("UPDATE sessions SET expires_at = ? WHERE id = ?", (time.time() - 1, s.id))
        tokens.append(token)
        notes.append(mid)
        bodies.append(body)
    pipeline = Pipeline(settings, conn, NoTerminal())  # type: ignore[arg-type]
    yield FuzzMap(settings, pipeline, conn, tokens, notes, bodies)
    conn.close()
