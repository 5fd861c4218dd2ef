"""The reply marker: the line near the top of every notification that tells the
person where to write, and tells the extractor where their new text ends.

It carries the session token, so a quoted copy of it (whatever the client did to
it: ``>`` prefixes, HTML, re-wrapping) still names the thread it came from.

This module writes the line; the extractor recognises it
(:func:`taskping.extract.marker.is_marker_line`, kept there so the extractor
imports nothing of the rest of TaskPing, and so the hook never imports the
extractor). ``tests/extract/test_extract_marker.py`` checks the two agree.

>>> marker_line("abcd-efghijkmnpqrstuv")
'## Reply above this line ## [TaskPing #abcd-efghijkmnpqrstuv]'
"""

from __future__ import annotations

MARKER_TEXT = "Reply above this line"


def marker_line(token: str) -> str:
    return f"## {MARKER_TEXT} ## [TaskPing #{token}]"
