"""The keys `taskping init` writes: from a provider's presets and the person's answers.

What the command asked (or was given as flags) goes in as :class:`Answers`;
out come the env file's keys, each checked by the parser TaskPing reads it
with, and the file's commented sections. A bad or inconsistent value is a
:class:`ValueProblem` whose text is the one line to print.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from taskping.config import Settings
from taskping.setup.envfile import Section
from taskping.setup.providers import Provider

MAIL_KEYS = (
    "IMAP_HOST",
    "IMAP_PORT",
    "IMAP_SECURE",
    "IMAP_USER",
    "IMAP_PASS",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_SECURE",
    "SMTP_USER",
    "SMTP_PASS",
)


class ValueProblem(Exception):
    """A value is bad or contradicts another; ``str()`` is the one line to print."""


@dataclass(frozen=True)
class Answers:
    """What the person gave: flags or answers at the terminal (None: the provider's preset)."""

    address: str
    phone: str
    user: str
    password: str
    imap_host: str
    smtp_host: str
    sender_auth: str
    trusted_authserv_id: str | None
    imap_port: int | None = None
    imap_secure: str | None = None
    smtp_port: int | None = None
    smtp_secure: str | None = None


def sender_auth_choice(provider: Provider, sender_auth: str | None, trusted: str | None) -> tuple[str, str | None]:
    """``(SENDER_AUTH, TRUSTED_AUTHSERV_ID)`` from the flags and the provider's presets: a given
    authserv-id alone means authres; authres without an id is a :class:`ValueProblem`."""
    chosen = sender_auth or provider.sender_auth
    ids = trusted or (provider.trusted_authserv_id if not sender_auth else None)
    if trusted and not sender_auth:
        chosen = "authres"
    if chosen == "authres" and not ids:
        raise ValueProblem("--sender-auth authres needs --trusted-authserv-id (see docs/providers.md)")
    return chosen, ids


def env_values(provider: Provider, answers: Answers) -> dict[str, str]:
    """Every key to write, checked. Raises :class:`ValueProblem`."""
    a = answers
    values = {
        "IMAP_HOST": a.imap_host,
        "IMAP_PORT": str(a.imap_port or provider.imap_port),
        "IMAP_SECURE": a.imap_secure or provider.imap_secure,
        "IMAP_USER": a.user,
        "IMAP_PASS": a.password,
        "SMTP_HOST": a.smtp_host,
        "SMTP_PORT": str(a.smtp_port or provider.smtp_port),
        "SMTP_SECURE": a.smtp_secure or provider.smtp_secure,
        "SMTP_USER": a.user,
        "SMTP_PASS": a.password,
        "EMAIL_FROM": a.address,
        "EMAIL_TO": a.phone,
        "ALLOWED_SENDERS": a.phone,
        "SENDER_AUTH": a.sender_auth,
    }
    if a.trusted_authserv_id and a.sender_auth == "authres":
        values["TRUSTED_AUTHSERV_ID"] = a.trusted_authserv_id
    validate(values)
    if values["EMAIL_FROM"].lower() == values["EMAIL_TO"].lower():
        raise ValueProblem("--phone must differ from --address: TaskPing drops mail from its own address")
    return values


def validate(values: dict[str, str]) -> None:
    """Each value through the parser TaskPing reads it with; the first bad one is a ValueProblem."""
    for f in fields(Settings):
        key = f.metadata.get("env")
        if key in values:
            try:
                f.metadata["parse"](values[key])
            except ValueError as exc:
                shown = "invalid value" if f.metadata["secret"] else str(exc)
                raise ValueProblem(f"{key}: {shown}") from None


def sections(provider: Provider, values: dict[str, str]) -> list[Section]:
    """The env file's parts, each under a comment saying what it is for."""
    return [
        Section(
            f"TaskPing's mailbox ({provider.label}): the relay reads replies here and sends from it",
            {k: values[k] for k in MAIL_KEYS},
        ),
        Section(
            "Your phone's address: notifications go there; only its replies are read",
            {k: values[k] for k in ("EMAIL_FROM", "EMAIL_TO", "ALLOWED_SENDERS")},
        ),
        Section(
            "Sender authentication: see docs/providers.md",
            {k: values[k] for k in ("SENDER_AUTH", "TRUSTED_AUTHSERV_ID") if k in values},
        ),
    ]
