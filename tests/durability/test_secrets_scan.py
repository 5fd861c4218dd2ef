"""The scanner itself finds what it looks for (so a clean report means something)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.durability import secrets_scan


def test_scanner_flags_password_token_and_long_body(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    tmp_path: Path = tmp_path_factory.mktemp("planted")  # not tmp_path: the session scan must not see the plants
    body = "The whole reply body, long enough to matter: " + "lorem ipsum dolor sit amet " * 10
    mail = tmp_path / "mail" / "me" / "cur"
    mail.mkdir(parents=True)
    (mail / "1").write_bytes(b"Subject: x\r\nContent-Type: text/plain\r\n\r\n" + body.encode())
    db = tmp_path / "taskping.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE sessions (token TEXT)")
    conn.execute("INSERT INTO sessions VALUES ('fuzzhost-abcdefghjkmnpqrs')")
    conn.commit()
    conn.close()
    (tmp_path / "taskping.log").write_text(
        "\n".join(
            [
                json.dumps({"event": "ok", "typed": body[:120]}),
                json.dumps({"event": "leak", "pass": "hunter2-secret"}),
                json.dumps({"event": "leak", "token": "fuzzhost-abcdefghjkmnpqrs"}),
                json.dumps({"event": "leak", "text": body}),
            ]
        )
        + "\n"
    )
    before = len(secrets_scan.REPORT.findings)
    secrets_scan.scan(tmp_path, passwords=["hunter2-secret"], label="self-test", mail_dirs=[tmp_path / "mail"])
    found = secrets_scan.REPORT.findings[before:]
    del secrets_scan.REPORT.findings[before:]  # planted on purpose: not a finding of the session
    assert [f.split(": ", 1)[1][:20] for f in found] == ["a password", "a full session token", "121+ characters of a"]
    assert all(":taskping.log:1" not in f for f in found)
