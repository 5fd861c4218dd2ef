"""`taskping init`: from a mail provider's name to a working, private config.

Modules, one job each: ``providers`` (hosts, ports, TLS and sender
authentication per provider, and where its app password is made),
``envfile`` (the env file: rendered, checked to read back, written 0600,
never over an existing file unless asked), ``logins`` (the IMAP and SMTP
logins tried right away, each failure with its fix) and ``learn`` (the
provider's real Authentication-Results, read off a reply from the phone).
"""
