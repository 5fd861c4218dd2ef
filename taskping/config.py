"""Configuration: the environment overlaid on an env file, validated once.

Where the file comes from: ``--env-file PATH``, else ``$TASKPING_ENV_FILE``,
else ``~/.config/taskping/env``: only places the user chose. Never ``./.env``
in the current directory: a repository's ``.env`` could send notifications
(Claude's replies) to another address, and ``install-hooks`` bakes the file it
finds into every hook command. Environment variables win over the file. Every
key is declared once, in :class:`Settings`, with its parser; a bad value raises
:class:`ConfigError` naming the key, and commands turn that into one line on
stderr and exit status 2. Secrets never appear in messages or reprs.

An env file that holds a password (a secret key set in the file) must be
private, as ssh insists for its keys: if group or others may read or write it,
it is refused with the ``chmod 600`` line that fixes it.

This module uses the standard library only (plus python-dotenv): it is loaded
by ``taskping hook``, which runs on Claude Code's critical path, and importing
pydantic alone costs ~100 ms there. The parsers below are the whole contract.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:  # ssl costs ~4 ms to import; only SMTP/IMAP clients need it, not `taskping hook`
    import ssl

CONFIG_ERROR_EXIT = 2


class ConfigError(Exception):
    """A missing or bad configuration key. ``str()`` is the one line to print."""

    def __init__(self, key: str, problem: str, fix: str | None = None) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix  # a command that fixes it, when there is one (logged as its own field)
        super().__init__(f"config error: {key}: {problem}" + (f"; run: {fix}" if fix else ""))


# --- value parsers: each takes the raw string and returns the value or raises ValueError


def _str(raw: str) -> str:
    return raw.strip()


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw.strip()!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {raw.strip()!r}")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {raw.strip()!r}")
        return value

    return parse


class _Deprecated(str):
    """A value read from an old spelling; ``note`` is the one line saying what to write instead."""

    note: str


def _imap_secure(raw: str) -> str:
    """IMAP_SECURE: ``ssl`` (implicit TLS), ``starttls`` (required, never optional) or ``none``.

    The old ``true``/``false`` still work (true → ssl, false → starttls) with a
    deprecation note: ``false`` used to mean "plain, upgraded when offered",
    which sent the password in clear to a server that offered no STARTTLS.
    """
    value = raw.strip().lower()
    if value in ("ssl", "starttls", "none"):
        return value
    legacy = {
        "true": "ssl",
        "1": "ssl",
        "yes": "ssl",
        "on": "ssl",
        "false": "starttls",
        "0": "starttls",
        "no": "starttls",
        "off": "starttls",
    }.get(value)
    if legacy is None:
        raise ValueError(f"expected one of ssl, starttls, none, got {raw.strip()!r}")
    tagged = _Deprecated(legacy)
    tagged.note = f"IMAP_SECURE={raw.strip()} is deprecated: write IMAP_SECURE={legacy}"
    return tagged


def _address(raw: str) -> str:
    value = raw.strip()
    local, sep, domain = value.rpartition("@")
    if not sep or not local or not domain or "." not in domain or any(c.isspace() for c in value) or "<" in value:
        raise ValueError(f"expected a plain address like you@example.com, got {value!r}")
    return value


def _address_list(raw: str) -> tuple[str, ...]:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise ValueError("expected at least one address")
    return tuple(_address(item).lower() for item in items)


def _name_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip().lstrip("/").lower() for item in raw.split(",") if item.strip())


_AUTHSERV_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-_")


def _authserv_ids(raw: str) -> tuple[str, ...]:
    """TRUSTED_AUTHSERV_ID: comma-separated ids (``mx.google.com``) or ``*.domain`` patterns.

    ``*.messagingengine.com`` matches any host under that domain (Fastmail's
    per-MX ids), never the domain itself nor ``evilmessagingengine.com``. A
    pattern must name at least two labels (``*.com`` would trust anyone).
    """
    items = [item.strip().lower().rstrip(".") for item in raw.split(",") if item.strip()]
    if not items:
        raise ValueError("expected at least one authserv-id")
    for item in items:
        base = item[2:] if item.startswith("*.") else item
        labels = base.split(".")
        if not base or not set(base) <= _AUTHSERV_ID_CHARS or "" in labels:
            raise ValueError(f"expected host names like mx.google.com or *.messagingengine.com, got {item!r}")
        if item.startswith("*.") and len(labels) < 2:
            raise ValueError(f"a *.domain pattern needs a domain with a dot, got {item!r}")
    return tuple(dict.fromkeys(items))


def _path(raw: str) -> Path:
    value = raw.strip()
    if not value:
        raise ValueError("expected a path")
    return Path(value).expanduser()


def _roots(raw: str) -> tuple[Path, ...]:
    """ALLOWED_ROOTS: comma-separated absolute directories (``~`` allowed), each resolved (symlinks
    followed), so a root that is itself a symlink is compared as the directory it points to."""
    roots: list[Path] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        path = Path(item).expanduser()
        if not path.is_absolute():
            raise ValueError(f"expected absolute directories (or ~/...), got {item!r}")
        roots.append(path.resolve())
    return tuple(dict.fromkeys(roots))


def _prefix(raw: str) -> str:
    value = raw.strip()
    if not value or any(c in value for c in ".: \t"):
        raise ValueError(f"expected a non-empty name without '.', ':' or spaces, got {value!r}")
    return value


class DnsServer(NamedTuple):
    """DKIM_DNS_SERVER: the resolver to ask for DKIM keys."""

    ip: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


def _dns_server(raw: str) -> DnsServer:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address."""
    import ipaddress

    value = raw.strip()
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"expected IP or IP:PORT, got {value!r}")
            port = rest[1:]
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"expected an IP address (optionally :PORT), got {value!r}") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected a port between 1 and 65535, got {port!r}")
    return DnsServer(host, int(port))


