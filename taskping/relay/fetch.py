"""Step 1, fetch: the IMAP side of the relay (imapclient, blocking; run in a thread).

Step 3, the header screen, is the pipeline's (:meth:`Pipeline.screen`); fetch asks for it.

- Connect with implicit TLS (IMAP_SECURE=ssl), plain upgraded with a
  required STARTTLS (starttls), or plain (none, warned about at start); the
  CA in $SSL_CERT_FILE is honoured. Every failure to connect, log in or
  select is a one-line :class:`~taskping.mail_errors.MailFailure`.
- UIDVALIDITY and the last UID handled are kept in the session map; a new
  UIDVALIDITY resets the UID and the ledger stops anything being typed twice.
- Size and header before content: each batch is first fetched as
  ``RFC822.SIZE`` and ``BODY.PEEK[HEADER]`` (at most MAX_HEADER_SECTION
  bytes of it) and handed to the pipeline's screen, which drops (in the
  ledger and the audit log) whatever is over MAX_MESSAGE_BYTES, has no single
  reading, or fails authentication as far as a header can tell. Only the rest
  is downloaded whole: an unauthenticated stranger's 20 MB costs a header.
- Messages are read with ``BODY.PEEK[]`` and \\Seen is never consulted: a
  reply already opened on the phone is processed like any other. Messages are
  finished (flagged, UID advanced) in UID order, screened or not.
- A handled message gets the ``$TaskPingDone`` keyword (IMAP_DONE_KEYWORD), or
  is moved to IMAP_PROCESSED_FOLDER; another machine's reply is left alone.
- Waiting: IDLE when offered (re-issued every IDLE_RENEW_SECONDS, well before
  the 29-minute limit), else a NOOP poll every IMAP_POLL_SECONDS.
- While waiting, ``between`` runs about every IDLE_CHECK_SECONDS: the relay
  types replies that wait for a busy session there (same thread, so one
  keystroke stream at a time).
- Any error or disconnect, a clean BYE included, ends :meth:`ImapSession.run_session`;
  :func:`run_forever` reconnects with capped exponential backoff, except
  after AUTH_REJECTIONS_FATAL rejected logins in a row (:class:`AuthRejected`).
- The session map failing (locked past its busy timeout, disk full: an
  ``sqlite3.Error``, or the pipeline's :class:`StoreUnavailable`) ends the
  session the same way: the message in hand is neither flagged nor counted as
  handled, so the next session reads it again.
"""

from __future__ import annotations

import socket
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable

import imapclient
from imapclient.exceptions import IMAPClientError

from taskping.config import Settings
from taskping.faults import fault_point
from taskping.log import get_logger
from taskping.mail_errors import MailFailure
from taskping.relay import imap_connect, imap_errors
from taskping.relay.canonical import MAX_HEADER_SECTION
from taskping.relay.pipeline import Outcome, Position, StoreUnavailable
from taskping.session_map import mailbox

# Leave IDLE, search and re-issue IDLE this often. IDLE alone is not trusted to announce
# every message: once in CI a reply sat in the mailbox for over 20 s with no IDLE response
# seen (one way that happens: an EXISTS line read into imaplib's buffer together with an
# earlier line, where idle_check's select() cannot see it). A search every 15 s bounds such
# a delay, costs one round trip, and stays far inside the 29-minute IDLE limit.
IDLE_RENEW_SECONDS = 15
IDLE_CHECK_SECONDS = 0.5
IDLE_EOF_CHECKS = 3  # empty idle_check answers in a row, each at once: the server hung up
BACKOFF_START = 0.5
BACKOFF_CAP = 60.0
AUTH_REJECTIONS_FATAL = 3  # consecutive login rejections before run_forever gives up (provider lockouts)
FETCH_BATCH = 20

Process = Callable[[bytes, Position], Outcome]
Between = Callable[[], object]
Ready = Callable[[], object]  # called after each pass over the mailbox (the daemon's READY=1 and STATUS=)
# (header section, RFC822.SIZE, position) → a final Outcome, or None to download and process
Screen = Callable[[bytes, int, Position], Outcome | None]
HEADER_ITEM = f"BODY.PEEK[HEADER]<0.{MAX_HEADER_SECTION}>"


