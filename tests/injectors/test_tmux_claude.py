"""TmuxInjector against real tmux and the real claude CLI (fake Messages API)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import libtmux
import pytest

from taskping.injectors.base import InjectionOutcome, ScreenState, Target
from taskping.injectors.terminal_guard import guard_text
from taskping.injectors.tmux import TmuxInjector
from tests.support.claude_fixtures import ClaudePane, make_claude_home, start_claude
from tests.support.fake_anthropic import FakeAnthropic, Reply, ToolUse

pytestmark = [pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]


@pytest.fixture
def injector(tmp_path: Path) -> TmuxInjector:
    return TmuxInjector(tmp_path / "locks", enter_delay_ms=200)


def guarded(text: str) -> str:
    return guard_text(text, allow_shell_escape=False, allowed_slash_commands=()).text


def dialog_choices(lines: list[str]) -> list[str]:
    """The permission dialog's question and choices, down to its footer: what a key typed into
    the dialog would change (move the ``❯``, pick a choice, close it).

    Nothing above the question is compared: the transcript, a running tool's blinking ``●`` and
    the dialog's rotating tip animate on their own and say nothing about what we typed.
    """
    start = next((i for i, line in enumerate(lines) if "Do you want to proceed?" in line), None)
    assert start is not None, "no permission dialog on screen:\n" + "\n".join(lines)
    return [line.rstrip() for line in lines[start:] if line.strip()]


def tool_results(api: FakeAnthropic) -> list[dict[str, object]]:
    """Every tool_result block claude sent back to the fake API (an approved tool call sends a non-error one)."""
    found = []
    for request in api.main_turns:
        for message in request.body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if message.get("role") == "user" and isinstance(content, list):
                found += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return found


def settle(claude: ClaudePane) -> None:
    """Wait for the turn to finish so later assertions see every request."""
    claude.wait_ready(timeout=15)
    time.sleep(0.3)


def test_single_line_reaches_the_model(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    started = time.monotonic()
    result = injector.inject(claude_pane.target, "please fix the build")
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    # One Enter normally; a second one when claude had not redrawn the emptied box within the
    # first 0.8 s (seen once on a loaded machine). Either way the model gets the text exactly once.
    assert result.enter_presses in (1, 2)
    assert fake_api.wait_for_prompt("please fix the build", timeout=10) == "please fix the build"
    print(
        f"single-line inject-to-API: {time.monotonic() - started:.2f}s; claude ready in {claude_pane.started_in:.2f}s"
    )
    settle(claude_pane)
    assert fake_api.prompts == ["please fix the build"]


MULTILINE = 'Here is the plan:\n\n  1. indented step\n\tTabbed step\n```python\ndef f():\n    return "x"\n```\nthanks'


def test_multiline_reaches_the_model_exactly_once(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    text = guarded(MULTILINE)
    assert text == MULTILINE
    started = time.monotonic()
    result = injector.inject(claude_pane.target, text)
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    prompt = fake_api.wait_for_prompt(lambda p: "Here is the plan" in p, timeout=10)
    print(f"multi-line inject-to-API: {time.monotonic() - started:.2f}s")
    # tabs become four spaces (claude's own treatment of pasted tabs)
    assert prompt == MULTILINE.replace("\t", "    ")
    settle(claude_pane)
    assert len(fake_api.main_turns) == 1


def test_long_text_and_tmux_separators_arrive_exactly(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    text = "\n".join(f"line {i}: keep going; é ❯ -t %1 \\; {'x' * 40};" for i in range(60))
    assert len(text.encode()) > 4000
    started = time.monotonic()
    result = injector.inject(claude_pane.target, text)
    assert result.outcome is InjectionOutcome.SUBMITTED, (result, "\n".join(claude_pane.lines()))
    prompt = fake_api.wait_for_prompt(lambda p: "line 0" in p, timeout=15)
    print(f"{len(text)}-char inject-to-API: {time.monotonic() - started:.2f}s ({result.detail})")
    assert prompt == text


def test_paste_method_delivers_wrapped_text(claude_pane: ClaudePane, fake_api: FakeAnthropic, tmp_path: Path) -> None:
    paster = TmuxInjector(tmp_path / "locks", method="paste")
    result = paster.inject(claude_pane.target, MULTILINE)
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    prompt = fake_api.wait_for_prompt(lambda p: "Here is the plan" in p, timeout=10)
    # observed: bracketed pastes of several lines reach the model inside <pasted_content> tags
    assert MULTILINE.replace("\t", "    ") in prompt
    assert claude_pane.server.cmd("list-buffers").stdout == []  # private buffer deleted
    settle(claude_pane)
    assert len(fake_api.main_turns) == 1


def test_paste_terminator_cannot_submit_early(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    raw = f"line one\x1b[201~\r!touch {marker}\nline three\x1b[200~"
    # defence in depth: the raw text is refused outright, nothing typed
    refused = injector.inject(claude_pane.target, raw)
    assert refused.outcome is InjectionOutcome.FAILED and "forbidden" in refused.detail
    assert claude_pane.reading().state is ScreenState.READY

    text = guarded(raw)
    assert text == f"line one[201~\n!touch {marker}\nline three[200~"
    result = injector.inject(claude_pane.target, text)
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    assert fake_api.wait_for_prompt(lambda p: p.startswith("line one"), timeout=10) == text
    settle(claude_pane)
    assert len(fake_api.main_turns) == 1
    assert not marker.exists()


def test_leading_bang_arrives_as_text(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector, tmp_path: Path
) -> None:
    marker = tmp_path / "x"
    text = guarded(f"!touch {marker}")
    assert text == f"`!touch` {marker}"
    result = injector.inject(claude_pane.target, text)
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    assert fake_api.wait_for_prompt(lambda p: "touch" in p, timeout=10) == text
    settle(claude_pane)
    assert not marker.exists()


def test_disallowed_slash_command_arrives_as_text(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    text = guard_text("/config set theme light", allow_shell_escape=False, allowed_slash_commands=("compact",)).text
    result = injector.inject(claude_pane.target, text)
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    assert text == "`/config` set theme light"
    assert fake_api.wait_for_prompt(lambda p: "config" in p, timeout=10) == text


def test_leading_space_does_not_stop_a_slash_command(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    """Canary for the guard's design: claude trims input, so " /clear" still runs /clear."""
    fake_api_seen = len(fake_api.requests)
    result = injector.inject(claude_pane.target, " /clear")
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    settle(claude_pane)
    assert fake_api.prompts == []
    assert len(fake_api.requests) == fake_api_seen


