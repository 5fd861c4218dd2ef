"""Fixtures for the operations suite: real servers that fail the way a newcomer's setup does.

* ``closed_port``     a loopback port nothing listens on (bound, then closed).
* ``silent_server``   a TCP listener that accepts and never says a word.
* ``plain_imap``      pymap (the demo's IMAP server) on loopback: plain, no STARTTLS offered.
* ``ops``             runs `taskping` / `taskping-relay` as processes with an env file (0600).

Everything started here is stopped here.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import BIN, run_taskping, start_relay_process, write_env_file
from tests.support.mailstack import LOOPBACK, free_ports

__all__ = ["BIN", "Ops", "PlainImap", "SilentServer", "json_lines", "relay_env"]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_ports(1)[0]


class SilentServer:
    """Accepts connections and holds them open without sending anything."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(8)
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


@dataclass
class PlainImap:
    port: int
    user: str
    password: str


@pytest.fixture
def plain_imap() -> Iterator[PlainImap]:
    """pymap in its own event loop thread, one user ``taskping``; offers no STARTTLS."""
    from taskping.demo.imap import start_imap

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():  # type: ignore[no-untyped-def]
        server = await start_imap()
        await server.add_user("taskping", "plain-pw")
        return server

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield PlainImap(server.port, "taskping", "plain-pw")
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass
class Ops:
    tmp: Path

    def env_file(self, env: dict[str, str], name: str = "env") -> Path:
        return write_env_file(self.tmp / name, env)

    def base_environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The test's environment without any TaskPing key (the env file decides)."""
        keep = {
            k: v
            for k, v in os.environ.items()
            if k not in ("SSL_CERT_FILE", "NOTIFY_SOCKET", "WATCHDOG_USEC", "TASKPING_ENV_FILE")
        }
        return {**keep, "HOME": str(self.tmp / "home"), **(extra or {})}

    def run(
        self, *args: str, env: dict[str, str], timeout: float = 90, extra_environ: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        (self.tmp / "home").mkdir(exist_ok=True)
        return run_taskping(*args, env=self.base_environ(extra_environ), env_file=self.env_file(env), timeout=timeout)

    def relay(
        self,
        env: dict[str, str],
        *args: str,
        extra_environ: dict[str, str] | None = None,
        stderr_path: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        (self.tmp / "home").mkdir(exist_ok=True)
        err = open(stderr_path or self.tmp / "relay.stderr", "wb")  # noqa: SIM115 - closed by the caller's wait
        try:
            return start_relay_process(self.env_file(env), self.base_environ(extra_environ), err, *args)
        finally:
            err.close()


@pytest.fixture
def ops(tmp_path: Path) -> Ops:
    return Ops(tmp_path)


def json_lines(text: str) -> list[dict[str, object]]:
    """Every line of ``text`` parsed as JSON (fails the test on a line that is not: one format per stream)."""
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line on a JSON stream: {line!r}\n{text}") from None
    return out


def relay_env(stack, **overrides: str | int | None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The stack's TaskPing env plus what the relay requires (an authserv-id)."""
    return stack.taskping_env(**{"TRUSTED_AUTHSERV_ID": "localhost", **overrides})
