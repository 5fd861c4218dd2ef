"""Which gone sessions a reply may bring back, and the refusal that says why not, on a real
session map and the real tmux injector (its sessions' tmux socket has no server: the
terminal is gone). The resumer must never be reached unless the session may be resumed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taskping.injectors.by_kind import InjectorByKind
from taskping.injectors.tmux import TmuxInjector
from taskping.relay.pipeline import Pipeline, Planned
from taskping.session_map import sessions, waiting
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import Code, EndReason, Status, Step
from tests.support.inprocess import Map, in_process_map, reply_to, said

CLAUDE_ID = "8c6afec1-e6c8-4c02-b622-edf887e17915"


class NoResume:
    """A resumer that fails the test when reached; or, with ``fail``, one that cannot resume."""

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.calls: list[int] = []

    def __call__(self, session: Session) -> tuple[Session, str] | str:
        self.calls.append(session.id)
        if self.fail is None:
            raise AssertionError("this session must not be resumed")
        return self.fail


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Map]:
    env = getattr(request, "param", {})
    with in_process_map(tmp_path, RATE_LIMIT_PER_MINUTE="60", **env) as m:
        yield m


def make(m: Map, resumer: NoResume) -> Pipeline:
    injector = InjectorByKind(tmux=TmuxInjector(m.settings.state_dir / "locks"))
    return Pipeline(m.settings, m.conn, injector, resumer)  # type: ignore[arg-type]


def as_spawned(m: Map, i: int, *, claude_id: str | None = CLAUDE_ID, end: str | None = None) -> Session:
    """Session ``i`` of the map made as `taskping spawn` makes one (spawned, cwd), its Claude id
    reported by a hook, then ended for ``end`` (None: left live, its pane gone without a hook)."""
    s = sessions.by_token(m.conn, m.tokens[i])
    assert s is not None
    m.conn.execute("UPDATE sessions SET spawned = 1, cwd = ? WHERE id = ?", (str(m.settings.state_dir), s.id))
    return finish(m, s, claude_id=claude_id, end=end)


def finish(m: Map, s: Session, *, claude_id: str | None = CLAUDE_ID, end: str | None = None) -> Session:
    s = sessions.record_event(m.conn, s.id, event="SessionStart", state="idle", claude_session_id=claude_id)
    if end is not None:
        s = sessions.record_event(m.conn, s.id, event="SessionEnd", state="ended", end_reason=end)
    return s


def test_hand_started_session_is_not_resumed_and_says_why(world: Map) -> None:
    s = sessions.by_token(world.conn, world.tokens[0])
    assert s is not None
    finish(world, s, end="SessionEnd:other")
    outcome = make(world, NoResume()).process(reply_to(world, 0))
    assert said(outcome) == (Status.REFUSED, Step.ROUTE, Code.SESSION_ENDED)
    assert "not resumed: it was started by hand" in outcome.reason


def test_hand_started_live_session_with_gone_pane_is_ended_and_refused(world: Map) -> None:
    s = sessions.by_token(world.conn, world.tokens[0])
    assert s is not None
    finish(world, s)  # live: its pane vanished without a SessionEnd hook
    outcome = make(world, NoResume()).process(reply_to(world, 0))
    assert said(outcome) == (Status.REFUSED, Step.INJECT, Code.TARGET_GONE)
    assert "started by hand" in outcome.reason
    after = sessions.get(world.conn, s.id)
    assert after is not None and after.state == "ended" and after.end_reason == EndReason.PANE_GONE


@pytest.mark.parametrize(
    ("end", "claude_id", "why"),
    [
        (EndReason.EXIT, CLAUDE_ID, "closed with /exit"),
        (EndReason.CLOSED, CLAUDE_ID, "closed by #close"),
        ("SessionEnd:other", None, "Claude session id is not known"),
    ],
)
def test_spawned_session_closed_or_without_claude_id_is_not_resumed(
    world: Map, end: str, claude_id: str | None, why: str
) -> None:
    as_spawned(world, 0, claude_id=claude_id, end=end)
    outcome = make(world, NoResume()).process(reply_to(world, 0))
    assert said(outcome) == (Status.REFUSED, Step.ROUTE, Code.SESSION_ENDED)
    assert why in outcome.reason


@pytest.mark.parametrize("world", [{"RESUME_GONE_SESSIONS": "false"}], indirect=True)
def test_resume_turned_off_refuses_as_before(world: Map) -> None:
    as_spawned(world, 0, end="SessionEnd:other")
    outcome = make(world, NoResume()).process(reply_to(world, 0))
    assert said(outcome) == (Status.REFUSED, Step.ROUTE, Code.SESSION_ENDED)
    assert "has ended (not resumed: RESUME_GONE_SESSIONS=false)" in outcome.reason


@pytest.mark.parametrize("end", [None, "SessionEnd:other"])
def test_failed_resume_refuses_once_and_types_nothing(world: Map, end: str | None) -> None:
    s = as_spawned(world, 0, end=end)
    resumer = NoResume(fail="claude --resume exited with status 1 before it was ready")
    outcome = make(world, resumer).process(reply_to(world, 0))
    assert said(outcome) == (Status.REFUSED, Step.INJECT, Code.RESUME_FAILED)
    assert "could not be resumed: claude --resume exited" in outcome.reason
    assert resumer.calls == [s.id]
    entry = world.conn.execute("SELECT status, preview FROM inbound").fetchone()
    assert entry["status"] == "refused" and entry["preview"] is None


def test_close_on_a_gone_session_closes_it_for_good(world: Map) -> None:
    as_spawned(world, 0, end="SessionEnd:other")
    pipeline = make(world, NoResume())
    answered = pipeline.process(reply_to(world, 0, body=b"#close"))
    assert said(answered) == (Status.ANSWERED, Step.COMMAND, Code.COMMAND_CLOSE)
    later = pipeline.process(reply_to(world, 0, mid=b"<reply-2@example.test>"))
    assert said(later) == (Status.REFUSED, Step.ROUTE, Code.SESSION_ENDED)
    assert "closed by #close" in later.reason


def test_a_claude_id_that_reads_as_an_option_is_never_run(world: Map) -> None:
    """The relay's own resumer (make_pipeline): refused before anything starts."""
    from taskping.relay.daemon import make_pipeline

    as_spawned(world, 0, claude_id="--dangerously-skip-permissions", end="SessionEnd:other")
    outcome = make_pipeline(world.settings, world.conn).process(reply_to(world, 0))
    assert said(outcome) == (Status.REFUSED, Step.INJECT, Code.RESUME_FAILED)
    assert "does not look like one" in outcome.reason


