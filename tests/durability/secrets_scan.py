"""The secrets check: every log and audit line the suites produced, read before
the files are deleted, searched for passwords, full session tokens, and message
bodies beyond the 120-character preview.

How the lines are gathered (all in this pytest process):

* ``MailStack.stop`` is wrapped: before a stack's directory (which holds the
  session map, ``taskping.log``, ``audit.jsonl`` and ``relay.stderr`` of the
  worlds built on it) is removed, it is scanned;
* a plugin scans each test's ``tmp_path`` after the test (hooks tests keep
  their session map and log there).

The known secrets come from the same places: the stack's user passwords, every
``*_PASS`` value of an env file, every token in a session map, and the bodies
of every message in the stack's mailboxes. :data:`REPORT` accumulates; the test
in ``test_secrets.py`` (run last) asserts it found nothing.
"""

from __future__ import annotations

import email
import json
import re
import sqlite3
from dataclasses import dataclass, field
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

LOG_NAMES = ("taskping.log", "audit.jsonl", "relay.stderr")
PREVIEW = 120
WINDOW = PREVIEW + 1  # a body quoted past the preview shows at least one 121-character run
_WS = re.compile(r"\s+")


@dataclass
class Report:
    files: int = 0
    lines: int = 0
    passwords: int = 0
    tokens: int = 0
    bodies: int = 0
    sources: set[str] = field(default_factory=set)
    findings: list[str] = field(default_factory=list)


REPORT = Report()
WORKER_KEY = "taskping_secrets"


class WorkerReports:
    """pytest plugin for the pytest-xdist controller: the secrets check covers the whole run.

    Each worker scans what its own tests wrote, so the test in ``test_secrets.py`` sees only its
    worker's share (and does not run last). The workers send their reports when they finish;
    when the secrets test was part of the run, any finding in any worker fails the run here."""

    def __init__(self) -> None:
        self.reports: dict[str, dict[str, Any]] = {}
        self.checked = False
        self.findings: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and "secrets_last" in report.keywords:
            self.checked = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if output is not None:
            self.reports[str(node.workerinput.get("workerid", len(self.reports)))] = output

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.checked:
            return
        self.findings = [f for r in self.reports.values() for f in r["findings"]]
        if self.findings:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.checked:
            return
        lines = sum(r["lines"] for r in self.reports.values())
        files = sum(r["files"] for r in self.reports.values())
        if self.findings:
            terminalreporter.section("secrets in log or audit lines (every worker)", red=True)
            for finding in self.findings[:50]:
                terminalreporter.line(finding)
        else:
            terminalreporter.line(
                f"secrets check: {lines} log lines in {files} files from {len(self.reports)} workers, no secret in any"
            )


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def body_texts(raw: bytes) -> list[str]:
    """The text parts of a message (plain and HTML), decoded."""
    try:
        msg = email.message_from_bytes(raw, policy=default_policy)
        out = []
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                try:
                    out.append(str(part.get_content()))
                except Exception:  # noqa: BLE001 - broken on purpose in some tests
                    continue
        return out
    except Exception:  # noqa: BLE001 - an unparseable message has no text to scan
        return []


def tokens_in(db: Path) -> list[str]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return [r[0] for r in conn.execute("SELECT token FROM sessions")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def passwords_in_env_files(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*.env"):
        try:
            for line in path.read_text(errors="replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip().endswith("_PASS") and value.strip():
                    found.append(value.strip())
        except OSError:
            continue
    return found


def scan(root: Path, *, passwords: list[str], label: str, mail_dirs: list[Path] = ()) -> None:  # type: ignore[assignment]
    """Scan the log files under ``root`` and add what is wrong to :data:`REPORT`."""
    logs = [p for p in root.rglob("*") if p.name in LOG_NAMES and p.is_file()]
    if not logs:
        return
    tokens = [t for db in root.rglob("*.db") for t in tokens_in(db)]
    bodies = []
    for mail_dir in mail_dirs:
        for path in mail_dir.rglob("*"):
            if path.is_file() and path.parent.name in ("cur", "new"):
                bodies.extend(_norm(b) for b in body_texts(path.read_bytes()))
    windows: set[int] = set()
    for body in bodies:
        for i in range(len(body) - WINDOW + 1):
            windows.add(hash(body[i : i + WINDOW]))
    secrets = [p for p in set(passwords) if len(p) >= 6]
    REPORT.passwords += len(secrets)
    REPORT.tokens += len(tokens)
    REPORT.bodies += len(bodies)
    for path in logs:
        REPORT.files += 1
        REPORT.sources.add(label)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            REPORT.lines += 1
            where = f"{label}:{path.name}:{number}"
            for secret in secrets:
                if secret in line:
                    REPORT.findings.append(f"{where}: a password")
            for token in tokens:
                if token in line:
                    REPORT.findings.append(f"{where}: a full session token")
            try:
                values = _strings(json.loads(line))
            except ValueError:
                values = [line]
            for value in values:
                text = _norm(value)
                if len(text) < WINDOW or not windows:
                    continue
                for i in range(len(text) - WINDOW + 1):
                    piece = text[i : i + WINDOW]
                    if hash(piece) in windows and any(piece in b for b in bodies):
                        REPORT.findings.append(f"{where}: {WINDOW}+ characters of a message body: {piece[:40]!r}…")
                        break


_installed = False


def install() -> None:
    """Wrap MailStack.stop and register the tmp_path plugin (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    from tests.support.mailstack import MailStack

    original_stop = MailStack.stop

    def stop(self: MailStack) -> None:
        if self.dir is not None:
            try:
                passwords = [*self.users.values(), self.submitter[1]]
                scan(
                    self.dir,
                    passwords=passwords,
                    label=f"mailstack {self.dir.name}",
                    mail_dirs=[self.mail_dir, self.sink_dir],
                )
            except Exception as exc:  # noqa: BLE001 - never break a teardown; report instead
                REPORT.findings.append(f"scan of {self.dir} failed: {exc!r}")
        original_stop(self)

    MailStack.stop = stop  # type: ignore[method-assign]


class TmpPathScanner:
    """pytest plugin: scan each test's tmp_path once the test is over; under pytest-xdist, hand
    this worker's report to the controller when the worker's session ends."""

    @pytest.hookimpl(trylast=True)  # after the session's fixtures (and so their mail stacks) are torn down
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_KEY] = {"lines": REPORT.lines, "files": REPORT.files, "findings": REPORT.findings}

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        tmp = getattr(item, "funcargs", {}).get("tmp_path")
        if tmp is None:
            return
        from tests.support.mail_fixtures import PERSON_PASSWORD, TASKPING_PASSWORD

        passwords = [PERSON_PASSWORD, TASKPING_PASSWORD, *passwords_in_env_files(Path(tmp))]
        try:
            scan(Path(tmp), passwords=passwords, label=f"tmp {item.nodeid}")
        except Exception as exc:  # noqa: BLE001 - a failed scan is reported as a finding
            REPORT.findings.append(f"scan of {tmp} failed: {exc!r}")
