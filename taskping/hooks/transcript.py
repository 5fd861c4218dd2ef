"""Reading the last assistant reply from a Claude Code transcript.

Only a fallback: Stop's ``last_assistant_message`` is preferred, because the
transcript is written asynchronously and its format is internal to Claude
Code. One reply can span several JSONL lines sharing ``message.id``; their
text blocks are joined in order. Only the file's tail is read.
"""

from __future__ import annotations

import json
import os

TAIL_BYTES = 512 * 1024


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(p for p in parts if p)
    return ""


def last_assistant_text(path: str | os.PathLike[str] | None) -> str | None:
    """The text of the last assistant message in a transcript, or None."""
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
    if len(tail) == TAIL_BYTES and lines:
        lines = lines[1:]  # the first line may be cut
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
