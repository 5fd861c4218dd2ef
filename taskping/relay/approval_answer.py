"""The approval step's reading of a reply: which approval it answers, and what it says.

A reply answers an approval (:mod:`taskping.session_map.approvals`) when the
mail it replies to (In-Reply-To, else the last References entry: not the
thread's root, which may be an approval email too) is that approval email, or its
subject carries the email's ``n<6hex>`` marker (what a one-tap Allow/Deny
button writes, since phones drop the link's In-Reply-To). Only an approval of
the session the reply was routed to counts.

What it says (:func:`parse_answer`): the whole reply ``yes``, ``y``, ``allow``
or ``1`` allows this one call; a reply whose first word is ``no``, ``n``,
``deny`` or ``2`` denies it, and the rest of its text becomes the message
Claude reads; anything else is unclear (the person is asked again). Case and
trailing punctuation do not matter. Never "always allow", never a mode switch.
Claude's multiple-choice questions (``AskUserQuestion``) are answered by option
numbers instead, read by the pure :mod:`taskping.hooks.ask_question`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Literal, NamedTuple

from taskping.hooks import ask_question
from taskping.relay.parse import InboundMail
from taskping.session_map import approvals, daemons
from taskping.session_map.approvals import Approval
from taskping.session_map.sessions import Session
from taskping.session_map.vocabulary import ApprovalStatus, Code, Refusal, Step

ALLOW = frozenset({"yes", "y", "allow", "1"})
DENY = frozenset({"no", "n", "deny", "2"})
_MARKER = re.compile(r"(?:^|\s)·\s*(n[0-9a-f]{6})\b", re.IGNORECASE)
_FIRST_WORD = re.compile(r"^\s*([^\s.,;:!?]+)[.,;:!?]*(?:\s+|$)")


class Answer(NamedTuple):
    decision: Literal["allow", "deny"] | None  # None: neither (ask again)
    message: str | None = None  # a deny's reason, for Claude


def _first_word(text: str) -> tuple[str, str] | None:
    """The reply's first word (lower case, trailing punctuation dropped) and the rest of its text."""
    stripped = text.strip()
    found = _FIRST_WORD.match(stripped)
    return None if found is None else (found.group(1).lower(), stripped[found.end() :].strip())


def _reason(rest: str) -> str | None:
    """What follows a ``no``: the message Claude reads (``no - use the scratch dir``), or None."""
    return rest.lstrip("-–—:,. ").strip() or None


def parse_answer(text: str) -> Answer:
    """What a reply's new text says to an approval."""
    first = _first_word(text)
    if first is None:
        return Answer(None)
    word, rest = first
    if word in ALLOW and not rest:
        return Answer("allow")
    if word in DENY:
        return Answer("deny", _reason(rest))
    return Answer(None)


def answered_approval(conn: sqlite3.Connection, mail: InboundMail, session: Session) -> Approval | None:
    """The approval of ``session`` this reply answers, or None (it answers another mail)."""
    answers = list(mail.in_reply_to) or list(mail.references[-1:])  # the mail it replies to, not the thread
    named = approvals.by_message_ids(conn, answers)
    if named is not None:
        return named if named.session_id == session.id else None
    if answers:  # a reply to another mail of the thread: not to the approval
        return None
    marker = _MARKER.search(mail.subject)
    return approvals.by_marker(conn, session.id, marker.group(1).lower()) if marker else None


class Settled(NamedTuple):
    """The approval step's answer: recorded as ``answered`` with ``code``; ``lines`` go back in the thread."""

    code: Code
    reason: str
    lines: list[str]


def _closed_refusal(approval: Approval, session: Session) -> Refusal:
    """Why a reply cannot decide an approval that is no longer pending."""
    if approval.status == ApprovalStatus.EXPIRED:
        return Refusal(
            Step.APPROVAL,
            Code.APPROVAL_EXPIRED,
            f"too late, the prompt is at the terminal: the {approval.tool_name} request of session {session.name} "
            "was not answered within APPROVAL_TIMEOUT",
            session.id,
        )
    if approval.status == ApprovalStatus.CLOSED:
        return Refusal(
            Step.APPROVAL,
            Code.APPROVAL_CLOSED,
            f"it was answered at the terminal: the {approval.tool_name} request of session {session.name} "
            "is no longer waiting",
            session.id,
        )
    return Refusal(
        Step.APPROVAL,
        Code.APPROVAL_DECIDED,
        f"the {approval.tool_name} request of session {session.name} was already {approval.status} by an "
        "earlier reply; an approval is decided once",
        session.id,
    )


