"""Fixtures for `taskping init` and `taskping explain`: real session maps, real mail stack.

``explain_world`` is the in-process map of :mod:`tests.support.inprocess` (two
live sessions, a notification each) plus the env file that points
`taskping explain` at it, and a runner for the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import run_taskping
from tests.support.inprocess import HOST, ME, Map, in_process_map


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.out)

    def failing_step(self) -> dict[str, object] | None:
        return next((s for s in self.json["steps"] if not s["ok"]), None)


@dataclass
class ExplainWorld:
    map: Map
    root: Path
    env_file: Path

    def explain(self, raw: bytes | None, *args: str, path: Path | None = None) -> Ran:
        """`taskping --env-file ENV explain [ARGS] FILE` (``raw`` on stdin as '-' when no path)."""
        target = str(path) if path is not None else "-"
        proc = run_taskping(
            "explain",
            *args,
            target,
            env={**os.environ, "HOME": str(self.root)},
            env_file=self.env_file,
            input=raw if path is None else None,
            text=False,
        )
        return Ran(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))

    def counts(self) -> dict[str, int]:
        """Rows the relay writes per message: none of them may change under explain."""
        tables = ("inbound", "reply_keys", "reply_signatures", "outbox", "waiting")
        return {t: self.map.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def write_env(path: Path, m: Map, **extra: str) -> Path:
    keys = {
        "SESSION_MAP_PATH": str(m.settings.session_map_path),
        "EMAIL_FROM": "taskping@example.test",
        "EMAIL_TO": ME,
        "ALLOWED_SENDERS": ME,
        "SENDER_AUTH": "none",
        "TASKPING_HOST_ID": HOST,
        "IMAP_HOST": "127.0.0.1",
        "IMAP_USER": "taskping",
        "SMTP_HOST": "127.0.0.1",
        **extra,
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in keys.items() if v))
    return path


@pytest.fixture
def explain_world(tmp_path: Path) -> Iterator[Callable[..., ExplainWorld]]:
    """A factory: ``explain_world(**env)`` makes the map with those TaskPing keys (once per test)."""
    made: list[object] = []

    def make(**env: str) -> ExplainWorld:
        cm = in_process_map(tmp_path, **env)
        m = cm.__enter__()
        made.append(cm)
        return ExplainWorld(m, tmp_path, write_env(tmp_path / "env", m, **env))

    yield make
    for cm in made:
        cm.__exit__(None, None, None)  # type: ignore[attr-defined]
