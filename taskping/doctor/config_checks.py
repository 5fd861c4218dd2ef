"""The configuration: which file was read, its permissions, and every key."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from taskping.config import ConfigError, Settings, default_env_file, load_settings
from taskping.doctor.result import Check

# What the relay and the notifications need (Relay.check asks for the same).
RELAY_KEYS = ("imap_host", "imap_user", "imap_pass", "smtp_host", "email_from", "email_to", "allowed_senders")


def load(env_file: str | None) -> tuple[list[Check], Settings | None]:
    """The config-file and keys checks, and the settings when they could be read."""
    try:
        settings = load_settings(env_file)
    except ConfigError as exc:
        fix = f"run: {exc.fix}" if exc.fix else f"correct {exc.key} (see .env.example)"
        return [Check.fail("config", f"config: {exc.key}: {exc.problem}", fix)], None
    return [file_check(settings.env_file), keys_check(settings)], settings


def file_check(path: Path | None) -> Check:
    if path is None:
        return Check.ok(
            "config",
            f"config: no env file ({default_env_file()} absent): environment only",
            note=f"put the settings in {default_env_file()} (install -m 600 .env.example {default_env_file()})",
        )
    mode = path.stat().st_mode & 0o777
    detail = f"config: {path} (mode {mode:04o}, owner {'you' if path.stat().st_uid == os.getuid() else 'someone else'})"
    if mode & 0o077:
        # load_settings refuses this when the file holds a password; without one it may be shared.
        return Check.ok(
            "config", detail, note=f"others can read it; chmod 600 {shlex.quote(str(path))} if that is not meant"
        )
    return Check.ok("config", detail)


def keys_check(settings: Settings) -> Check:
    missing = [f.upper() for f in RELAY_KEYS if getattr(settings, f) in (None, ())]
    missing = [_env_name(settings, name) for name in missing]
    try:
        mode = settings.require_sender_auth()
    except ConfigError as exc:
        missing.append(exc.key)
        mode = None
    if missing:
        return Check.fail(
            "keys",
            f"keys: every value is valid, but unset: {', '.join(missing)}",
            "set them in the env file (see .env.example)",
        )
    notes = [n for n in (settings.imap_secure_note, _risky(settings, mode)) if n]
    return Check.ok(
        "keys",
        f"keys: all valid (IMAP_SECURE={settings.imap_secure}, SMTP_SECURE={settings.smtp_secure}, SENDER_AUTH={mode})",
        note="; ".join(notes) or None,
    )


def _env_name(settings: Settings, attr_upper: str) -> str:
    from dataclasses import fields

    for f in fields(settings):
        if f.name.upper() == attr_upper:
            return str(f.metadata["env"])
    return attr_upper


def _risky(settings: Settings, sender_auth: str | None) -> str | None:
    risks = []
    if settings.imap_secure == "none":
        risks.append("IMAP_SECURE=none sends the IMAP password in clear")
    if settings.smtp_secure == "none":
        risks.append("SMTP_SECURE=none sends the SMTP password in clear")
    if sender_auth == "none":
        risks.append("SENDER_AUTH=none: anyone who can forge your From address can type")
    return "; ".join(risks) or None
