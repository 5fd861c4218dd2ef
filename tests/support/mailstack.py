"""A real mail stack on loopback for tests: Dovecot 2.3 (IMAP + LMTP) and an
aiosmtpd SMTP front that hands local mail to Dovecot over LMTP.

Everything lives in a temporary directory that the :class:`MailStack` owns:
the Dovecot configuration, a throw-away CA and server certificate made with
the ``openssl`` CLI, the passwd-file of users, the maildirs, and a "sink"
directory that collects mail for recipients who are not Dovecot users (that
is where a test reads what TaskPing sent to the outside world).

Layout of the SMTP front (one asyncio loop in a background thread):

* ``smtp_port``        plain SMTP that offers STARTTLS; AUTH only after STARTTLS
* ``smtps_port``       implicit TLS (SMTPS); AUTH allowed at once
* ``smtp_plain_port``  plain SMTP, no TLS at all; AUTH allowed in the clear

With ``smtp_auth=True`` (the default) every port requires AUTH before MAIL.
Any Dovecot user can log in with their password, and so can the stack's own
submitter account (:attr:`MailStack.submitter`) that :meth:`MailStack.send`
uses.

Dovecot listens on ``imaps_port`` (implicit TLS) and ``imap_port`` (plain,
offering STARTTLS), and on a unix socket for LMTP (``lmtp_socket``).

Processes are tracked by PID: :meth:`MailStack.stop` ends Dovecot's master and
only the processes of the process group it created, waits for them, then
removes the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import grp
import json
import logging
import os
import pwd
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from imapclient import IMAPClient


class _DropLoginDataNoise(logging.Filter):
    """aiosmtpd itself sets its deprecated Session.login_data after every AUTH and
    logs a warning about it each time: noise in every test's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_DropLoginDataNoise())

DEFAULT_DOMAIN = "example.test"
LOOPBACK = "127.0.0.1"


class MailStackError(RuntimeError):
    """The stack could not be started or a Dovecot tool failed."""


class StoredMessage(NamedTuple):
    """One message in an IMAP folder, as read by :meth:`MailStack.messages`."""

    uid: int
    flags: tuple[bytes, ...]
    raw: bytes


class SinkMessage(NamedTuple):
    """A message the SMTP front accepted for a recipient who is not a Dovecot user."""

    path: Path
    mail_from: str
    rcpt_to: str
    raw: bytes


@dataclass
class Submission:
    """One message accepted by the SMTP front (whatever its recipients)."""

    port: int
    login: str | None
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    when: float = field(default_factory=time.time)


# --------------------------------------------------------------------- helpers