def test_permission_dialog_refused_without_typing(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector, tmp_path: Path
) -> None:
    marker = tmp_path / "approved"
    fake_api.queue_tool_use(f"touch {marker}")
    first = injector.inject(claude_pane.target, "run the tool")
    assert first.outcome is InjectionOutcome.SUBMITTED, first
    claude_pane.wait_for(ScreenState.PERMISSION_DIALOG, timeout=10)
    before = dialog_choices(claude_pane.lines())

    result = injector.inject(claude_pane.target, "hello while the dialog is open")
    assert result.outcome is InjectionOutcome.DIALOG_OPEN, result
    assert result.enter_presses == 0
    time.sleep(1.0)
    assert claude_pane.reading().state is ScreenState.PERMISSION_DIALOG
    after = claude_pane.lines()
    assert dialog_choices(after) == before
    assert not any("hello while the dialog" in line for line in after)
    assert not marker.exists()
    assert fake_api.prompts == ["run the tool"]
    assert injector.screen_state(claude_pane.target) is ScreenState.PERMISSION_DIALOG


def test_killed_pane_is_target_gone(
    claude_pane: ClaudePane, injector: TmuxInjector, tmux_server: libtmux.Server
) -> None:
    target = claude_pane.target
    assert injector.exists(target)
    claude_pane.pane.kill()
    assert not injector.exists(target)
    assert injector.screen_state(target) is ScreenState.GONE
    assert injector.inject(target, "anyone there?").outcome is InjectionOutcome.TARGET_GONE
    gone_server = Target("tmux", socket=str(Path(str(tmux_server.socket_path)).with_name("nope")), pane="%0")
    assert injector.inject(gone_server, "hi").outcome is InjectionOutcome.TARGET_GONE


