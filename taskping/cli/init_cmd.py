"""`taskping init`: write the config for a mail provider, then try the logins at once.

Interactive when run at a terminal (it asks for what no flag gave), fully
scriptable with flags otherwise (a missing value is a usage error naming its
flag). The password is never a command-line argument (other users can read
those in ``ps``): it is asked for without echo, or read from
``--password-file`` / ``--password-stdin``.

Exit status: 0 when the file is written and every check passed (or was
skipped); 1 when the file is written but a login check or
``--learn-from-reply`` failed (each with its fix); 2 on a usage error, an
unsupported provider, or an existing file not replaced.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskping.setup.providers import Provider

HELP = "write the config for your mail provider and test the logins"
DESCRIPTION = (
    "Write TaskPing's env file (0600) for a mail provider: hosts, ports, TLS and sender authentication filled in; "
    "asks for TaskPing's mailbox address, its app password and your phone's address. The file is --env-file PATH, "
    "else $TASKPING_ENV_FILE, else ~/.config/taskping/env, and an existing one is never replaced without asking "
    "(--force for scripts). Then logs in to IMAP and SMTP and says what to fix."
)
EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2
LEARN_TIMEOUT = 600


class UsageError(Exception):
    """A value is missing or bad; ``str()`` is the one line to print."""


def configure(parser: argparse.ArgumentParser) -> None:
    from taskping.setup.providers import NAMES

    parser.add_argument("--provider", choices=NAMES, help="the provider hosting TaskPing's mailbox")
    parser.add_argument("--address", metavar="ADDR", help="TaskPing's mailbox (EMAIL_FROM; the login unless --user)")
    parser.add_argument("--user", metavar="LOGIN", help="the IMAP/SMTP login when it is not --address")
    parser.add_argument("--phone", metavar="ADDR", help="the address you reply from (ALLOWED_SENDERS, EMAIL_TO)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-file", metavar="PATH", help="read the app password from the first line of PATH")
    secret.add_argument("--password-stdin", action="store_true", help="read the app password from stdin")
    parser.add_argument("--imap-host")
    parser.add_argument("--imap-port", type=int)
    parser.add_argument(
        "--imap-secure",
        choices=("ssl", "starttls", "none"),
        help="ssl: implicit TLS (993); starttls: plain upgraded with STARTTLS (143); none: no TLS",
    )
    parser.add_argument("--smtp-host")
    parser.add_argument("--smtp-port", type=int)
    parser.add_argument("--smtp-secure", choices=("ssl", "starttls", "none"))
    parser.add_argument("--sender-auth", choices=("authres", "dkim", "none"), help="override the provider's choice")
    parser.add_argument("--trusted-authserv-id", metavar="ID", help="override the provider's authserv-id(s)")
    parser.add_argument("--force", action="store_true", help="replace an existing env file without asking")
    parser.add_argument("--no-check", action="store_true", help="do not try the IMAP and SMTP logins")
    parser.add_argument(
        "--learn-from-reply",
        action="store_true",
        help="mail your phone, wait for your reply and set TRUSTED_AUTHSERV_ID from its headers",
    )
    parser.add_argument(
        "--learn-timeout",
        type=int,
        default=LEARN_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for that reply (default {LEARN_TIMEOUT})",
    )


# -- asking


def _interactive() -> bool:
    return sys.stdin.isatty()


def _ask(value: str | None, question: str, flag: str) -> str:
    """``value`` when given; else the person's answer at a terminal; else a usage error naming ``flag``."""
    if value:
        return value.strip()
    if not _interactive():
        raise UsageError(f"{flag} is required (no terminal to ask at)")
    while True:
        answer = input(f"{question}: ").strip()
        if answer:
            return answer


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            text = Path(args.password_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--password-file: cannot read {args.password_file}: {exc.__class__.__name__}") from None
        value = text.splitlines()[0] if text else ""
    elif args.password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif _interactive():
        import getpass

        value = getpass.getpass("App password (not shown): ")
    else:
        raise UsageError("--password-file or --password-stdin is required (no terminal to ask at)")
    if not value.strip():
        raise UsageError("the app password is empty")
    return value.strip()


def _confirm(question: str) -> bool:
    if not _interactive():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


# -- the values


def gather(args: argparse.Namespace) -> tuple[Provider, dict[str, str]]:
    """(the provider, every key to write) from flags and answers. Raises UsageError or ValueProblem."""
    from taskping.setup.env_values import Answers, env_values, sender_auth_choice
    from taskping.setup.providers import NAMES, PROVIDERS

    name = _ask(args.provider, f"Provider of TaskPing's mailbox ({', '.join(NAMES)})", "--provider").lower()
    if name not in PROVIDERS:
        raise UsageError(f"--provider: expected one of {', '.join(NAMES)}, got {name!r}")
    provider = PROVIDERS[name]
    if not provider.supported:
        raise UsageError(f"--provider {name}: not supported yet. {provider.unsupported}")
    print(f"{provider.label}: {provider.app_password}")
    address = _ask(args.address, "TaskPing's mailbox address (the relay reads it and sends from it)", "--address")
    phone = _ask(args.phone, "The address you will reply from (your phone's mail account)", "--phone")
    imap_host = _ask(args.imap_host or provider.imap_host, "IMAP host", "--imap-host")
    smtp_host = _ask(args.smtp_host or provider.smtp_host, "SMTP host", "--smtp-host")
    sender_auth, trusted = sender_auth_choice(provider, args.sender_auth, args.trusted_authserv_id)
    answers = Answers(
        address=address,
        phone=phone,
        user=args.user or address,
        password=_password(args),
        imap_host=imap_host,
        smtp_host=smtp_host,
        sender_auth=sender_auth,
        trusted_authserv_id=trusted,
        imap_port=args.imap_port,
        imap_secure=args.imap_secure,
        smtp_port=args.smtp_port,
        smtp_secure=args.smtp_secure,
    )
    return provider, env_values(provider, answers)


# -- the command


def run(args: argparse.Namespace) -> int:
    from taskping.config import env_file_candidates
    from taskping.setup import envfile
    from taskping.setup.env_values import ValueProblem, sections

    try:
        provider, values = gather(args)
        text = envfile.render(sections(provider, values))
    except (UsageError, ValueProblem, envfile.EnvFileError) as exc:
        print(f"taskping init: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EOFError, KeyboardInterrupt):
        print("\ntaskping init: stopped; nothing written", file=sys.stderr)
        return EXIT_USAGE
    path = env_file_candidates(args.env_file, os.environ)[0]
    replace = args.force or (path.exists() and _confirm(f"{path} exists. Replace it?"))
    try:
        envfile.write(path, text, replace=replace)
    except envfile.EnvFileError as exc:
        print(f"taskping init: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"✓ wrote {path} (mode 0600)")
    status = EXIT_OK
    if not args.no_check:
        status = _checks(path, provider)
    if args.learn_from_reply:
        if status != EXIT_OK:
            print("✗ --learn-from-reply skipped: fix the logins first", file=sys.stderr)
        else:
            status = _learn(path, provider, values, args.learn_timeout)
    if status == EXIT_OK:
        print("Next: taskping install-hooks; taskping spawn NAME; run taskping-relay (see README: Set up)")
    return status


def _checks(path: Path, provider: Provider) -> int:
    from taskping.config import load_settings
    from taskping.setup.logins import check_imap, check_smtp

    settings = load_settings(path)
    hint = ("use an app password, not your account password. " + provider.app_password).strip()
    failed = False
    for check in (check_imap(settings, hint), check_smtp(settings, hint)):
        print(f"{'✓' if check.ok else '✗'} {check.detail}" + ("" if check.ok or not check.fix else f": {check.fix}"))
        failed = failed or not check.ok
    return EXIT_CHECK_FAILED if failed else EXIT_OK


def _learn(path: Path, provider: Provider, values: dict[str, str], timeout: int) -> int:
    from taskping.config import load_settings
    from taskping.setup import envfile, learn
    from taskping.setup.env_values import sections

    settings = load_settings(path)
    try:
        message_id, tag = learn.send_test_mail(settings)
        print(
            f"… sent a test mail to {settings.email_to} ([{tag}]); reply to it from your phone "
            f"(waiting up to {timeout} s)",
            flush=True,
        )
        reply = learn.wait_for_reply(settings, message_id, tag, timeout)
    except learn.LearnError as exc:
        print(f"✗ learn from reply: {exc}")
        return EXIT_CHECK_FAILED
    if reply is None:
        print(f"✗ learn from reply: no reply from {settings.email_to} within {timeout} s; the settings stay as written")
        return EXIT_CHECK_FAILED
    found = learn.learn(reply, provider.trusted_authserv_id)
    if found.header is not None:
        print(f"  Authentication-Results: {' '.join(found.header.split())}")
    learn.mark_handled(settings, reply)
    if not found.ok or found.sender_auth is None:
        print(f"✗ learn from reply: {found.reason}")
        return EXIT_CHECK_FAILED
    values = {k: v for k, v in values.items() if k != "TRUSTED_AUTHSERV_ID"}
    values["SENDER_AUTH"] = found.sender_auth
    if found.trusted_authserv_id and found.sender_auth == "authres":
        values["TRUSTED_AUTHSERV_ID"] = found.trusted_authserv_id
    try:
        envfile.write(path, envfile.render(sections(provider, values)), replace=True)
    except envfile.EnvFileError as exc:
        print(f"✗ learn from reply: {exc}")
        return EXIT_CHECK_FAILED
    setting = f"SENDER_AUTH={found.sender_auth}" + (
        f", TRUSTED_AUTHSERV_ID={found.trusted_authserv_id}" if "TRUSTED_AUTHSERV_ID" in values else ""
    )
    print(f"✓ learned from your reply: {setting} ({found.reason})")
    return EXIT_OK
