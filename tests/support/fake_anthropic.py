"""A fake Anthropic Messages API for running the real ``claude`` CLI offline.

Start it, point claude at it with ``ANTHROPIC_BASE_URL=fake.base_url`` and
read what claude sent from :attr:`FakeAnthropic.prompts`. Replies are
scriptable: a queue of :class:`Reply` objects (text or a ``tool_use`` block
that makes claude open a permission dialog), falling back to a default reply
derived from the prompt.

Only stdlib: ``http.server.ThreadingHTTPServer`` in a daemon thread on
127.0.0.1 and a free port picked by the kernel.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SYSTEM_REMINDER = "<system-reminder>"
HOLD_LIMIT = 60.0  # a held reply is sent anyway after this long (a test that failed before setting it)

_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}_fake{next(_ids):06d}"


@dataclass(frozen=True)
class ToolUse:
    """A tool call the fake model makes (``Bash`` opens a permission dialog)."""

    name: str = "Bash"
    input: dict[str, Any] = field(
        default_factory=lambda: {"command": "echo taskping-fake-tool", "description": "Echo a marker"}
    )


@dataclass(frozen=True)
class Reply:
    """One scripted model turn.

    ``text`` becomes a text block, ``tool_use`` a tool_use block after it.
    ``delay`` seconds pass between the start of the stream and its content,
    which keeps claude busy ("esc to interrupt") for that long; ``hold``, when
    given, keeps it busy until the test sets it (at most HOLD_LIMIT seconds),
    for a test that must see something happen while claude works.
    """

    text: str = ""
    tool_use: ToolUse | None = None
    delay: float = 0.0
    hold: threading.Event | None = field(default=None, compare=False)

    def pause(self) -> None:
        """The wait between the stream's start and its content."""
        if self.delay:
            time.sleep(self.delay)
        if self.hold is not None:
            self.hold.wait(HOLD_LIMIT)

    @property
    def stop_reason(self) -> str:
        return "tool_use" if self.tool_use is not None else "end_turn"


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request claude made."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    received_at: float

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path == "/v1/messages"

    @property
    def is_main_turn(self) -> bool:
        """True for a request of the main conversation (it offers tools).

        claude's own side requests (titles, topic detection, quota probes)
        carry no ``tools``; they are answered but never count as prompts and
        never consume scripted replies.
        """
        return self.is_messages and isinstance(self.body, dict) and bool(self.body.get("tools"))

    @property
    def prompt(self) -> str | None:
        """The user's prompt if this request carries one, else None."""
        if not self.is_main_turn:
            return None
        return extract_prompt(self.body)


def _text_blocks(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
        return
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                yield block["text"]


def extract_prompt(body: dict[str, Any]) -> str | None:
    """The last text block of the last user message that is not a system reminder.

    Returns None when the last user message holds no such text (for instance
    it only carries a ``tool_result``).
    """
    messages = body.get("messages") or []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        texts = [t for t in _text_blocks(message.get("content")) if not t.lstrip().startswith(SYSTEM_REMINDER)]
        return texts[-1] if texts else None
    return None


def default_reply(prompt: str) -> Reply:
    """The reply used when nothing is scripted."""
    first_line = prompt.splitlines()[0] if prompt else ""
    return Reply(text=f"Done: {first_line[:40]}")


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _message_envelope(model: str, content: list[dict[str, Any]], stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": _next_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _content_blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text or reply.tool_use is None:
        blocks.append({"type": "text", "text": reply.text})
    if reply.tool_use is not None:
        blocks.append(
            {"type": "tool_use", "id": _next_id("toolu"), "name": reply.tool_use.name, "input": reply.tool_use.input}
        )
    return blocks


def stream_events(model: str, reply: Reply) -> tuple[bytes, bytes]:
    """The SSE stream for ``reply``, split into (head, rest) around the delay."""
    blocks = _content_blocks(reply)
    head = _sse("message_start", {"type": "message_start", "message": _message_envelope(model, [], None)})
    rest = b""
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            rest += _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            )
            if block["text"]:
                rest += _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": block["text"]},
                    },
                )
        else:
            start = dict(block, input={})
            rest += _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
            rest += _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                },
            )
        rest += _sse("content_block_stop", {"type": "content_block_stop", "index": index})
    rest += _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 8},
        },
    )
    rest += _sse("message_stop", {"type": "message_stop"})
    return head, rest


