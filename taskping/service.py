"""The systemd user unit for the relay: written by `taskping install-service`.

The unit is what makes the relay's failures visible to the service manager:

- ``Type=notify``: systemd calls the relay started only when it says READY=1,
  which it does after its first successful pass over the mailbox
  (:mod:`taskping.sd_notify`), so a wrong password shows as a failed start.
- ``Restart=on-failure`` with ``RestartPreventExitStatus=78``: a network
  outage is retried, but three rejected logins (exit 78, EX_CONFIG) are not,
  so a wrong password never trips a provider's lockout through restarts.
- ``WatchdogSec=``: a relay whose event loop hangs is restarted.
- stdout/stderr to the journal; the relay writes JSON lines there.

The env file is passed explicitly (``--env-file``) so the unit reads the
same configuration the person tested with `taskping doctor`.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "taskping-relay.service"
WATCHDOG_SEC = 60


def unit_path(home: Path) -> Path:
    """``~/.config/systemd/user/taskping-relay.service`` (XDG_CONFIG_HOME is honoured by the caller)."""
    return home / "systemd" / "user" / UNIT_NAME


def relay_executable() -> Path:
    """The ``taskping-relay`` beside this interpreter (a venv or pipx install), else on PATH."""
    beside = Path(sys.executable).parent / "taskping-relay"
    if beside.is_file():
        return beside
    found = shutil.which("taskping-relay")
    return Path(found) if found else beside


def _quote(path: Path) -> str:
    """A path as systemd reads it on ExecStart= (shell-like quoting; ``%`` doubled for specifiers)."""
    text = str(path).replace("%", "%%")
    return shlex.quote(text) if any(c in text for c in " \t\"'\\") else text


def unit_text(executable: Path, env_file: Path) -> str:
    return f"""# Written by `taskping install-service`; rewrite with `taskping install-service --force`.
[Unit]
Description=TaskPing relay: types email replies into Claude Code sessions
StartLimitIntervalSec=600
StartLimitBurst=5

[Service]
Type=notify
NotifyAccess=main
ExecStart={_quote(executable)} --env-file {_quote(env_file)} --log-format json
# Network trouble: restart. Exit 78 (login rejected 3 times in a row): do not, fix the password.
Restart=on-failure
RestartSec=10
RestartPreventExitStatus=78
WatchdogSec={WATCHDOG_SEC}
# SIGTERM finishes the reply being typed, then exits.
KillSignal=SIGTERM
TimeoutStopSec=30
UMask=0077
StandardOutput=journal
StandardError=journal
SyslogIdentifier=taskping-relay

[Install]
WantedBy=default.target
"""


@dataclass(frozen=True)
class Installed:
    path: Path
    replaced: bool


class UnitExists(Exception):
    """The unit file is already there and --force was not given."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} exists; rerun with --force to replace it")


def install(path: Path, text: str, *, force: bool) -> Installed:
    """Write the unit (0644: systemd must read it; it holds no secret). Never replaces without ``force``."""
    existed = path.exists()
    if existed and not force:
        raise UnitExists(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(path)
    return Installed(path, existed)


def next_steps(path: Path) -> list[str]:
    """What to run after writing the unit."""
    return [
        f"wrote {path}",
        "enable and start it:  systemctl --user daemon-reload && systemctl --user enable --now taskping-relay",
        "keep it running after you log out:  loginctl enable-linger $USER",
        "follow it:  journalctl --user -u taskping-relay -f   (status: systemctl --user status taskping-relay)",
    ]