def find_tool(name: str) -> str | None:
    """Find a program on PATH or in the sbin directories (Dovecot lives in /usr/sbin)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct TCP ports that are free on ``host`` right now.

    All sockets are held open until every port is chosen, so the ports differ.
    Dovecot does not accept port 0, hence this dance.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _run(argv: Sequence[str], *, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise MailStackError(f"{' '.join(argv)} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return proc


@dataclass(frozen=True)
class TLSFiles:
    """Paths of a test CA and a server certificate signed by it."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context using the server certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client-side TLS context that trusts only the test CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_tls(directory: Path, hosts: Iterable[str] = ("localhost", LOOPBACK, "::1")) -> TLSFiles:
    """Make a self-signed CA and a server certificate for ``hosts`` with the openssl CLI.

    EC P-256 keys keep this to a few milliseconds.
    """
    openssl = find_tool("openssl")
    if openssl is None:
        raise MailStackError("openssl is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "server.ext"
    sans = ",".join((f"IP:{h}" if _is_ip(h) else f"DNS:{h}") for h in hosts)
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={sans}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(
        [
            openssl,
            "req",
            "-x509",
            *ec,
            "-keyout",
            str(ca_key),
            "-out",
            str(ca_crt),
            "-days",
            "3",
            "-subj",
            "/CN=TaskPing Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]
    )
    _run([openssl, "req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost"])
    _run(
        [
            openssl,
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_crt),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(crt),
            "-days",
            "3",
            "-extfile",
            str(ext),
        ]
    )
    for path in (ca_crt, crt):
        path.chmod(0o644)
    key.chmod(0o600)
    return TLSFiles(ca_file=ca_crt, cert_file=crt, key_file=key)


def _is_ip(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except OSError:
            continue
    return False


def _wait_port(host: str, port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _listening(unix_path: Path, ports: Sequence[int]) -> bool:
    """True when ``unix_path`` and every loopback TCP port in ``ports`` are listening.

    Read from /proc/net so that probing does not make Dovecot start login
    processes (a connection would). Falls back to connecting without /proc.
    """
    try:
        tcp = Path("/proc/net/tcp").read_text()
        unix = Path("/proc/net/unix").read_text()
    except OSError:
        if not _unix_accepts(unix_path):
            return False
        try:
            for port in ports:
                _wait_port(LOOPBACK, port, time.monotonic())
        except OSError:
            return False
        return True
    listening = set()
    for line in tcp.splitlines()[1:]:
        cols = line.split()
        if len(cols) > 3 and cols[3] == "0A":  # TCP_LISTEN
            listening.add(cols[1])
    wanted = {f"0100007F:{port:04X}" for port in ports}
    if not wanted <= listening:
        return False
    return any(line.endswith(" " + str(unix_path)) for line in unix.splitlines())


def _unix_accepts(path: Path) -> bool:
    """True when a unix stream socket at ``path`` accepts a connection."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(0.2)
        sock.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _pgrp_members(pgid: int) -> list[int]:
    """PIDs of live processes whose process group is ``pgid`` (Linux /proc)."""
    members: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ... ; comm may contain spaces/parens
        rest = stat[stat.rfind(")") + 2 :].split()
        if len(rest) >= 3 and int(rest[2]) == pgid and rest[0] != "Z":
            members.append(int(entry.name))
    return members


# ------------------------------------------------------------------ SMTP front


class _Router:
    """aiosmtpd handler: LMTP for Dovecot users, the sink directory for others."""

    def __init__(self, stack: MailStack, port: int) -> None:
        self.stack = stack
        self.port = port

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        if isinstance(raw, str):  # pragma: no cover - decode_data is off
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        login = session.auth_data if session.authenticated else None
        tls = bool(getattr(session, "ssl", None)) or self.port == self.stack.smtps_port
        self.stack.submissions.append(
            Submission(
                self.port,
                login if isinstance(login, str) else None,
                envelope.mail_from,
                list(envelope.rcpt_tos),
                raw,
                tls,
            )
        )
        try:
            await loop.run_in_executor(None, self.stack._route, envelope.mail_from, list(envelope.rcpt_tos), raw)
        except Exception as exc:  # noqa: BLE001 - reported to the SMTP client
            return f"451 4.3.0 local delivery failed: {exc.__class__.__name__}"
        return "250 2.0.0 OK queued"


async def cut_and_close(servers: Iterable[asyncio.AbstractServer], transports: Iterable[asyncio.BaseTransport]) -> None:
    """Stop listening, cut every connection and end every other task of the running loop."""
    servers = list(servers)
    for srv in servers:
        srv.close()
    for transport in transports:
        try:
            transport.abort()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - already half-closed (e.g. after STARTTLS)
            with contextlib.suppress(Exception):
                transport.close()
    for srv in servers:
        await srv.wait_closed()
    # let connection_lost callbacks and handlers finish
    await asyncio.sleep(0)
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class _SmtpFront:
    """The SMTP servers of a stack, on one asyncio loop in a daemon thread."""

    def __init__(self, stack: MailStack) -> None:
        self.stack = stack
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.servers: list[asyncio.AbstractServer] = []
        self.transports: set[asyncio.BaseTransport] = set()

    def start(self) -> None:
        from aiosmtpd.smtp import SMTP

        stack = self.stack
        tls = stack.tls
        assert tls is not None
        server_ctx = tls.server_context()
        front = self

        class TrackedSMTP(SMTP):  # type: ignore[misc]
            """SMTP that remembers its transport so stop_smtp() can cut it."""

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                front.transports.add(transport)
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                front.transports.discard(self._original_transport or self.transport)
                super().connection_lost(exc)

        def factory(port: int, *, starttls: bool) -> Any:
            def make() -> SMTP:
                with warnings.catch_warnings():
                    # "Requiring AUTH while not requiring TLS": intended on the
                    # implicit-TLS port (already encrypted) and the plain port.
                    warnings.simplefilter("ignore", UserWarning)
                    return make_smtp()

            def make_smtp() -> SMTP:
                return TrackedSMTP(
                    _Router(stack, port),
                    hostname=f"mail.{stack.domain}",
                    tls_context=server_ctx if starttls else None,
                    require_starttls=False,
                    auth_required=stack.smtp_auth,
                    auth_require_tls=starttls,
                    authenticator=stack._authenticate,
                )

            return make

        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)

            async def serve() -> None:
                specs = [
                    (stack.smtp_port, True, None),
                    (stack.smtps_port, False, server_ctx),
                    (stack.smtp_plain_port, False, None),
                ]
                for port, starttls, ctx in specs:
                    srv = await loop.create_server(
                        factory(port, starttls=starttls), LOOPBACK, port, ssl=ctx, reuse_address=True
                    )
                    self.servers.append(srv)

            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # noqa: BLE001 - handed to start()
                errors.append(exc)
                for srv in self.servers:
                    srv.close()
                self.servers.clear()
                loop.close()
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self.thread = threading.Thread(target=run, name="mailstack-smtp", daemon=True)
        self.thread.start()
        ready.wait(10)
        if errors:
            self.thread.join(5)
            self.thread = self.loop = None
            in_use = isinstance(errors[0], OSError) and errors[0].errno == errno.EADDRINUSE
            raise MailStackError(f"SMTP front failed to start: {errors[0]!r}" + (" (port in use)" if in_use else ""))

    def stop(self) -> None:
        loop, thread = self.loop, self.thread
        if loop is None or thread is None:
            return

        try:
            if thread.is_alive():
                asyncio.run_coroutine_threadsafe(cut_and_close(self.servers, list(self.transports)), loop).result(10)
        finally:
            if thread.is_alive():
                loop.call_soon_threadsafe(loop.stop)
                thread.join(10)
            self.servers.clear()
            self.transports.clear()
            self.loop = None
            self.thread = None


# ------------------------------------------------------------------ the stack


class MailStack:
    """Dovecot (IMAP, LMTP) plus an SMTP front, in a temporary directory it owns.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    host: str = LOOPBACK

    def __init__(
        self,
        users: Iterable[tuple[str, str]] | dict[str, str] = (),
        *,
        domain: str = DEFAULT_DOMAIN,
        smtp_auth: bool = True,
        base: str | os.PathLike[str] | None = None,
    ) -> None:
        """``users``: (name, password) pairs created at start. ``smtp_auth``:
        require AUTH before MAIL on every SMTP port. ``base``: parent of the temp dir."""
        pairs = users.items() if isinstance(users, dict) else users
        self.users: dict[str, str] = {}
        for name, password in pairs:
            self._check_user(name, password)
            self.users[name] = password
        self.domain = domain
        self.smtp_auth = smtp_auth
        self._base = base
        self.dir: Path | None = None
        self._run_dir: Path | None = None
        self._own_run_dir = False
        self.tls: TLSFiles | None = None
        self.imap_port = self.imaps_port = 0
        self.smtp_port = self.smtps_port = self.smtp_plain_port = 0
        self.submitter: tuple[str, str] = ("stack-submitter", os.urandom(8).hex())
        self.submissions: list[Submission] = []
        self.startup_seconds: float | None = None
        self.stop_seconds: float | None = None
        self._dovecot: subprocess.Popen[bytes] | None = None
        self._smtp = _SmtpFront(self)
        self._sink_seq = 0
        self._sink_lock = threading.Lock()
        self._users_lock = threading.Lock()

    # -- paths

    def _path(self, *parts: str) -> Path:
        if self.dir is None:
            raise MailStackError("the stack is not started")
        return self.dir.joinpath(*parts)

    @property
    def config_file(self) -> Path:
        """Dovecot's configuration file."""
        return self._path("dovecot.conf")

    @property
    def log_file(self) -> Path:
        """Dovecot's log (all levels)."""
        return self._path("dovecot.log")

    @property
    def run_dir(self) -> Path:
        """Dovecot's base_dir (its sockets): inside :attr:`dir`, or a short dir in
        /tmp when that path would be too long for unix socket names."""
        if self._run_dir is None:
            raise MailStackError("the stack is not started")
        return self._run_dir

    @property
    def lmtp_socket(self) -> Path:
        """Dovecot's LMTP unix socket."""
        return self.run_dir / "lmtp"

    @property
    def sink_dir(self) -> Path:
        """Where mail for recipients who are not Dovecot users is written."""
        return self._path("sink")

    @property
    def mail_dir(self) -> Path:
        """Parent of every user's maildir (``mail_dir/<user>``)."""
        return self._path("mail")

    @property
    def ca_file(self) -> Path:
        """The test CA certificate (PEM): set ``SSL_CERT_FILE`` to it."""
        if self.tls is None:
            raise MailStackError("the stack is not started")
        return self.tls.ca_file

    @property
    def dovecot_pid(self) -> int | None:
        """PID of Dovecot's master process, while it runs."""
        return self._dovecot.pid if self._dovecot is not None else None

    def address(self, user: str) -> str:
        """The e-mail address of a stack user (``user@domain``)."""
        return user if "@" in user else f"{user}@{self.domain}"

    # -- lifecycle

    def __enter__(self) -> MailStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> MailStack:
        """Create the directory, the CA and certificates, start Dovecot and SMTP."""
        if self.dir is not None:
            raise MailStackError("the stack is already started")
        t0 = time.monotonic()
        for tool in ("dovecot", "doveadm"):
            if find_tool(tool) is None:
                raise MailStackError(f"{tool} is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")
        self.dir = Path(tempfile.mkdtemp(prefix="taskping-mail-", dir=self._base))
        try:
            self.dir.chmod(0o755)
            # Dovecot's deepest socket is run/token-login/imap-urlauth; unix socket
            # names are limited to 107 bytes.
            if len(str(self.dir / "run" / "token-login" / "imap-urlauth")) > 100:
                short = Path(tempfile.mkdtemp(prefix="tpmail-", dir="/tmp"))
                self._run_dir, self._own_run_dir = short / "run", True
                short.chmod(0o755)
            else:
                self._run_dir = self.dir / "run"
            self.tls = make_tls(self.dir / "tls")
            self.mail_dir.mkdir()
            self.sink_dir.mkdir()
            self._path("state").mkdir()
            if os.geteuid() == 0:
                os.chown(self.mail_dir, pwd.getpwnam("mail").pw_uid, grp.getgrnam("mail").gr_gid)
            self._write_users()
            last_error: Exception | None = None
            for _attempt in range(3):
                ports = free_ports(5)
                self.imap_port, self.imaps_port, self.smtp_port, self.smtps_port, self.smtp_plain_port = ports
                self._write_config()
                try:
                    self._start_dovecot()
                    break
                except MailStackError as exc:  # a port raced away: pick others
                    last_error = exc
                    if "in use" not in str(exc):
                        raise
            else:
                raise last_error or MailStackError("Dovecot failed to start")
            for attempt in range(3):
                try:
                    self._smtp.start()
                    break
                except MailStackError as exc:  # a port raced away: pick others
                    if "in use" not in str(exc) or attempt == 2:
                        raise
                    self.smtp_port, self.smtps_port, self.smtp_plain_port = free_ports(3)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop SMTP and Dovecot (only the processes this stack started), remove the dir."""
        t0 = time.monotonic()
        errors: list[BaseException] = []
        for step in (self._smtp.stop, self._stop_dovecot):
            try:  # every step runs even if an earlier one failed
                step()
            except Exception as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)
        if self.dir is not None:
            for _ in range(10):  # a straggling client process may still write into it
                shutil.rmtree(self.dir, ignore_errors=True)
                if not self.dir.exists():
                    break
                time.sleep(0.05)
            self.dir = None
            if self._own_run_dir and self._run_dir is not None:
                shutil.rmtree(self._run_dir.parent, ignore_errors=True)
            self._run_dir = None
            self._own_run_dir = False
            self.stop_seconds = time.monotonic() - t0
        self.tls = None
        if errors:
            raise errors[0]

    def stop_smtp(self) -> None:
        """Close every SMTP listener and cut open SMTP connections (an outage)."""
        self._smtp.stop()

    def start_smtp(self) -> None:
        """Listen again on the same SMTP ports after :meth:`stop_smtp`."""
        if self._smtp.thread is None:
            self._smtp.start()

    def restart_dovecot(self) -> None:
        """Stop Dovecot and start it again on the same directory and ports.

        Mailboxes, UIDs and UIDVALIDITY are kept; open IMAP connections are dropped.
        """
        self._stop_dovecot()
        self._start_dovecot()

    # -- Dovecot process

    def _write_users(self) -> None:
        lines = [f"{name}:{{PLAIN}}{password}::::::\n" for name, password in self.users.items()]
        path = self._path("users")
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        tmp.chmod(0o644)
        os.replace(tmp, path)

    def _write_config(self) -> None:
        d = self.dir
        assert d is not None and self.tls is not None
        root = os.geteuid() == 0
        if root:
            identity = (
                "default_internal_user = dovecot\n"
                "default_login_user = dovenull\n"
                "mail_uid = mail\nmail_gid = mail\nfirst_valid_uid = 8\n"
            )
            chroots = ""
        else:  # an ordinary user: run every service as that user, without chroot
            me = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            identity = (
                f"default_internal_user = {me}\ndefault_internal_group = {group}\n"
                f"default_login_user = {me}\n"
                f"mail_uid = {os.geteuid()}\nmail_gid = {os.getegid()}\n"
                f"first_valid_uid = {os.geteuid()}\nfirst_valid_gid = {os.getegid()}\n"
            )
            chroots = "".join(
                f"service {svc} {{\n  chroot =\n}}\n"
                for svc in ("anvil", "imap-login", "pop3-login", "submission-login")
            )
        dh = ""  # no ssl_dh: checking a 4096-bit DH file costs imap-login seconds of CPU
        config = f"""# written by tests/support/mailstack.py
instance_name = taskping-test-{self.imap_port}
base_dir = {self.run_dir}
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
debug_log_path = {d}/dovecot.log
listen = {LOOPBACK}
protocols = imap lmtp
{identity}ssl = yes
ssl_cert = <{self.tls.cert_file}
ssl_key = <{self.tls.key_file}
{dh}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%n
# IDLE is woken by inotify; after `doveadm mailbox update --uid-validity` a
# session's watch sometimes misses the next delivery (1 run in 5) and the
# default fallback check is 30 s. Providers' servers do their own; the relay's
# 15 s search bounds it anyway. 1 s keeps the tests' timings about the relay.
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/users
  default_fields = home={d}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = {LOOPBACK}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {LOOPBACK}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
{chroots}protocol lmtp {{
  postmaster_address = postmaster@{self.domain}
}}
"""
        self.config_file.write_text(config)
        self.config_file.chmod(0o644)

    def _start_dovecot(self) -> None:
        dovecot = find_tool("dovecot")
        assert dovecot is not None
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        self._dovecot = subprocess.Popen(
            [dovecot, "-F", "-c", str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self._path("dovecot.stderr"), "ab"),  # noqa: SIM115 - inherited by the child
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        try:
            while True:
                if self._dovecot.poll() is not None:
                    raise MailStackError("Dovecot exited at start: " + self._dovecot_errors(log_offset))
                if _listening(self.lmtp_socket, [self.imap_port, self.imaps_port]):
                    return
                if time.monotonic() > deadline:
                    raise MailStackError("Dovecot did not become ready: " + self._dovecot_errors(log_offset))
                time.sleep(0.005)
        except BaseException:
            self._stop_dovecot()
            raise

    def _dovecot_errors(self, log_offset: int) -> str:
        parts = []
        with contextlib.suppress(OSError):
            parts.append(self._path("dovecot.stderr").read_text(errors="replace")[-2000:])
        with contextlib.suppress(OSError):
            with open(self.log_file, "rb") as fh:
                fh.seek(log_offset)
                parts.append(fh.read().decode(errors="replace")[-2000:])
        text = "\n".join(p.strip() for p in parts if p.strip())
        if "Address already in use" in text:
            text += "\n(port in use)"
        return text

    def _stop_dovecot(self) -> None:
        """End Dovecot: SIGTERM to the process group this stack created, then
        SIGKILL for whatever is left after 0.5 s (an imap-login process whose
        client vanished mid-handshake can sit on SIGTERM for seconds).

        Dovecot's master waits up to 6 s for children that die at the same time
        as it does (it misses their exit), so once every child is gone the master
        gets a short grace period and then SIGKILL. The master is waited for
        without being reaped until the end, so its PID (the group ID) cannot be
        reused while we look for group members.
        """
        proc = self._dovecot
        if proc is None:
            return
        self._dovecot = None
        pid = proc.pid
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            started = time.monotonic()
            children_gone_at: float | None = None
            while True:
                master_done = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
                children = [p for p in _pgrp_members(pid) if p != pid]
                now = time.monotonic()
                if master_done and not children:
                    break
                if not children and children_gone_at is None:
                    children_gone_at = now
                if now - started > 0.5:  # e.g. an imap-login that sits on SIGTERM
                    for child in children:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(child, signal.SIGKILL)
                if not master_done and (now - started > 0.5 or (children_gone_at and now - children_gone_at > 0.1)):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                if now - started > 15.0:
                    raise MailStackError(f"Dovecot (pid {pid}) did not stop")
                time.sleep(0.005)
        proc.wait(10)

    # -- users

    @staticmethod
    def _check_user(name: str, password: str) -> None:
        bad = set(":\n\r\0@/ ")
        if not name or any(c in bad for c in name) or any(c in ":\n\r\0" for c in password):
            raise ValueError(f"unusable user name or password for {name!r}")

    def add_user(self, name: str, password: str) -> str:
        """Create (or change the password of) a Dovecot user; returns the address.

        Works before and after :meth:`start`: Dovecot rereads the passwd-file.
        """
        self._check_user(name, password)
        with self._users_lock:
            self.users[name] = password
            if self.dir is not None:
                self._write_users()
        return self.address(name)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            name = login.split("@", 1)[0] if login.endswith("@" + self.domain) else login
            expected = self.users.get(name)
            if name == self.submitter[0]:
                expected = self.submitter[1]
            if expected is not None and password == expected:
                return AuthResult(success=True, auth_data=login)
        # handled=False: aiosmtpd sends 535 itself (handled=True would hang the client)
        return AuthResult(success=False, handled=False)

    def local_user(self, address: str) -> str | None:
        """The Dovecot user an address belongs to, or None."""
        _, addr = email.utils.parseaddr(address)
        local, sep, domain = (addr or address).rpartition("@")
        if not sep or domain.lower() != self.domain.lower():
            return None
        return local if local in self.users else None

    # -- delivery

    def _route(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        for rcpt in rcpt_tos:
            if self.local_user(rcpt) is not None:
                self.deliver(raw, rcpt, from_=mail_from)
            else:
                self._sink(mail_from, rcpt, raw)

    def _sink(self, mail_from: str, rcpt: str, raw: bytes) -> Path:
        with self._sink_lock:
            self._sink_seq += 1
            stem = self.sink_dir / f"{self._sink_seq:05d}"
        stem.with_suffix(".json").write_text(json.dumps({"mail_from": mail_from, "rcpt_to": rcpt}))
        path = stem.with_suffix(".eml")
        tmp = stem.with_suffix(".part")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
        return path

    def sink_messages(self) -> list[SinkMessage]:
        """Messages accepted for recipients who are not Dovecot users, oldest first."""
        out: list[SinkMessage] = []
        for path in sorted(self.sink_dir.glob("*.eml")):
            meta = json.loads(path.with_suffix(".json").read_text())
            out.append(SinkMessage(path, meta["mail_from"], meta["rcpt_to"], path.read_bytes()))
        return out

    def wait_for_sink(self, n: int, timeout: float = 5.0) -> list[SinkMessage]:
        """Wait until the sink holds at least ``n`` messages; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.sink_messages()
            if len(found) >= n:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"sink has {len(found)} message(s), wanted {n}")
            time.sleep(0.02)

    def deliver(self, raw: bytes, to: str, *, from_: str = "") -> None:
        """Deliver ``raw`` straight into a user's INBOX over Dovecot's LMTP."""
        rcpt = self.address(to)
        with smtplib.LMTP(str(self.lmtp_socket), timeout=30) as lmtp:
            refused = lmtp.sendmail(from_ or f"postmaster@{self.domain}", [rcpt], raw)
        if refused:
            raise MailStackError(f"LMTP refused {rcpt}: {refused}")

    def send(
        self,
        raw: bytes,
        to: str | Sequence[str],
        from_: str,
        *,
        login: tuple[str, str] | None = None,
    ) -> None:
        """Submit ``raw`` through the SMTP front (STARTTLS port, AUTH).

        ``login`` defaults to the stack's submitter account.
        """
        rcpts = [to] if isinstance(to, str) else list(to)
        rcpts = [self.address(r) for r in rcpts]
        assert self.tls is not None
        with smtplib.SMTP(self.host, self.smtp_port, timeout=30) as smtp:
            smtp.starttls(context=self.tls.client_context())
            if self.smtp_auth or login:
                smtp.login(*(login or self.submitter))
            smtp.sendmail(from_, rcpts, raw)

    # -- IMAP

    def client_context(self) -> ssl.SSLContext:
        """A verifying TLS client context trusting the stack's CA."""
        assert self.tls is not None
        return self.tls.client_context()

    def imap(self, user: str, *, tls: bool = True, timeout: float = 10.0) -> IMAPClient:
        """A logged-in IMAPClient for ``user`` (implicit TLS; ``tls=False``: plain + STARTTLS)."""
        if tls:
            client = IMAPClient(
                self.host, self.imaps_port, ssl=True, ssl_context=self.client_context(), timeout=timeout
            )
        else:
            client = IMAPClient(self.host, self.imap_port, ssl=False, timeout=timeout)
            client.starttls(self.client_context())
        try:
            client.login(user, self.users[user])
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    def messages(self, user: str, folder: str = "INBOX") -> list[StoredMessage]:
        """Every message in ``folder`` as (uid, flags, raw), without setting \\Seen."""
        client = self.imap(user)
        try:
            return self._fetch_all(client, folder)
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    @staticmethod
    def _fetch_all(client: IMAPClient, folder: str) -> list[StoredMessage]:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        if not uids:
            return []
        data = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"])
        return [StoredMessage(uid, tuple(data[uid][b"FLAGS"]), data[uid][b"BODY[]"]) for uid in sorted(data)]

    def wait_for_messages(self, user: str, n: int, timeout: float = 5.0, folder: str = "INBOX") -> list[StoredMessage]:
        """Wait until ``folder`` holds at least ``n`` messages; return them all (unseen kept)."""
        deadline = time.monotonic() + timeout
        client = self.imap(user)
        try:
            while True:
                found = self._fetch_all(client, folder)
                if len(found) >= n:
                    return found
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{user}/{folder} has {len(found)} message(s), wanted {n}")
                time.sleep(0.02)
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """The folder's current UIDVALIDITY."""
        client = self.imap(user)
        try:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    # -- doveadm

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``doveadm -c CONFIG ARGS...`` against this stack's Dovecot."""
        doveadm = find_tool("doveadm")
        assert doveadm is not None
        return _run([doveadm, "-c", str(self.config_file), *args], check=check)

    def kick(self, user: str) -> bool:
        """Drop every IMAP connection of ``user`` (``doveadm kick``): the client sees BYE.

        Returns False when ``user`` had no connection to drop.
        """
        proc = self.doveadm("kick", user, check=False)
        if proc.returncode == 68 and "no users kicked" in (proc.stdout + proc.stderr):
            return False
        if proc.returncode != 0:
            raise MailStackError(
                f"doveadm kick {user} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}"
            )
        return True

    def set_uidvalidity(self, user: str, folder: str, n: int) -> None:
        """Change a folder's UIDVALIDITY (``doveadm mailbox update --uid-validity``)."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(n), folder)

    # -- TaskPing

    def taskping_env(
        self,
        user: str = "taskping",
        email_to: str | None = None,
        **overrides: str | int | None,
    ) -> dict[str, str]:
        """TaskPing's configuration keys pointing at this stack.

        SMTP is STARTTLS with AUTH as ``user``; IMAP is implicit TLS as ``user``;
        ``SSL_CERT_FILE`` is the stack's CA. ``email_to`` defaults to ``me@<domain>``
        and is also the only allowed sender. ``overrides`` win (a value of
        ``None`` removes the key).
        """
        to = self.address(email_to or "me")
        password = self.users[user]
        state = self._path("taskping-state", user)
        state.mkdir(parents=True, exist_ok=True)
        env: dict[str, str] = {
            "IMAP_HOST": self.host,
            "IMAP_PORT": str(self.imaps_port),
            "IMAP_SECURE": "ssl",
            "IMAP_USER": user,
            "IMAP_PASS": password,
            "IMAP_FOLDER": "INBOX",
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_SECURE": "starttls",
            "SMTP_USER": user,
            "SMTP_PASS": password,
            "EMAIL_FROM": self.address(user),
            "EMAIL_TO": to,
            "ALLOWED_SENDERS": to,
            "SESSION_MAP_PATH": str(state / "taskping.db"),
            "SSL_CERT_FILE": str(self.ca_file),
        }
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        return env
