"""What `taskping hook` imports, per event: the hook sits in front of every prompt
(UserPromptSubmit runs before Claude sees it), and imports are most of its time.
Not a timing test: the module lists are what stays true on any machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.notify.conftest import HookRig

pytestmark = pytest.mark.tmux

#: Never on the hook's path with a plain env file (each costs 5–35 ms).
HEAVY = ("email", "dotenv", "subprocess", "logging", "structlog", "argparse", "pydantic", "secrets", "html")
#: Only when something is mailed.
MAIL_ONLY = ("taskping.hooks.compose", "taskping.hooks.mime", "taskping.session_map.outbox", "socket", "markdown_it")
#: What rendering Claude's markdown brings along (markdown-it imports html.entities and logging): paid
#: only by a Stop that is mailed (with NOTIFY_WHEN=away, when nobody is at the terminal).
MARKDOWN = ("html", "logging")


def _modules(rig: HookRig, event: str, payload: dict[str, object], env_file: Path) -> set[str]:
    out = rig.root / f"modules-{event}.json"
    code = (
        "import json, sys\n"
        "from taskping.cli.main import main\n"
        f"main(['--env-file', {str(env_file)!r}, 'hook', {event!r}])\n"
        f"open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**{k: v for k, v in rig.env.items() if not k.startswith(("EMAIL_", "SMTP_", "SESSION_"))}, **rig.tmux_env()}
    if rig.relay:
        rig.beat_relay()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(payload).encode(),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
        cwd=rig.root,
    )
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    return set(json.loads(out.read_text()))


def _top(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)}


def test_the_hook_imports_only_what_each_event_needs(hook_rig: HookRig) -> None:
    rig = hook_rig
    env_file = rig.root / "taskping.env"  # a plain file, like .env.example
    env_file.write_text(
        "".join(
            f"{k}={v}   # set by the test\n"
            for k, v in rig.env.items()
            if k.startswith(("EMAIL_", "SMTP_", "SESSION_"))
        )
    )
    payload = {"session_id": "imports-1", "cwd": str(rig.root / "proj")}
    rig.ok("SessionStart", payload, args=("--env-file", str(env_file)))  # registers the pane

    prompt = _modules(rig, "UserPromptSubmit", {**payload, "prompt": "go"}, env_file)
    assert _top(prompt, HEAVY) == set()
    assert _top(prompt, MAIL_ONLY) == set()
    assert "taskping.tokens" not in prompt  # the pane is already registered

    stop = _modules(rig, "Stop", {**payload, "last_assistant_message": "done"}, env_file)
    assert _top(stop, HEAVY) == set(MARKDOWN)
    assert "taskping.hooks.mime" in stop and "markdown_it" in stop
    assert [r.kind for r in rig.outbox()] == ["stop"]  # and the Stop was really mailed