class FakeAnthropic:
    """The fake API server. Use as a context manager or call start()/stop()."""

    def __init__(self, reply_for: Callable[[str], Reply] = default_reply) -> None:
        self._reply_for = reply_for
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[Reply] = deque()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> FakeAnthropic:
        fake = self

        class Handler(_Handler):
            owner = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("fake API not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -------------------------------------------------------
    def queue(self, *replies: Reply) -> None:
        """Script the next main-turn replies, in order."""
        with self._lock:
            self._scripted.extend(replies)

    def queue_text(self, text: str, *, delay: float = 0.0) -> None:
        self.queue(Reply(text=text, delay=delay))

    def queue_tool_use(self, command: str = "echo taskping-fake-tool", *, text: str = "") -> None:
        """Make the next turn a Bash tool call (claude asks for permission)."""
        self.queue(Reply(text=text, tool_use=ToolUse("Bash", {"command": command, "description": "Run a command"})))

    # -- inspection ------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def prompts(self) -> list[str]:
        """The user's prompts, in arrival order (main-turn requests only)."""
        return [p for r in self.requests if (p := r.prompt) is not None]

    @property
    def main_turns(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_main_turn]

    def wait_for_prompt(self, match: str | Callable[[str], bool] | None = None, timeout: float = 15.0) -> str:
        """Block until a prompt matching ``match`` arrived; return it.

        ``match`` is the exact prompt text, a predicate, or None (any
        prompt). Prompts that arrived before the call count too. Raises
        TimeoutError listing the prompts seen so far.
        """
        predicate: Callable[[str], bool]
        if match is None:
            predicate = lambda _p: True  # noqa: E731 - one of three predicates
        elif isinstance(match, str):
            predicate = match.__eq__
        else:
            predicate = match
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for request in self._requests:
                    prompt = request.prompt
                    if prompt is not None and predicate(prompt):
                        return prompt
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [r.prompt for r in self._requests if r.prompt is not None]
                    raise TimeoutError(f"no matching prompt within {timeout}s; prompts seen: {seen!r}")
                self._lock.wait(remaining)

    def wait_for_main_turns(self, count: int, timeout: float = 15.0) -> list[RecordedRequest]:
        """Block until at least ``count`` main-turn requests arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                turns = [r for r in self._requests if r.is_main_turn]
                if len(turns) >= count:
                    return turns
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"only {len(turns)} main-turn requests within {timeout}s")
                self._lock.wait(remaining)

    # -- used by the handler -------------------------------------------
    def _record(self, request: RecordedRequest) -> Reply | None:
        """Store ``request``; return the reply for a messages request."""
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
            if not request.is_messages:
                return None
            if request.is_main_turn:
                if self._scripted:
                    return self._scripted.popleft()
                return self._reply_for(request.prompt or "")
            return Reply(text="Fake side reply")


class _Handler(BaseHTTPRequestHandler):
    owner: FakeAnthropic
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self) -> tuple[RecordedRequest, Reply | None]:
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
            received_at=time.monotonic(),
        )
        return request, self.owner._record(request)

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        request, _ = self._record()
        if request.path.startswith("/v1/models"):
            self._send_json(200, {"data": [], "has_more": False, "first_id": None, "last_id": None})
        else:
            self._not_found()

    def do_HEAD(self) -> None:
        self._record()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        request, reply = self._record()
        if request.path == "/v1/messages/count_tokens":
            self._send_json(200, {"input_tokens": 42})
            return
        if reply is None:
            self._not_found()
            return
        body = request.body if isinstance(request.body, dict) else {}
        model = str(body.get("model") or "claude-fake")
        if body.get("stream"):
            self._stream(model, reply)
        else:
            reply.pause()
            self._send_json(200, _message_envelope(model, _content_blocks(reply), reply.stop_reason))

    def _stream(self, model: str, reply: Reply) -> None:
        head, rest = stream_events(model, reply)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(head) + len(rest)))
        self.end_headers()
        try:
            self.wfile.write(head)
            self.wfile.flush()
            reply.pause()
            self.wfile.write(rest)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # claude gave up on the stream (e.g. interrupted); nothing to do

    def _not_found(self) -> None:
        self._send_json(
            404, {"type": "error", "error": {"type": "not_found_error", "message": f"fake: no {self.path}"}}
        )
