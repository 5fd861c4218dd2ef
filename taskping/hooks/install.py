"""Merging TaskPing's hooks into Claude Code's settings.json.

Other hooks are kept; TaskPing's own entries (recognised by their command,
which runs ``taskping … hook EVENT``) are replaced, so running it twice
changes nothing and a moved install is updated. A backup of the file is
written before any change. Commands use absolute paths and carry the env file.

With APPROVALS=email the ``PermissionRequest`` hook is added too, with a timeout a
margin above APPROVAL_TIMEOUT (Claude kills a hook at its timeout; ours gives up
first and leaves the dialog to the terminal); without it, an earlier one of ours is removed.
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskping.hooks.payload import ALL_EVENTS, APPROVAL_EVENT, EVENTS

HOOK_TIMEOUT_SECONDS = 10
#: The PermissionRequest hook's timeout is APPROVAL_TIMEOUT plus this: time to mark the approval
#: expired and exit before Claude kills it.
APPROVAL_TIMEOUT_MARGIN = 30
MARK = " hook "


class SettingsFileError(Exception):
    pass


@dataclass(frozen=True)
class InstallResult:
    path: Path
    changed: bool
    backup: Path | None
    events: tuple[str, ...]


def hook_command(base_cmd: list[str], event: str, env_file: Path | None) -> str:
    parts = list(base_cmd)
    if env_file is not None:
        parts += ["--env-file", str(env_file)]
    parts += ["hook", event]
    return " ".join(shlex.quote(p) for p in parts)


def _is_ours(command: object) -> bool:
    if not isinstance(command, str):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if len(words) < 3 or words[-2] != "hook" or words[-1] not in ALL_EVENTS:
        return False
    return any(Path(w).name == "taskping" or w == "taskping" for w in words[:3])


def _strip_ours(groups: list[Any]) -> list[Any]:
    kept = []
    for group in groups:
        if not isinstance(group, dict):
            kept.append(group)
            continue
        hooks = [h for h in group.get("hooks", []) if not (isinstance(h, dict) and _is_ours(h.get("command")))]
        if hooks:
            kept.append({**group, "hooks": hooks})
        elif not group.get("hooks"):
            kept.append(group)
    return kept


def timeouts(approval_timeout: int | None) -> dict[str, int]:
    """The events to register and each one's timeout: the approval hook only when
    ``approval_timeout`` is given (APPROVALS=email)."""
    out = dict.fromkeys(EVENTS, HOOK_TIMEOUT_SECONDS)
    if approval_timeout is not None:
        out[APPROVAL_EVENT] = approval_timeout + APPROVAL_TIMEOUT_MARGIN
    return out


def merged(
    settings: dict[str, Any],
    base_cmd: list[str],
    env_file: Path | None,
    *,
    uninstall: bool,
    approval_timeout: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(settings))
    hooks = out.get("hooks")
    if hooks is None:
        hooks = {}
    if not isinstance(hooks, dict):
        raise SettingsFileError("'hooks' in the settings file is not an object")
    wanted = timeouts(approval_timeout)
    for event in ALL_EVENTS:
        groups = hooks.get(event, [])
        if not isinstance(groups, list):
            raise SettingsFileError(f"'hooks.{event}' in the settings file is not a list")
        groups = _strip_ours(groups)
        if not uninstall and event in wanted:
            groups.append(
                {
                    "matcher": "",
                    "hooks": [
                        {
                            "type": "command",
                            "command": hook_command(base_cmd, event, env_file),
                            "timeout": wanted[event],
                        }
                    ],
                }
            )
        if groups:
            hooks[event] = groups
        else:
            hooks.pop(event, None)
    if hooks:
        out["hooks"] = hooks
    else:
        out.pop("hooks", None)
    return out


def install(
    settings_path: Path,
    base_cmd: list[str],
    env_file: Path | None,
    *,
    uninstall: bool = False,
    approval_timeout: int | None = None,
) -> InstallResult:
    current: dict[str, Any] = {}
    if settings_path.exists():
        try:
            loaded = json.loads(settings_path.read_text(encoding="utf-8") or "{}")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SettingsFileError(f"cannot read {settings_path}: {exc}") from None
        if not isinstance(loaded, dict):
            raise SettingsFileError(f"{settings_path} does not hold a JSON object")
        current = loaded
    new = merged(current, base_cmd, env_file, uninstall=uninstall, approval_timeout=approval_timeout)
    events = () if uninstall else tuple(timeouts(approval_timeout))
    if new == current and settings_path.exists():
        return InstallResult(settings_path, changed=False, backup=None, events=events)
    backup = None
    if settings_path.exists():
        backup = settings_path.with_name(f"{settings_path.name}.taskping-backup-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copy2(settings_path, backup)
    settings_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = settings_path.with_name(settings_path.name + ".taskping-tmp")
    tmp.write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    tmp.replace(settings_path)
    return InstallResult(settings_path, changed=True, backup=backup, events=events)
