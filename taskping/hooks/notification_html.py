"""The HTML page of a notification, as a phone shows it.

Top to bottom:

1. the reply **marker** line, small and grey: the extractor's boundary, kept
   as the first visible line (see :mod:`taskping.marker`), led by a hidden
   **preheader** on the same line: the first line of Claude's reply, which
   inbox lists show as the preview (followed by invisible padding, so the
   preview does not run on into the marker);
2. the one-line **summary** of the turn (``4 min · edited 3 files · ran 2 commands``);
3. the **body**: Claude's markdown rendered by :mod:`taskping.hooks.markdown_html`
   (or a monospace block for plain text);
4. **buttons**: one-tap ``mailto:`` answers (see :func:`mailto`);
5. the **footer**: how to reply, the reply commands when there are any, the
   session's details.

Light and dark: the page declares ``color-scheme: light dark`` and sets no text
or background colour of its own (the client's defaults, which follow the
phone's theme), only translucent greys and the buttons' blue with white text,
which read on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import quote

MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
#: Translucent greys read on white and on black alike.
SHADE = "rgba(127,127,127,.14)"
RULE = "rgba(127,127,127,.45)"
#: A code block: monospace, never wrapped, scrolled sideways on a narrow screen.
PRE_STYLE = (
    f"margin:0 0 12px;padding:10px 12px;background:{SHADE};border-radius:6px;overflow-x:auto;"
    f"white-space:pre;font-family:{MONO};font-size:13px;line-height:1.45"
)


class Button(NamedTuple):
    label: str
    href: str


class FooterCommand(NamedTuple):
    """A reply command listed in the footer (what to write, what it does)."""

    write: str
    does: str


def escape(text: str) -> str:
    """HTML-escape text for an element or a quoted attribute (as ``html.escape``)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def mailto(to_addr: str, *, subject: str, body: str, in_reply_to: str | None = None) -> str:
    """A ``mailto:`` URL (RFC 6068) that opens a reply already addressed, with ``subject``
    (it carries the ``[TaskPing #TOKEN]`` tag the relay routes by) and ``body``.

    Every value is percent-encoded as UTF-8, so nothing in the subject can add a header.
    ``In-Reply-To`` is passed too: clients that honour it thread the reply; most phone clients
    drop it, and the relay routes such a reply by the subject's token alone."""
    fields = [("subject", subject), ("body", body)]
    if in_reply_to:
        fields.append(("In-Reply-To", in_reply_to))
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in fields)
    return f"mailto:{quote(to_addr, safe='@')}?{query}"


PAGE_STYLE = (
    "margin:0;padding:14px 14px 20px;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,"
    "Helvetica,Arial,sans-serif;font-size:16px;line-height:1.45;-webkit-text-size-adjust:100%;word-wrap:break-word"
)
PREHEADER_STYLE = "display:none;mso-hide:all"
#: After the preheader: invisible characters that fill the rest of the preview line.
PREHEADER_PAD = "&#847;&zwnj;&nbsp;" * 60
#: Secondary text: a mid grey, legible on white and on black (no opacity: the reply extractor, reading a
#: quoted copy of this page, refuses text under styles it cannot judge).
MUTED = "color:#888888"
BUTTON_STYLE = (
    "display:inline-block;margin:0 8px 8px 0;padding:10px 18px;border-radius:8px;background:#1a73e8;"
    "color:#ffffff;text-decoration:none;font-weight:600;font-size:15px"
)


def page(
    *,
    preheader: str,
    marker: str,
    summary: str | None,
    title: str | None,
    body_html: str,
    buttons: Sequence[Button],
    how_to_reply: Sequence[str],
    commands: Sequence[FooterCommand],
    details: Sequence[str],
) -> str:
    """The whole HTML document (``body_html`` is already safe HTML)."""
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<meta name='color-scheme' content='light dark'><meta name='supported-color-schemes' content='light dark'>",
        f'</head><body style="{PAGE_STYLE}">',
        # The preheader shares the marker's line: a client that quotes this page with its styles
        # stripped shows "<first line> ## Reply above this line ## …" as one line, which the extractor
        # still reads as the marker (nothing of Claude's leaks above the boundary).
        (
            f'<p style="margin:0 0 10px;font-size:12px;{MUTED}"><span style="{PREHEADER_STYLE}">'
            f"{escape(preheader)}{PREHEADER_PAD}</span>{escape(marker)}</p>"
        ),
    ]
    if title:
        out.append(f'<p style="margin:0 0 6px;font-size:17px;font-weight:600">{escape(title)}</p>')
    if summary:
        out.append(f'<p style="margin:0 0 12px;font-size:13px;{MUTED}">{escape(summary)}</p>')
    out.append(f"<div>{body_html}</div>")
    if buttons:
        out.append('<div style="margin:14px 0 6px">')
        out += [f'<a href="{escape(b.href)}" style="{BUTTON_STYLE}">{escape(b.label)}</a>' for b in buttons]
        out.append("</div>")
    out.append(f'<div style="margin:18px 0 0;padding-top:10px;border-top:1px solid {SHADE};font-size:13px;{MUTED}">')
    out += [f'<p style="margin:0 0 4px">{escape(line)}</p>' for line in how_to_reply]
    if commands:
        out.append('<p style="margin:8px 0 4px">Reply commands (a line on its own):</p>')
        out += [
            (
                f'<p style="margin:0 0 2px"><code style="font-family:{MONO}">{escape(c.write)}</code> '
                f"{escape(c.does)}</p>"
            )
            for c in commands
        ]
    out.append('<p style="margin:8px 0 0">' + "<br>".join(escape(d) for d in details) + "</p></div>")
    out.append("</body></html>")
    return "".join(out)


def preformatted(text: str) -> str:
    """Plain text (a build log) as a monospace block that scrolls sideways."""
    return f'<pre style="{PRE_STYLE}">{escape(text)}</pre>'
