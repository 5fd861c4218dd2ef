"""The attack suite: crafted replies against the real relay process, real
Dovecot, real tmux and the real claude CLI (see conftest.py for the world and
attacks.py for the catalogue). One test per attack, each reading the decision
its own mail got."""

from __future__ import annotations

import pytest

from taskping.injectors.terminal_guard import forbidden_characters
from tests.security.attacks import ATTACKS, Attack
from tests.security.conftest import Arena

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]

REFUSING = [a for a in ATTACKS if a.status in ("dropped", "refused")]
SANITISED = [a for a in ATTACKS if a.status == "typed-sanitised"]
CONTROLS = [a for a in ATTACKS if a.status == "delivered"]


def _typed(arena: Arena, attack: Attack) -> list[str]:
    return [p for p in arena.prompts if attack.marker in p]


@pytest.mark.parametrize("attack", REFUSING, ids=[a.name for a in REFUSING])
def test_attack_types_nothing_and_records_why(arena: Arena, attack: Attack) -> None:
    row = arena.row(attack.mid)
    assert attack.code is not None, "every refusing attack names the code it must get"
    assert (row.status, row.code) == (attack.status, attack.code), (row.status, row.code, row.reason)
    assert row.reason and attack.reason in row.reason, row.reason
    assert row.preview is None  # never marked for typing
    assert not _typed(arena, attack), "the payload reached claude"
    assert attack.marker not in arena.scrollback, "the payload reached the terminal"


@pytest.mark.parametrize("attack", SANITISED, ids=[a.name for a in SANITISED])
def test_control_sequences_never_reach_the_terminal(arena: Arena, attack: Attack) -> None:
    row = arena.row(attack.mid)
    assert row.status == "delivered", (row.status, row.reason)
    typed = _typed(arena, attack)
    assert len(typed) == 1, typed
    prompt = typed[0]
    assert not forbidden_characters(prompt), sorted(f"U+{ord(c):04X}" for c in forbidden_characters(prompt))
    assert "\x1b" not in prompt and "\r" not in prompt
    assert not prompt.lstrip().startswith("!"), prompt
    assert not (arena.ctx.scratch / attack.name).exists()  # no shell ran
    if attack.name == "lone-cr-early-enter":
        assert "line one" in prompt and "line two" in prompt  # one prompt: the CR did not press Enter


@pytest.mark.parametrize("attack", CONTROLS, ids=[a.name for a in CONTROLS])
def test_controls_are_delivered(arena: Arena, attack: Attack) -> None:
    row = arena.row(attack.mid)
    assert row.status == "delivered", (row.status, row.reason)


def test_nothing_goes_back_to_an_unauthenticated_sender(arena: Arena) -> None:
    me = arena.ctx.me
    assert not arena.sink, list(arena.sink)  # no mail left the stack for anyone else
    assert {to for _, to in arena.outbox} <= {me}
    refusals = [k for k, _ in arena.outbox if k == "refusal"]
    refused_rows = [r for r in arena.rows.values() if r.status == "refused"]
    dropped_rows = [r for r in arena.rows.values() if r.status == "dropped"]
    # every refusal went to the authenticated person; no dropped mail got an answer
    assert len(refusals) == len(refused_rows)
    assert len(dropped_rows) == len([a for a in ATTACKS if a.status == "dropped"])