@pytest.mark.parametrize("spawned", [True, False])
def test_a_waiting_reply_whose_session_ended_is_resumed_or_refused_with_why(world: Map, spawned: bool) -> None:
    """A reply parked for a busy Claude, then the terminal dies under it (SessionEnd "other")."""
    s = as_spawned(world, 0) if spawned else finish(world, sessions.by_token(world.conn, world.tokens[0]))  # type: ignore[arg-type]
    resumer = NoResume(fail="claude --resume did not show its prompt within 30 s")
    pipeline = make(world, resumer)
    planned = pipeline.plan(reply_to(world, 0))
    assert isinstance(planned, Planned)
    waiting.enqueue(
        world.conn,
        planned.entry.id,
        session_id=s.id,
        sender=planned.sender,
        text=planned.guarded.text,
        raw=planned.mail.raw,
        preview="run the tests",
    )
    sessions.record_event(world.conn, s.id, event="SessionEnd", state="ended", end_reason="SessionEnd:other")
    (outcome,) = pipeline.resume_waiting()
    if spawned:
        assert said(outcome) == (Status.REFUSED, Step.INJECT, Code.RESUME_FAILED) and resumer.calls == [s.id]
    else:
        assert said(outcome) == (Status.REFUSED, Step.INJECT, Code.SESSION_ENDED) and resumer.calls == []
        assert "not resumed: it was started by hand" in outcome.reason


def test_no_resume_while_the_old_claude_still_runs(world: Map, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its terminal is gone but its Claude is not (stopped, or slow to exit): never two Claudes on one
    conversation. A real process whose command line names claude stands for it."""
    import subprocess

    from taskping.hooks import resume
    from taskping.relay.daemon import make_pipeline

    monkeypatch.setattr(resume, "EXIT_WAIT_SECONDS", 0.3)
    old = subprocess.Popen(["claude-still-here", "60"], executable="sleep")
    try:
        s = as_spawned(world, 0, end="SessionEnd:other")
        sessions.record_event(world.conn, s.id, event="Notification", state=None, claude_pid=old.pid)
        outcome = make_pipeline(world.settings, world.conn).process(reply_to(world, 0))
        assert said(outcome) == (Status.REFUSED, Step.INJECT, Code.RESUME_FAILED)
        assert f"its Claude (pid {old.pid}) still runs" in outcome.reason
    finally:
        old.kill()
        old.wait()


def test_explain_says_a_gone_spawned_session_would_be_resumed(world: Map) -> None:
    from taskping.relay.explain import explain, snapshot

    as_spawned(world, 0, end="SessionEnd:other")
    copy = snapshot(world.settings.session_map_path)
    try:
        told = explain(reply_to(world, 0), world.settings, copy)
    finally:
        copy.close()
    route = next(v for v in told.steps if v.step == "route")
    assert route.ok and "would resume it" in route.reason and told.would_type == "run the tests"
