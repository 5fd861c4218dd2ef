"""TaskPing's one vocabulary for what happens to mail: statuses, steps, reason codes, kinds.

Owned by the session map (which stores these words and depends on nothing of
ours), used by the relay, the hooks and the CLI. Every value is a
:class:`~enum.StrEnum`, so it is stored, logged and compared as its plain
string (``Status.DELIVERED == "delivered"``).

A message's fate is a :class:`Status`; when a step stops it, a
:class:`Refusal` says which :class:`Step`, a stable :class:`Code` (what tests,
the audit log and scripts match on) and a human reason (what the person reads;
its wording may change).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """What became of an inbound message: the ledger's ``status`` column and the relay's outcome.

    ``received ─▶ injecting ─▶ delivered`` (or ``unknown`` after a crash mid-typing),
    ``received ─▶ waiting`` (typed later), ``refused`` (told why), ``dropped``
    (nothing sent back), ``foreign`` (another machine's reply, left untouched).
    ``received ─▶ answered`` (a reply command, see :mod:`taskping.relay.commands`).
    ``duplicate`` is an outcome only: a message seen again keeps its first row.
    """

    RECEIVED = "received"
    WAITING = "waiting"
    INJECTING = "injecting"
    DELIVERED = "delivered"
    REFUSED = "refused"
    DROPPED = "dropped"
    UNKNOWN = "unknown"
    FOREIGN = "foreign"
    DUPLICATE = "duplicate"
    ANSWERED = "answered"  # a reply command (``#status``...): run and answered in the thread, nothing typed


FINAL: frozenset[Status] = frozenset(
    {Status.DELIVERED, Status.REFUSED, Status.DROPPED, Status.UNKNOWN, Status.FOREIGN, Status.ANSWERED}
)
# A reply that was (or will be) typed, or a command that was run: what the replay check and the
# rate limit count (a replayed ``#esc`` must not press Escape again).
TYPED: tuple[Status, ...] = (Status.WAITING, Status.INJECTING, Status.DELIVERED, Status.UNKNOWN, Status.ANSWERED)


class Step(StrEnum):
    """The relay's steps, in the order they run (see :mod:`taskping.relay.pipeline`)."""

    PARSE = "parse"
    SCREEN = "screen"
    DEDUPE = "dedupe"
    AUTHENTICATE = "authenticate"
    ROUTE = "route"
    EXTRACT = "extract"
    REPLAY = "replay"
    APPROVAL = "approval"  # a reply to a permission approval email decides it instead of being typed
    COMMAND = "command"  # a reply command is run instead of guard and inject
    GUARD = "guard"
    INJECT = "inject"


class Code(StrEnum):
    """Stable reason codes. Renaming one is a breaking change: tests and the audit log match on them."""

    # parse (and any step that raised)
    UNREADABLE = "unreadable"  # no single reading of the message
    TOO_LARGE = "too-large"  # over MAX_MESSAGE_BYTES
    INTERNAL_ERROR = "internal-error"  # a step raised; nothing was typed
    # screen
    FOREIGN = "foreign"  # another machine's reply
    # dedupe (the Message-ID half)
    DUPLICATE = "duplicate"  # the same message again
    FATE_UNKNOWN = "fate-unknown"  # the relay stopped while typing it
    # authenticate
    AUTOMATIC = "automatic"  # our own mail, auto-replies, bulk
    FROM_MALFORMED = "from-malformed"  # not exactly one From header holding one literal address
    OWN_ADDRESS = "own-address"
    SENDER_NOT_ALLOWED = "sender-not-allowed"
    NOT_AUTHENTICATED = "not-authenticated"  # the provider's verdict or the DKIM signature does not pass
    AUTH_MISCONFIGURED = "auth-misconfigured"
    # route
    NOT_A_REPLY = "not-a-reply"
    UNKNOWN_TOKEN = "unknown-token"
    TOKEN_MISMATCH = "token-mismatch"
    SESSION_ENDED = "session-ended"
    REPLY_WINDOW_EXPIRED = "reply-window-expired"
    THREAD_UNSIGNED = "thread-unsigned"
    # extract
    NO_NEW_TEXT = "no-new-text"
    # replay (the second half of dedupe)
    REPLAY = "replay"
    # approval (a reply to an approval email: answered, nothing typed; see taskping.relay.approval_answer)
    APPROVAL_ALLOWED = "approval-allowed"
    APPROVAL_DENIED = "approval-denied"
    APPROVAL_UNCLEAR = "approval-unclear"  # neither yes nor no: asked again, still pending
    APPROVAL_EXPIRED = "approval-expired"  # APPROVAL_TIMEOUT passed: the dialog waits at the terminal
    APPROVAL_CLOSED = "approval-closed"  # the dialog was answered at the terminal
    APPROVAL_DECIDED = "approval-decided"  # already decided once
    # command (a reply that is exactly one ``#command`` line: answered, nothing typed)
    COMMAND_HELP = "command-help"
    COMMAND_STATUS = "command-status"
    COMMAND_SCREEN = "command-screen"
    COMMAND_ESC = "command-esc"
    COMMAND_CLOSE = "command-close"
    COMMAND_NEW = "command-new"  # ``#new DIR [prompt]``: a session was started (its prompt typed, or why not)
    COMMAND_FAILED = "command-failed"  # the session's terminal could not be read or sent the key
    CLOSE_REPLIES_WAITING = "close-replies-waiting"  # ``#close`` while replies wait for the session: refused
    NEW_NO_ROOTS = "new-no-allowed-roots"  # ``#new`` with ALLOWED_ROOTS empty
    NEW_DIR_NOT_ALLOWED = "new-dir-not-allowed"  # DIR missing, not a directory, or outside ALLOWED_ROOTS
    NEW_NEEDS_HOST = "new-needs-host"  # ``#new`` without ``@HOST`` on a mailbox that several machines read
    NEW_FAILED = "new-failed"  # claude did not start
    # guard
    COMMAND_TOO_LARGE = "command-too-large"
    RATE_LIMITED = "rate-limited"
    NOTHING_TO_TYPE = "nothing-to-type"
    # inject
    BUSY = "busy"  # parked until the screen is READY (a waiting outcome, not a refusal)
    BUSY_TIMEOUT = "busy-timeout"  # still busy after BUSY_WAIT_SECONDS (or it is 0)
    TARGET_GONE = "target-gone"
    DIALOG_OPEN = "dialog-open"
    INJECT_FAILED = "inject-failed"
    RESUME_FAILED = "resume-failed"  # a gone session could not be brought back; nothing typed
    SUBMITTED = "submitted"  # delivered, submission confirmed
    UNCONFIRMED = "unconfirmed"  # delivered, submission not confirmed


class EndReason(StrEnum):
    """Why a session ended (the sessions ``end_reason`` column). A SessionEnd hook records
    ``SessionEnd:<Claude's reason>``: measured on 2.1.328, ``/exit`` gives ``prompt_input_exit``,
    the tmux server killed under Claude (SIGHUP) gives ``other``."""

    PANE_GONE = "pane gone"  # the relay found the terminal gone
    CLOSED = "closed by #close"  # the person sent #close
    PTY_EXITED = "PTY command exited"  # the command under `spawn --mode pty` exited
    PRUNED = "pruned: pane gone"  # `taskping sessions --prune`
    SPAWN_FAILED = "spawn failed"  # spawn's command never started
    REPLACED = "replaced"  # another session registered on the same terminal
    CLEANED = "cleaned"  # its terminal was closed TOKEN_TTL after it ended or expired (taskping.hooks.orphans)
    EXIT = "SessionEnd:prompt_input_exit"  # the person typed /exit (or #close typed it)
    LOGOUT = "SessionEnd:logout"  # the person logged out of Claude Code


#: Ended by the person: such a session is never resumed (they closed it).
CLOSED_BY_PERSON: frozenset[str] = frozenset({EndReason.CLOSED, EndReason.EXIT, EndReason.LOGOUT})


@dataclass(frozen=True)
class Refusal:
    """A step said no: which step, a stable code, and the reason the person reads.

    ``session_id`` is set when the step knew the session (an ended or expired
    one, say), so the refusal is threaded and recorded under it.
    """

    step: Step
    code: Code
    reason: str
    session_id: int | None = None

    @property
    def ok(self) -> bool:
        return False


class EmailKind(StrEnum):
    """What an email TaskPing sends is (``X-TaskPing`` header, outbox and notifications ``kind``)."""

    STOP = "stop"  # Claude finished a turn
    PERMISSION = "permission"  # a permission dialog is open
    IDLE = "idle"  # waiting for input
    ACK = "ack"  # a reply was typed
    REFUSAL = "refusal"  # a reply was not typed, and why
    UNKNOWN = "unknown"  # the relay stopped while typing a reply
    SETUP = "setup"  # `taskping init --learn-from-reply`
    NOTIFY = "notify"
    ANSWER = "answer"  # the answer to a reply command (``#status``, ``#screen``...)  # `taskping notify`: a message from a script or a build, in a session's thread
    APPROVAL = "approval"  # a permission request to allow or deny by replying


class ApprovalStatus(StrEnum):
    """A permission approval by email: ``pending ─▶ allowed | denied`` (an answer by email),
    ``expired`` (APPROVAL_TIMEOUT passed: the dialog waits at the terminal), ``closed`` (answered
    at the terminal, or the session moved on). Decided once (see taskping.session_map.approvals)."""

    PENDING = "pending"
    ALLOWED = "allowed"
    DENIED = "denied"
    EXPIRED = "expired"
    CLOSED = "closed"


class OutboxStatus(StrEnum):
    """An outbox row: ``queued ─▶ sending ─▶ sent``, back to ``queued`` on a temporary failure, or ``failed``."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


__all__ = [
    "CLOSED_BY_PERSON",
    "FINAL",
    "TYPED",
    "ApprovalStatus",
    "Code",
    "EmailKind",
    "EndReason",
    "OutboxStatus",
    "Refusal",
    "Status",
    "Step",
]
