"""``#new [@HOST] DIR [prompt]`` without a terminal: parsing, ALLOWED_ROOTS (config and the
directory check: ``..``, symlink escapes, a root that is itself a symlink), which machine a
``@HOST`` names, and the fresh-email command text (body, else subject)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from taskping.config import ConfigError, load_settings
from taskping.relay.commands import Name, ReplyCommand, fresh_text, parse_command
from taskping.relay.new_session import allowed_directory, names_this_machine, session_name
from taskping.relay.parse import parse
from taskping.tokens import host_part
from tests.support.inprocess import map_settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#new /srv/api", ReplyCommand(Name.NEW, directory="/srv/api")),
        ("#NEW ~/code/api fix the tests", ReplyCommand(Name.NEW, directory="~/code/api", prompt="fix the tests")),
        ("#new @ab12 /srv/api", ReplyCommand(Name.NEW, host="ab12", directory="/srv/api")),
        ('#new "/srv/my api" go', ReplyCommand(Name.NEW, directory="/srv/my api", prompt="go")),
        (
            "#new /srv/api first line\nsecond line",
            ReplyCommand(Name.NEW, directory="/srv/api", prompt="first line\nsecond line"),
        ),
        ("#new", ReplyCommand(Name.NEW)),  # a command without DIR: refused with the usage, never a prompt
    ],
)
def test_new_parses_host_directory_and_prompt(text: str, expected: ReplyCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["#newest /srv", "#new@ab12 /srv", "please #new /srv", "# new /srv"])
def test_other_hash_words_are_prompts(text: str) -> None:
    assert parse_command(text) is None


def test_allowed_roots_config(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    (tmp_path / "real").mkdir()
    s = load_settings(environ={"ALLOWED_ROOTS": f" {tmp_path}/a/../b , ~/x, {link}, "})
    assert s.allowed_roots == (tmp_path / "b", Path.home().resolve() / "x", tmp_path / "real")
    assert load_settings(environ={}).allowed_roots == ()
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"ALLOWED_ROOTS": "/ok,relative/dir"})
    assert str(info.value).startswith("config error: ALLOWED_ROOTS: ") and "'relative/dir'" in str(info.value)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/{api,api/sub}, outside/, root/escape -> outside, rootlink -> root, root/file."""
    (tmp_path / "root" / "api" / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "escape").symlink_to(tmp_path / "outside")
    (tmp_path / "rootlink").symlink_to(tmp_path / "root")
    (tmp_path / "root" / "file").write_text("x")
    return tmp_path


def test_a_directory_inside_a_root_resolves(tree: Path) -> None:
    roots = (tree / "root",)
    assert allowed_directory(str(tree / "root" / "api"), roots) == tree / "root" / "api"
    assert allowed_directory(str(tree / "root"), roots) == tree / "root"  # the root itself
    assert allowed_directory(str(tree / "root" / "api" / "sub" / ".."), roots) == tree / "root" / "api"
    # a path through a symlink to the root is the directory it points to
    assert allowed_directory(str(tree / "rootlink" / "api"), roots) == tree / "root" / "api"


def test_a_root_that_is_a_symlink_counts_as_its_target(tree: Path) -> None:
    roots = load_settings(environ={"ALLOWED_ROOTS": str(tree / "rootlink")}).allowed_roots
    assert allowed_directory(str(tree / "root" / "api"), roots) == tree / "root" / "api"
    assert isinstance(allowed_directory(str(tree / "outside"), roots), str)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{t}/root/../outside", "not inside ALLOWED_ROOTS"),
        ("{t}/root/escape", "not inside ALLOWED_ROOTS"),  # a symlink out of the root
        ("{t}/root/escape/..", "not inside ALLOWED_ROOTS"),  # .. after a symlink: the real parent
        ("{t}/rootx", "does not exist"),
        ("{t}/root/file", "not a directory"),
        ("root/api", "not an absolute path"),
        ("~nobody/x", "only ~ and ~/path"),
        ("", "no directory given"),
    ],
)
def test_refused_directories_say_why(tree: Path, raw: str, fragment: str) -> None:
    said = allowed_directory(raw.format(t=tree), (tree / "root",))
    assert isinstance(said, str) and fragment in said and "\n" not in said


def test_home_relative_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "proj").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    assert allowed_directory("~/proj", (tmp_path,)) == tmp_path / "proj"


def test_host_names_and_session_name(tmp_path: Path) -> None:
    assert names_this_machine(host_part("machine-1"), "machine-1")
    assert names_this_machine(host_part("machine-1").upper(), "machine-1")
    assert names_this_machine("machine-1", "machine-1")
    assert names_this_machine(socket.gethostname(), "machine-1")
    assert not names_this_machine(host_part("machine-2"), "machine-1")
    settings = map_settings(tmp_path)
    assert session_name(settings, Path("/srv/my.api v2")) == "taskping-my-api-v2"


def _mail(subject: str, body: str) -> bytes:
    return (
        f"From: me@example.test\r\nTo: taskping@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <f-{os.urandom(4).hex()}@example.test>\r\n\r\n{body}\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("hello", "#status", "#status"),
        ("#help", "", "#help"),  # a subject-only command counts when the body is empty
        ("Re: #status", "\n-- \nSent from my iPhone", "#status"),  # a signature is not new text
        ("#help", "what is this?", "what is this?"),  # the body decides when it has text
        ("hello", "", None),
    ],
)
def test_fresh_text_is_the_body_else_a_hash_subject(subject: str, body: str, expected: str | None) -> None:
    assert fresh_text(parse(_mail(subject, body))) == expected
