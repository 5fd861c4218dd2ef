"""systemd's notify protocol, spoken with the standard library (no dependency).

Under ``Type=notify`` systemd hands the service a datagram socket in
``$NOTIFY_SOCKET`` and waits for ``READY=1`` before calling it started; with
``WatchdogSec=`` it sets ``$WATCHDOG_USEC`` and restarts a service that stops
sending ``WATCHDOG=1``. Messages are newline-separated ``KEY=value`` lines in
one datagram. A path starting with ``@`` is an abstract socket. Outside
systemd (no ``$NOTIFY_SOCKET``) every call does nothing, so the daemon speaks
the protocol unconditionally.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    """One process's channel to the service manager."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Read ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC`` (the latter only when meant for this PID)."""
        env = os.environ if environ is None else environ
        usec_raw = env.get("WATCHDOG_USEC", "")
        pid_raw = env.get("WATCHDOG_PID", "")
        usec = int(usec_raw) if usec_raw.isdigit() and int(usec_raw) > 0 else None
        if pid_raw and (not pid_raw.isdigit() or int(pid_raw) != os.getpid()):
            usec = None  # the watchdog is some other process's (e.g. a wrapper's)
        return cls(env.get("NOTIFY_SOCKET") or None, usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings: half the manager's timeout, as sd_watchdog_enabled advises."""
        return self.watchdog_usec / 2_000_000 if self.watchdog_usec else None

    def send(self, **fields: str | int) -> bool:
        """Send ``KEY=value`` lines (``ready=1`` → ``READY=1``). False when there is nowhere to send or it failed.

        A lost notification must never stop the relay: errors are swallowed
        and reported through the return value.
        """
        if self.address is None or not fields:
            return False
        payload = "\n".join(f"{key.upper()}={_one_line(value)}" for key, value in fields.items()).encode()
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, address)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(ready=1, status=status)

    def status(self, status: str) -> bool:
        return self.send(status=status)

    def watchdog(self) -> bool:
        return self.send(watchdog=1) if self.watchdog_usec else False

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(stopping=1, status=status)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _one_line(value: str | int) -> str:
    """A value must not contain a newline: it would start another KEY=value."""
    return " ".join(str(value).split("\n"))
