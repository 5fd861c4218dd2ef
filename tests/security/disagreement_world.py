"""One world for the parser-disagreement suite (module scope), built like the attack
suite's ``arena``: real Dovecot, a private tmux server with two real claude
sessions against the fake Messages API, the real ``taskping-relay`` process and
a DNS server on loopback publishing the DKIM keys.

The difference is how mail arrives: every message is stored **byte-exact** by
IMAP ``APPEND`` with a ``literal8`` (RFC 3516 BINARY). An ordinary ``APPEND``
is not enough: Dovecot 2.3 turns a lone CR into CRLF when it saves a message
sent as a plain literal (measured: ``a\\rb`` comes back as ``a\\r\\nb``), which
would repair item 1's messages before the relay saw them, as an SMTP hop
would. Stored as binary, Dovecot keeps the bytes, and the suite checks that
every message reads back exactly as it was written.

The mail goes in phases, each a backlog handed to a fresh relay process (as in
the attack suite): genuine replies first (the controls, and the replies item 4
re-sends), then the ``SENDER_AUTH=dkim`` batch, then the
``SENDER_AUTH=authres`` batch. Everything started here is stopped here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from imapclient import IMAPClient

from taskping.session_map import connect, ledger
from tests.security.disagreement_mail import BY_NAME, ITEMS, PROVIDER, Ctx, Item, marker_of
from tests.support.dkim import DnsServer, make_key
from tests.support.fake_anthropic import SYSTEM_REMINDER, FakeAnthropic
from tests.support.world import HOST_ID, World, shared_world

FOLDER = "INBOX"


class AppendError(AssertionError):
    pass


def append_exact(client: IMAPClient, folder: str, raw: bytes) -> int:
    """Store ``raw`` in ``folder`` unchanged (APPEND with a RFC 3516 ``literal8``); its UID.

    imapclient only sends ordinary literals, so the command goes over its imaplib connection."""
    imap = client._imap  # imapclient has no literal8 APPEND
    tag = imap._new_tag().decode()
    imap.send(f"{tag} APPEND {folder} ~{{{len(raw)}}}\r\n".encode())
    ready = imap.readline()
    if not ready.startswith(b"+"):
        raise AppendError(f"server refused the literal8: {ready!r}")
    imap.send(raw + b"\r\n")
    while True:
        line = imap.readline()
        if not line:
            raise AppendError("connection closed during APPEND")
        if line.startswith(tag.encode() + b" "):
            found = re.search(rb"OK \[APPENDUID \d+ (\d+)\]", line)
            if not found:
                raise AppendError(f"APPEND failed: {line!r}")
            return int(found.group(1))


def stored(client: IMAPClient, folder: str, uid: int) -> bytes:
    client.select_folder(folder, readonly=True)
    return client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]


@dataclass
class Bench:
    world: World
    ctx: Ctx
    uids: dict[str, int] = field(default_factory=dict)  # by item name
    exact: dict[str, bool] = field(default_factory=dict)  # read back byte for byte, by item name
    rows: dict[int, ledger.LedgerEntry] = field(default_factory=dict)  # by UID
    prompts: list[str] = field(default_factory=list)  # every user text claude sent (received_texts)
    scrollback: str = ""
    sink: list = field(default_factory=list)  # type: ignore[type-arg]
    outbox: list[tuple[str, str, bytes]] = field(default_factory=list)  # (kind, to_addr, raw)
    session_names: dict[int, str] = field(default_factory=dict)  # by session id
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    def row(self, item: Item) -> ledger.LedgerEntry:
        uid = self.uids[item.name]
        assert uid in self.rows, f"no ledger row for {item.name} (UID {uid}); relay log:\n{self.world.relay_log()}"
        return self.rows[uid]

    def typed(self, item: Item) -> list[str]:
        """Prompts claude received that carry this item's text (for a re-sent reply: beyond the
        one typing of the genuine original)."""
        marker = marker_of(item.source or item.name)
        found = [p for p in self.prompts if marker in p]
        return found[1:] if item.source else found

    def answers(self, item: Item) -> list[tuple[str, str]]:
        """(kind, to) of every mail TaskPing queued in answer to this item's message."""
        return [(kind, to) for kind, to, raw in self.outbox if item.mid.encode() in raw]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    started = time.monotonic()
    root = tmp_path_factory.mktemp("disagreement")
    with DnsServer() as dns, shared_world(root, TASKPING_HOST_ID=HOST_ID) as world:
        stack, env = world.stack, world.env
        keys = root / "keys"
        me_key = make_key(keys, "s2026", "example.test")
        evil_key = make_key(keys, "e1", "evil.example")
        dns.publish(me_key)
        dns.publish(evil_key)

        a, b = world.spawn("dis-a"), world.spawn("dis-b")
        note_a = world.notification_for(a, "task a")
        note_b = world.notification_for(b, "task b")
        scratch = root / "scratch"
        scratch.mkdir()
        ctx = Ctx(
            me=stack.address("me"),
            taskping=stack.address("taskping"),
            note_a=note_a,
            note_b=note_b,
            me_key=me_key,
            evil_key=evil_key,
            scratch=scratch,
        )
        bench = Bench(world, ctx)
        bench.phases["sessions"] = time.monotonic() - started

        imap = stack.imap("taskping")
        total = 0

        def phase(name: str, env_: dict[str, str]) -> None:
            nonlocal total
            batch = [i for i in ITEMS if i.phase == name]
            for item in batch:
                raw = item.build(ctx, item)
                ctx.sent[item.name] = raw
                uid = append_exact(imap, FOLDER, raw)
                bench.uids[item.name] = uid
                bench.exact[item.name] = stored(imap, FOLDER, uid) == raw
            total += len(batch)
            relay = world.start_relay(extra_env=env_)
            world.wait_ledger(total, timeout=120)
            assert world.stop_relay(relay) == 0
            bench.phases[name] = time.monotonic() - started

        try:
            dkim_env = {"SENDER_AUTH": "dkim", "DKIM_DNS_SERVER": dns.address, "DKIM_DNS_TIMEOUT": "2"}
            phase("control", dkim_env)
            for item in ITEMS:  # the genuine replies item 4 re-sends were really typed first
                if item.phase == "control":
                    _await_prompt(world.api, item.marker)
            phase("dkim", dkim_env)
            phase("authres", {"SENDER_AUTH": "authres", "TRUSTED_AUTHSERV_ID": PROVIDER})
            for item in ITEMS:
                if item.expect == "delivered":
                    _await_prompt(world.api, item.marker)
            _await_typed(bench)
            time.sleep(1.5)  # anything typed late would show up now
        finally:
            try:
                imap.logout()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass

        bench.rows = {r.uid: r for r in world.ledger() if r.uid is not None}
        bench.session_names = {a.id: a.name, b.id: b.name}
        bench.prompts = received_texts(world.api)
        bench.scrollback = world.scrollback(a) + world.scrollback(b)
        bench.sink = list(stack.sink_messages())
        conn = connect(env["SESSION_MAP_PATH"])
        try:
            bench.outbox = [(r[0], r[1], bytes(r[2])) for r in conn.execute("SELECT kind, to_addr, raw FROM outbox")]
        finally:
            conn.close()
        bench.seconds = time.monotonic() - started
        yield bench


