"""Session tokens: the short secret that ties an email thread to a session.

A token is ``HOST-RANDOM``: ``HOST`` is 4 characters derived from the machine's
identity (so several machines can share one mailbox and each acts only on its
own tokens) and ``RANDOM`` is 16 characters from a CSPRNG over a 32-letter
alphabet, i.e. 80 bits. The alphabet has no ``l``/``o``/``0``/``1`` and no
characters that mail clients or subject lines mangle.

>>> tok = new_token("myhost")
>>> TOKEN_RE.fullmatch(tok) is not None
True
>>> tok.startswith(host_part("myhost") + "-")
True
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket

ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
HOST_LEN = 4
RANDOM_LEN = 16  # 16 * 5 bits = 80 bits
TOKEN_PATTERN = f"[{ALPHABET}]{{{HOST_LEN}}}-[{ALPHABET}]{{{RANDOM_LEN}}}"
TOKEN_RE = re.compile(TOKEN_PATTERN)
SUBJECT_TAG_RE = re.compile(r"\[TaskPing #(" + TOKEN_PATTERN + r")\]", re.IGNORECASE)


MACHINE_ID_FILE = "/etc/machine-id"
#: A notification's Message-ID names the machine that sent it: ``<tp.HOST.SECONDS.RANDOM@domain>``
#: (older ones, ``<tp.SECONDS.RANDOM@domain>``, name none: SECONDS is 10 digits, never 4 characters).
MESSAGE_ID_HOST_RE = re.compile(r"<tp\.([" + ALPHABET + r"]{" + str(HOST_LEN) + r"})\.\d+\.[0-9a-f]+@", re.IGNORECASE)


def default_host_id() -> str:
    """This machine's stable identity: ``/etc/machine-id`` (kept across reboots and renames),
    else the hostname."""
    try:
        with open(MACHINE_ID_FILE, encoding="ascii") as f:
            machine_id = f.read().strip()
    except (OSError, ValueError):
        machine_id = ""
    return machine_id or socket.gethostname()


def host_part(host_id: str | None = None) -> str:
    """Four alphabet characters derived from ``host_id`` (default: :func:`default_host_id`)."""
    digest = hashlib.sha256((host_id or default_host_id()).encode()).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:HOST_LEN])


def token_host(token: str) -> str:
    """The host part of a token."""
    return token.split("-", 1)[0].lower()


def message_id_host(message_id: str) -> str | None:
    """The host part a TaskPing Message-ID carries, or None (not ours, or from before hosts)."""
    m = MESSAGE_ID_HOST_RE.match(message_id.strip())
    return m.group(1).lower() if m else None


def new_token(host_id: str | None = None) -> str:
    """A fresh token: host part, dash, 80 random bits."""
    rand = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LEN))
    return f"{host_part(host_id)}-{rand}"


def subject_tag(token: str) -> str:
    return f"[TaskPing #{token}]"


def find_subject_token(subject: str) -> str | None:
    """The token in a ``[TaskPing #TOKEN]`` tag, lower-cased, or None."""
    m = SUBJECT_TAG_RE.search(subject or "")
    return m.group(1).lower() if m else None


def redact(token: str | None) -> str:
    """A token shortened for logs: host part and the first 3 random characters."""
    if not token:
        return ""
    return token[: HOST_LEN + 4] + "…"
