"""One-tap answers: the notification's ``mailto:`` buttons open a reply that a phone sends with
the subject and body of the link and no In-Reply-To/References (iOS Mail and Gmail drop the
link's In-Reply-To). The relay routes it by the subject's token, through the same steps as any
reply, and types the text into claude. Real Dovecot, relay process, tmux and claude."""

from __future__ import annotations

import time
from email import message_from_bytes
from email.policy import default as default_policy
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.support.world import Notification, World

pytestmark = [pytest.mark.mail, pytest.mark.tmux, pytest.mark.claude, pytest.mark.slow]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        self._href = href if tag == "a" and href and href.startswith("mailto:") else None

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links[data.strip()] = self._href
            self._href = None


def buttons(note: Notification) -> dict[str, str]:
    msg = message_from_bytes(note.raw, policy=default_policy)
    part = msg.get_body(("html",))
    assert part is not None
    parser = _Links()
    parser.feed(part.get_content())
    return parser.links


def tap(world: World, href: str) -> tuple[str, str]:
    """Send what a phone sends for a tapped mailto: link (address, subject and body from it)."""
    url = urlsplit(href)
    fields = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert unquote(url.path) == world.stack.address("taskping")  # addressed to EMAIL_FROM, the relay's inbox
    assert "In-Reply-To" in fields  # offered, for the clients that keep it; this phone drops it
    world.reply(None, fields["body"], subject=fields["subject"])
    return fields["subject"], fields["body"]


def test_quick_reply_buttons_route_by_the_subject_token(world: World) -> None:
    s = world.spawn("quick")
    note = world.notification_for(s, "first task")
    links = buttons(note)
    assert list(links) == ["Continue", "Stop"]
    world.start_relay()

    subject, body = tap(world, links["Continue"])
    assert f"[TaskPing #{s.token}]" in subject and subject.startswith("Re: ") and body == "continue"
    assert world.api.wait_for_prompt("continue", timeout=20) == "continue"
    (row,) = [r for r in world.wait_ledger(1) if r.final]
    assert (row.status, row.session_id) == ("delivered", s.id)

    # The next turn's notification has its own buttons: "Continue" again is a second answer, not a
    # replay of the first (the subject names the notification), and is typed too.
    mails = world.new_mail(2)  # the ack and the new turn's notification, in either order
    (second,) = [m for m in mails if b"X-TaskPing: stop" in m]
    msg = message_from_bytes(second, policy=default_policy)
    note2 = Notification(str(msg["Message-ID"]), str(msg["Subject"]), s.token, second)
    subject2, _ = tap(world, buttons(note2)["Continue"])
    assert subject2 != subject
    deadline = time.monotonic() + 20
    while world.api.prompts.count("continue") < 2:
        assert time.monotonic() < deadline, f"the second continue was not typed; ledger: {world.ledger()}"
        time.sleep(0.05)
    assert [r.status for r in world.wait_ledger(2) if r.final] == ["delivered", "delivered"]
