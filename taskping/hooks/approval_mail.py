"""What an approval email says: the tool, a readable summary of its input, the answers.

Pure (no I/O): :func:`summarize` turns a ``PermissionRequest``'s ``tool_name`` and
``tool_input`` into a few lines a person can judge on a phone: the Bash command
(and its description); the file and a short unified diff for Edit/MultiEdit; the
file and its first lines for Write; the URL or query for fetches and searches;
compact JSON for anything else; Claude's multiple-choice questions
(``AskUserQuestion``) as numbered options (:mod:`taskping.hooks.ask_question`).
Everything is cut to a size that fits a phone
screen, and all of it is the model's text: untrusted, shown as plain text (the
HTML part escapes it).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping

from taskping.hooks.ask_question import AskedQuestions, render
from taskping.hooks.notices import Notice, first_line
from taskping.session_map.vocabulary import EmailKind

MAX_LINES = 40
MAX_CHARS = 3000
WRITE_LINES = 15
#: What a reply may say (the relay's parser: taskping.relay.approval_answer).
ALLOW_WORDS = ("yes", "y", "allow", "1")
DENY_WORDS = ("no", "n", "deny", "2")


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cut(lines: list[str], max_lines: int = MAX_LINES) -> list[str]:
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"… ({len(lines) - max_lines} more lines)"]
    return lines


def _diff(old: str, new: str) -> list[str]:
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=2))[2:]


def summarize(tool_name: str, tool_input: Mapping[str, object] | None) -> str:
    """A few plain-text lines saying what the tool call would do."""
    data = dict(tool_input or {})
    lines: list[str]
    if tool_name == "Bash":
        lines = [
            f"$ {line}" if i == 0 else f"  {line}" for i, line in enumerate(_text(data.get("command", "")).splitlines())
        ]
        if data.get("description"):
            lines += ["", f"({_text(data['description'])})"]
    elif tool_name in ("Edit", "MultiEdit"):
        edits = data.get("edits") if tool_name == "MultiEdit" else [data]
        lines = [f"File: {_text(data.get('file_path', '?'))}"]
        for edit in edits if isinstance(edits, list) else []:
            if isinstance(edit, dict):
                lines += _diff(_text(edit.get("old_string", "")), _text(edit.get("new_string", "")))
    elif tool_name == "Write":
        content = _text(data.get("content", "")).splitlines()
        lines = [f"File: {_text(data.get('file_path', '?'))} ({len(content)} lines)", ""]
        lines += _cut(content, WRITE_LINES)
    elif tool_name == "WebFetch":
        lines = [f"URL: {_text(data.get('url', '?'))}"]
        if data.get("prompt"):
            lines.append(f"To find: {_text(data['prompt'])}")
    elif tool_name == "WebSearch":
        lines = [f"Search: {_text(data.get('query', '?'))}"]
    else:
        lines = [json.dumps(data, ensure_ascii=False, sort_keys=True)]
    text = "\n".join(_cut(lines))
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def minutes(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{round(seconds / 60)} min"


def approval_notice(tool_name: str, summary: str, timeout: int) -> Notice:
    """The approval email's notice: the tool in the subject, the summary as plain text."""
    what = first_line(summary.removeprefix("$ "), 40)
    return Notice(
        kind=EmailKind.APPROVAL,
        headline=f"allow {tool_name}? {what}".rstrip(),
        body=summary or "(no input)",
        summary=f"Answer within {minutes(timeout)}; after that the dialog waits at the terminal.",
        title=f"Claude asks to use {tool_name}",
        markdown=False,
    )


def how_to_answer(timeout: int) -> tuple[str, ...]:
    """The footer's lines on answering (text and HTML alike)."""
    return (
        (
            f"Reply {' / '.join(ALLOW_WORDS)} to allow this one call, or {' / '.join(DENY_WORDS)} to deny it "
            "(any text after the no is passed to Claude as the reason). The buttons do the same."
        ),
        (
            f"Only a reply to this email decides it, once, within {minutes(timeout)}; nothing is typed into the "
            "terminal. Whoever is at the terminal can answer the dialog there instead."
        ),
    )


def question_notice(asked: AskedQuestions, timeout: int) -> Notice:
    """Claude's multiple-choice question (AskUserQuestion): the numbered options, as plain text."""
    first = asked.questions[0].text
    return Notice(
        kind=EmailKind.APPROVAL,
        headline="asks: " + first_line(first, 50),
        body=render(asked),
        summary=f"Answer within {minutes(timeout)}; after that the question waits at the terminal.",
        title="Claude asks you a question",
        markdown=False,
    )


def how_to_answer_question(timeout: int) -> tuple[str, ...]:
    return (
        (
            "Reply with the number of your choice (numbers for several questions or choices, as shown above); "
            "Claude reads the option's label. Reply no (or deny), with any text after it, to decline the question."
        ),
        (
            f"Only a reply to this email answers it, once, within {minutes(timeout)}; nothing is typed into the "
            "terminal. Whoever is at the terminal can answer the question there instead."
        ),
    )


def question_buttons(asked: AskedQuestions) -> tuple[tuple[str, str], ...] | None:
    """One-tap answers for a single one-choice question: one button per option (its number as the reply)."""
    if len(asked.questions) != 1 or asked.questions[0].multi_select:
        return None
    return tuple((first_line(o.label, 30), str(o.number)) for o in asked.questions[0].options)
