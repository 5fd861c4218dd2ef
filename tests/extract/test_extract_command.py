"""to_command (fence and CMD: rules), extract_eml, and the `taskping extract` CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from taskping.cli.main import main
from taskping.extract import extract_eml, to_command


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("npm test", "npm test"),
        ("  npm test  \n\n", "npm test"),
        ("CMD: git status", "git status"),
        ("cmd:ls -la", "ls -la"),
        ("please run:\n```\n  make -j4 -- all\n> out.txt\n```\nthanks", "  make -j4 -- all\n> out.txt"),
        ("```bash\nCMD: echo hi\n```", "echo hi"),
        ("```\nunclosed\n  indented", "unclosed\n  indented"),
        ("first\n```\none\n```\n```\ntwo\n```", "one"),
        ("no CMD: prefix here", "no CMD: prefix here"),
    ],
)
def test_to_command(text: str, command: str) -> None:
    assert to_command(text) == command


EML = (
    b"From: me@example.com\r\nTo: tp@example.com\r\nSubject: Re: [TaskPing #abcd-efghijkmnpqrstuv]\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n"
    b"--YY\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + __import__("base64").encodebytes("继续\r\n\r\n发自我的iPhone\r\n\r\n> 旧\r\n".encode("gb2312"))
    + b"\r\n--YY\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>html version</div>\r\n--YY--\r\n"
    b"--XX\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\n"
    b"attachment text\r\n--XX--\r\n"
)


def test_extract_eml_picks_text_part_and_decodes_charset() -> None:
    result = extract_eml(EML)
    assert result.ok and result.text == "继续" and result.source == "text"


def test_extract_eml_html_only() -> None:
    raw = b'Subject: x\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<div>go=20ahead</div><blockquote type=3D"cite">old</blockquote>\r\n'
    result = extract_eml(raw)
    assert result.text == "go ahead" and result.source == "html"


def test_extract_eml_format_flowed_is_unwrapped() -> None:
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nrun the whole \r\nsuite please\r\n\r\n> old\r\n"
    assert extract_eml(raw).text == "run the whole suite please"


def test_extract_eml_format_flowed_as_an_rfc2231_parameter() -> None:
    # under compat32 get_param returns format*= as a tuple: found by mypy; the reply was refused as bodiless
    raw = (
        b"Subject: x\r\nContent-Type: text/plain; charset=utf-8; format*=us-ascii''flowed\r\n\r\n"
        b"run the whole \r\nsuite please\r\n"
    )
    assert extract_eml(raw).text == "run the whole suite please"


def test_extract_eml_attached_message_is_not_the_reply() -> None:
    raw = (
        b"Subject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n"
        b"Subject: inner\r\nContent-Type: text/plain\r\n\r\nrm -rf ~\r\n--B--\r\n"
    )
    result = extract_eml(raw)
    assert not result.ok and result.refusal


def test_extract_eml_no_body() -> None:
    assert not extract_eml(b"").ok


def _cli(tmp_path: Path, body: bytes, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    f = tmp_path / "msg"
    f.write_bytes(body)
    rc = main(["extract", *args, str(f)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_eml_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _cli(tmp_path, EML, capsys=capsys)
    assert (rc, out, err) == (0, "继续\n", "")


def test_cli_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = b"please:\n```\n  ls -la\n```\n\nOn Fri, Nov 20, 2026 at 8:15 PM X <x@y> wrote:\n> old\n"
    rc, out, _ = _cli(tmp_path, body, "--format", "text", "--command", capsys=capsys)
    assert (rc, out) == (0, "  ls -la\n")


def test_cli_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _cli(
        tmp_path,
        b'<div>CMD: pwd</div><blockquote type="cite">old</blockquote>',
        "--format",
        "html",
        "--command",
        capsys=capsys,
    )
    assert (rc, out) == (0, "pwd\n")


def test_cli_refusal_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _cli(tmp_path, b"> only quote\n", "--format", "text", capsys=capsys)
    assert rc == 3 and out == "" and "no new text" in err


def test_cli_sent_texts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sent = tmp_path / "sent.txt"
    sent.write_text("Claude is waiting for your answer about the migration plan.\n")
    body = b"go\n\nClaude is waiting for your answer\nabout the migration plan.\n"
    rc, out, _ = _cli(tmp_path, body, "--format", "text", "--sent", str(sent), capsys=capsys)
    assert (rc, out) == (0, "go\n")


def test_cli_stdin() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "taskping", "extract", "--format", "text", "-"],
        input=b"hello\n\n> q\n",
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout == b"hello\n"