class ImapSession:
    """One IMAP connection's worth of work (its bookkeeping is :mod:`taskping.session_map.mailbox`)."""

    def __init__(
        self,
        settings: Settings,
        conn: sqlite3.Connection,
        process: Process,
        stop: threading.Event,
        *,
        screen: Screen,
        between: Between | None = None,
        ready: Ready | None = None,
    ) -> None:
        self.settings = settings
        self.ready = ready
        self.conn = conn
        self.process = process
        self.screen = screen
        self.stop = stop
        self.between = between
        self.log = get_logger(component="fetch")
        self.client: imapclient.IMAPClient | None = None
        self.uidvalidity = 0
        self.connected = False  # this session logged in and selected the folder

    # -- connection

    def connect(self) -> imapclient.IMAPClient:
        """Connect, secure, log in and select the folder (:mod:`taskping.relay.imap_connect`);
        each failure is a :class:`MailFailure`."""
        client, info = imap_connect.open_session(self.settings)
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        mailbox.sync_uidvalidity(self.conn, self.settings.imap_folder, self.uidvalidity)
        self.client = client
        return client

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            imap_connect.close(client)

    # -- work

    def process_new(self) -> int:
        """Handle every message above the last UID handled. Returns how many."""
        assert self.client is not None
        folder = self.settings.imap_folder
        state = mailbox.get(self.conn, folder)
        last = state.last_uid if state else 0
        uids = sorted(u for u in self.client.search(["UID", f"{last + 1}:*"]) if u > last)
        done = 0
        for i in range(0, len(uids), FETCH_BATCH):
            batch = uids[i : i + FETCH_BATCH]
            screened, wanted = self.screen_batch(batch)
            data = self.client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
            for uid in batch:
                if self.stop.is_set():
                    return done
                decision = screened.get(uid)
                if decision is None:
                    raw = data.get(uid, {}).get(b"BODY[]")
                    if raw is None:
                        mailbox.advance(self.conn, folder, self.uidvalidity, uid)  # expunged meanwhile
                        continue
                    fault_point("after-fetch")
                    decision = self.process(bytes(raw), Position(folder, self.uidvalidity, uid))
                if not decision.leave_untouched:
                    fault_point("before-flag")
                    self.mark_done(uid)
                mailbox.advance(self.conn, folder, self.uidvalidity, uid)
                done += 1
        return done

    def screen_batch(self, batch: list[int]) -> tuple[dict[int, Outcome], list[int]]:
        """Fetch size and header of ``batch`` and screen each: (decided without a body, to download).

        A message whose header section does not end within MAX_HEADER_SECTION
        bytes comes back cut there; the screen refuses it as too large a header.
        """
        assert self.client is not None
        heads = self.client.fetch(batch, ["RFC822.SIZE", HEADER_ITEM])
        screened: dict[int, Outcome] = {}
        wanted: list[int] = []
        for uid in batch:
            item = heads.get(uid)
            if item is None or self.stop.is_set():
                continue  # expunged meanwhile (or stopping): nothing to download
            header = next((bytes(v) for k, v in item.items() if k.startswith(b"BODY[HEADER]")), b"")
            size = int(item.get(b"RFC822.SIZE", len(header)))
            decided = self.screen(header, size, Position(self.settings.imap_folder, self.uidvalidity, uid))
            if decided is None:
                wanted.append(uid)
            else:
                screened[uid] = decided
        return screened, wanted

    def mark_done(self, uid: int) -> None:
        assert self.client is not None
        target = self.settings.imap_processed_folder
        if target:
            if self.client.has_capability("MOVE"):
                self.client.move([uid], target)
            else:
                self.client.copy([uid], target)
                self.client.delete_messages([uid])
                self.client.uid_expunge([uid]) if self.client.has_capability("UIDPLUS") else self.client.expunge()
        else:
            self.client.add_flags([uid], [self.settings.imap_done_keyword])

    def wait_for_mail(self) -> None:
        """Block until the server reports a change, the poll interval passes, or stop is set."""
        assert self.client is not None
        if self.client.has_capability("IDLE"):
            self.client.idle()
            try:
                renew_at = time.monotonic() + IDLE_RENEW_SECONDS
                quick_empty = 0
                while not self.stop.is_set() and time.monotonic() < renew_at:
                    self.run_between()
                    asked = time.monotonic()
                    responses = self.client.idle_check(timeout=IDLE_CHECK_SECONDS)
                    if any(_is_bye(r) for r in responses):
                        raise ConnectionResetError("server said BYE")
                    if responses:
                        return
                    # idle_check swallows EOF: a connection the server closed without BYE
                    # (Dovecot restarted, a NAT dropped it) polls readable and yields no
                    # line, at once, forever. A partial TLS record does that once at most.
                    quick_empty = quick_empty + 1 if time.monotonic() - asked < IDLE_CHECK_SECONDS / 2 else 0
                    if quick_empty >= IDLE_EOF_CHECKS:
                        raise ConnectionResetError("server closed the connection during IDLE")
            finally:
                if self.client is not None:
                    self.client.idle_done()
        else:
            deadline = time.monotonic() + self.settings.imap_poll_seconds
            while not self.stop.is_set() and time.monotonic() < deadline:
                self.run_between()
                time.sleep(min(IDLE_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))
            if not self.stop.is_set():
                self.client.noop()

    def run_between(self) -> None:
        """The waiting-work callback; its failure is logged, never ends the session."""
        if self.between is None:
            return
        try:
            self.between()
        except Exception as exc:  # noqa: BLE001 - e.g. a locked database: try again at the next tick
            self.log.error("between_failed", error=f"{exc.__class__.__name__}: {exc}")

    def report_ready(self) -> None:
        """Tell the daemon a pass over the mailbox succeeded; a failing callback never ends the session."""
        if self.ready is None:
            return
        try:
            self.ready()
        except Exception as exc:  # noqa: BLE001 - status reporting is not the relay's job
            self.log.error("ready_failed", error=f"{exc.__class__.__name__}: {exc}")

    def process_until_quiet(self) -> int:
        """Search and process until a search finds nothing new.

        A message that arrives while another is being handled is announced
        (EXISTS) in the middle of some other command, where imapclient drops
        the announcement; IDLE would then wait for the *next* change. Searching
        again before going idle picks it up.
        """
        total = 0
        while not self.stop.is_set():
            handled = self.process_new()
            total += handled
            if handled == 0:
                break
        return total

    def run_session(self, *, once: bool = False) -> None:
        self.connect()
        self.connected = True
        self.log.info("imap_connected", folder=self.settings.imap_folder, uidvalidity=self.uidvalidity)
        try:
            self.process_until_quiet()
            self.report_ready()
            while not once and not self.stop.is_set():
                self.wait_for_mail()
                if not self.stop.is_set():
                    self.process_until_quiet()
                    self.report_ready()
        finally:
            self.close()


