"""Picking the body parts of a whole RFC 5322 message (pure: bytes in, str out).

Rules:
- Parse with the standard library (``compat32`` policy: the most forgiving
  one; it records defects instead of raising).
- Walk multipart containers depth-first; never descend into attached
  messages (``message/*``): a forwarded attachment is not the reply.
- Skip attachments (``Content-Disposition: attachment`` or a file name).
- The first ``text/plain`` and the first ``text/html`` part win.
- Decode with the declared charset (GB2312/GBK read as their superset GB18030;
  unknown charsets as UTF-8), replacing undecodable bytes.
- ``format=flowed`` text (RFC 3676) is unwrapped: soft line breaks joined,
  space-stuffing removed, so a long command comes out on one line.
"""

from __future__ import annotations

import codecs
import email
import email.message
import email.policy
import email.utils
from dataclasses import dataclass

_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
_MAX_PARTS = 200


@dataclass(frozen=True)
class Bodies:
    text: str | None
    html: str | None


def _charset(part: email.message.Message) -> str:
    name = (part.get_content_charset() or "utf-8").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        codecs.lookup(name)
    except LookupError:
        return "utf-8"
    return name


def _decode(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    if isinstance(payload, str):
        return payload
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(_charset(part), errors="replace")
    except Exception:  # noqa: BLE001 - a broken codec must not crash the relay
        return payload.decode("utf-8", errors="replace")


def unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines of the same quote depth."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        soft = body.endswith(" ") and body != "-- "
        if pending is not None and depth == pending_depth:
            body = pending + body
        elif pending is not None:
            out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
        pending = None
        if soft:
            pending, pending_depth = (body[:-1] if delsp else body), depth
            continue
        out.append(">" * depth + (" " if depth else "") + body)
    if pending is not None:
        out.append(">" * pending_depth + (" " if pending_depth else "") + pending)
    return "\n".join(out)


def _param(part: email.message.Message, name: str) -> str:
    """A Content-Type parameter, lower-cased, "" when absent; an RFC 2231 value
    (``format*=us-ascii''flowed``, which get_param returns as a tuple) decoded."""
    return email.utils.collapse_rfc2231_value(part.get_param(name, "")).lower()


def _is_attachment(part: email.message.Message) -> bool:
    disposition = str(part.get("Content-Disposition", "")).lower()
    return (
        disposition.startswith("attachment")
        or (bool(part.get_param("name")) and not disposition.startswith("inline"))
        or bool(part.get_filename())
    )


def body_parts(raw: bytes) -> Bodies:
    """The first text/plain and text/html bodies of a message (None when absent)."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # noqa: BLE001 - an unparseable message has no body to extract
        return Bodies(None, None)
    text: str | None = None
    html: str | None = None
    todo: list[email.message.Message] = [msg]
    seen = 0
    while todo and seen < _MAX_PARTS:
        part = todo.pop(0)
        seen += 1
        try:
            ctype = part.get_content_type()
            if ctype.startswith("message/"):
                continue  # an attached (e.g. forwarded) message is not the reply
            if part.is_multipart():
                payload = part.get_payload()
                if isinstance(payload, list):
                    todo[0:0] = [p for p in payload if isinstance(p, email.message.Message)]
                continue
            if _is_attachment(part):
                continue
            if ctype == "text/plain" and text is None:
                decoded = _decode(part)
                if _param(part, "format") == "flowed":
                    decoded = unflow(decoded, _param(part, "delsp") == "yes")
                text = decoded
            elif ctype == "text/html" and html is None:
                html = _decode(part)
        except Exception:  # noqa: BLE001 - one broken part must not hide the others
            continue
    return Bodies(text, html)
