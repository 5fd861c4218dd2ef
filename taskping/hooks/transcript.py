"""Reading the last assistant reply from a Claude Code transcript.

Only a fallback: Stop's ``last_assistant_message`` is preferred, because the
transcript is written asynchronously and its format is internal to Claude
Code. One reply can span several JSONL lines sharing ``message.id``; their
text blocks are joined in order. Only the file's tail is read.

It is also where the notification's one-line summary of the turn comes from
(:func:`last_turn_activity`): when the prompt was sent, which files Claude
changed, how many commands it ran (a tool call that was denied did not run;
a failing command did). Measured on claude 2.1.328: a tool's result is a user
entry whose content is a ``tool_result`` block; a denied call's entry carries
``toolDenialKind``; the prompt is a user entry with text content.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any, NamedTuple

TAIL_BYTES = 512 * 1024


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(p for p in parts if p)
    return ""


def _tail_lines(path: str | os.PathLike[str] | None) -> list[str] | None:
    """The lines of the transcript's last TAIL_BYTES (a first line cut in two left out)."""
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - TAIL_BYTES))
            tail = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = tail.splitlines()
    if size > TAIL_BYTES and lines:
        lines = lines[1:]  # the first line may be cut
    return lines


def last_assistant_text(path: str | os.PathLike[str] | None) -> str | None:
    """The text of the last assistant message in a transcript, or None."""
    lines = _tail_lines(path)
    if lines is None:
        return None
    chunks: list[str] = []
    last_id: object = None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or entry.get("type") != "assistant":
            if chunks and isinstance(entry, dict) and entry.get("type") == "user":
                break
            continue
        message = entry.get("message") or {}
        if not isinstance(message, dict):
            continue
        mid = message.get("id")
        if chunks and mid != last_id:
            break
        text = _text_of(message.get("content"))
        if text:
            chunks.append(text)
        last_id = mid
    if not chunks:
        return None
    return "\n".join(reversed(chunks)).strip() or None


#: Tools that change a file, and where their input names it.
EDIT_TOOLS = {"Edit": "file_path", "MultiEdit": "file_path", "Write": "file_path", "NotebookEdit": "notebook_path"}
COMMAND_TOOLS = ("Bash",)


class TurnActivity(NamedTuple):
    """What Claude did in its last turn, read from the transcript."""

    started_at: float | None  # the prompt's timestamp (epoch seconds), None when not in the tail
    files_edited: int  # distinct files changed by an Edit/MultiEdit/Write/NotebookEdit that succeeded
    commands_run: int  # Bash calls that ran (a failing command ran too; a denied one did not)


def _epoch(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()  # Python 3.11 reads the trailing "Z"
    except ValueError:
        return None


def _is_prompt(entry: dict[str, Any]) -> bool:
    """A user entry the person (or a queued message) typed, not a tool result or a meta line."""
    if entry.get("isMeta") or entry.get("isSidechain"):
        return False
    content = (entry.get("message") or {}).get("content") if isinstance(entry.get("message"), dict) else None
    if isinstance(content, str):
        return True
    if isinstance(content, list):
        kinds = {b.get("type") for b in content if isinstance(b, dict)}
        return "tool_result" not in kinds and bool(kinds & {"text", "image"})
    return False


def last_turn_activity(path: str | os.PathLike[str] | None) -> TurnActivity | None:
    """The last turn's start, files edited and commands run; None without a readable transcript.

    Walks the tail backwards to the turn's prompt. Only lines that look like user or
    assistant entries are decoded (claude writes compact JSON; the other lines, system
    prompts and request shapes, are most of the file). A turn longer than the tail is
    counted from what the tail holds, with no start.
    """
    lines = _tail_lines(path)
    if lines is None:
        return None
    results: dict[str, str] = {}  # tool_use id -> "ok" | "error" | "denied"
    edited: set[str] = set()
    commands = 0
    started_at: float | None = None
    for line in reversed(lines):
        if '"type":"user"' not in line and '"type":"assistant"' not in line:
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or entry.get("isSidechain"):
            continue
        message = entry.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        if entry.get("type") == "user":
            if _is_prompt(entry):
                started_at = _epoch(entry.get("timestamp"))
                break
            for block in blocks:
                if block.get("type") == "tool_result":
                    outcome = "denied" if entry.get("toolDenialKind") else "error" if block.get("is_error") else "ok"
                    results[str(block.get("tool_use_id"))] = outcome
        elif entry.get("type") == "assistant":
            for block in blocks:
                if block.get("type") != "tool_use":
                    continue
                name, result = block.get("name"), results.get(str(block.get("id")))
                tool_input = block.get("input")
                if name in EDIT_TOOLS and result == "ok" and isinstance(tool_input, dict):
                    target = tool_input.get(EDIT_TOOLS[name])
                    if isinstance(target, str) and target:
                        edited.add(target)
                elif name in COMMAND_TOOLS and result in ("ok", "error"):
                    commands += 1
    return TurnActivity(started_at=started_at, files_edited=len(edited), commands_run=commands)