def _is_bye(response: object) -> bool:
    return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"


RECOVERABLE = (IMAPClientError, OSError, ssl.SSLError, socket.timeout, ConnectionError, EOFError)
STORE_FAILURES = (sqlite3.Error, StoreUnavailable)


class AuthRejected(Exception):
    """The server rejected the login AUTH_REJECTIONS_FATAL times in a row: a config problem, not the network."""

    def __init__(self, failure: MailFailure, attempts: int) -> None:
        self.failure = failure
        self.attempts = attempts
        super().__init__(f"{failure.line}; gave up after {attempts} rejections in a row")


def run_forever(
    settings: Settings,
    conn: sqlite3.Connection,
    process: Process,
    stop: threading.Event,
    *,
    screen: Screen,
    between: Between | None = None,
    ready: Ready | None = None,
) -> None:
    """Keep a mailbox session going until ``stop``; reconnect with capped exponential backoff.

    A network failure is retried for ever (the backoff is capped at
    BACKOFF_CAP). A rejected login is not: after AUTH_REJECTIONS_FATAL in a row
    this raises :class:`AuthRejected`, because retrying a wrong password trips
    providers' lockouts and only a person can fix it. A session map that cannot
    be written (locked, full) is retried like the network: the worker survives it.
    """
    log = get_logger(component="fetch")
    delay = BACKOFF_START
    rejections = 0
    while not stop.is_set():
        box = ImapSession(settings, conn, process, stop, screen=screen, between=between, ready=ready)
        store_failed = False
        try:
            box.run_session()
        except MailFailure as failure:
            rejections = rejections + 1 if failure.kind == "auth" else 0
            if rejections >= AUTH_REJECTIONS_FATAL:
                raise AuthRejected(failure, rejections) from failure
            log.warning("imap_failed", kind=failure.kind, line=failure.line, retry_in=round(delay, 2))
        except RECOVERABLE as exc:
            lost = imap_errors.lost_connection(exc, host=settings.imap_host, port=settings.imap_port)
            log.warning("imap_disconnected", line=lost.line, retry_in=round(delay, 2))
        except STORE_FAILURES as exc:  # the message in hand was not recorded: it is read again next session
            store_failed = True
            log.error(
                "session_map_failed",
                error=f"{exc.__class__.__name__}: {str(exc)[:300]}",
                path=str(settings.session_map_path),
                retry_in=round(delay, 2),
            )
        finally:
            box.close()
        if stop.is_set():
            break
        box.run_between()  # replies waiting for a busy session do not wait for the mail server
        if box.connected and not store_failed:
            delay = BACKOFF_START  # it had been working: start the backoff over
            rejections = 0
        stop.wait(delay)
        delay = min(BACKOFF_CAP, delay * 2)
