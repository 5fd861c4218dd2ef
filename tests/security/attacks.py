"""The attack catalogue: crafted replies, each with the decision it must get.

Every attack carries a marker word (``MARK_<name>_K``) where its payload is, so
the suite can prove the payload never reached claude (the fake API's prompts)
nor the terminal (tmux scrollback). ``typed-sanitised`` attacks are the
exception by design: they come from the real, authenticated person and are
typed, but with every control sequence, bidi override and zero-width
character removed and a leading ``!`` neutralised.

Phases: ``dkim`` (the relay runs SENDER_AUTH=dkim against the test DNS
server), ``lifecycle`` (also dkim, sent after session B is expired, then
ended), ``authres`` (the relay restarted with SENDER_AUTH=authres and
TRUSTED_AUTHSERV_ID = the host name the receiving server, Dovecot, writes in
its Received header).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as smtp_policy
from pathlib import Path

from taskping.session_map.vocabulary import Code
from tests.support.dkim import SIGNED, Key, sign
from tests.support.replies import reply_head, reply_part
from tests.support.world import Notification


@dataclass
class Ctx:
    me: str  # the allowlisted person, me@example.test
    taskping: str
    note_a: Notification
    note_b: Notification
    me_key: Key  # example.test's published key
    evil_key: Key  # evil.example's published key (the attacker signs their own domain validly)
    stray_key: Key  # a key for example.test the attacker made; not the published one
    weak_key: Key  # 512-bit, published for example.test under its own selector
    authserv: str  # TRUSTED_AUTHSERV_ID in the authres phase
    host_part: str  # the token host part of this machine (visible in any notification subject)
    scratch: Path  # files a neutralised "!touch" would have created
    sent: dict[str, bytes]  # raw of every message sent so far, by attack name


@dataclass(frozen=True)
class Attack:
    name: str
    phase: str
    build: Callable[[Ctx, Attack], bytes]
    status: str  # dropped | refused | typed-sanitised | delivered (a control)
    reason: str  # substring of the ledger reason (the wording may change; ``code`` may not)
    group: str
    code: Code | None = None  # the stable reason code of a refused or dropped attack

    @property
    def mid(self) -> str:
        return f"<{self.name}@attack.test>"

    @property
    def marker(self) -> str:
        return f"MARK_{self.name}_K"


def compose(
    ctx: Ctx,
    a: Attack,
    *,
    from_: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    note: str = "a",
    thread: bool = True,
    html: str | None = None,
    extra: tuple[str, ...] = (),
    cte: str | None = None,
    attach: bytes | None = None,
    attach_message: bytes | None = None,
    message_id: str | None = None,
) -> bytes:
    """A reply as raw bytes; headers written by hand so odd From values reach the relay byte for byte."""
    n = ctx.note_a if note == "a" else ctx.note_b
    part = reply_part(body if body is not None else f"please do {a.marker}", html=html, cte=cte)
    if attach is not None:
        part.add_attachment(attach, maintype="text", subtype="plain", filename="commands.txt")
    if attach_message is not None:
        inner = EmailMessage()
        inner["From"] = ctx.me
        inner["Subject"] = "fwd"
        inner.set_content(attach_message.decode())
        part.add_attachment(inner)
    head = reply_head(
        from_=from_ if from_ is not None else f"Me <{ctx.me}>",
        to=ctx.taskping,
        subject=subject if subject is not None else "Re: " + n.subject,
        message_id=message_id or a.mid,
        in_reply_to=n.message_id if thread else None,
        extra=extra,
    )
    return head + part.as_bytes(policy=smtp_policy)


def signed(ctx: Ctx, raw: bytes, key: Key | None = None, **kw) -> bytes:  # type: ignore[no-untyped-def]
    return sign(raw, key or ctx.me_key, **kw)


def from_attack(from_: str, *, key: str = "evil") -> Callable[[Ctx, Attack], bytes]:
    """A From trick, signed validly by the attacker's own domain (or by nobody)."""

    def build(ctx: Ctx, a: Attack) -> bytes:
        raw = compose(ctx, a, from_=from_.replace("ME", ctx.me))
        return signed(ctx, raw, ctx.evil_key) if key == "evil" else raw

    return build


