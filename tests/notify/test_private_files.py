"""Private files and configuration the user chose, through the real processes.

Every test here runs with a permissive umask (022) in the test process, as a
user's shell has: what TaskPing writes must be private anyway (state dir 0700,
every file in it 0600, also SQLite's side files and the log the logger creates
first), and what TaskPing starts *for the user* (Claude in a spawned pane) must
keep the user's umask.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import libtmux
import pytest

from taskping import log
from taskping.relay import audit
from taskping.session_map import connect
from tests.notify.conftest import HookRig, taskping_bin
from tests.support.mailstack import MailStack

RELAY = Path(sys.executable).parent / "taskping-relay"


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of ``root`` ('.') and of everything under it, by relative path."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in sorted(root.rglob("*")):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def not_private(root: Path) -> dict[str, str]:
    """Everything under ``root`` that is not 0700 (directories) / 0600 (files)."""
    bad = {}
    for name, mode in modes(root).items():
        want = 0o700 if (root / name).is_dir() else 0o600
        if mode != want:
            bad[name] = oct(mode)
    return bad


# --- in-process: the library is private whatever the caller's umask


def test_session_map_and_its_side_files_are_private_while_open(tmp_path: Path) -> None:
    db = tmp_path / "state" / "taskping.db"
    conn = connect(db)
    try:
        conn.execute("INSERT INTO daemons VALUES ('relay', 1, 'h', 0, 0)")
        names = {p.name for p in db.parent.iterdir()}
        assert {"taskping.db", "taskping.db-wal", "taskping.db-shm"} <= names
        assert not_private(db.parent) == {}
    finally:
        conn.close()


def test_files_an_older_version_left_open_are_tightened(tmp_path: Path) -> None:
    own = tmp_path / "state" / "taskping"  # TaskPing's own directory, as the default one is named
    own.mkdir(parents=True, mode=0o755)
    db = own / "taskping.db"
    connect(db).close()
    for name in ("taskping.db", "taskping.db-wal", "taskping.log", "audit.jsonl"):
        (own / name).touch()
        (own / name).chmod(0o644)
    own.chmod(0o755)
    connect(db).close()
    log.configure(log_file=own / "taskping.log")
    log.get_logger().info("tightened")
    audit.write(own / "audit.jsonl", message_id="<m@x>", sender=None, session=None, decision="dropped", reason="r")
    assert not_private(own) == {}


def test_a_directory_the_user_chose_keeps_its_mode_but_the_files_are_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    connect(shared / "taskping.db").close()
    audit.write(shared / "audit.jsonl", message_id=None, sender=None, session=None, decision="dropped", reason="r")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert {name: mode for name, mode in not_private(shared).items() if name != "."} == {}


def test_the_logger_creating_the_state_dir_first_makes_it_private(tmp_path: Path) -> None:
    state = tmp_path / "fresh" / "state"
    log.configure(log_file=state / "taskping.log")
    log.get_logger().info("first")
    assert modes(state) == {".": 0o700, "taskping.log": 0o600}


# --- the real processes: hook, send-outbox, relay --once and the relay daemon


def _stranger_mail(stack: MailStack) -> None:
    msg = EmailMessage()
    msg["From"] = "stranger@elsewhere.example"
    msg["To"] = stack.address("taskping")
    msg["Subject"] = "hello"
    msg["Message-ID"] = make_msgid(domain="elsewhere.example")
    msg.set_content("type this please\n")
    stack.send(msg.as_bytes(), to=stack.address("taskping"), from_="stranger@elsewhere.example")


def _wait_for(check, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _use_stack(rig: HookRig, stack: MailStack) -> dict[str, str]:
    """Point the rig's hooks at the mail stack; no heartbeat from this process (the test must not
    open the session map before the modes are read), so a hook starts its own sender."""
    rig.env.update(stack.taskping_env(SENDER_AUTH="none", SESSION_MAP_PATH=str(rig.db_path)))
    rig.relay = False
    assert not rig.state_dir.exists()
    return dict(rig.env)


HOOK_RUN = (
    ("SessionStart", {"session_id": "s1", "cwd": "/srv/app", "source": "startup"}),
    ("Stop", {"session_id": "s1", "cwd": "/srv/app", "last_assistant_message": "done"}),
)


@pytest.mark.mail
@pytest.mark.tmux
def test_state_dir_is_private_after_hook_and_relay_once(mail_stack: MailStack, hook_rig: HookRig) -> None:
    """send-outbox first (its logger creates the state dir), the hook in a tmux pane, then the relay
    once over real IMAP/SMTP: with umask 022 in this process, the state dir is 0700 and every file
    in it 0600."""
    state = hook_rig.state_dir
    env = _use_stack(hook_rig, mail_stack)
    first = subprocess.run(
        [taskping_bin(), "send-outbox", "--max-seconds", "0"], env=env, capture_output=True, timeout=60, check=False
    )
    assert first.returncode == 0, first.stderr
    for event, payload in HOOK_RUN:
        proc = hook_rig.run(event, payload)
        assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    _stranger_mail(mail_stack)
    once = subprocess.run([str(RELAY), "--once"], env=env, capture_output=True, timeout=120, check=False)
    assert once.returncode == 0, once.stderr
    found, bad = modes(state), not_private(state)
    print("state dir after hook + relay --once:", {k: oct(v) for k, v in found.items()})
    assert {"taskping.db", "taskping.log", "audit.jsonl", "send-outbox.lock"} <= set(found)
    assert bad == {}, f"not private: {bad}"
    # The run was real: the notification went out, and the stranger's mail was decided and audited.
    _wait_for(lambda: [r.status for r in hook_rig.outbox()] == ["sent"], "the notification to be sent")
    assert "stranger@elsewhere.example" in (state / "audit.jsonl").read_text()


@pytest.mark.mail
@pytest.mark.tmux
def test_sqlite_side_files_are_private_while_the_relay_daemon_runs(mail_stack: MailStack, hook_rig: HookRig) -> None:
    """The relay daemon started first on a fresh state dir creates the session map, and SQLite its
    -wal and -shm, which live as long as the daemon: 0600 like the rest, also after a hook and a
    reply were handled meanwhile."""
    state = hook_rig.state_dir
    env = _use_stack(hook_rig, mail_stack)
    daemon = subprocess.Popen(
        [str(RELAY)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_for(
            lambda: (state / "taskping.db-wal").exists() and (state / "taskping.db-shm").exists(),
            "the relay daemon's WAL files",
        )
        for event, payload in HOOK_RUN:
            proc = hook_rig.run(event, payload)
            assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
        _stranger_mail(mail_stack)
        _wait_for(lambda: (state / "audit.jsonl").exists(), "the relay to decide the stranger's mail")
        found, bad = modes(state), not_private(state)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    print("state dir while the relay runs:", {k: oct(v) for k, v in found.items()})
    assert {"taskping.db", "taskping.db-wal", "taskping.db-shm", "audit.jsonl"} <= set(found)
    assert bad == {}, f"not private: {bad}"


@pytest.mark.tmux
def test_spawned_command_keeps_the_users_umask(tmp_path: Path, tmux_server: libtmux.Server) -> None:
    """`taskping spawn` runs private (umask 077) but Claude in the pane must not: files it writes
    in the project would turn 0600. The pane's command reports its umask."""
    tmux_server.new_session(session_name="keepalive", window_command="sleep 3600", attach=False)
    out = tmp_path / "umask.out"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "SESSION_MAP_PATH": str(tmp_path / "state" / "taskping.db"),
    }
    proc = subprocess.run(
        [
            taskping_bin(),
            "spawn",
            "--tmux-socket",
            str(tmux_server.socket_path),
            "--cwd",
            str(tmp_path),
            "--name",
            "umask",
            "--",
            "sh",
            "-c",
            f"umask > {out}.tmp && mv {out}.tmp {out}; sleep 60",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    _wait_for(out.exists, "the pane's command")
    assert out.read_text().strip() == "0022"
    assert not_private(tmp_path / "state") == {}


@pytest.mark.tmux
def test_spawn_starting_the_tmux_server_gives_it_the_users_umask(tmp_path: Path, tmux_server: libtmux.Server) -> None:
    """No tmux server yet on the socket: the one spawn starts must not be private either, or every
    later window the person opens in it would be."""
    assert not tmux_server.is_alive()
    out = tmp_path / "umask.out"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "SESSION_MAP_PATH": str(tmp_path / "state" / "taskping.db"),
    }
    proc = subprocess.run(
        [
            taskping_bin(),
            "spawn",
            "--tmux-socket",
            str(tmux_server.socket_path),
            "--cwd",
            str(tmp_path),
            "--name",
            "first",
            "--",
            "sleep",
            "60",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    tmux_server.cmd("new-window", "-d", f"sh -c 'umask > {out}.tmp && mv {out}.tmp {out}; sleep 60'")
    _wait_for(out.exists, "the new window's command")
    assert out.read_text().strip() == "0022"


# --- the hook and configuration it was not given


@pytest.mark.tmux
def test_hook_ignores_a_dot_env_in_claudes_directory(hook_rig: HookRig) -> None:
    """Claude runs the hook in the project directory. A .env there (a repository's) naming
    another EMAIL_TO must not receive Claude's replies: with EMAIL_TO nowhere else, nothing is queued."""
    (hook_rig.root / "cwd" / ".env").write_text("EMAIL_TO=attacker@evil.example\n")
    del hook_rig.env["EMAIL_TO"]
    hook_rig.ok("SessionStart", {"session_id": "s1", "cwd": "/srv/app", "source": "startup"})
    reason = hook_rig.skipped(
        "Stop", {"session_id": "s1", "cwd": "/srv/app", "last_assistant_message": "secret results"}
    )
    assert reason == "EMAIL_TO not set: stop recorded, no email queued"  # and says so in the log
    session = hook_rig.session()
    assert session is not None and session.state == "idle"  # the hook ran and recorded the turn
    assert hook_rig.outbox() == []


@pytest.mark.tmux
def test_hook_with_a_password_file_others_can_read_exits_0_and_sends_nothing(hook_rig: HookRig) -> None:
    env_file = hook_rig.root / "taskping.env"
    env_file.write_text(
        "".join(f"{k}={v}\n" for k, v in hook_rig.env.items() if k not in ("PATH", "HOME", "LANG"))
        + "SMTP_PASS=s3cret-value\n"
    )
    env_file.chmod(0o644)
    proc = hook_rig.run(
        "Stop",
        {"session_id": "s1", "cwd": "/srv/app", "last_assistant_message": "done"},
        args=("--env-file", str(env_file)),
        env={"EMAIL_TO": None, "SESSION_MAP_PATH": None},
    )
    assert proc.returncode == 0 and proc.stdout == b""
    assert b"s3cret" not in proc.stderr
    (line,) = proc.stderr.decode().splitlines()  # no settings, so no log file: the reason goes to stderr
    logged = json.loads(line)
    assert logged["event"] == "hook_config_error" and logged["key"] == str(env_file)
    assert logged["problem"] == "holds a password and is readable by others"
    assert logged["fix"] == f"chmod 600 {env_file}"
    assert hook_rig.outbox() == [] and hook_rig.all_sessions() == []
