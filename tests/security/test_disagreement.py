"""Issue 8's proof: the parser-disagreement suite, end to end.

Messages that TaskPing could read differently from the mail server and the
DKIM verifier that vouched for them (lone CRs, Authentication-Results grammar,
misaligned DMARC, duplicate headers, over-size mail, hidden HTML, invisible
characters), stored byte-exact in the relay's mailbox and read by the real
relay process, with real Dovecot, tmux and claude (see disagreement_world.py
for the world and disagreement_mail.py for the catalogue). One test per
message, named after the issue item and the technique; each reads the
decision its own message got (found by its IMAP UID, however the relay read
its Message-ID).

What "typed" means here: claude sent the fake Messages API a user text
carrying the message's marker word (any text block of the conversation:
replies queued while claude works arrive as several blocks of one turn), or
the ledger says TaskPing typed it or set out to. That is asserted first, so a
failure says plainly that the attack got through, with the ledger status and
reason. Texts are compared without surrounding whitespace (a queued block
ends in a newline).
"""

from __future__ import annotations

import pytest

from tests.security.disagreement_mail import ATTACKER_ADDRESSES, ITEMS, Item
from tests.security.disagreement_world import Bench

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]

BLOCKED = [i for i in ITEMS if i.expect == "blocked"]
VISIBLE = [i for i in ITEMS if i.expect == "visible"]
CONTROLS = [i for i in ITEMS if i.expect == "delivered"]

INVISIBLE_RANGES = ((0xE0000, 0xE007F), (0x2061, 0x2064), (0x00AD, 0x00AD), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))


def _invisible(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if any(lo <= ord(c) <= hi for lo, hi in INVISIBLE_RANGES)]


def _why(bench: Bench, item: Item) -> str:
    row = bench.row(item)
    session = bench.session_names.get(row.session_id or 0, "-")
    return f"{item.name}: ledger status={row.status!r} session={session} reason={row.reason!r}"


@pytest.mark.parametrize("item", BLOCKED, ids=[i.name for i in BLOCKED])
def test_attack_types_nothing(bench: Bench, item: Item) -> None:
    why = _why(bench, item)
    typed = bench.typed(item)
    assert not typed, f"the attack was typed into claude: {typed!r}; {why}"
    row = bench.row(item)
    assert row.status not in ("delivered", "injecting", "unknown"), f"the attack was typed; {why}"
    assert row.status in item.statuses, f"expected {' or '.join(item.statuses)}; {why}"
    assert row.reason, why
    assert row.preview is None, f"TaskPing set out to type {row.preview!r}; {why}"  # never handed to the injector
    if not item.source:  # a re-sent genuine reply's text is on screen from its first, genuine typing
        assert item.marker not in bench.scrollback, f"the payload reached the terminal; {why}"
    assert not (bench.ctx.scratch / item.name).exists(), f"a shell ran the payload; {why}"
    answers = bench.answers(item)
    assert ("ack", bench.ctx.me) not in answers, f"acknowledged as delivered; {why}"
    assert all(to == bench.ctx.me for _, to in answers), f"answered to {answers}; {why}"
    if row.status == "dropped":
        assert not answers, f"a dropped message was answered: {answers}; {why}"


@pytest.mark.parametrize("item", VISIBLE, ids=[i.name for i in VISIBLE])
def test_invisible_characters_never_reach_claude(bench: Bench, item: Item) -> None:
    why = _why(bench, item)
    typed = bench.typed(item)
    hidden = [_invisible(p) for p in typed]
    assert not any(hidden), f"invisible characters reached claude: {hidden} in {typed!r}; {why}"
    row = bench.row(item)
    if row.status == "delivered":
        # what TaskPing itself typed (the ledger's preview), not only what claude passed on
        got = f"claude received {typed!r}; {why}"
        assert not _invisible(row.preview or ""), f"TaskPing typed {_invisible(row.preview or '')}; {got}"
        assert row.preview == item.expected_prompt(), f"TaskPing typed {row.preview!r}; {got}"
        assert [t.strip() for t in typed] == [item.expected_prompt()], f"claude received {typed!r}; {why}"
    else:
        assert row.status in ("dropped", "refused") and row.reason, why
        assert not typed, why


@pytest.mark.parametrize("item", CONTROLS, ids=[i.name for i in CONTROLS])
def test_genuine_control_is_typed(bench: Bench, item: Item) -> None:
    row = bench.row(item)
    assert row.status == "delivered", _why(bench, item)
    typed = bench.typed(item)
    # only its first typing: a second one is an attack re-sending it, and that attack's test says so
    assert [t.strip() for t in typed[:1]] == [item.expected_prompt()], bench.prompts


def test_every_message_was_stored_byte_exact(bench: Bench) -> None:
    changed = [name for name, same in bench.exact.items() if not same]
    assert not changed, f"the mailbox changed these messages before the relay read them: {changed}"
    assert any(b"\r" in raw.replace(b"\r\n", b"") for raw in bench.ctx.sent.values())  # lone CRs went in


def test_nothing_is_mailed_to_anyone_but_the_person(bench: Bench) -> None:
    me = bench.ctx.me
    assert not bench.sink, [(m.rcpt_to, m.raw[:200]) for m in bench.sink]
    recipients = {to.lower() for _, to, _ in bench.outbox}
    assert recipients <= {me}, recipients
    assert not recipients & set(ATTACKER_ADDRESSES)


def test_invisible_characters_reach_no_prompt(bench: Bench) -> None:
    found = {p[:60]: _invisible(p) for p in bench.prompts if _invisible(p)}
    assert not found, found


def test_suite_covers_every_item(bench: Bench) -> None:
    covered = {i.issue_item for i in BLOCKED + VISIBLE}
    assert covered >= {1, 2, 3, 4, 8, 9, 10}, covered
    typed = [i.name for i in BLOCKED if bench.typed(i) or bench.row(i).status == "delivered"] + [
        i.name for i in VISIBLE if any(_invisible(p) for p in bench.typed(i))
    ]
    print(
        f"\ndisagreement suite: {len(BLOCKED) + len(VISIBLE)} attacks, {len(CONTROLS)} controls; "
        f"typed: {len(typed)} {typed}; world + all mail in {bench.seconds:.1f} s; phases ended at "
        + ", ".join(f"{k} {v:.1f} s" for k, v in bench.phases.items())
    )
    for item in ITEMS:  # every decision, for the closing note (pytest -s or -rA shows it)
        row = bench.row(item)
        print(f"  {item.name:55} {row.status:9} {(row.reason or '')[:110]}")
