"""Outgoing mail: everything TaskPing sends, for the hooks and the relay alike.

- :mod:`~taskping.outgoing.compose`: building a message (Message-ID, threading
  headers, text and HTML parts);
- :mod:`~taskping.outgoing.smtp`: sending the outbox over SMTP, oldest first,
  each row claimed by one sender;
- :mod:`~taskping.outgoing.smtp_errors`: an SMTP failure as one line naming
  what to check, and whether it is permanent;
- :mod:`~taskping.outgoing.send_now`: `taskping send-outbox`'s one-sender-at-a-time
  loop with retries until a deadline.

The queue itself (SQL) is :mod:`taskping.session_map.outbox`. Nothing here
imports the relay.
"""

from taskping.outgoing.compose import TASKPING_HEADER, OutgoingMail, build, new_message_id

__all__ = ["TASKPING_HEADER", "OutgoingMail", "build", "new_message_id"]