def test_nothing_is_typed_while_busy_then_it_is(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    fake_api.queue_text("a slow answer", delay=3.0)
    assert injector.inject(claude_pane.target, "think slowly").outcome is InjectionOutcome.SUBMITTED
    claude_pane.wait_for(ScreenState.BUSY, timeout=5)
    result = injector.inject(claude_pane.target, "and then this")
    assert result.outcome is InjectionOutcome.BUSY, result
    assert "claude is working" in result.detail and result.enter_presses == 0
    assert claude_pane.reading().input_empty  # not even queued: the box is untouched
    settle(claude_pane)
    assert fake_api.prompts == ["think slowly"]
    # READY again: the same reply goes in (the relay's retry)
    assert injector.inject(claude_pane.target, "and then this").outcome is InjectionOutcome.SUBMITTED
    fake_api.wait_for_prompt("and then this", timeout=15)
    settle(claude_pane)
    assert fake_api.prompts == ["think slowly", "and then this"]


def test_a_draft_at_the_keyboard_is_kept(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    server = claude_pane.server
    server.cmd("set-buffer", "-b", "draft", "half typed\n  second line\nthird")
    server.cmd("paste-buffer", "-p", "-d", "-b", "draft", "-t", claude_pane.pane.pane_id)
    draft = claude_pane.wait_for(ScreenState.HAS_INPUT, timeout=5)
    result = injector.inject(claude_pane.target, "the real reply")
    assert result.outcome is InjectionOutcome.BUSY and "draft" in result.detail, result
    assert result.enter_presses == 0
    time.sleep(0.5)
    assert claude_pane.reading().input_lines == draft.input_lines
    assert fake_api.prompts == []


def test_two_panes_no_cross_talk(
    tmux_server: libtmux.Server,
    tmp_path: Path,
    fake_api: FakeAnthropic,
    claude_pane: ClaudePane,
    injector: TmuxInjector,
) -> None:
    with FakeAnthropic() as other_api:
        other_home = make_claude_home(tmp_path / "other", other_api.base_url)
        other = start_claude(tmux_server, other_home, other_api, name="other")
        results = {}

        def go(name: str, pane: ClaudePane, text: str) -> None:
            results[name] = injector.inject(pane.target, text)

        threads = [
            threading.Thread(target=go, args=("a", claude_pane, "message for pane A")),
            threading.Thread(target=go, args=("b", other, "message for pane B\nsecond line")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert results["a"].outcome is InjectionOutcome.SUBMITTED, results["a"]
        assert results["b"].outcome is InjectionOutcome.SUBMITTED, results["b"]
        fake_api.wait_for_prompt("message for pane A")
        other_api.wait_for_prompt("message for pane B\nsecond line")
        settle(claude_pane)
        settle(other)
        assert fake_api.prompts == ["message for pane A"]
        assert other_api.prompts == ["message for pane B\nsecond line"]


def test_concurrent_injections_into_one_pane_do_not_interleave(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    # two injector objects share only the lock directory, like two processes would
    first, second = TmuxInjector(tmp_path / "locks"), TmuxInjector(tmp_path / "locks")
    texts = ["alpha " * 20 + "end-a", "beta " * 20 + "end-b"]
    results = []
    threads = [
        threading.Thread(target=lambda inj=inj, t=t: results.append(inj.inject(claude_pane.target, t)))
        for inj, t in zip((first, second), texts, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # the lock serialises them; the second finds claude working on the first (BUSY) or done with it
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes in (["busy", "submitted"], ["submitted", "submitted"]), results
    for result in results:
        if result.outcome is InjectionOutcome.BUSY:
            assert result.enter_presses == 0
    settle(claude_pane)
    for text in texts:
        if text not in fake_api.prompts:  # the relay's retry of the BUSY one
            assert first.inject(claude_pane.target, text).outcome is InjectionOutcome.SUBMITTED
    fake_api.wait_for_prompt(texts[0], timeout=15)
    fake_api.wait_for_prompt(texts[1], timeout=15)
    settle(claude_pane)
    assert sorted(fake_api.prompts) == sorted(texts)


def test_reply_during_a_tool_call_turn_waits_and_never_approves_it(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector, tmp_path: Path
) -> None:
    """Issue 8 item 5 with the real claude: a slow turn that ends in a Bash call while replies arrive.

    The reply is "1", the worst text there is: in a dialog it selects "1. Yes".
    Retried like the relay does until the dialog is up: never a key typed.
    """
    marker = tmp_path / "approved"
    tool = ToolUse("Bash", {"command": f"touch {marker}", "description": "touch a marker"})
    fake_api.queue(Reply(text="Let me run that.", tool_use=tool, delay=2.5))
    assert injector.inject(claude_pane.target, "start the job").outcome is InjectionOutcome.SUBMITTED
    claude_pane.wait_for(ScreenState.BUSY, timeout=5)
    outcomes = []
    for _attempt in range(100):
        result = injector.inject(claude_pane.target, "1")
        outcomes.append(result.outcome)
        assert result.enter_presses == 0, result
        assert result.outcome in (InjectionOutcome.BUSY, InjectionOutcome.DIALOG_OPEN), result
        reading = claude_pane.reading()
        assert reading.input_lines is None or reading.input_empty, reading  # nothing typed, nothing queued
        if result.outcome is InjectionOutcome.DIALOG_OPEN:
            break
        time.sleep(0.1)
    print(f"retries until the dialog: {len(outcomes)} ({outcomes.count(InjectionOutcome.BUSY)} busy)")
    assert outcomes[0] is InjectionOutcome.BUSY and outcomes[-1] is InjectionOutcome.DIALOG_OPEN
    time.sleep(1.0)
    assert claude_pane.reading().state is ScreenState.PERMISSION_DIALOG
    assert not marker.exists()
    assert tool_results(fake_api) == []

    claude_pane.pane.send_keys("Escape", enter=False)  # the person at the keyboard says no
    claude_pane.wait_ready(timeout=10)
    result = injector.inject(claude_pane.target, "carry on without it")
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    fake_api.wait_for_prompt("carry on without it", timeout=15)
    settle(claude_pane)
    assert not marker.exists()
    assert all(block.get("is_error") for block in tool_results(fake_api)), tool_results(fake_api)
    assert fake_api.prompts == ["start the job", "carry on without it"]


def test_copy_mode_is_left_before_typing(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    claude_pane.server.cmd("copy-mode", "-t", claude_pane.pane.pane_id)
    result = injector.inject(claude_pane.target, "typed after copy-mode")
    assert result.outcome is InjectionOutcome.SUBMITTED, result
    assert fake_api.wait_for_prompt("typed after copy-mode", timeout=10)


def test_synchronized_panes_are_refused(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    claude_pane.server.cmd("set-option", "-w", "-t", claude_pane.pane.pane_id, "synchronize-panes", "on")
    result = injector.inject(claude_pane.target, "would go everywhere")
    assert result.outcome is InjectionOutcome.FAILED and "synchronize-panes" in result.detail
    assert claude_pane.reading().state is ScreenState.READY
    assert fake_api.prompts == []


def test_leading_spaces_and_indented_code_arrive_exactly(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    """A fenced block keeps its indentation (the extractor's contract); the box draws
    leading spaces, so the Enter re-check must accept them as our text."""
    for text in ("  pytest -q --maxfail=1", "    indented\n  less\nnone"):
        result = injector.inject(claude_pane.target, text)
        assert result.outcome is InjectionOutcome.SUBMITTED, result
        assert fake_api.wait_for_prompt(text) == text
        settle(claude_pane)


def test_discard_erases_only_what_a_stopped_injection_left(
    claude_pane: ClaudePane, fake_api: FakeAnthropic, injector: TmuxInjector
) -> None:
    """After a crash mid-typing the relay erases its own leftover (a piece of the text it was
    typing), so the session is READY again; a person's draft is never erased."""
    text = "run the whole test suite and tell me which tests fail"
    claude_pane.pane.send_keys(text[:20], enter=False, literal=True)  # what a killed relay left
    claude_pane.wait_for(ScreenState.HAS_INPUT)
    assert injector.discard(claude_pane.target, text)
    assert claude_pane.wait_for(ScreenState.READY).input_empty

    claude_pane.pane.send_keys("i", enter=False, literal=True)  # killed right after the mode probe's key
    claude_pane.wait_for(ScreenState.HAS_INPUT)
    assert injector.discard(claude_pane.target, "no such letter here")
    assert claude_pane.wait_for(ScreenState.READY).input_empty

    claude_pane.pane.send_keys("my own draft", enter=False, literal=True)
    claude_pane.wait_for(ScreenState.HAS_INPUT)
    assert not injector.discard(claude_pane.target, text)
    time.sleep(0.3)
    assert claude_pane.reading().input_text == "my own draft"
    assert fake_api.prompts == []