def genuine(**kw) -> Callable[[Ctx, Attack], bytes]:  # type: ignore[no-untyped-def]
    """Really from the person (signed with example.test's key): the later steps must hold on their own."""

    def build(ctx: Ctx, a: Attack) -> bytes:
        args = dict(kw)
        for k, v in list(args.items()):
            if callable(v):
                args[k] = v(ctx, a)
        return signed(ctx, compose(ctx, a, **args))

    return build


def _quoted(note: Notification) -> str:
    from tests.support.world import quoted

    return quoted(note)


# --------------------------------------------------------------------------- builders needing more than a From


def two_from_headers(ctx: Ctx, a: Attack) -> bytes:
    raw = compose(ctx, a, from_="evil@evil.example")
    return signed(ctx, f"From: Me <{ctx.me}>\r\n".encode() + raw, ctx.evil_key)


def sender_header(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, from_="evil@evil.example", extra=(f"Sender: {ctx.me}",)), ctx.evil_key)


def reply_to_header(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, from_="evil@evil.example", extra=(f"Reply-To: {ctx.me}",)), ctx.evil_key)


def from_me_sender_evil(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, extra=("Sender: evil@evil.example",)), ctx.evil_key)


def leaked_notification_spoof(ctx: Ctx, a: Attack) -> bytes:
    # the attacker read a notification: right token, right Message-ID, wrong From
    return signed(ctx, compose(ctx, a, from_="Me <evil@evil.example>"), ctx.evil_key)


def leaked_notification_unsigned(ctx: Ctx, a: Attack) -> bytes:
    return compose(ctx, a)


def signed_by_stray_key(ctx: Ctx, a: Attack) -> bytes:
    # a key the attacker made, under the selector example.test really publishes
    return signed(ctx, compose(ctx, a), ctx.stray_key)


def signed_unpublished_selector(ctx: Ctx, a: Attack) -> bytes:
    return sign(compose(ctx, a), Key("nosuch", "example.test", ctx.stray_key.private_pem, ""))


def weak_key(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a), ctx.weak_key)


def body_limit_zero(ctx: Ctx, a: Attack) -> bytes:
    # sign an empty body with l=0, then append the command: dkimpy alone would still say "valid"
    raw = compose(ctx, a, body="")
    head, _, _ = raw.partition(b"\r\n\r\n")
    empty = head + b"\r\n\r\n"
    return signed(ctx, empty, length=True) + f"please do {a.marker}\r\n".encode()


def body_changed(ctx: Ctx, a: Attack) -> bytes:
    raw = signed(ctx, compose(ctx, a, body="looks fine, thanks"))
    return raw.replace(b"looks fine, thanks", f"please do {a.marker}".encode())


def subject_unsigned(ctx: Ctx, a: Attack) -> bytes:
    # signed without Subject: whoever relays it can point it at another session
    raw = compose(ctx, a, thread=False, subject=f"Re: [TaskPing #{ctx.note_b.token}] x")
    return signed(ctx, raw, headers=tuple(h for h in SIGNED if h != b"subject"))


def subject_prepended(ctx: Ctx, a: Attack) -> bytes:
    # a second Subject added above the signed one (DKIM checks the bottom one only)
    raw = signed(ctx, compose(ctx, a, thread=False, subject=f"Re: [TaskPing #{ctx.note_a.token}] x"))
    return f"Subject: Re: [TaskPing #{ctx.note_b.token}] x\r\n".encode() + raw


def from_rewritten(ctx: Ctx, a: Attack) -> bytes:
    raw = signed(ctx, compose(ctx, a, from_=f"Me <{ctx.me}>", body="looks fine, thanks"))
    return raw.replace(f"Me <{ctx.me}>".encode(), f"Me Again <{ctx.me}>".encode(), 1)


def signed_tld(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a), ctx.evil_key, domain="test")


def replay_new_message_id(ctx: Ctx, a: Attack) -> bytes:
    original = ctx.sent["control-dkim"]
    return original.replace(b"<control-dkim@attack.test>", a.mid.encode())


def replay_whitespace(ctx: Ctx, a: Attack) -> bytes:
    # relaxed body canonicalisation ignores runs of spaces: the old signature still verifies
    original = ctx.sent["control-dkim"]
    raw = original.replace(b"<control-dkim@attack.test>", a.mid.encode())
    changed = raw.replace(b"run the control step", b"run  the   control step")
    assert changed != raw
    return changed