def _key(env: str, parse: Callable[[str], Any], *, secret: bool = False) -> dict[str, Any]:
    return {"env": env, "parse": parse, "secret": secret}


def _default_db() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "taskping" / "taskping.db"


@dataclass(frozen=True)
class Settings:
    """Every configuration key. Optional keys are checked where they are needed
    (see :meth:`require`), so `taskping hook` works without IMAP settings."""

    imap_host: str | None = field(default=None, metadata=_key("IMAP_HOST", _str))
    imap_port: int = field(default=993, metadata=_key("IMAP_PORT", _int_range(1, 65535)))
    imap_secure: Literal["ssl", "starttls", "none"] = field(default="ssl", metadata=_key("IMAP_SECURE", _imap_secure))
    imap_user: str | None = field(default=None, metadata=_key("IMAP_USER", _str))
    imap_pass: str | None = field(default=None, repr=False, metadata=_key("IMAP_PASS", str, secret=True))
    imap_folder: str = field(default="INBOX", metadata=_key("IMAP_FOLDER", _str))
    imap_poll_seconds: int = field(default=30, metadata=_key("IMAP_POLL_SECONDS", _int_range(1, 3600)))
    imap_done_keyword: str = field(default="$TaskPingDone", metadata=_key("IMAP_DONE_KEYWORD", _str))
    imap_processed_folder: str | None = field(default=None, metadata=_key("IMAP_PROCESSED_FOLDER", _str))

    smtp_host: str | None = field(default=None, metadata=_key("SMTP_HOST", _str))
    smtp_port: int = field(default=465, metadata=_key("SMTP_PORT", _int_range(1, 65535)))
    smtp_secure: Literal["ssl", "starttls", "none"] = field(
        default="ssl", metadata=_key("SMTP_SECURE", _choice("ssl", "starttls", "none"))
    )
    smtp_user: str | None = field(default=None, metadata=_key("SMTP_USER", _str))
    smtp_pass: str | None = field(default=None, repr=False, metadata=_key("SMTP_PASS", str, secret=True))

    email_from: str | None = field(default=None, metadata=_key("EMAIL_FROM", _address))
    email_to: str | None = field(default=None, metadata=_key("EMAIL_TO", _address))
    allowed_senders: tuple[str, ...] = field(default=(), metadata=_key("ALLOWED_SENDERS", _address_list))

    session_map_path: Path = field(default_factory=_default_db, metadata=_key("SESSION_MAP_PATH", _path))
    injection_mode: Literal["tmux", "pty"] = field(
        default="tmux", metadata=_key("INJECTION_MODE", _choice("tmux", "pty"))
    )
    tmux_session_prefix: str = field(default="taskping", metadata=_key("TMUX_SESSION_PREFIX", _prefix))
    # Where `#new DIR` may start a session (taskping.relay.new_session); empty: `#new` is refused.
    allowed_roots: tuple[Path, ...] = field(default=(), metadata=_key("ALLOWED_ROOTS", _roots))
    token_ttl: int = field(default=86400, metadata=_key("TOKEN_TTL", _int_range(60, 366 * 86400)))
    # Days sent mail, reply previews and notification bodies are kept, and ended sessions with
    # their rows (taskping.session_map.retention).
    retention_days: int = field(default=30, metadata=_key("RETENTION_DAYS", _int_range(1, 3650)))
    host_id: str | None = field(default=None, metadata=_key("TASKPING_HOST_ID", _str))
    ssl_cert_file: Path | None = field(default=None, metadata=_key("SSL_CERT_FILE", _path))

    # Reply path
    sender_auth: Literal["authres", "dkim", "none"] | None = field(
        default=None, metadata=_key("SENDER_AUTH", _choice("authres", "dkim", "none"))
    )
    trusted_authserv_id: tuple[str, ...] = field(default=(), metadata=_key("TRUSTED_AUTHSERV_ID", _authserv_ids))
    dkim_dns_timeout: int = field(default=5, metadata=_key("DKIM_DNS_TIMEOUT", _int_range(1, 60)))
    dkim_dns_server: DnsServer | None = field(default=None, metadata=_key("DKIM_DNS_SERVER", _dns_server))
    max_command_bytes: int = field(default=8192, metadata=_key("MAX_COMMAND_BYTES", _int_range(1, 1_000_000)))
    rate_limit_per_minute: int = field(default=1, metadata=_key("RATE_LIMIT_PER_MINUTE", _int_range(1, 600)))
    allow_shell_escape: bool = field(default=False, metadata=_key("ALLOW_SHELL_ESCAPE", _bool))
    allowed_slash_commands: tuple[str, ...] = field(
        default=("compact", "clear", "cost", "context"), metadata=_key("ALLOWED_SLASH_COMMANDS", _name_list)
    )
    inject_enter_delay_ms: int = field(default=150, metadata=_key("INJECT_ENTER_DELAY_MS", _int_range(150, 5000)))
    ack_emails: bool = field(default=True, metadata=_key("ACK_EMAILS", _bool))
    # A reply to a session `taskping spawn` started whose terminal is gone brings it back (claude --resume).
    resume_gone_sessions: bool = field(default=True, metadata=_key("RESUME_GONE_SESSIONS", _bool))
    busy_wait_seconds: int = field(default=600, metadata=_key("BUSY_WAIT_SECONDS", _int_range(0, 86400)))
    max_message_bytes: int = field(
        default=2_000_000, metadata=_key("MAX_MESSAGE_BYTES", _int_range(10_000, 100_000_000))
    )

    # When to mail (the notify path): "away" mails a Stop only when nobody is at the terminal
    # (no attached tmux client with input in the last AWAY_AFTER_SECONDS); "always" mails every Stop.
    notify_when: Literal["away", "always"] = field(
        default="away", metadata=_key("NOTIFY_WHEN", _choice("away", "always"))
    )
    away_after_seconds: int = field(default=120, metadata=_key("AWAY_AFTER_SECONDS", _int_range(1, 86400)))

    # Permission approvals by email (taskping.hooks.approval): "email" mails each permission dialog and
    # waits up to APPROVAL_TIMEOUT seconds for an answer by reply; "off" leaves dialogs to the terminal.
    approvals: Literal["email", "off"] = field(default="off", metadata=_key("APPROVALS", _choice("email", "off")))
    approval_timeout: int = field(default=300, metadata=_key("APPROVAL_TIMEOUT", _int_range(5, 3600)))

    env_file: Path | None = field(default=None, metadata={})

    # --- derived values

    @property
    def state_dir(self) -> Path:
        """The directory of the session map; the audit log and locks live beside it."""
        return self.session_map_path.parent

    @property
    def audit_path(self) -> Path:
        return self.state_dir / "audit.jsonl"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "taskping.log"

    @property
    def envelope_from(self) -> str:
        """The SMTP envelope sender (MAIL FROM): EMAIL_FROM, else SMTP_USER."""
        return self.email_from or self.smtp_user or ""

    @property
    def imap_secure_note(self) -> str | None:
        """The deprecation line when IMAP_SECURE was written the old way (true/false), else None."""
        return getattr(self.imap_secure, "note", None)

    @property
    def effective_sender_auth(self) -> str | None:
        if self.sender_auth:
            return self.sender_auth
        return "authres" if self.trusted_authserv_id else None

    def require(self, *attrs: str) -> None:
        """Raise ConfigError for the first of ``attrs`` that is unset."""
        by_name = {f.name: f for f in fields(self)}
        for attr in attrs:
            if getattr(self, attr) in (None, ()):
                raise ConfigError(by_name[attr].metadata["env"], "is required but not set")

    def require_sender_auth(self) -> str:
        mode = self.effective_sender_auth
        if mode is None:
            raise ConfigError(
                "SENDER_AUTH",
                "not set: set TRUSTED_AUTHSERV_ID (your provider's Authentication-Results id, "
                "e.g. mx.google.com) for authres, SENDER_AUTH=dkim, or SENDER_AUTH=none to accept "
                "unauthenticated mail from ALLOWED_SENDERS",
            )
        if mode == "authres" and not self.trusted_authserv_id:
            raise ConfigError("TRUSTED_AUTHSERV_ID", "is required when SENDER_AUTH=authres")
        return mode

    def tls_context(self) -> ssl.SSLContext:
        """A verifying TLS context; honours a custom CA in SSL_CERT_FILE (environment or env file)."""
        cafile = str(self.ssl_cert_file) if self.ssl_cert_file else None
        if cafile and not os.path.isfile(cafile):
            raise ConfigError("SSL_CERT_FILE", f"{cafile!r} is not a readable file")
        import ssl

        return ssl.create_default_context(cafile=cafile)

    def public_dict(self) -> dict[str, Any]:
        """All keys by env name, secrets masked: for `--show-config` style output."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if "env" not in f.metadata:
                continue
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                value = "********"
            out[f.metadata["env"]] = value
        return out


def default_env_file() -> Path:
    """The one place TaskPing looks when no file is named: ``~/.config/taskping/env``."""
    return Path.home() / ".config" / "taskping" / "env"


def env_file_candidates(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> list[Path]:
    """Where to look, in order. Never the current directory (see the module docstring)."""
    if explicit:
        return [Path(explicit).expanduser()]
    if environ.get("TASKPING_ENV_FILE"):
        return [Path(environ["TASKPING_ENV_FILE"]).expanduser()]
    return [default_env_file()]


def resolve_env_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    """The env file to read, or None. A file named explicitly must exist."""
    candidates = env_file_candidates(explicit, environ)
    if explicit or environ.get("TASKPING_ENV_FILE"):
        path = candidates[0]
        key = "--env-file" if explicit else "TASKPING_ENV_FILE"
        if not path.is_file():
            raise ConfigError(key, f"env file {str(path)!r} does not exist")
        return path.resolve()
    for path in candidates:
        if path.is_file():
            return path.resolve()
    return None


SECRET_KEYS = tuple(f.metadata["env"] for f in fields(Settings) if f.metadata.get("secret"))


def _check_private(path: Path, values: Mapping[str, str]) -> None:
    """Refuse a file holding a password that group or others can read or write (mode & 0o077).

    Only files with a password are held to this: a file of addresses and hosts may be shared.
    The mode is the file's own (``path`` is resolved, so a symlink's target is checked).
    """
    if not any(values.get(key) for key in SECRET_KEYS):
        return
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(str(path), f"cannot stat: {exc.__class__.__name__}") from None
    if mode & 0o077:
        import shlex

        how = "readable" if mode & 0o044 else "writable" if mode & 0o022 else "accessible"
        raise ConfigError(str(path), f"holds a password and is {how} by others", f"chmod 600 {shlex.quote(str(path))}")


def load_settings(
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, merge and validate the configuration. Raises ConfigError."""
    environ = os.environ if environ is None else environ
    path = resolve_env_file(env_file, environ)
    values: dict[str, str] = {}
    if path is not None:
        from taskping.envfile import read_env_file  # python-dotenv's reading; imports it only when needed

        try:
            file_values = read_env_file(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("--env-file", f"cannot read {str(path)!r}: {exc.__class__.__name__}") from None
        values.update({k: v for k, v in file_values.items() if v is not None})
        _check_private(path, values)
    kwargs: dict[str, Any] = {}
    for f in fields(Settings):
        env = f.metadata.get("env")
        if env is None:
            continue
        raw = environ.get(env, values.get(env))
        if raw is None or (raw.strip() == "" and not f.metadata["secret"]):
            continue
        try:
            kwargs[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            problem = "invalid value" if f.metadata["secret"] else str(exc)
            raise ConfigError(env, problem) from None
    return Settings(env_file=path, **kwargs)
