"""Running TaskPing's console scripts the way a person does: in a subprocess.

One runner for every folder: :func:`run_taskping` (``taskping [--env-file F] ARGS``)
and :func:`start_relay_process` (``taskping-relay``), with :func:`write_env_file`
for the env file they read (0600: it holds passwords, and TaskPing refuses it
readable by others).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import pytest

#: Where pip put the console scripts of the interpreter running the tests (bench/reply_latency.py
#: points it at another install; every runner here reads it when it runs).
BIN = Path(sys.executable).parent


def script(name: str = "taskping") -> str:
    """Path of the installed console script ``name``; fails the test when it is missing."""
    path = BIN / name
    if not path.is_file():
        pytest.fail(f"the {name} console script is not installed beside {sys.executable}", pytrace=False)
    return str(path)


def taskping_bin() -> str:
    return script("taskping")


def write_env_file(path: Path, values: Mapping[str, str], *, quote: bool = False) -> Path:
    """Write ``KEY=value`` lines (values JSON-quoted with ``quote``), created 0600."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        for key, value in values.items():
            out.write(f"{key}={json.dumps(value) if quote else value}\n")
    return path


def run_taskping(
    *args: str,
    env: Mapping[str, str],
    env_file: Path | None = None,
    cwd: Path | None = None,
    input: str | bytes | None = None,  # subprocess.run's name
    timeout: float = 60,
    text: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """``taskping [--env-file ENV_FILE] ARGS`` with exactly ``env`` as its environment."""
    argv = [taskping_bin(), *(["--env-file", str(env_file)] if env_file is not None else []), *args]
    return subprocess.run(
        argv, env=dict(env), cwd=cwd, input=input, capture_output=True, text=text, timeout=timeout, check=False
    )


def start_relay_process(
    env_file: Path, env: Mapping[str, str], stderr: IO[bytes], *args: str
) -> subprocess.Popen[bytes]:
    """``taskping-relay --env-file ENV_FILE ARGS`` in its own session (so a test can signal it alone)."""
    return subprocess.Popen(
        [script("taskping-relay"), "--env-file", str(env_file), *args],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )
