"""What Claude Code hands a hook: the JSON on stdin and the environment.

Validated by hand (not pydantic) because this runs on Claude's critical path
and must import next to nothing (NamedTuples, not dataclasses: building a
dataclass costs ~0.6 ms at import, a NamedTuple a quarter of that); unknown fields are ignored, wrong types are a
:class:`HookInputError` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

EVENTS = ("SessionStart", "UserPromptSubmit", "Stop", "Notification", "SessionEnd")
#: Installed only with APPROVALS=email (taskping.hooks.approval): Claude waits for its answer.
APPROVAL_EVENT = "PermissionRequest"
ALL_EVENTS = (*EVENTS, APPROVAL_EVENT)


class HookInputError(ValueError):
    """The hook JSON is not what Claude Code sends."""


class HookInput(NamedTuple):
    event: str
    session_id: str | None = None
    transcript_path: str | None = None
    cwd: str | None = None
    prompt: str | None = None
    last_assistant_message: str | None = None
    stop_hook_active: bool = False
    notification_type: str | None = None
    message: str | None = None
    source: str | None = None
    reason: str | None = None
    tool_name: str | None = None  # PermissionRequest
    tool_input: dict[str, object] | None = None  # PermissionRequest: the tool call's arguments

    @classmethod
    def parse(cls, raw: str | bytes, event: str) -> HookInput:
        """Parse the stdin JSON for ``event``. Raises HookInputError."""
        if event not in ALL_EVENTS:
            raise HookInputError(f"unknown hook event {event!r} (expected one of {', '.join(ALL_EVENTS)})")
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if not raw.strip():
            data: object = {}
        else:
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise HookInputError(f"stdin is not JSON: {exc.msg} at position {exc.pos}") from None
        if not isinstance(data, dict):
            raise HookInputError(f"stdin JSON must be an object, got {type(data).__name__}")
        named = data.get("hook_event_name")
        if named is not None and named != event:
            raise HookInputError(f"hook_event_name is {named!r} but the command says {event!r}")
        values: dict[str, object] = {"event": event}
        for name in (
            "session_id",
            "transcript_path",
            "cwd",
            "prompt",
            "last_assistant_message",
            "notification_type",
            "message",
            "source",
            "reason",
            "tool_name",
        ):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise HookInputError(f"field {name!r} must be a string, got {type(value).__name__}")
            values[name] = value
        tool_input = data.get("tool_input")
        if tool_input is not None and not isinstance(tool_input, dict):
            raise HookInputError(f"field 'tool_input' must be an object, got {type(tool_input).__name__}")
        values["tool_input"] = tool_input
        active = data.get("stop_hook_active", False)
        if not isinstance(active, bool):
            raise HookInputError(f"field 'stop_hook_active' must be a boolean, got {type(active).__name__}")
        values["stop_hook_active"] = active
        return cls(**values)  # type: ignore[arg-type]  # each field's type is checked just above


class HookEnv(NamedTuple):
    """The parts of the hook's environment that identify its terminal."""

    tmux_socket: str | None
    tmux_pane: str | None
    claude_pid: int | None
    project_dir: str | None
    #: the control socket of the `taskping spawn --mode pty` session Claude runs in ($TASKPING_PTY)
    pty_socket: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HookEnv:
        from taskping.tmux_server import pane_from_environ

        where = pane_from_environ(environ)
        pid_text = environ.get("CLAUDE_PID", "")
        pid = int(pid_text) if pid_text.isdigit() else None
        return cls(
            tmux_socket=where.socket if where else None,
            tmux_pane=where.pane if where else None,
            claude_pid=pid,
            project_dir=environ.get("CLAUDE_PROJECT_DIR") or None,
            pty_socket=environ.get("TASKPING_PTY") or None,
        )
