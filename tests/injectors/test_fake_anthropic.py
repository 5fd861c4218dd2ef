"""The fake Messages API on its own (no claude): protocol shape and bookkeeping."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_anthropic import FakeAnthropic, Reply, extract_prompt

TOOLS = [{"name": "Bash", "input_schema": {"type": "object"}}]


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def post(api: FakeAnthropic, path: str, body: dict[str, Any]) -> tuple[int, str, str]:
    request = urllib.request.Request(
        api.base_url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def turn(prompt: str, *, stream: bool = True, tools: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-test",
        "stream": stream,
        "messages": [
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "ok"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>\nignore me\n</system-reminder>"},
                    {"type": "text", "text": prompt},
                    {"type": "text", "text": "<system-reminder>trailing</system-reminder>"},
                ],
            },
        ],
    }
    if tools:
        body["tools"] = TOOLS
    return body


def events(sse: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in sse.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_streaming_text_reply_shape(api: FakeAnthropic) -> None:
    status, ctype, body = post(api, "/v1/messages?beta=true", turn("hello there"))
    assert status == 200 and ctype == "text/event-stream"
    parsed = events(body)
    assert [name for name, _ in parsed] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert parsed[2][1]["delta"] == {"type": "text_delta", "text": "Done: hello there"}
    assert parsed[4][1]["delta"]["stop_reason"] == "end_turn"
    assert api.prompts == ["hello there"]
    assert api.requests[0].query == {"beta": ["true"]}


def test_scripted_tool_use_then_default(api: FakeAnthropic) -> None:
    api.queue_tool_use("touch /nowhere")
    parsed = events(post(api, "/v1/messages", turn("go"))[2])
    start = [d for name, d in parsed if name == "content_block_start"][-1]["content_block"]
    assert start["type"] == "tool_use" and start["name"] == "Bash"
    delta = [d for name, d in parsed if name == "content_block_delta"][-1]["delta"]
    assert json.loads(delta["partial_json"])["command"] == "touch /nowhere"
    assert next(d for name, d in parsed if name == "message_delta")["delta"]["stop_reason"] == "tool_use"
    assert "Done: again" in post(api, "/v1/messages", turn("again"))[2]


def test_side_requests_are_not_prompts_and_keep_the_script(api: FakeAnthropic) -> None:
    api.queue(Reply(text="scripted"))
    status, _, body = post(api, "/v1/messages", turn("make a title", stream=False, tools=False))
    assert status == 200 and json.loads(body)["content"][0]["type"] == "text"
    assert api.prompts == [] and api.main_turns == []
    assert "scripted" in post(api, "/v1/messages", turn("real"))[2]


def test_non_streaming_and_other_endpoints(api: FakeAnthropic) -> None:
    status, _, body = post(api, "/v1/messages", turn("plain", stream=False))
    message = json.loads(body)
    assert status == 200 and message["content"] == [{"type": "text", "text": "Done: plain"}]
    status, _, body = post(api, "/v1/messages/count_tokens", turn("x"))
    assert status == 200 and json.loads(body)["input_tokens"] > 0
    status, _, body = post(api, "/v1/elsewhere", {})
    assert status == 404 and json.loads(body)["type"] == "error"


def test_wait_for_prompt(api: FakeAnthropic) -> None:
    threading.Timer(0.2, lambda: post(api, "/v1/messages", turn("late one"))).start()
    assert api.wait_for_prompt("late one", timeout=5) == "late one"
    assert api.wait_for_prompt(lambda p: p.startswith("late"), timeout=1) == "late one"
    with pytest.raises(TimeoutError, match="late one"):
        api.wait_for_prompt("never", timeout=0.2)


def test_extract_prompt_edge_cases() -> None:
    assert extract_prompt({"messages": [{"role": "user", "content": "just a string"}]}) == "just a string"
    tool_result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}
    assert extract_prompt({"messages": [{"role": "user", "content": "first"}, tool_result]}) is None
    assert extract_prompt({"messages": []}) is None
