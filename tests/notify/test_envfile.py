"""taskping.envfile reads every env file exactly as python-dotenv does: the plain
ones itself (the hook's fast path), the rest through dotenv."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from taskping.envfile import _plain_values, read_env_file

KEYS = st.sampled_from(["EMAIL_TO", "SMTP_PASS", "export", "_X1", "a.b", "K-2", "É", "IMAP_DONE_KEYWORD"])
VALUE_CHARS = st.sampled_from(
    [*"ab9@.:/-_= \t#$'\"\\{}!é", "\u00a0", "\x0b", "\u2028", "${HOME}", "$x", " # note", "\\n"]
)
VALUES = st.lists(VALUE_CHARS, max_size=12).map("".join)
LINES = st.one_of(
    st.builds(
        lambda e, k, sp, v: f"{e}{k}{sp}={v}",
        st.sampled_from(["", "export ", "  ", "export\t"]),
        KEYS,
        st.sampled_from(["", " ", "\t"]),
        VALUES,
    ),
    st.sampled_from(["", "   ", "# a comment", "  # indented", "KEY_WITHOUT_EQUALS", "#", "\t"]),
)
FILES = st.tuples(st.lists(LINES, max_size=8), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())


def _write(lines: list[str], newline: str, bom: bool) -> Path:
    fd, name = tempfile.mkstemp(suffix=".env")
    os.close(fd)
    path = Path(name)
    path.write_bytes((("\ufeff" if bom else "") + newline.join(lines)).encode("utf-8"))
    return path


@settings(max_examples=500, deadline=None)
@given(FILES)
def test_same_reading_as_python_dotenv(file: tuple[list[str], str, bool]) -> None:
    path = _write(*file)
    try:
        assert read_env_file(path) == dict(dotenv_values(path))
    finally:
        path.unlink()


def test_plain_files_are_read_without_dotenv(tmp_path: Path) -> None:
    """The shape .env.example has (comments, `KEY=value  # note`, `$Word`) takes the fast path."""
    example = Path(__file__).resolve().parents[2] / ".env.example"
    text = example.read_text()
    assert _plain_values(text) is not None
    assert _plain_values(text) == {k: v for k, v in dotenv_values(example).items() if v is not None}
    code = (
        "import sys; from taskping.envfile import read_env_file; "
        f"read_env_file({str(example)!r}); print('dotenv' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_interpolation_and_quotes_go_through_dotenv(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_text('A=1\nB=${A}2\nC="quoted # not a comment"\n')
    assert read_env_file(path) == {"A": "1", "B": "12", "C": "quoted # not a comment"}
