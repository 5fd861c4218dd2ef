"""The audit log: one JSON line per inbound message, beside the session map.

Fields: time, message_id, sender, session, decision (a
:class:`~taskping.session_map.vocabulary.Status`), step and code (the step that
decided and its stable reason code, null for a delivery's step), reason, and the first
120 characters of what was typed. Never the full body, never a full token.
The file is private: created 0600 (tightened if found looser), its directory 0700.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from taskping.log import redact_text
from taskping.log_retention import append_line
from taskping.private_files import open_private, private_dir
from taskping.session_map.vocabulary import Code, Status, Step

PREVIEW_CHARS = 120


def preview(text: str | None) -> str | None:
    return None if text is None else text[:PREVIEW_CHARS]


def write(
    path: Path,
    *,
    message_id: str | None,
    sender: str | None,
    session: str | None,
    decision: Status,
    reason: str,
    step: Step | None = None,
    code: Code | None = None,
    typed: str | None = None,
) -> None:
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "message_id": message_id,
        "sender": sender,
        "session": session,
        "decision": str(decision),
        "step": None if step is None else str(step),
        "code": None if code is None else str(code),
        "reason": redact_text(reason) if reason else reason,
        "typed": preview(typed),
    }
    private_dir(path.parent)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    fd = open_private(path)
    try:
        append_line(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
