"""The demo's stand-in for Claude Code, used only when ``claude`` is not installed.

Run as ``python -m taskping.demo.standin`` inside the demo's tmux pane. It is
plainly labelled on screen. It draws what TaskPing's screen reader looks for
in Claude Code (an input box between two rules, ``❯`` + U+00A0, a spinner and
"esc to interrupt" while it works), echoes each submitted prompt, and runs the
hooks registered in ``$HOME/.claude/settings.json`` itself, with the JSON
Claude Code would send: SessionStart, UserPromptSubmit, Stop (with
``last_assistant_message``) and SessionEnd. So the real hooks, the real relay
and the real tmux injector all run; only the model side is pretend.

Keys: Enter (CR) submits, Ctrl-J inserts a newline, Ctrl-U clears the box,
Backspace deletes, Ctrl-C or Ctrl-D quits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import termios
import tty
import uuid
from pathlib import Path

RULE = "─"
PROMPT = "❯\u00a0"
TITLE = (
    "TaskPing demo STAND-IN for Claude Code (claude is not installed)",
    "It echoes what it receives and runs TaskPing's hooks itself.",
)


class StandIn:
    def __init__(self) -> None:
        self.session_id = str(uuid.uuid4())
        self.cwd = os.getcwd()
        self.settings = Path(os.environ.get("HOME", "/nonexistent")) / ".claude" / "settings.json"
        self.history: list[str] = []
        self.box = ""
        self.busy = False

    # -- hooks

    def run_hooks(self, event: str, **fields: object) -> None:
        """Run every command registered for ``event``, the JSON payload on stdin."""
        try:
            hooks = json.loads(self.settings.read_text()).get("hooks", {}).get(event, [])
        except (OSError, ValueError):
            return
        payload = json.dumps(
            {
                "session_id": self.session_id,
                "transcript_path": str(Path(self.cwd) / ".standin-transcript.jsonl"),
                "cwd": self.cwd,
                "hook_event_name": event,
                **fields,
            }
        )
        env = {**os.environ, "CLAUDE_PID": str(os.getpid()), "CLAUDE_PROJECT_DIR": self.cwd}
        for group in hooks if isinstance(hooks, list) else []:
            for hook in group.get("hooks", []) if isinstance(group, dict) else []:
                command = hook.get("command") if isinstance(hook, dict) else None
                if isinstance(command, str):
                    try:
                        subprocess.run(
                            ["/bin/sh", "-c", command],
                            input=payload.encode(),
                            env=env,
                            capture_output=True,
                            timeout=float(hook.get("timeout") or 60),
                            check=False,
                        )
                    except (OSError, subprocess.TimeoutExpired):
                        pass  # like Claude Code: a failing hook never stops the session

    # -- drawing

    def draw(self) -> None:
        width = max(20, shutil.get_terminal_size((80, 24)).columns)
        lines = [line[:width] for line in TITLE] + [""]
        lines += [line[:width] for line in self.history[-12:]]
        lines.append("")
        if self.busy:
            lines.append("✻ Echoing…")
        lines.append(RULE * width)
        box = self.box.split("\n")
        lines.append(PROMPT + box[0])
        lines += ["  " + line for line in box[1:]]
        lines.append(RULE * width)
        lines.append("  esc to interrupt" if self.busy else "  ? for shortcuts")
        sys.stdout.write("\x1b[H\x1b[2J" + "\r\n".join(lines))
        sys.stdout.flush()

    # -- input

    def submit(self) -> None:
        prompt, self.box = self.box, ""
        if not prompt.strip():
            return
        self.busy = True
        self.history.append("> " + prompt.replace("\n", "\n  "))
        self.draw()
        self.run_hooks("UserPromptSubmit", prompt=prompt)
        answer = f"Stand-in received: {prompt}"
        self.history.append("● " + answer)
        self.busy = False
        self.draw()
        self.run_hooks("Stop", last_assistant_message=answer, stop_hook_active=False, permission_mode="default")

    def loop(self) -> None:
        self.run_hooks("SessionStart", source="startup", model="stand-in")
        self.draw()
        stdin = sys.stdin.fileno()
        while True:
            data = os.read(stdin, 1024)
            if not data:
                return
            text = data.decode("utf-8", "replace")
            i = 0
            while i < len(text):
                char = text[i]
                i += 1
                if char in ("\x03", "\x04"):
                    return
                if char == "\r":
                    self.submit()
                elif char == "\n":
                    self.box += "\n"
                elif char == "\x15":
                    self.box = ""
                elif char in ("\x7f", "\x08"):
                    self.box = self.box[:-1]
                elif char == "\x1b":  # skip an escape sequence (arrows, bracketed-paste marks)
                    if i < len(text) and text[i] == "[":
                        i += 1
                        while i < len(text) and not ("@" <= text[i] <= "~"):
                            i += 1
                        i += 1
                elif char >= " ":
                    self.box += char
            self.draw()


def main() -> int:
    standin = StandIn()
    stdin = sys.stdin.fileno()
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    try:
        if saved is not None:
            tty.setraw(stdin)
        standin.loop()
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        standin.run_hooks("SessionEnd", reason="exit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
