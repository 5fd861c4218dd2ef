"""The notification writes the reply marker (`taskping.marker`); the extractor
reads it (`taskping.extract.marker`). The two live apart so the extractor
imports nothing of TaskPing; these tests keep them in agreement."""

from __future__ import annotations

import pytest

from taskping.extract import extract_reply
from taskping.extract.marker import is_marker_line
from taskping.marker import marker_line
from taskping.tokens import TOKEN_RE, new_token

#: A fixed token, one from each end of the alphabet, and one as the hook makes them.
TOKENS = ["abcd-efghijkmnpqrstuv", "aaaa-aaaaaaaaaaaaaaaa", "9999-9999999999999999", new_token("test-host")]


@pytest.mark.parametrize("token", TOKENS, ids=["fixed", "low", "high", "new"])
def test_every_written_marker_is_read(token: str) -> None:
    assert TOKEN_RE.fullmatch(token)
    line = marker_line(token)
    assert is_marker_line(line)
    assert is_marker_line("> " + line)
    assert is_marker_line(">> > " + line.upper())
    assert is_marker_line(line.replace(" this ", "\nthis "))  # re-wrapped by a client


@pytest.mark.parametrize("token", TOKENS[:2], ids=["fixed", "low"])
def test_text_above_a_quoted_marker_is_the_reply(token: str) -> None:
    body = f"run the tests\n\n> {marker_line(token)}\n> Claude stopped.\n"
    assert extract_reply(text=body).text == "run the tests"
    html = f"<div>run the tests</div><div>{marker_line(token)}</div><div>Claude stopped.</div>"
    assert extract_reply(html=html).text == "run the tests"


def test_mentioning_the_marker_words_is_not_the_marker() -> None:
    assert not is_marker_line("reply above the line please")
    assert not is_marker_line("Reply above this line")  # TaskPing's name missing: another service's marker
