"""Recognising TaskPing's reply marker: the line near the top of every
notification ("## Reply above this line ## [TaskPing #<token>]") that tells the
extractor where the person's new text ends.

The marker is written by :mod:`taskping.marker` (the notification side); this
is its reader, kept inside the extractor so the library imports nothing of the
rest of TaskPing. A quoted or re-formatted copy (``>`` prefixes, HTML,
re-wrapping, case changes) still matches; ``tests/extract`` checks that every
line :func:`taskping.marker.marker_line` writes is recognised here.

>>> is_marker_line("> ## Reply above this line ## [TaskPing #abcd-efghijkmnpqrstuv]")
True
>>> is_marker_line("reply above the line please")
False
"""

from __future__ import annotations

import re

MARKER_RE = re.compile(r"reply\s+above\s+this\s+line.{0,40}?taskping", re.IGNORECASE | re.DOTALL)


def is_marker_line(line: str) -> bool:
    """True when ``line`` is (a quoted or re-formatted copy of) TaskPing's marker line."""
    return bool(MARKER_RE.search(line))
