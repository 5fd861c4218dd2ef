"""taskping.hooks.ask_question: AskUserQuestion input → numbered text → the hook's answer."""

from __future__ import annotations

from typing import Any

import pytest

from taskping.hooks.ask_question import (
    AskedQuestions,
    NotAQuestion,
    UnclearAnswer,
    answer_reply,
    answers_from_reply,
    parse_questions,
    render,
)

DB = "Which database should the service use?"
CI = "Which checks should CI run?"


def db_question(**changes: Any) -> dict[str, Any]:
    question: dict[str, Any] = {
        "question": DB,
        "header": "Database",
        "options": [
            {"label": "Postgres", "description": "Relational, already in prod"},
            {"label": "SQLite", "description": "One file, no server"},
        ],
        "multiSelect": False,
    }
    question.update(changes)
    return question


def ci_question() -> dict[str, Any]:
    return {
        "question": CI,
        "header": "CI",
        "options": [
            {"label": "Lint", "description": "ruff"},
            {"label": "Types", "description": "mypy"},
            {"label": "Tests", "description": "pytest"},
        ],
        "multiSelect": True,
    }


def asked(*questions: dict[str, Any]) -> AskedQuestions:
    return parse_questions({"questions": list(questions)})


def test_parse_numbers_questions_and_options() -> None:
    parsed = asked(ci_question(), db_question())
    assert [(q.number, q.text, q.header, q.multi_select) for q in parsed.questions] == [
        (1, CI, "CI", True),
        (2, DB, "Database", False),
    ]
    assert [(o.number, o.label, o.description) for o in parsed.questions[1].options] == [
        (1, "Postgres", "Relational, already in prod"),
        (2, "SQLite", "One file, no server"),
    ]


def test_render_single_question() -> None:
    assert render(asked(db_question())) == (
        "[Database] Which database should the service use?\n"
        "  1. Postgres - Relational, already in prod\n"
        "  2. SQLite - One file, no server\n"
        "\n"
        "Reply with the number of your choice, e.g. 2."
    )


def test_render_several_questions_numbers_them_and_says_how_to_answer() -> None:
    text = render(asked(ci_question(), db_question()))
    assert text.startswith("1. [CI] Which checks should CI run? (choose one or more)\n  1. Lint - ruff\n")
    assert "\n\n2. [Database] Which database should the service use?\n  1. Postgres" in text
    assert text.endswith(
        "one per line, or on one line like 1,2 1 (several choices for a question: numbers joined by commas)."
    )


def test_answer_json_is_what_claude_accepts() -> None:
    tool_input = {"questions": [db_question()], "metadata": {"source": "x"}}
    output = answer_reply(parse_questions(tool_input), "2")
    assert output == {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {
                "behavior": "allow",
                "updatedInput": {"questions": [db_question()], "metadata": {"source": "x"}, "answers": {DB: "SQLite"}},
            },
        }
    }
    assert "answers" not in tool_input  # the parsed input is not changed


@pytest.mark.parametrize("reply", ["1,3", "1, 3", "3,1", "1 3", "1\n3", " 1,3\n", "1,1,3"])
def test_multi_select_single_question(reply: str) -> None:
    assert answers_from_reply(asked(ci_question()), reply) == {CI: "Lint, Tests"}


@pytest.mark.parametrize("reply", ["1,3 2", "1,3\n2", "1, 3\n\n2\n", "1,3\t2"])
def test_several_questions(reply: str) -> None:
    assert answers_from_reply(asked(ci_question(), db_question()), reply) == {CI: "Lint, Tests", DB: "SQLite"}


@pytest.mark.parametrize(
    ("questions", "reply", "says"),
    [
        ([db_question()], "", "empty"),
        ([db_question()], "   \n", "empty"),
        ([db_question()], "3", "options 1 to 2; 3 is not"),
        ([db_question()], "0", "options 1 to 2; 0 is not"),
        ([db_question()], "1,2", "takes one choice, not 1, 2"),
        ([db_question()], "1 2", "takes one choice"),
        ([db_question()], "SQLite", "only option numbers"),
        ([db_question()], "2.", "only option numbers"),
        ([db_question()], "-1", "only option numbers"),
        ([db_question()], "2\nSent from my iPhone", "only option numbers"),
        ([db_question()], "\uff12", "only option numbers"),  # fullwidth digit two
        ([ci_question()], "1,,3", "missing between the commas"),
        ([ci_question()], ",1", "missing between the commas"),
        ([ci_question()], "1,4", "options 1 to 3; 4 is not"),
        ([ci_question(), db_question()], "1", "2 questions"),
        ([ci_question(), db_question()], "1 2 1", "2 questions"),
        ([ci_question(), db_question()], "1 3\n2", "2 questions"),  # which line holds what is unclear
        ([ci_question(), db_question()], "1,3 3", "question 2 has options 1 to 2"),
    ],
)
def test_unclear_replies_are_refused_with_one_line(questions: list[dict[str, Any]], reply: str, says: str) -> None:
    with pytest.raises(UnclearAnswer) as refused:
        answers_from_reply(asked(*questions), reply)
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("tool_input", "says"),
    [
        (None, "not an object"),
        ({}, "no questions"),
        ({"questions": []}, "no questions"),
        ({"questions": ["x"]}, "question 1 is not an object"),
        ({"questions": [db_question(options=[])]}, "no options"),
        ({"questions": [db_question(question="  ")]}, "question 1 text"),
        ({"questions": [db_question(options=[{"label": 3}])]}, "option 1 label"),
        ({"questions": [db_question(options=[{"label": "A"}, {"label": "A"}])]}, "same label twice"),
        ({"questions": [db_question(multiSelect="yes")]}, "multiSelect"),
        ({"questions": [db_question(), db_question()]}, "same text"),
    ],
)
def test_malformed_tool_input_is_not_a_question(tool_input: object, says: str) -> None:
    with pytest.raises(NotAQuestion, match=says):
        parse_questions(tool_input)


def test_missing_description_and_header_are_fine() -> None:
    parsed = asked({"question": DB, "options": [{"label": "A"}, {"label": "B"}]})
    assert render(parsed).startswith(f"{DB}\n  1. A\n  2. B\n")
    assert answers_from_reply(parsed, "1") == {DB: "A"}
