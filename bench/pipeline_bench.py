"""Pipeline throughput: parse → screen → dedupe → authenticate → route → extract → replay → guard, messages/s.

Runs TaskPing's own :meth:`Pipeline.plan` (no terminal: plan stops before the
injector) on a real session map, the way the relay does for each fetched
message, over realistic phone replies: a short new text above the quoted
notification with the client's attribution line, in the shapes phones send
(plain text, text + HTML alternative, quoted-printable, a mobile tagline, a
bottom-posted answer). Each reply is a distinct message (its own Message-ID
and text) to one of 20 live sessions, tagged ``[TaskPing #TOKEN]`` and
threaded under that session's notification, authenticated the way Gmail users
are (``SENDER_AUTH=authres``, an Authentication-Results header from the trusted
authserv-id).

    <venv>/bin/python bench/pipeline_bench.py [--messages 2000] [--json OUT]

Run it with the interpreter of the TaskPing install being measured (bench/run
uses a fresh non-editable install). Target: ≥ 500 messages/s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from email.message import EmailMessage
from email.policy import SMTP as smtp_policy
from pathlib import Path

from taskping import log
from taskping.config import load_settings
from taskping.injectors.tmux import TmuxInjector
from taskping.relay.pipeline import Outcome, Pipeline
from taskping.session_map import connect, notifications, sessions
from taskping.tokens import new_token

TARGET_PER_SECOND = 500.0
HOST = "benchhost"
ME = "me@example.test"
SESSIONS = 20

ANSWERS = [
    "yes, go ahead and open the PR",
    "Run the migration tests again with -x and tell me which one fails first",
    "no — keep the old API for now, add a deprecation warning instead",
    "Looks good. Commit it and push to the feature branch",
    "use sqlite for the cache, not redis",
    "Please also update the README section about configuration",
    "stop here, I'll review tonight",
    "try option 2",
    "Can you add a test for the empty input case? Then rerun the suite",
    "revert the last commit and explain what went wrong",
]
TAGLINES = ["", "", "\n\nSent from my iPhone", "\n\nSent from my Android device", "\n\nGet Outlook for iOS"]


def notification_body(i: int) -> str:
    return (
        f"Claude finished a turn in session bench-{i} (~/src/project-{i}).\n\n"
        "Done — all 214 tests pass now. I moved the retry increment into the claim and added a test that "
        "drives three temporary failures.\n\nShall I open a pull request?\n\n"
        "Reply to this email to continue. Your reply is typed into the session."
    )


def phone_reply(n: int, token: str, note_id: str, body: str) -> bytes:
    """The n-th reply, in one of the shapes a phone mail client sends."""
    answer = f"{ANSWERS[n % len(ANSWERS)]} (reply {n})"
    quoted = "\n".join("> " + line if line else ">" for line in body.splitlines())
    attribution = "On Mon, Nov 30, 2026 at 9:41 AM TaskPing <taskping@example.test> wrote:"
    shape = n % 5
    if shape == 4:  # bottom-posted: the answer under the quote
        text = f"{attribution}\n{quoted}\n\n{answer}\n"
    else:
        text = f"{answer}{TAGLINES[n % len(TAGLINES)]}\n\n{attribution}\n{quoted}\n"
    msg = EmailMessage()
    msg["Authentication-Results"] = (
        "mx.example.test; dkim=pass header.d=example.test; spf=pass "
        "smtp.mailfrom=example.test; dmarc=pass header.from=example.test"
    )
    msg["From"] = f"Me <{ME}>"
    msg["To"] = "TaskPing <taskping@example.test>"
    msg["Subject"] = f"Re: [TaskPing #{token}] Claude finished"
    msg["Message-ID"] = f"<reply-{n}-{time.time_ns()}@example.test>"
    msg["In-Reply-To"] = note_id
    msg["References"] = note_id
    if shape == 1:  # text + HTML alternative (Gmail, Apple Mail)
        msg.set_content(text)
        html_quote = "<br>".join(line[2:] if line.startswith("> ") else "" for line in quoted.splitlines())
        msg.add_alternative(
            f'<div dir="ltr">{answer}</div><br><div class="gmail_quote"><div>{attribution}'
            f'</div><blockquote class="gmail_quote">{html_quote}</blockquote></div>',
            subtype="html",
        )
    elif shape == 2:  # quoted-printable
        msg.set_content(text, cte="quoted-printable")
    else:
        msg.set_content(text)
    return msg.as_bytes(policy=smtp_policy)


def run(messages: int, root: Path) -> dict[str, object]:
    settings = load_settings(
        environ={
            "SESSION_MAP_PATH": str(root / "state" / "taskping.db"),
            "EMAIL_FROM": "taskping@example.test",
            "EMAIL_TO": ME,
            "ALLOWED_SENDERS": ME,
            "SENDER_AUTH": "authres",
            "TRUSTED_AUTHSERV_ID": "mx.example.test",
            "TASKPING_HOST_ID": HOST,
            "RATE_LIMIT_PER_MINUTE": "600",
            "IMAP_HOST": "127.0.0.1",
            "IMAP_USER": "taskping",
            "SMTP_HOST": "127.0.0.1",
        }
    )
    log.configure(level="info", log_file=settings.state_dir / "taskping.log")
    conn = connect(settings.session_map_path)
    targets: list[tuple[str, str, str]] = []
    for i in range(SESSIONS):
        token = new_token(HOST)
        s = sessions.create(
            conn,
            token=token,
            name=f"bench-{i}",
            kind="tmux",
            target_socket=str(root / "no-tmux"),
            target_pane=f"%{i}",
            ttl=86400,
            state="idle",
        )
        body = notification_body(i)
        note_id = f"<note-{i}@example.test>"
        notifications.queue(
            conn,
            session_id=s.id,
            message_id=note_id,
            kind="stop",
            body_text=body,
            to_addr=ME,
            raw=b"Subject: x\r\n\r\n" + body.encode(),
            ttl=86400,
        )
        targets.append((token, note_id, body))
    replies = [phone_reply(n, *targets[n % SESSIONS]) for n in range(messages)]
    # plan() never types; a real injector all the same, as the relay builds it.
    pipeline = Pipeline(settings, conn, TmuxInjector(settings.state_dir / "locks"))
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for raw in replies:
        planned = pipeline.plan(raw)
        outcomes[planned.status if isinstance(planned, Outcome) else "planned"] += 1
    took = time.perf_counter() - started
    conn.close()
    return {
        "messages": messages,
        "seconds": round(took, 3),
        "per_second": round(messages / took, 1),
        "ms_per_message": round(took * 1000 / messages, 3),
        "mean_bytes": round(sum(len(r) for r in replies) / len(replies)),
        "outcomes": dict(outcomes),
        "python": sys.version.split()[0],
        "taskping_from": str(Path(sys.modules["taskping"].__file__ or "").parent),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000, help="replies to plan (default 2000)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="taskping-pipeline-bench-"))
    try:
        result = run(args.messages, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"pipeline plan (parse → extract → guard): {result['messages']} phone replies "
        f"(~{result['mean_bytes']} bytes) in {result['seconds']} s"
    )
    print(
        f"throughput: {result['per_second']} messages/s ({result['ms_per_message']} ms each); "
        f"target ≥ {TARGET_PER_SECOND:.0f}/s: {'met' if result['per_second'] >= TARGET_PER_SECOND else 'MISSED'}"
    )
    print(f"outcomes: {result['outcomes']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    planned = result["outcomes"].get("planned", 0)  # type: ignore[union-attr]
    if planned != result["messages"]:
        print("not every reply reached guard: the figure is not the full pipeline", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
