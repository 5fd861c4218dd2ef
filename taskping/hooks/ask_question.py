"""Answer Claude's multiple-choice questions (the ``AskUserQuestion`` tool) by number.

Pure: no I/O. Three steps, each a function:

* :func:`parse_questions` reads the tool's ``tool_input`` (as the
  ``PermissionRequest`` hook receives it) into numbered :class:`Question` s
  and :class:`Option` s, or raises :class:`NotAQuestion`.
* :func:`render` writes them as numbered plain text for the email, with how
  to answer.
* :func:`answer_reply` reads a reply such as ``2`` (``1,3`` for a
  multiple-choice question; for several questions one number per line, or
  ``1 2`` on one line) and builds the hook's answer; anything else raises
  :class:`UnclearAnswer` with one line saying what was wrong.

What Claude Code 2.1.328 accepts (measured, see the README): the
``PermissionRequest`` hook answers with ``behavior: "allow"`` and
``updatedInput`` = the tool input plus ``answers``, a map from each
question's text to the chosen option's label (several labels of a
multiple-choice question joined by ``", "``, as claude's own dialog does).
The dialog closes and the model reads ``"question"="label"``. Only option
labels the model itself offered are ever sent back: no text from the email
reaches the model this way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TOOL_NAME = "AskUserQuestion"
#: What claude joins a multiple-choice question's labels with in ``answers``.
LABEL_SEPARATOR = ", "

_ONLY_NUMBERS = re.compile(r"[0-9,\s]+")
_COMMA = re.compile(r"\s*,\s*")


class NotAQuestion(ValueError):
    """The tool input is not an ``AskUserQuestion`` input this module understands."""


class UnclearAnswer(ValueError):
    """The reply does not pick options unambiguously; the message says why, in one line."""


@dataclass(frozen=True)
class Option:
    number: int  # 1-based, as shown in the email and claude's dialog
    label: str
    description: str


@dataclass(frozen=True)
class Question:
    number: int  # 1-based
    text: str
    header: str
    options: tuple[Option, ...]
    multi_select: bool


@dataclass(frozen=True)
class AskedQuestions:
    """The questions of one ``AskUserQuestion`` call and the input they came from."""

    questions: tuple[Question, ...]
    tool_input: Mapping[str, Any]


def _text(value: object, what: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise NotAQuestion(f"{what} is not a non-empty string")
    return value


def _option(raw: object, number: int, where: str) -> Option:
    if not isinstance(raw, Mapping):
        raise NotAQuestion(f"{where} option {number} is not an object")
    label = _text(raw.get("label"), f"{where} option {number} label")
    return Option(number, label, _text(raw.get("description"), f"{where} option {number} description", required=False))


def _question(raw: object, number: int) -> Question:
    where = f"question {number}"
    if not isinstance(raw, Mapping):
        raise NotAQuestion(f"{where} is not an object")
    options = raw.get("options")
    if not isinstance(options, list) or not options:
        raise NotAQuestion(f"{where} has no options")
    parsed = tuple(_option(option, index, where) for index, option in enumerate(options, 1))
    if len({option.label for option in parsed}) != len(parsed):
        raise NotAQuestion(f"{where} offers the same label twice")
    multi = raw.get("multiSelect", False)
    if not isinstance(multi, bool):
        raise NotAQuestion(f"{where} multiSelect is not true or false")
    return Question(
        number,
        _text(raw.get("question"), f"{where} text"),
        _text(raw.get("header"), f"{where} header", required=False),
        parsed,
        multi,
    )


def parse_questions(tool_input: object) -> AskedQuestions:
    """The numbered questions of an ``AskUserQuestion`` ``tool_input``; :class:`NotAQuestion` if malformed."""
    if not isinstance(tool_input, Mapping):
        raise NotAQuestion("the tool input is not an object")
    raw = tool_input.get("questions")
    if not isinstance(raw, list) or not raw:
        raise NotAQuestion("the tool input has no questions")
    questions = tuple(_question(question, index) for index, question in enumerate(raw, 1))
    if len({question.text for question in questions}) != len(questions):
        raise NotAQuestion("two questions have the same text (answers are keyed by it)")
    return AskedQuestions(questions, dict(tool_input))


def _how_to_answer(asked: AskedQuestions) -> str:
    if len(asked.questions) == 1:
        if asked.questions[0].multi_select:
            return "Reply with the numbers of your choices, e.g. 1,3."
        return "Reply with the number of your choice, e.g. 2."
    example = " ".join("1,2" if question.multi_select else "1" for question in asked.questions)
    return (
        f"Reply with one answer per question, in order: one per line, or on one line like {example} "
        "(several choices for a question: numbers joined by commas)."
    )


def render(asked: AskedQuestions) -> str:
    """The questions as numbered plain text, ending with how to answer."""
    blocks: list[str] = []
    several = len(asked.questions) > 1
    for question in asked.questions:
        title = f"{question.number}. " if several else ""
        title += f"[{question.header}] " if question.header else ""
        title += question.text
        if question.multi_select:
            title += " (choose one or more)"
        lines = [title]
        for option in question.options:
            line = f"  {option.number}. {option.label}"
            if option.description:
                line += f" - {option.description}"
            lines.append(line)
        blocks.append("\n".join(lines))
    blocks.append(_how_to_answer(asked))
    return "\n\n".join(blocks)


def _groups(reply: str, count: int) -> list[str]:
    """The reply split into one group of numbers per question."""
    text = reply.strip()
    if not text:
        raise UnclearAnswer("the reply is empty: answer with the option numbers")
    if not _ONLY_NUMBERS.fullmatch(text):
        raise UnclearAnswer("the reply must hold only option numbers (and commas, spaces or new lines between them)")
    text = _COMMA.sub(",", text)
    if count == 1:
        return [",".join(text.split())]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    groups = lines if len(lines) > 1 else text.split()
    if len(groups) != count or any(" " in group or "\t" in group for group in groups):
        raise UnclearAnswer(
            f"there are {count} questions: give one answer per question, one per line or on one line like "
            + " ".join(str(n) for n in range(1, count + 1))
        )
    return groups


def _choose(question: Question, group: str, *, several: bool) -> str:
    where = f"question {question.number}" if several else "the question"
    pieces = [piece for piece in group.split(",") if piece]
    if not pieces or len(pieces) != group.count(",") + 1:
        raise UnclearAnswer(f"{where}: a number is missing between the commas in {group!r}")
    numbers = list(dict.fromkeys(int(piece) for piece in pieces))
    if len(numbers) > 1 and not question.multi_select:
        raise UnclearAnswer(f"{where} takes one choice, not {', '.join(map(str, numbers))}")
    last = len(question.options)
    wrong = [n for n in numbers if not 1 <= n <= last]
    if wrong:
        raise UnclearAnswer(f"{where} has options 1 to {last}; {wrong[0]} is not one of them")
    return LABEL_SEPARATOR.join(question.options[n - 1].label for n in sorted(numbers))


def answers_from_reply(asked: AskedQuestions, reply: str) -> dict[str, str]:
    """``{question text: chosen label(s)}`` for ``reply``; :class:`UnclearAnswer` if it is not clear."""
    several = len(asked.questions) > 1
    groups = _groups(reply, len(asked.questions))
    return {
        question.text: _choose(question, group, several=several)
        for question, group in zip(asked.questions, groups, strict=True)
    }


def hook_answer(asked: AskedQuestions, answers: Mapping[str, str]) -> dict[str, Any]:
    """The ``PermissionRequest`` hook output that answers the questions with ``answers``."""
    updated = dict(asked.tool_input)
    updated["answers"] = dict(answers)
    return {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "allow", "updatedInput": updated},
        }
    }


def answer_reply(asked: AskedQuestions, reply: str) -> dict[str, Any]:
    """The hook output for a reply like ``2`` or ``1,3``; :class:`UnclearAnswer` when it is not clear."""
    return hook_answer(asked, answers_from_reply(asked, reply))
