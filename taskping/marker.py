"""The reply marker: the line near the top of every notification that tells the
person where to write, and tells the extractor where their new text ends.

It carries the session token, so a quoted copy of it (whatever the client did to
it: ``>`` prefixes, HTML, re-wrapping) still names the thread it came from.

>>> line = marker_line("abcd-efghijkmnpqrstuv")
>>> is_marker_line("> " + line)
True
>>> is_marker_line("reply above the line please")
False
"""

from __future__ import annotations

import re

MARKER_TEXT = "Reply above this line"


def marker_line(token: str) -> str:
    return f"## {MARKER_TEXT} ## [TaskPing #{token}]"


MARKER_RE = re.compile(r"reply\s+above\s+this\s+line.{0,40}?taskping", re.IGNORECASE | re.DOTALL)


def is_marker_line(line: str) -> bool:
    """True when ``line`` is (a quoted or re-formatted copy of) our marker line."""
    return bool(MARKER_RE.search(line))