def settle(
    conn: sqlite3.Connection, approval: Approval, session: Session, text: str, entry_id: int, *, now: float
) -> Settled | Refusal:
    """Decide ``approval`` with the reply's ``text`` (once: a decision is one conditional UPDATE)."""
    if approval.pending and now >= approval.deadline:
        approvals.expire(conn, approval.id, at=now)
        approval = approvals.get(conn, approval.id) or approval
    if approval.pending and approval.hook_pid is not None and not daemons.pid_alive(approval.hook_pid):
        # the hook waiting for the answer (on this machine, as its session) is gone: nobody would hear it
        approvals.close(conn, approval.id, "answered at the terminal (the waiting hook is gone)")
        approval = approvals.get(conn, approval.id) or approval
    if not approval.pending:
        return _closed_refusal(approval, session)
    if approval.tool_name == ask_question.TOOL_NAME:
        return _settle_question(conn, approval, session, text, entry_id, now=now)
    answer = parse_answer(text)
    if answer.decision is None:
        return Settled(
            Code.APPROVAL_UNCLEAR,
            "not an answer to the approval: asked again",
            [
                f"Session {session.name} still waits for your answer to its {approval.tool_name} request.",
                (
                    "Reply yes (y, allow, 1) to allow this one call, or no (n, deny, 2) to deny it; any text after "
                    "the no is passed to Claude. Nothing was typed."
                ),
            ],
        )
    status = ApprovalStatus.ALLOWED if answer.decision == "allow" else ApprovalStatus.DENIED
    if not approvals.decide(conn, approval.id, status, entry_id=entry_id, deny_message=answer.message, at=now):
        return _closed_refusal(approvals.get(conn, approval.id) or approval, session)
    if status == ApprovalStatus.ALLOWED:
        return Settled(
            Code.APPROVAL_ALLOWED,
            f"allowed the {approval.tool_name} request",
            [f"Allowed: session {session.name} runs this {approval.tool_name} call (this one only)."],
        )
    told = f' Claude reads: "{answer.message}"' if answer.message else ""
    return Settled(
        Code.APPROVAL_DENIED,
        f"denied the {approval.tool_name} request",
        [f"Denied: session {session.name} does not run this {approval.tool_name} call.{told}"],
    )


def _settle_question(
    conn: sqlite3.Connection, approval: Approval, session: Session, text: str, entry_id: int, *, now: float
) -> Settled | Refusal:
    """Claude's multiple-choice question: option numbers answer it (the hook turns them into the
    model's own labels); ``no``/``deny`` (+ a reason) declines it; anything else is asked again."""
    try:
        asked = ask_question.parse_questions(json.loads(approval.tool_input or "null"))
    except (ValueError, ask_question.NotAQuestion):
        return Refusal(
            Step.APPROVAL, Code.APPROVAL_CLOSED, "the question cannot be read back; answer it at the terminal"
        )
    first = _first_word(text)
    if first is not None and first[0] in ("no", "deny"):  # not "n" or "2": a number picks an option here
        message = _reason(first[1])
        if not approvals.decide(
            conn, approval.id, ApprovalStatus.DENIED, entry_id=entry_id, deny_message=message, at=now
        ):
            return _closed_refusal(approvals.get(conn, approval.id) or approval, session)
        return Settled(
            Code.APPROVAL_DENIED, "declined Claude's question", [f"Declined the question of session {session.name}."]
        )
    try:
        chosen = ask_question.answers_from_reply(asked, text)
    except ask_question.UnclearAnswer as why:
        return Settled(
            Code.APPROVAL_UNCLEAR,
            "not an answer to the question: asked again",
            [f"Session {session.name} still waits for your answer: {why}.", "Nothing was typed."],
        )
    numbers = text.strip()
    if not approvals.decide(conn, approval.id, ApprovalStatus.ALLOWED, entry_id=entry_id, answers=numbers, at=now):
        return _closed_refusal(approvals.get(conn, approval.id) or approval, session)
    said = "; ".join(f"{q} → {label}" for q, label in chosen.items())
    return Settled(
        Code.APPROVAL_ALLOWED, "answered Claude's question", [f"Answered for session {session.name}: {said}."]
    )
