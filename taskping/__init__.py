"""TaskPing: drive Claude Code sessions from a phone by email.

Notify path: Claude Code hooks -> session map -> outbox -> SMTP.
Reply path:  IMAP -> relay pipeline -> injector -> terminal.
"""

__version__ = "0.1.0"
