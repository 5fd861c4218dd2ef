"""`taskping-relay`: the daemon that turns replies into keystrokes.

asyncio on the main thread runs the outbox sender (every OUTBOX_INTERVAL
seconds, so a row a hook queued goes out within a second) and the heartbeat
hooks look for; the blocking IMAP loop and the pipeline run in one worker
thread, one message at a time. SIGTERM/SIGINT set the stop flag: the message
in flight is finished, then the IMAP session is closed, the outbox drained
once more, and the process exits 0.

Under systemd (``Type=notify``) the daemon says READY=1 after its first
successful pass over the mailbox (not merely at start: a wrong password must
not look like a running service), keeps ``STATUS=`` current, pings the
watchdog when one is set, and says STOPPING=1 on its way out. Three rejected
logins in a row end it with :class:`fetch.AuthRejected` (exit 78, which the
unit does not restart); network failures are retried with capped backoff.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

from taskping import log_retention
from taskping.config import Settings
from taskping.injectors.base import Target
from taskping.injectors.by_kind import InjectorByKind
from taskping.injectors.pty import NotInjectable, PtyInjector
from taskping.injectors.tmux import TmuxInjector
from taskping.log import get_logger
from taskping.outgoing import smtp
from taskping.relay import fetch
from taskping.relay.pipeline import Pipeline
from taskping.relay.status_line import status_line
from taskping.relay.twin import check_unique_host
from taskping.sd_notify import Notifier
from taskping.session_map import connect, daemons, retention, sessions
from taskping.session_map.sessions import Session

OUTBOX_INTERVAL = 0.25
# The daemon is up anyway, and a connection attempt to a mail server that is down
# costs nothing: retry at least this often, so mail goes out within seconds of the
# server's return (outbox.BACKOFF_CAP_SECONDS, 300 s, is for the hooks' senders).
OUTBOX_BACKOFF_CAP = 15.0
# Forget what RETENTION_DAYS no longer keeps (taskping.session_map.retention): at start, then hourly.
FORGET_INTERVAL = 3600.0


def make_pipeline(settings: Settings, conn: sqlite3.Connection) -> Pipeline:
    """The pipeline with one injector per session mode (tmux, pty), chosen by each session's target."""
    locks = Path(settings.state_dir) / "locks"
    delay = settings.inject_enter_delay_ms

    def secret_for(target: Target) -> str | None:
        session = sessions.by_target(conn, target.socket, target.pane)
        if session is not None and session.not_injectable:
            raise NotInjectable(session.not_injectable)
        return session.control_secret if session is not None else None

    injector = InjectorByKind(
        tmux=TmuxInjector(locks, enter_delay_ms=delay), pty=PtyInjector(locks, secret_for, enter_delay_ms=delay)
    )

    def resumer(session: Session) -> tuple[Session, str] | str:
        from taskping.hooks.resume import ResumeError, resume  # starting a terminal is spawn's job

        try:
            back = resume(settings, session, environment=os.environ)
        except ResumeError as exc:
            return str(exc)
        return back.session, back.attach

    return Pipeline(settings, conn, injector, resumer)


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
        self._check_unique_host()
        conn = connect(self.settings.session_map_path)
        pipeline = make_pipeline(self.settings, conn)
        box = fetch.ImapSession(
            self.settings, conn, lambda raw, pos: pipeline.process(raw, pos), self.stop, screen=pipeline.screen
        )
        try:
            box.run_session(once=True)
        finally:
            box.close()
        pipeline.resume_waiting()  # replies waiting for a busy session: typed now if it is READY
        report = asyncio.run(smtp.drain(self.settings, conn))
        self.log.info("once_done", sent=len(report.sent), retried=len(report.retried), failed=len(report.failed))
        conn.close()
        return 0

    def run(self) -> int:
        """Run until SIGTERM (exit 0). Raises fetch.AuthRejected after repeated login rejections."""
        self._check_unique_host()
        return asyncio.run(self._main())

    def _check_unique_host(self) -> None:
        """Refuse to start when another machine's relay uses our host id (ConfigError)."""
        conn = connect(self.settings.session_map_path)
        try:
            check_unique_host(self.settings, conn)
        finally:
            conn.close()

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        conn = connect(self.settings.session_map_path)
        daemons.beat(conn, "relay")
        self.log.info(
            "relay_started", folder=self.settings.imap_folder, sender_auth=self.settings.effective_sender_auth
        )
        worker_conn = connect(self.settings.session_map_path)
        pipeline = make_pipeline(self.settings, worker_conn)
        passes = threading.Event()  # set by the worker after each successful pass over the mailbox
        worker = asyncio.create_task(
            asyncio.to_thread(
                fetch.run_forever,
                self.settings,
                worker_conn,
                pipeline.process,
                self.stop,
                screen=pipeline.screen,
                between=pipeline.resume_waiting,
                ready=passes.set,
            )
        )
        notify = Notifier.from_env()
        forgetting: asyncio.Task[None] | None = None  # the retention run in progress
        try:
            beat_due = watchdog_due = forget_due = 0.0
            ready = False
            status = ""
            while not self.stop.is_set():
                now = loop.time()
                if now >= beat_due:
                    daemons.beat(conn, "relay")
                    beat_due = now + daemons.HEARTBEAT_SECONDS
                    if ready:
                        status = self._status(notify, conn, status)
                if passes.is_set():
                    passes.clear()
                    if not ready:
                        ready = True
                        status = status_line(conn, self.settings.imap_folder)
                        notify.ready(status)
                        self.log.info("relay_ready", status=status)
                    else:
                        status = self._status(notify, conn, status)
                if notify.watchdog_interval and now >= watchdog_due:
                    notify.watchdog()
                    watchdog_due = now + notify.watchdog_interval
                if now >= forget_due and (forgetting is None or forgetting.done()):
                    forget_due = now + FORGET_INTERVAL
                    forgetting = asyncio.create_task(self._forget())  # not awaited: beats and sends go on
                await self._drain(conn)
                if worker.done():
                    break
                await asyncio.sleep(OUTBOX_INTERVAL)
            notify.stopping("stopping: finishing the message in flight")
            await worker
            await self._drain(conn)
        finally:
            self.stop.set()
            if forgetting is not None:
                await forgetting  # its thread ends its transaction (or VACUUM) before the process does
            notify.stopping()
            notify.close()
            daemons.clear(conn, "relay")
            conn.close()
            worker_conn.close()
        self.log.info("relay_stopped")
        return 0

    def _status(self, notify: Notifier, conn: sqlite3.Connection, previous: str) -> str:
        """Send STATUS= when it changed; returns the current line."""
        current = status_line(conn, self.settings.imap_folder)
        if current != previous:
            notify.status(current)
        return current

    async def _drain(self, conn: sqlite3.Connection) -> None:
        try:
            report = await smtp.drain(self.settings, conn, backoff_cap=OUTBOX_BACKOFF_CAP)
        except Exception as exc:  # noqa: BLE001 - the daemon outlives a bad send
            self.log.error("outbox_error", error=f"{exc.__class__.__name__}: {exc}")
            return
        for mid, reason in report.retried:
            self.log.warning("send_retry", message_id=mid, reason=reason)
        for mid, reason in report.failed:
            self.log.error("send_failed", message_id=mid, reason=reason)

    async def _forget(self) -> None:
        """One maintenance run on its own connection and thread (a VACUUM may take seconds): close
        TaskPing's orphaned terminals (:mod:`taskping.hooks.orphans`), then retention."""
        days = self.settings.retention_days
        logs = [self.settings.audit_path, self.settings.log_path]

        def run() -> tuple[list[str], retention.Report, dict[str, int]]:
            from taskping.hooks import orphans  # TaskPing's own leftover terminals

            conn = connect(self.settings.session_map_path)
            try:
                closed = [f"{c.session.name}: {c.what}" for c in orphans.clean(conn, ttl=self.settings.token_ttl)]
                report = retention.forget(conn, days=days)
            finally:
                conn.close()
            return closed, report, log_retention.trim_all(logs, days=days, now=time.time())

        try:
            closed, report, dropped = await asyncio.to_thread(run)
        except Exception as exc:  # noqa: BLE001 - the daemon outlives a failed clean-up; the next hour retries
            self.log.error("retention_error", error=f"{exc.__class__.__name__}: {exc}")
            return
        if closed:
            self.log.info("orphans_closed", closed=closed)
        if report.anything:
            self.log.info("retention", days=days, **report.counts())
        if any(dropped.values()):
            self.log.info("log_retention", days=days, dropped=dropped)

    def _request_stop(self, sig: int) -> None:
        self.log.info("stop_requested", signal=signal.Signals(sig).name)
        self.stop.set()
