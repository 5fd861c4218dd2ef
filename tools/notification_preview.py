"""Look at a notification as a phone shows it: headless Chromium screenshots, light and dark.

Composes a sample notification with TaskPing's own code (a Stop with a reply
that uses every kind of markdown Claude writes: headings, lists, emphasis,
links, inline code, a wide code block, a table, an image, raw HTML), writes
its HTML part, and screenshots it at a phone's width (390 CSS px, an iPhone 15)
in the light and the dark colour scheme.

    .venv/bin/python tools/notification_preview.py [--out DIR] [--width 390] [--html-only]

Needs Chromium (Debian: ``apt-get install chromium``); ``--html-only`` just
writes the HTML (open it in any browser, with the device toolbar at 390 px).
Prints the files it wrote. Not part of the test suite (the suite does not
install a browser).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from taskping.hooks.compose import compose
from taskping.hooks.notices import stop_notice
from taskping.session_map.sessions import Session

SAMPLE_REPLY = """## What changed

The flaky test came from the **retry logic** in the outbox sender: it computed the backoff *before*
incrementing the attempt count, so the first retry fired at once. See
[the PR](https://github.com/example/taskping/pull/42) for the discussion.

1. Moved the increment into `claim_next()`.
2. Added a test that drives three temporary failures.
3. Checked the delays are 2, 4 and 8 s.

| file | lines | tests |
| :--- | ---: | :---: |
| `taskping/session_map/outbox.py` | +12 −4 | ✓ |
| `tests/notify/test_outbox_retry.py` | +58 | new |

```python
def backoff(attempts: int, cap: float = BACKOFF_CAP_SECONDS) -> float:
    return min(cap, BACKOFF_BASE_SECONDS * (2 ** max(0, attempts - 1)))  # a long line scrolls sideways
```

> The model's raw HTML stays text: <script>alert(1)</script>

![coverage chart](https://example.test/coverage.png)

Shall I open a pull request?
"""

SCHEMES = ("light", "dark")


def sample_html() -> str:
    now = time.time()
    session = Session(
        id=1,
        token="k3-7fqpzt2m9xwc4hvrnj",
        name="taskping-api",
        kind="tmux",
        target_socket="/tmp/tmux-0/default",
        target_pane="%3",
        claude_session_id=None,
        cwd="/home/me/src/taskping",
        claude_pid=None,
        state="idle",
        last_event="Stop",
        last_event_at=now,
        turn=3,
        notified_turn=2,
        last_prompt_at=now - 240,
        thread_root=None,
        created_at=now - 3600,
        updated_at=now,
        expires_at=now + 86400,
    )
    notice = stop_notice(SAMPLE_REPLY, summary="4 min · edited 3 files · ran 2 commands")
    mail = compose(
        notice,
        session,
        email_from="taskping@example.test",
        email_to="me@example.test",
        reply_window_until=now + 86400,
        state="idle",
    )
    return mail.html


def chromium() -> str | None:
    return next(
        (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
    )


def screenshot(browser: str, page: Path, out: Path, *, width: int, scheme: str) -> None:
    """One full-length screenshot of ``page`` at ``width`` CSS px in ``scheme``."""
    with tempfile.TemporaryDirectory(prefix="taskping-preview-") as profile:
        cmd = [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},1900",
            "--force-device-scale-factor=2",
            f"--blink-settings=preferredColorScheme={0 if scheme == 'dark' else 1}",
            *(["--force-dark-mode"] if scheme == "dark" else []),
            f"--screenshot={out}",
            page.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"chromium failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("notification-preview"), help="directory to write to")
    parser.add_argument("--width", type=int, default=390, help="viewport width in CSS px (default 390)")
    parser.add_argument("--html-only", action="store_true", help="write the HTML only, no screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    page = (args.out / "notification.html").resolve()
    page.write_text(sample_html(), encoding="utf-8")
    print(page)
    if args.html_only:
        return 0
    browser = chromium()
    if browser is None:
        print(
            "notification_preview: no chromium on PATH; install it (Debian: apt-get install chromium) "
            "or pass --html-only",
            file=sys.stderr,
        )
        return 1
    for scheme in SCHEMES:
        shot = (args.out / f"notification-{args.width}-{scheme}.png").resolve()
        screenshot(browser, page, shot, width=args.width, scheme=scheme)
        print(shot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
