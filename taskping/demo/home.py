"""The throw-away HOME the demo's Claude Code runs in.

Interactive ``claude`` needs, before its first start, a ``~/.claude.json``
that says onboarding is done, the API key was approved and the project folder
is trusted; otherwise it asks questions or tries to reach the real API. The
settings file sets ``permissions.defaultMode`` to ``default`` (auto mode would
show a different dialog) and receives TaskPing's hooks from
``taskping install-hooks``. The environment is built from nothing, so none of
the user's own Claude or TaskPing configuration reaches the demo.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Any string works against the demo's model endpoint; claude only needs one to be approved.
DEMO_API_KEY = "sk-ant-api03-taskping-demo-key-not-a-real-key-0123456789"
FALLBACK_VERSION = "2.1.328"


@dataclass(frozen=True)
class DemoHome:
    home: Path
    project: Path
    settings_path: Path
    env: dict[str, str]


def claude_version(binary: str) -> str:
    """``claude --version``'s number (onboarding is recorded per version), or a known one."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return FALLBACK_VERSION
    words = out.stdout.split()
    return words[0] if words and words[0][:1].isdigit() else FALLBACK_VERSION


def seed_offline_claude(home: Path, project: Path, *, version: str, api_key: str) -> Path:
    """Make ``home`` a HOME where interactive claude starts offline in ``project``: onboarding
    done for ``version``, ``api_key`` approved, the project trusted, permission prompts in the
    default mode. Returns ``~/.claude/settings.json`` (hooks are added there)."""
    (home / ".claude").mkdir(parents=True)
    project.mkdir(parents=True)
    claude_json = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": version,
        "theme": "dark",
        "hasSeenAutoDefaultNudge": True,
        "hasSeenAutoDefaultNotice": True,
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "projects": {str(project): {"hasTrustDialogAccepted": True, "allowedTools": []}},
    }
    (home / ".claude.json").write_text(json.dumps(claude_json, indent=2))
    settings_path = home / ".claude" / "settings.json"
    settings_path.write_text(json.dumps({"permissions": {"defaultMode": "default"}}, indent=2))
    return settings_path


def make_home(root: Path, model_url: str, *, version: str, path: str) -> DemoHome:
    """Seed ``root/home`` and ``root/project``; ``env`` is the whole environment for the session."""
    home = root / "home"
    project = root / "project"
    settings_path = seed_offline_claude(home, project, version=version, api_key=DEMO_API_KEY)
    env = {
        "HOME": str(home),
        "USER": os.environ.get("USER", "taskping"),
        "PATH": path,
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "SHELL": "/bin/sh",
        "ANTHROPIC_BASE_URL": model_url,
        "ANTHROPIC_API_KEY": DEMO_API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    return DemoHome(home, project, settings_path, env)
