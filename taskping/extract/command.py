"""What would be typed: the command inside the new text.

Rules, applied in this order:

1. **Fence**: when the text holds a ``` (or ~~~) fenced block, the command is
   the content of the first one: the lines between the opening fence line
   (which may carry an info string such as ```bash) and the closing fence, or
   the end of the text when it is never closed. Indentation is kept exactly.
2. **CMD:**: a leading ``CMD:`` (any case) and one following space are removed.

Without a fence, surrounding blank lines and whitespace are removed; inside a
fence, only the blank lines around the block are.
"""

from __future__ import annotations

from . import patterns as P


def fenced_block(text: str) -> str | None:
    """Content of the first fenced block, or None when there is no fence."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = P.FENCE_RE.match(line)
        if not m:
            continue
        opener = m.group(1)
        body: list[str] = []
        for inner in lines[i + 1 :]:
            close = P.FENCE_RE.match(inner)
            if close and close.group(1) == opener:
                break
            body.append(inner)
        while body and not body[0].strip():
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        return "\n".join(body)
    return None


def to_command(new_text: str) -> str:
    """Fence rule, then CMD: rule (see the module docstring)."""
    text = new_text.replace("\r\n", "\n").replace("\r", "\n")
    block = fenced_block(text)
    if block is not None:
        return P.CMD_PREFIX_RE.sub("", block, count=1) if P.CMD_PREFIX_RE.match(block) else block
    text = text.strip()
    return P.CMD_PREFIX_RE.sub("", text, count=1).strip()
