"""Fuzz `taskping hook` with malformed input: the real console script always exits 0,
quickly, and says nothing on stdout; in-process, HookInput.parse raises only
HookInputError and handle() never raises for what parse accepted."""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskping.config import load_settings
from taskping.hooks.handler import handle
from taskping.hooks.payload import EVENTS, HookEnv, HookInput, HookInputError
from taskping.session_map import connect, daemons
from tests.support.cli import BIN

SUBPROCESS_CASES = 300
pytestmark = pytest.mark.slow

HOOK_LIMIT_S = 5.0

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "hook_event_name",
    "session_id",
    "transcript_path",
    "cwd",
    "prompt",
    "last_assistant_message",
    "stop_hook_active",
    "notification_type",
    "message",
    "source",
    "reason",
]
payload_objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=8)


@st.composite
def stdin_bytes(draw) -> bytes:  # type: ignore[no-untyped-def]
    kind = draw(st.sampled_from(["object", "value", "truncated", "bytes", "empty", "huge"]))
    if kind == "object":
        return json.dumps(draw(payload_objects)).encode()
    if kind == "value":
        return json.dumps(draw(json_values)).encode()
    if kind == "truncated":
        text = json.dumps(draw(payload_objects)).encode()
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "huge":
        return json.dumps({"hook_event_name": "Stop", "last_assistant_message": "x" * 200_000}).encode()
    return b""


events = st.sampled_from([*EVENTS, "", "Bogus", "stop", "Stop\u00e9", "--help", "-h"])


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("hookfuzz")
    env_file = root / "taskping.env"
    env_file.write_text(
        f"SESSION_MAP_PATH={root}/taskping.db\nEMAIL_FROM=taskping@example.test\n"
        "EMAIL_TO=me@example.test\nTASKPING_HOST_ID=fuzzhost\n"
    )
    conn = connect(root / "taskping.db")
    daemons.beat(conn, "relay")  # "a relay runs" (this test process): hooks start no sender
    conn.close()
    return {"root": root, "env_file": env_file}


def test_hook_console_script_always_exits_0_quickly(hook_env) -> None:  # type: ignore[no-untyped-def]
    cases: list[tuple[str, bytes, dict[str, str]]] = []

    @settings(
        max_examples=SUBPROCESS_CASES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(events, stdin_bytes(), st.sampled_from(["none", "tmux", "bad-tmux"]))
    def collect(event: str, data: bytes, where: str) -> None:
        env = {"PATH": os.environ["PATH"], "HOME": str(hook_env["root"])}
        if where == "tmux":
            env |= {"TMUX": "/nonexistent/tmux-sock,1,0", "TMUX_PANE": "%7"}
        elif where == "bad-tmux":
            env |= {"TMUX": ",,", "TMUX_PANE": "not-a-pane"}
        cases.append((event, data, env))

    collect()
    conn = connect(hook_env["root"] / "taskping.db")
    daemons.beat(conn, "relay")
    conn.close()

    def run(case: tuple[str, bytes, dict[str, str]]) -> tuple[int, float, bytes, str]:
        event, data, env = case
        t = time.monotonic()
        out = subprocess.run(
            [str(BIN / "taskping"), "--env-file", str(hook_env["env_file"]), "hook", event],
            input=data,
            env=env,
            capture_output=True,
            timeout=30,
        )
        return out.returncode, time.monotonic() - t, out.stdout, event

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, cases))
    bad = [(code, event) for code, _, _, event in results if code != 0]
    assert bad == [], bad
    assert all(stdout == b"" for _, _, stdout, event in results if not event.startswith("-"))  # --help prints usage
    slowest = max(d for _, d, _, _ in results)
    print(f"\nMETRIC hook-subprocess-fuzz cases={len(results)} nonzero_exits=0 max_s={slowest:.2f}")
    assert slowest < HOOK_LIMIT_S


def test_hook_parse_and_handle_in_process(hook_env) -> None:  # type: ignore[no-untyped-def]
    s = load_settings(hook_env["env_file"], environ={})
    conn = connect(s.session_map_path)
    conn.execute("PRAGMA synchronous = OFF")
    conn.close()
    counts = {"cases": 0, "rejected": 0, "handled": 0}

    @settings(
        max_examples=3000, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(events, stdin_bytes(), st.sampled_from([None, "%1", "%2"]))
    def run(event: str, data: bytes, pane: str | None) -> None:
        counts["cases"] += 1
        try:
            hook = HookInput.parse(data, event)
        except HookInputError:
            counts["rejected"] += 1
            return
        env = HookEnv.from_environ({"TMUX": "/nonexistent/tmux-sock,1,0", "TMUX_PANE": pane} if pane else {})
        handle(hook, env, s)  # must not raise
        counts["handled"] += 1

    run()
    print(f"\nMETRIC hook-inprocess-fuzz {counts}")
