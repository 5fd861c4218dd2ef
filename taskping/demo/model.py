"""A tiny local Messages API, so the demo's real ``claude`` needs no login or key.

Claude Code talks to ``$ANTHROPIC_BASE_URL`` with ``POST /v1/messages``
(streaming server-sent events). This endpoint answers every main turn with a
short, clearly labelled text that quotes the prompt back, which is all the
demo needs to show a turn ending (and so a notification) and a reply arriving.
Side requests (titles, topic detection; they offer no tools) get a one-word
answer. Standard library only, one daemon thread, loopback only.
"""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SYSTEM_REMINDER = "<system-reminder>"
_ids = itertools.count(1)


def prompt_of(body: dict[str, Any]) -> str:
    """The last text of the last user message that is not a ``<system-reminder>``."""
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        blocks = (
            [content]
            if isinstance(content, str)
            else [b.get("text") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
        )
        texts = [t for t in blocks if isinstance(t, str) and not t.lstrip().startswith(SYSTEM_REMINDER)]
        return texts[-1] if texts else ""
    return ""


def answer_for(prompt: str) -> str:
    """The demo model's whole intelligence: say what arrived, and from where."""
    first = " ".join(prompt.split())[:200]
    return (
        f'Got it: "{first}".\n'
        "(This answer comes from taskping demo's local model endpoint on 127.0.0.1, not from Anthropic.)"
    )


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def stream(model: str, text: str) -> bytes:
    """One assistant message holding ``text``, as the event stream claude expects."""
    message: dict[str, Any] = {
        "id": f"msg_demo{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }
    return b"".join(
        [
            _sse("message_start", {"type": "message_start", "message": message}),
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            ),
            _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 20},
                },
            ),
            _sse("message_stop", {"type": "message_stop"}),
        ]
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    prompts: list[str]  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/v1/models"):
            self._send(200, "application/json", b'{"data": [], "has_more": false}')
        else:
            self._send(404, "application/json", b'{"type": "error", "error": {"type": "not_found_error"}}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        path = self.path.split("?", 1)[0]
        if path == "/v1/messages/count_tokens":
            self._send(200, "application/json", b'{"input_tokens": 42}')
            return
        if path != "/v1/messages":
            self._send(404, "application/json", b'{"type": "error", "error": {"type": "not_found_error"}}')
            return
        model = str(body.get("model") or "demo")
        if body.get("tools"):  # a main turn of the conversation
            prompt = prompt_of(body)
            self.prompts.append(prompt)
            text = answer_for(prompt)
        else:
            text = "Demo"
        if body.get("stream"):
            self._send(200, "text/event-stream", stream(model, text))
        else:
            message = {
                "id": f"msg_demo{next(_ids):06d}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 20},
            }
            self._send(200, "application/json", json.dumps(message).encode())


class ModelEndpoint:
    """The running endpoint: ``base_url`` for ANTHROPIC_BASE_URL, ``prompts`` it received."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        handler = type("DemoModelHandler", (_Handler,), {"prompts": self.prompts})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="taskping-demo-model", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
