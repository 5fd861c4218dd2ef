"""Running every check in order. A check that cannot run reports why; none raises."""

from __future__ import annotations

from collections.abc import Callable

from taskping.doctor import config_checks, imap_checks, local_checks, smtp_checks
from taskping.doctor.result import Check


def run_all(env_file: str | None, *, send_test: bool, debug: bool = False) -> list[Check]:
    checks, settings = config_checks.load(env_file)
    if settings is None:
        return checks  # nothing else can be checked without a readable configuration
    steps: tuple[tuple[str, Callable[[], list[Check]]], ...] = (
        ("imap", lambda: imap_checks.checks(settings)),
        ("smtp", lambda: smtp_checks.checks(settings, send_test=send_test)),
        ("tools", local_checks.tools),
        ("hooks", lambda: [local_checks.hooks(settings)]),
        ("state", lambda: local_checks.state(settings)),
    )
    for name, step in steps:
        try:
            checks += step()
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            from taskping.config import ConfigError

            if debug:
                import traceback

                traceback.print_exc()
            fix = f"run: {exc.fix}" if isinstance(exc, ConfigError) and exc.fix else "run with --debug for details"
            checks.append(Check.fail(name, f"{name}: could not be checked: {exc}", fix))
    return checks