def _texts(content: object) -> list[str]:
    """The text blocks of one message's content (a plain string is one block)."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    ]


def received_texts(api: FakeAnthropic) -> list[str]:
    """Every text the person's side of each conversation carried to the API, in order.

    ``api.prompts`` keeps only the last text block of each request, but claude sends replies
    queued while it worked as several blocks of one turn, so that would miss some. Each request
    carries its session's whole history: the user texts of the requests whose history no later
    request extends are the complete conversations (one per session), repeats included."""
    conversations: list[tuple[str, ...]] = []
    for request in api.requests:
        if not request.is_main_turn:
            continue
        texts = [
            t
            for message in request.body.get("messages") or []
            if isinstance(message, dict) and message.get("role") == "user"
            for t in _texts(message.get("content"))
            if not t.lstrip().startswith(SYSTEM_REMINDER)
        ]
        conversations.append(tuple(texts))
    whole = [c for c in conversations if not any(len(o) > len(c) and o[: len(c)] == c for o in conversations)]
    seen: set[tuple[str, ...]] = set()
    out: list[str] = []
    for conversation in whole:
        if conversation not in seen:
            seen.add(conversation)
            out += conversation
    return out


def _await_prompt(api: FakeAnthropic, marker: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(marker in t for t in received_texts(api)):
            return
        time.sleep(0.1)
    raise AssertionError(f"claude never received {marker}; it received {received_texts(api)!r}")


def _await_typed(bench: Bench, timeout: float = 30) -> None:
    """Wait until claude has passed on every reply the ledger calls delivered (a reply typed
    while claude works is queued, and reaches the API only after the turn before it), so the
    prompts read afterwards are complete. Gives up quietly: the tests then report what is missing."""
    by_uid = {uid: name for name, uid in bench.uids.items()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wanted: dict[str, int] = {}
        for row in bench.world.ledger():
            name = by_uid.get(row.uid or -1)
            if name is not None and row.status == "delivered":
                item = BY_NAME[name]
                marker = marker_of(item.source or item.name)
                wanted[marker] = wanted.get(marker, 0) + 1
        prompts = received_texts(bench.world.api)
        if all(sum(m in p for p in prompts) >= n for m, n in wanted.items()):
            return
        time.sleep(0.2)
