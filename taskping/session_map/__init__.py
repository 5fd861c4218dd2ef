"""The session map: TaskPing's one SQLite store (sessions, notifications sent,
inbound ledger, outbox, IMAP bookkeeping). No network, no terminals.

Modules: ``db`` (connection, schema, transactions), ``sessions``,
``notifications``, ``outbox``, ``ledger``, ``waiting``, ``reply_keys``,
``mailbox``, ``daemons``, ``retention`` (what is forgotten after RETENTION_DAYS).
"""

from taskping.session_map.db import connect, transaction

__all__ = ["connect", "transaction"]