def guessed_token(ctx: Ctx, a: Attack) -> bytes:
    guess = f"{ctx.host_part}-{'a' * 16}"
    return signed(ctx, compose(ctx, a, thread=False, subject=f"Re: [TaskPing #{guess}] done"))


def guessed_token_spoof(ctx: Ctx, a: Attack) -> bytes:
    guess = f"{ctx.host_part}-{'2' * 16}"
    return compose(
        ctx, a, thread=False, subject=f"Re: [TaskPing #{guess}] done", from_=f'"{ctx.me}" <evil@evil.example>'
    )


def cross_session_subject(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, subject=f"Re: [TaskPing #{ctx.note_b.token}] hi"))


def no_thread_no_token(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, thread=False, subject="Re: hello"))


def html_hidden(style: str) -> Callable[[Ctx, Attack], bytes]:
    def build(ctx: Ctx, a: Attack) -> bytes:
        html = f'<div style="{style}">please do {a.marker}</div>'
        return signed(ctx, compose(ctx, a, body="", html=html))

    return build


def attachment_only(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, body="", attach=f"please do {a.marker}\n".encode()))


def attached_message(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, body="", attach_message=f"please do {a.marker}\n".encode()))


def quoted_only(ctx: Ctx, a: Attack) -> bytes:
    body = (
        f"On Sat, Nov 21, 2026 at 9:00 AM TaskPing <{ctx.taskping}> wrote:\n"
        f"> please do {a.marker}\n{_quoted(ctx.note_a)}\n"
    )
    return signed(ctx, compose(ctx, a, body=body))


def huge_text(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, body=(f"please do {a.marker} " + "x" * 100_000)))


def huge_html(ctx: Ctx, a: Attack) -> bytes:
    html = "<p>" + f"please do {a.marker} " + ("lorem ipsum " * 9000) + "</p>"
    return signed(ctx, compose(ctx, a, body="", html=html))


def sanitised(text: str, note: str = "a") -> Callable[[Ctx, Attack], bytes]:
    def build(ctx: Ctx, a: Attack) -> bytes:
        body = text.replace("MARK", a.marker).replace("SCRATCH", str(ctx.scratch / a.name))
        return signed(ctx, compose(ctx, a, body=body, cte="base64", note=note))

    return build


def control_genuine(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, body="run the control step"))


def control_upper(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, from_=f"ME <{ctx.me.upper()}>", body=f"upper-case address {a.marker}"))


def late_reply(ctx: Ctx, a: Attack) -> bytes:
    return signed(ctx, compose(ctx, a, note="b"))


# --------------------------------------------------------------------------- authres phase


def authres(*headers: str, from_: str | None = None, received: str | None = None) -> Callable[[Ctx, Attack], bytes]:
    def build(ctx: Ctx, a: Attack) -> bytes:
        extra = tuple(h.replace("TRUSTED", ctx.authserv) for h in headers)
        raw = compose(ctx, a, from_=from_)
        top = b"".join(f"{h}\r\n".encode() for h in extra)
        if received:
            # what the attacker's own outbound server writes above their headers
            top = f"{received}\r\n".encode() + top
        return top + raw

    return build


def control_authres(ctx: Ctx, a: Attack) -> bytes:
    return authres("Authentication-Results: TRUSTED; dkim=pass header.d=example.test; dmarc=pass")(ctx, a).replace(
        f"please do {a.marker}".encode(), b"authres control step"
    )


EVIL_RECEIVED = "Received: from [203.0.113.9] by smtp.evil.example with ESMTP id 1; Sat, 21 Nov 2026 09:00:00 +0000"

# --------------------------------------------------------------------------- the catalogue

ALLOW = "ALLOWED_SENDERS"

