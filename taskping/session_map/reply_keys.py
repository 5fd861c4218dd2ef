"""Replay keys: what makes a typed reply recognisable when it comes again.

Two kinds, both recorded for every reply that reached the replay check
(see :mod:`taskping.relay.dedupe` for what goes into them):

* ``reply_keys``: one content key per ledger entry (sender, session, the
  message answered, the text);
* ``reply_signatures``: the DKIM signatures (``b=`` values) the message
  carried that are aligned with its sender, one row each.

An earlier entry counts only while its ledger status says it was (or will
be) typed: ``waiting``, ``injecting``, ``delivered`` or ``unknown``. Keys are
kept for as long as the ledger row is kept (no time window): a reply stays
recognisable for the whole life of its session. :mod:`retention` deletes them
only with their session, once it has ended and its reply window has been
closed for RETENTION_DAYS.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from taskping.session_map.db import now, transaction
from taskping.session_map.vocabulary import TYPED


@dataclass(frozen=True)
class EarlierReply:
    entry_id: int
    message_id: str | None
    session_id: int | None
    at: float
    by_signature: bool  # matched on a DKIM signature (else on the content key)


def record_and_find(
    conn: sqlite3.Connection, entry_id: int, *, content_key: str, signature_keys: list[str]
) -> EarlierReply | None:
    """Record this entry's keys; return the most recent earlier typed reply sharing any of them."""
    placeholders = ",".join("?" * len(TYPED))
    with transaction(conn):
        earlier: EarlierReply | None = None
        if signature_keys:
            marks = ",".join("?" * len(signature_keys))
            row = conn.execute(
                f"SELECT i.id, i.message_id, i.session_id, i.received_at FROM reply_signatures s"
                f" JOIN inbound i ON i.id = s.entry_id WHERE s.signature_key IN ({marks}) AND s.entry_id != ?"
                f" AND i.status IN ({placeholders}) ORDER BY i.id DESC LIMIT 1",
                (*signature_keys, entry_id, *TYPED),
            ).fetchone()
            if row is not None:
                earlier = EarlierReply(row[0], row[1], row[2], row[3], True)
        if earlier is None:
            row = conn.execute(
                f"SELECT i.id, i.message_id, i.session_id, k.created_at FROM reply_keys k"
                f" JOIN inbound i ON i.id = k.entry_id WHERE k.replay_key = ? AND k.entry_id != ?"
                f" AND i.status IN ({placeholders}) ORDER BY k.created_at DESC LIMIT 1",
                (content_key, entry_id, *TYPED),
            ).fetchone()
            if row is not None:
                earlier = EarlierReply(row[0], row[1], row[2], row[3], False)
        conn.execute(
            "INSERT OR REPLACE INTO reply_keys (entry_id, replay_key, created_at) VALUES (?, ?, ?)",
            (entry_id, content_key, now()),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO reply_signatures (entry_id, signature_key) VALUES (?, ?)",
            [(entry_id, key) for key in signature_keys],
        )
    return earlier
