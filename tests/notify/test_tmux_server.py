"""taskping.tmux_server: the one way TaskPing talks to tmux, against a real private tmux server.

Its runner is also the hook's (no ``subprocess``), so a program past its deadline must be
killed, not waited for."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping import tmux_server
from taskping.tmux_server import NOT_RUN, PaneAddress, TmuxError, TmuxServer, pane_from_environ, run_program


def test_run_program_output_status_and_stderr() -> None:
    assert run_program(["sh", "-c", "printf 'a b\\n'; echo err >&2; exit 3"], timeout=10) == (3, b"a b\n", b"err\n")


def test_run_program_of_a_missing_program_is_none() -> None:
    assert run_program(["taskping-no-such-program-here"], timeout=10) is None


def test_run_program_past_its_deadline_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    assert run_program(["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"], timeout=0.5) is None
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TMUX": "/tmp/tmux-0/default,123,0", "TMUX_PANE": "%3"}, PaneAddress("/tmp/tmux-0/default", "%3")),
        ({"TMUX": "/tmp/tmux-0/default,123,0"}, None),
        ({"TMUX_PANE": "%3"}, None),
        ({"TMUX": "", "TMUX_PANE": "%3"}, None),
        ({}, None),
    ],
)
def test_pane_from_environ(environ: dict[str, str], expected: PaneAddress | None) -> None:
    assert pane_from_environ(environ) == expected


@pytest.fixture
def server() -> Iterator[TmuxServer]:
    """A TmuxServer on a private socket; only that server is killed at teardown."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    sock_dir = Path(tempfile.mkdtemp(prefix="tp-tmuxsrv-"))
    srv = TmuxServer(str(sock_dir / "sock"))
    try:
        yield srv
    finally:
        srv.run("kill-server")
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.mark.tmux
def test_no_server_means_no_live_panes(server: TmuxServer) -> None:
    assert server.live_panes() == set()
    assert not server.has_session("any")
    assert not server.pane_alive("%0")
    assert server.display("%0", "#{pane_id}") is None


@pytest.mark.tmux
def test_a_tmux_that_cannot_run_is_a_result_not_an_exception() -> None:
    broken = TmuxServer("/nonexistent/sock", tmux_bin="taskping-no-such-tmux")
    result = broken.run("list-panes")
    assert result.code == NOT_RUN and "taskping-no-such-tmux" in result.stderr[0]
    assert broken.live_panes() is None  # cannot tell, unlike "no server"
    with pytest.raises(TmuxError, match="list-panes"):
        broken.check("list-panes")


@pytest.mark.tmux
def test_session_lifecycle_on_a_private_server(
    server: TmuxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside someone's tmux ($TMUX set) a new session must still start (tmux refuses to nest).
    monkeypatch.setenv("TMUX", "/nonexistent/outer,1,0")
    pane = server.new_session("work", cwd=str(tmp_path), command="printf 'hello\\n'; exec sleep 60")
    assert pane.startswith("%")
    assert server.socket_path() == server.socket
    assert server.has_session("work") and not server.has_session("wor")  # exact names only
    assert server.live_panes() == {pane}
    assert server.display(pane, "#{pane_current_path}") == str(tmp_path.resolve())
    deadline = time.monotonic() + 10
    while "hello" not in server.capture(pane):
        assert time.monotonic() < deadline, server.capture(pane)
        time.sleep(0.05)
    assert server.capture(pane)[-1] != ""  # trailing blank rows are not returned
    assert server.client_activity(pane) == []  # detached: no client
    assert server.set_pane_option(pane, "remain-on-exit", "on")
    assert server.display(pane, "#{remain-on-exit}") == "on"
    assert server.set_pane_option(pane, "remain-on-exit", None)
    with pytest.raises(TmuxError, match="capture-pane"):
        server.capture("%999")
    with pytest.raises(TmuxError, match="duplicate session"):
        server.new_session("work", cwd=str(tmp_path), command="exec sleep 60")
    server.kill_session("work")
    assert not server.has_session("work")


@pytest.mark.tmux
def test_a_dead_pane_is_not_live(server: TmuxServer, tmp_path: Path) -> None:
    keep = server.new_session("keep", cwd=str(tmp_path), command="exec sleep 60")
    server.check("set-option", "-g", "remain-on-exit", "on")
    dead = server.new_session("dies", cwd=str(tmp_path), command="exit 3")
    deadline = time.monotonic() + 10
    while server.display(dead, "#{pane_dead}") != "1":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert server.live_panes() == {keep}
    assert server.pane_alive(keep) and not server.pane_alive(dead)


def test_the_module_imports_nothing_heavy_or_of_ours() -> None:
    """The hook imports it: the standard library's small parts only."""
    source = Path(tmux_server.__file__).read_text()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "os", "select", "signal", "time", "collections.abc", "typing"}, imports
