"""The notify path: `taskping hook EVENT`, composing notification mail, and
installing TaskPing's hooks into Claude Code's settings. No IMAP, no typing
into terminals."""
