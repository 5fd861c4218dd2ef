"""The secrets check, run after every other test of the session.

It runs a realistic world of its own (a session, a long reply typed, a reply
from a stranger, an oversize reply refused, a relay killed mid-stream) and
scans its files; then it asserts that nothing any suite of this pytest run
wrote to a taskping.log, audit.jsonl or relay.stderr holds a password, a full
session token, or more than the 120-character preview of a message body.
"""

from __future__ import annotations

import pytest

from tests.durability import secrets_scan
from tests.support.world import World

pytestmark = [
    pytest.mark.mail,
    pytest.mark.tmux,
    pytest.mark.claude,
    pytest.mark.slow,
    pytest.mark.secrets_last,
    pytest.mark.world_env(RATE_LIMIT_PER_MINUTE="600"),
]

LONG = (
    "Please refactor the session map so that every write goes through one helper, then run the whole "
    "test suite twice and tell me which tests were slow and why they were slow, with numbers."
)


def test_no_secrets_in_any_log_or_audit_line(world: World) -> None:
    w = world
    s = w.spawn("secrets")
    note = w.notification_for(s, "start " + LONG)  # claude's answer quotes the long prompt: a long notification
    relay = w.start_relay(extra_env={"TASKPING_FAULT": "after-inject@2"})
    w.reply(note, LONG)
    w.api.wait_for_prompt(LONG)
    w.reply(note, LONG + " (second, killed after typing)")
    relay.wait(timeout=60)
    w.start_relay()
    w.reply(note, "rm -rf everything " + LONG, from_=f'"{w.stack.address("me")}" <evil@example.test>')
    w.reply(note, "y" * 9000)
    w.wait_ledger(4, timeout=30)
    assert w.stack.dir is not None
    secrets_scan.scan(
        w.stack.dir,
        passwords=[*w.stack.users.values(), w.stack.submitter[1]],
        label="secrets world",
        mail_dirs=[w.stack.mail_dir, w.stack.sink_dir],
    )
    report = secrets_scan.REPORT
    print(
        f"\nMETRIC secrets files={report.files} lines={report.lines} sources={len(report.sources)} "
        f"passwords={report.passwords} tokens={report.tokens} bodies={report.bodies} findings={len(report.findings)}"
    )
    assert report.lines > 0 and report.tokens > 0 and report.bodies > 0
    assert report.findings == [], "\n".join(report.findings[:50])
