"""External tools the tests need, and what to do when one is missing.

On a developer's machine a missing tool skips the test with a hint; in CI
(``$CI`` set to anything truthy) it fails the test, so a CI machine that lacks
an install step cannot pass by skipping. ``bin/test`` installs all of them.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.mailstack import find_tool

CLAUDE_VERSION = "2.1.328"
REPO_ROOT = Path(__file__).resolve().parents[2]
PINNED_CLAUDE = REPO_ROOT / ".tools" / "claude-code" / "node_modules" / ".bin" / "claude"

_HINTS: dict[str, str] = {
    "dovecot": "apt-get install dovecot-imapd dovecot-lmtpd",
    "tmux": "apt-get install tmux",
    "openssl": "apt-get install openssl",
    "claude": (
        f"npm install --prefix .tools/claude-code @anthropic-ai/claude-code@{CLAUDE_VERSION}"
        " or set TASKPING_TEST_CLAUDE"
    ),
}


def in_ci() -> bool:
    """True when ``$CI`` is set to a truthy value (CI=true, CI=1, ...)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def missing(what: str, why: str) -> None:
    """Fail (in CI) or skip (elsewhere) because ``what`` is unavailable."""
    hint = _HINTS.get(what, "")
    message = f"{what}: {why}. Run bin/test, which installs everything the tests need"
    if hint:
        message += f" (or: {hint})"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require(tool: str) -> str:
    """Return the path of ``tool`` ("dovecot", "tmux", "claude", "openssl" or any
    program); fail in CI, skip elsewhere, when it is missing."""
    if tool == "claude":
        return claude_binary()
    if tool == "dovecot":
        for part in ("dovecot", "doveadm"):
            if find_tool(part) is None:
                missing("dovecot", f"{part} is not installed")
        if not Path("/usr/lib/dovecot/lmtp").exists():
            missing("dovecot", "Dovecot's LMTP server (dovecot-lmtpd) is not installed")
        if not Path("/usr/lib/dovecot/imap").exists():
            missing("dovecot", "Dovecot's IMAP server (dovecot-imapd) is not installed")
    path = find_tool(tool)
    if path is None:
        missing(tool, "not installed")
        raise AssertionError("unreachable")  # pragma: no cover - missing() raises
    return path


@functools.cache
def _claude_version(path: str) -> str:
    proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60, check=False)
    return (proc.stdout or proc.stderr).strip()


def claude_candidates() -> list[str]:
    """Where the pinned claude CLI is looked for, in order."""
    found: list[str] = []
    if os.environ.get("TASKPING_TEST_CLAUDE"):
        found.append(os.environ["TASKPING_TEST_CLAUDE"])
    if PINNED_CLAUDE.exists():
        found.append(str(PINNED_CLAUDE))
    on_path = find_tool("claude")
    if on_path:
        found.append(on_path)
    return found


def claude_binary() -> str:
    """Path of the claude CLI pinned at :data:`CLAUDE_VERSION`.

    Looked for in ``$TASKPING_TEST_CLAUDE``, then
    ``<repo>/.tools/claude-code/node_modules/.bin/claude``, then ``claude`` on
    PATH; the first one found must report the pinned version.
    """
    candidates = claude_candidates()
    if not candidates:
        missing("claude", f"the claude CLI {CLAUDE_VERSION} is not installed")
    path = candidates[0]
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        missing("claude", f"{path} is not an executable file")
    try:
        version = _claude_version(path)
    except (OSError, subprocess.TimeoutExpired) as exc:
        missing("claude", f"{path} --version failed: {exc}")
        raise AssertionError("unreachable") from exc  # pragma: no cover
    if version.split()[:1] != [CLAUDE_VERSION]:
        missing("claude", f"{path} is version {version!r}, tests are pinned to {CLAUDE_VERSION}")
    return path
