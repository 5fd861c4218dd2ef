"""The control socket of a PTY session: what the relay may ask the process holding the PTY.

One request per connection, one JSON object per line each way. Every request
carries the session's secret (stored in the session map); the host also
checks the caller's uid with ``SO_PEERCRED`` and the socket file is 0600 in
a 0700 directory. The requests are deliberately few and narrow, so the
socket cannot be used to send arbitrary bytes:

* ``{"op": "ping"}`` → ``{"ok": true, "pid": …, "rows": …, "cols": …, "idle": seconds since keyboard input}``
* ``{"op": "screen"}`` → ``{"ok": true, "lines": [...]}``: the screen model's rows, plain text;
* ``{"op": "type", "text": "…"}``: UTF-8 text, refused when it holds a control or
  invisible character other than newline (:func:`taskping.injectors.terminal_guard.forbidden_characters`);
* ``{"op": "press", "keys": ["Enter", …]}``: only the editing keys the typing rules use.

Any refusal is ``{"ok": false, "error": "…"}``.
"""

from __future__ import annotations

import json
import socket
from typing import Any

MAX_REQUEST_BYTES = 64 * 1024
TIMEOUT = 5.0


class ControlError(Exception):
    """The host refused the request or could not be asked (``gone`` when nothing listens)."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


def request(path: str, secret: str, op: str, *, timeout: float = TIMEOUT, **fields: Any) -> dict[str, Any]:
    """Send one request to the host on ``path``; its answer, or :class:`ControlError`."""
    payload = json.dumps({"secret": secret, "op": op, **fields}).encode() + b"\n"
    if len(payload) > MAX_REQUEST_BYTES:
        raise ControlError(f"request of {len(payload)} bytes is over {MAX_REQUEST_BYTES}")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            try:
                conn.sendall(payload)
            except BrokenPipeError:
                pass  # the host answered (a refusal) and closed before reading it all: read why
            answer = read_line(conn)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ControlError(f"no PTY session listens on {path}: {exc.strerror}", gone=True) from None
    except OSError as exc:
        raise ControlError(f"PTY control socket {path}: {exc}") from None
    if not answer:
        raise ControlError(f"the PTY session on {path} closed the connection without an answer", gone=False)
    try:
        data = json.loads(answer)
    except json.JSONDecodeError:
        raise ControlError("the PTY session's answer is not JSON") from None
    if not isinstance(data, dict) or not data.get("ok"):
        error = data.get("error") if isinstance(data, dict) else None
        raise ControlError(f"refused by the PTY session: {error or 'no reason given'}")
    return data


def read_line(conn: socket.socket) -> bytes:
    """Up to one newline (or EOF), at most MAX_REQUEST_BYTES."""
    buffer = bytearray()
    while b"\n" not in buffer and len(buffer) <= MAX_REQUEST_BYTES:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buffer += chunk
    return bytes(buffer.split(b"\n", 1)[0])


def listening(path: str, *, timeout: float = 1.0) -> bool:
    """True when something accepts connections on ``path`` (a PTY wrapper still runs)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
    except OSError:
        return False
    return True