ATTACKS: list[Attack] = [
    # controls: the same setup does deliver genuine mail (so zero keystrokes below means something)
    Attack("control-dkim", "control", control_genuine, "delivered", "submitted", "control"),
    Attack("control-upper-case", "dkim", control_upper, "delivered", "", "control"),
    # display names and lookalike addresses (each signed validly by the attacker's own domain)
    Attack(
        "display-name-quoted",
        "dkim",
        from_attack('"ME" <evil@evil.example>'),
        "dropped",
        ALLOW,
        "from",
        code=Code.SENDER_NOT_ALLOWED,
    ),
    Attack(
        "display-name-bare",
        "dkim",
        from_attack("ME <evil@evil.example>"),
        "dropped",
        "",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "display-name-encoded",
        "dkim",
        from_attack("=?utf-8?q?ME?= <evil@evil.example>"),
        "dropped",
        "address syntax in the display name",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "display-name-angle",
        "dkim",
        from_attack('"Me <ME>" <evil@evil.example>'),
        "dropped",
        ALLOW,
        "from",
        code=Code.SENDER_NOT_ALLOWED,
    ),
    Attack(
        "comment-address",
        "dkim",
        from_attack("evil@evil.example (ME)"),
        "dropped",
        "comment in the address",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "homoglyph-cyrillic-local",
        "dkim",
        from_attack("m\u0435@example.test"),
        "dropped",
        "",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "homoglyph-cyrillic-domain",
        "dkim",
        from_attack("me@ex\u0430mple.test"),
        "dropped",
        "",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "homoglyph-fullwidth-at",
        "dkim",
        from_attack("me\uff20example.test"),
        "dropped",
        "",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "idn-punycode",
        "dkim",
        from_attack("me@xn--exmple-cua.test"),
        "dropped",
        ALLOW,
        "from",
        code=Code.SENDER_NOT_ALLOWED,
    ),
    Attack("trailing-dot", "dkim", from_attack("me@example.test."), "dropped", "", "from", code=Code.FROM_MALFORMED),
    Attack(
        "plus-tag",
        "dkim",
        from_attack("me+taskping@example.test"),
        "dropped",
        ALLOW,
        "from",
        code=Code.SENDER_NOT_ALLOWED,
    ),
    Attack(
        "subdomain", "dkim", from_attack("me@mail.example.test"), "dropped", ALLOW, "from", code=Code.SENDER_NOT_ALLOWED
    ),
    Attack(
        "suffix-domain",
        "dkim",
        from_attack("me@example.test.evil.example"),
        "dropped",
        ALLOW,
        "from",
        code=Code.SENDER_NOT_ALLOWED,
    ),
    Attack(
        "zero-width-in-address",
        "dkim",
        from_attack("m\u200be@example.test"),
        "dropped",
        "",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "two-addresses",
        "dkim",
        from_attack("ME, evil@evil.example"),
        "dropped",
        "exactly one address",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "group-syntax",
        "dkim",
        from_attack("friends: ME, evil@evil.example;"),
        "dropped",
        "",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    Attack(
        "two-from-headers", "dkim", two_from_headers, "dropped", "duplicate From header", "from", code=Code.UNREADABLE
    ),
    Attack("empty-from", "dkim", from_attack(""), "dropped", "", "from", code=Code.FROM_MALFORMED),
    Attack(
        "source-route-unsigned",
        "dkim",
        from_attack("<@evil.example:ME>", key="none"),
        "dropped",
        "",
        "from",
        code=Code.FROM_MALFORMED,
    ),
    # Sender / Reply-To
    Attack("sender-is-me", "dkim", sender_header, "dropped", ALLOW, "sender", code=Code.SENDER_NOT_ALLOWED),
    Attack("reply-to-is-me", "dkim", reply_to_header, "dropped", ALLOW, "sender", code=Code.SENDER_NOT_ALLOWED),
    Attack(
        "from-me-sender-evil",
        "dkim",
        from_me_sender_evil,
        "dropped",
        "not aligned",
        "sender",
        code=Code.NOT_AUTHENTICATED,
    ),
    # someone who read one notification (token and Message-ID known)
    Attack(
        "leaked-notification-spoof",
        "dkim",
        leaked_notification_spoof,
        "dropped",
        ALLOW,
        "leak",
        code=Code.SENDER_NOT_ALLOWED,
    ),
    Attack(
        "leaked-notification-unsigned",
        "dkim",
        leaked_notification_unsigned,
        "dropped",
        "no DKIM-Signature",
        "leak",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "guessed-token-spoofed-from",
        "dkim",
        guessed_token_spoof,
        "dropped",
        ALLOW,
        "leak",
        code=Code.SENDER_NOT_ALLOWED,
    ),
    # DKIM itself
    Attack(
        "dkim-other-domain", "dkim", from_attack("ME"), "dropped", "not aligned", "dkim", code=Code.NOT_AUTHENTICATED
    ),
    Attack("dkim-tld-only", "dkim", signed_tld, "dropped", "not aligned", "dkim", code=Code.NOT_AUTHENTICATED),
    Attack(
        "dkim-stray-key", "dkim", signed_by_stray_key, "dropped", "does not verify", "dkim", code=Code.NOT_AUTHENTICATED
    ),
    Attack(
        "dkim-unpublished-selector",
        "dkim",
        signed_unpublished_selector,
        "dropped",
        "NXDOMAIN",
        "dkim",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack("dkim-weak-key", "dkim", weak_key, "dropped", "too small", "dkim", code=Code.NOT_AUTHENTICATED),
    Attack("dkim-l-zero", "dkim", body_limit_zero, "dropped", "l= limits", "dkim", code=Code.NOT_AUTHENTICATED),
    Attack(
        "dkim-body-changed", "dkim", body_changed, "dropped", "body hash mismatch", "dkim", code=Code.NOT_AUTHENTICATED
    ),
    Attack(
        "dkim-from-rewritten", "dkim", from_rewritten, "dropped", "does not verify", "dkim", code=Code.NOT_AUTHENTICATED
    ),
    Attack(
        "dkim-subject-unsigned", "dkim", subject_unsigned, "dropped", "subject", "dkim", code=Code.NOT_AUTHENTICATED
    ),
    Attack(
        "dkim-subject-prepended",
        "dkim",
        subject_prepended,
        "dropped",
        "duplicate Subject header",
        "dkim",
        code=Code.UNREADABLE,
    ),
    # replays of the genuine control reply
    Attack("replay-new-message-id", "dkim", replay_new_message_id, "refused", "replay", "replay", code=Code.REPLAY),
    Attack("replay-respaced-body", "dkim", replay_whitespace, "refused", "replay", "replay", code=Code.REPLAY),
    # routing, from the genuine person
    Attack(
        "subject-token-of-other-session",
        "dkim",
        cross_session_subject,
        "refused",
        "does not match",
        "route",
        code=Code.TOKEN_MISMATCH,
    ),
    Attack(
        "guessed-token", "dkim", guessed_token, "refused", "unknown session token", "route", code=Code.UNKNOWN_TOKEN
    ),
    Attack("no-thread-no-token", "dkim", no_thread_no_token, "refused", "not a reply", "route", code=Code.NOT_A_REPLY),
    # content the person did not see or did not write as new text
    Attack("html-display-none", "dkim", html_hidden("display:none"), "refused", "", "content", code=Code.NO_NEW_TEXT),
    Attack("html-zero-size", "dkim", html_hidden("font-size:0"), "refused", "", "content", code=Code.NO_NEW_TEXT),
    Attack(
        "html-white-on-white",
        "dkim",
        html_hidden("color:#fff;background:#fff"),
        "refused",
        "",
        "content",
        code=Code.NO_NEW_TEXT,
    ),
    Attack(
        "html-visibility-hidden",
        "dkim",
        html_hidden("visibility:hidden"),
        "refused",
        "",
        "content",
        code=Code.NO_NEW_TEXT,
    ),
    Attack("attachment-only", "dkim", attachment_only, "refused", "", "content", code=Code.NO_NEW_TEXT),
    Attack("attached-message", "dkim", attached_message, "refused", "", "content", code=Code.NO_NEW_TEXT),
    Attack("quoted-part-only", "dkim", quoted_only, "refused", "", "content", code=Code.NO_NEW_TEXT),
    Attack("body-100kb", "dkim", huge_text, "refused", "MAX_COMMAND_BYTES", "content", code=Code.COMMAND_TOO_LARGE),
    Attack("html-100kb", "dkim", huge_html, "refused", "MAX_COMMAND_BYTES", "content", code=Code.COMMAND_TOO_LARGE),
    # typed, but sanitised: nothing but text reaches the terminal
    Attack(
        "bracketed-paste-end", "dkim", sanitised("MARK \x1b[201~\x1b[200~ after"), "typed-sanitised", "", "terminal"
    ),
    Attack(
        "osc52-clipboard", "dkim", sanitised("MARK \x1b]52;c;cm0gLXJmIH4=\x07 done"), "typed-sanitised", "", "terminal"
    ),
    Attack("c1-csi", "dkim", sanitised("MARK \x9b31m red \x9b0m", note="b"), "typed-sanitised", "", "terminal"),
    Attack(
        "bidi-override",
        "dkim",
        sanitised("MARK run \u202eevil\u202c \u2066x\u2069", note="b"),
        "typed-sanitised",
        "",
        "terminal",
    ),
    Attack(
        "zero-width", "dkim", sanitised("MARK ap\u200bpro\u200dve\u2060 all\ufeff"), "typed-sanitised", "", "terminal"
    ),
    Attack(
        "lone-cr-early-enter", "dkim", sanitised("MARK line one\rline two", note="b"), "typed-sanitised", "", "terminal"
    ),
    Attack(
        "nul-bel-backspace",
        "dkim",
        sanitised("MARK \x07bell\x08\x08 \x00nul \x7fdel"),
        "typed-sanitised",
        "",
        "terminal",
    ),
    Attack("leading-bang", "dkim", sanitised("!touch SCRATCH MARK", note="b"), "typed-sanitised", "", "terminal"),
    Attack(
        "zero-width-then-bang", "dkim", sanitised("\u200b\n\n !touch SCRATCH MARK"), "typed-sanitised", "", "terminal"
    ),
    Attack("esc-then-bang", "dkim", sanitised("\x1b!touch SCRATCH MARK", note="b"), "typed-sanitised", "", "terminal"),
    # session B, after it expired and after it ended
    Attack(
        "reply-to-expired-session",
        "lifecycle-expired",
        late_reply,
        "refused",
        "expired",
        "route",
        code=Code.REPLY_WINDOW_EXPIRED,
    ),
    Attack(
        "reply-to-closed-session",
        "lifecycle-ended",
        late_reply,
        "refused",
        "has ended",
        "route",
        code=Code.SESSION_ENDED,
    ),
    # Authentication-Results (relay restarted with SENDER_AUTH=authres)
    Attack("control-authres", "authres", control_authres, "delivered", "", "control"),
    Attack(
        "authres-none",
        "authres",
        authres(),
        "dropped",
        "no Authentication-Results header",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-untrusted-id",
        "authres",
        authres("Authentication-Results: mx.evil.example; dkim=pass header.d=example.test; dmarc=pass"),
        "dropped",
        "no Authentication-Results header",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-lookalike-id",
        "authres",
        authres("Authentication-Results: TRUSTED.evil.example; dmarc=pass header.from=example.test"),
        "dropped",
        "no Authentication-Results header",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-id-in-comment",
        "authres",
        authres("Authentication-Results: evil.example (TRUSTED); dmarc=pass header.from=example.test"),
        "dropped",
        "no Authentication-Results header",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-dkim-other-domain",
        "authres",
        authres("Authentication-Results: TRUSTED; dkim=pass header.d=evil.example; dmarc=none"),
        "dropped",
        "does not pass",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-dkim-suffix-domain",
        "authres",
        authres("Authentication-Results: TRUSTED; dkim=pass header.d=example.test.evil.example"),
        "dropped",
        "does not pass",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-dkim-i-other-domain",
        "authres",
        authres("Authentication-Results: TRUSTED; dkim=pass header.i=@evil.example"),
        "dropped",
        "does not pass",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-spf-only",
        "authres",
        authres("Authentication-Results: TRUSTED; spf=pass smtp.mailfrom=example.test"),
        "dropped",
        "does not pass",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-fail-above-forged-pass",
        "authres",
        authres(
            "Authentication-Results: TRUSTED; dkim=fail header.d=example.test; dmarc=fail",
            "Authentication-Results: TRUSTED; dkim=pass header.d=example.test; dmarc=pass",
        ),
        "dropped",
        "does not pass",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-forged-below-sender-received",
        "authres",
        authres("Authentication-Results: TRUSTED; dkim=pass header.d=example.test; dmarc=pass", received=EVIL_RECEIVED),
        "dropped",
        "sits below a Received header",
        "authres",
        code=Code.NOT_AUTHENTICATED,
    ),
    Attack(
        "authres-pass-display-name-spoof",
        "authres",
        authres(
            "Authentication-Results: TRUSTED; dmarc=pass header.from=example.test",
            from_='"me@example.test" <evil@evil.example>',
        ),
        "dropped",
        ALLOW,
        "authres",
        code=Code.SENDER_NOT_ALLOWED,
    ),
]

NAMES = [a.name for a in ATTACKS]
assert len(NAMES) == len(set(NAMES))
