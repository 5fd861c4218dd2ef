"""`taskping-relay`: the daemon that turns replies into keystrokes.

asyncio on the main thread runs the outbox sender (every OUTBOX_INTERVAL
seconds, so a row a hook queued goes out within a second) and the heartbeat
hooks look for; the blocking IMAP loop and the pipeline run in one worker
thread, one message at a time. SIGTERM/SIGINT set the stop flag: the message
in flight is finished, then the IMAP session is closed, the outbox drained
once more, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path

from taskping.config import Settings
from taskping.injectors.tmux import TmuxInjector
from taskping.log import get_logger
from taskping.relay import fetch, sender
from taskping.relay.pipeline import Pipeline
from taskping.session_map import connect, daemons

OUTBOX_INTERVAL = 0.25
# The daemon is up anyway, and a connection attempt to a mail server that is down
# costs nothing: retry at least this often, so mail goes out within seconds of the
# server's return (outbox.BACKOFF_CAP_SECONDS, 300 s, is for the hooks' senders).
OUTBOX_BACKOFF_CAP = 15.0


def make_pipeline(settings: Settings, conn) -> Pipeline:  # type: ignore[no-untyped-def]
    injector = TmuxInjector(Path(settings.state_dir) / "locks", enter_delay_ms=settings.inject_enter_delay_ms)
    return Pipeline(settings, conn, injector)


class Relay:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.log = get_logger(component="relay")

    def check(self) -> str:
        """Validate everything the relay needs before starting. Raises ConfigError."""
        s = self.settings
        s.require("imap_host", "imap_user", "imap_pass", "email_from", "allowed_senders")
        mode = s.require_sender_auth()
        s.require("smtp_host")  # acknowledgements, refusals and notifications go out over SMTP
        return mode

    def run_once(self) -> int:
        """Process the mailbox's backlog, send the outbox, exit."""
        conn = connect(self.settings.session_map_path)
        pipeline = make_pipeline(self.settings, conn)
        box = fetch.Mailbox(self.settings, conn, lambda raw, pos: pipeline.process(raw, pos), self.stop,
                            screen=pipeline.screen)
        try:
            box.run_session(once=True)
        finally:
            box.close()
        pipeline.resume_waiting()  # replies waiting for a busy session: typed now if it is READY
        report = asyncio.run(sender.drain(self.settings, conn))
        self.log.info("once_done", sent=len(report.sent), retried=len(report.retried), failed=len(report.failed))
        conn.close()
        return 0

    def run(self) -> int:
        return asyncio.run(self._main())

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        conn = connect(self.settings.session_map_path)
        daemons.beat(conn, "relay")
        self.log.info("relay_started", folder=self.settings.imap_folder, sender_auth=self.settings.effective_sender_auth)
        worker_conn = connect(self.settings.session_map_path)
        pipeline = make_pipeline(self.settings, worker_conn)
        worker = asyncio.create_task(
            asyncio.to_thread(
                fetch.run_forever, self.settings, worker_conn, pipeline.process, self.stop,
                screen=pipeline.screen, between=pipeline.resume_waiting,
            )
        )
        try:
            beat_due = 0.0
            while not self.stop.is_set():
                now = loop.time()
                if now >= beat_due:
                    daemons.beat(conn, "relay")
                    beat_due = now + daemons.HEARTBEAT_SECONDS
                await self._drain(conn)
                if worker.done():
                    break
                await asyncio.sleep(OUTBOX_INTERVAL)
            await worker
            await self._drain(conn)
        finally:
            daemons.clear(conn, "relay")
            conn.close()
            worker_conn.close()
        self.log.info("relay_stopped")
        return 0

    async def _drain(self, conn) -> None:  # type: ignore[no-untyped-def]
        try:
            report = await sender.drain(self.settings, conn, backoff_cap=OUTBOX_BACKOFF_CAP)
        except Exception as exc:  # noqa: BLE001 - the daemon outlives a bad send
            self.log.error("outbox_error", error=f"{exc.__class__.__name__}: {exc}")
            return
        for mid, reason in report.retried:
            self.log.warning("send_retry", message_id=mid, reason=reason)
        for mid, reason in report.failed:
            self.log.error("send_failed", message_id=mid, reason=reason)

    def _request_stop(self, sig: int) -> None:
        self.log.info("stop_requested", signal=signal.Signals(sig).name)
        self.stop.set()
