"""What `taskping init` fills in per mail provider, and what it tells the person to click.

The sender-authentication values follow docs/providers.md: what each
provider writes into ``Authentication-Results`` when a reply reaches the
relay's mailbox. The provider here is the one hosting **TaskPing's mailbox**
(the relay reads it over IMAP and sends from it over SMTP); the phone's
address may be anywhere. Microsoft (Outlook.com, Hotmail, Microsoft 365)
accepts only OAuth2 (XOAUTH2) for IMAP and SMTP from other apps, which
TaskPing does not do yet: that preset is marked unsupported with what to do
instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """Connection and authentication values for one provider; None where the person must say."""

    name: str
    label: str
    imap_host: str | None
    imap_port: int
    imap_secure: str  # IMAP_SECURE: ssl (implicit TLS, 993) or starttls (143)
    smtp_host: str | None
    smtp_port: int
    smtp_secure: str  # ssl | starttls | none
    sender_auth: str  # authres | dkim
    trusted_authserv_id: str | None
    app_password: str  # where to create the app password, what to click
    unsupported: str | None = None  # why init cannot set this provider up, and what to do instead

    @property
    def supported(self) -> bool:
        return self.unsupported is None


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "gmail",
            "Gmail / Google Workspace",
            "imap.gmail.com",
            993,
            "ssl",
            "smtp.gmail.com",
            465,
            "ssl",
            "authres",
            "mx.google.com",
            "Gmail needs 2-Step Verification first: https://myaccount.google.com/signinoptions/two-step-verification "
            "(turn it on). Then create an app password at https://myaccount.google.com/apppasswords "
            "(name it TaskPing, click Create, copy the 16 letters). Google Workspace: your admin may have "
            "turned app passwords off.",
        ),
        Provider(
            "fastmail",
            "Fastmail",
            "imap.fastmail.com",
            993,
            "ssl",
            "smtp.fastmail.com",
            465,
            "ssl",
            "authres",
            "*.messagingengine.com",
            "Fastmail: Settings → Privacy & Security → Manage app passwords and access → New app password; "
            "access: Mail (IMAP/POP/SMTP); copy the password it shows once.",
        ),
        Provider(
            "icloud",
            "iCloud Mail",
            "imap.mail.me.com",
            993,
            "ssl",
            "smtp.mail.me.com",
            587,
            "starttls",
            "authres",
            "*.icloud.com",
            "iCloud needs two-factor authentication on your Apple Account. Create an app-specific password at "
            "https://account.apple.com → Sign-In and Security → App-Specific Passwords → + (name it TaskPing).",
        ),
        Provider(
            "yahoo",
            "Yahoo Mail / AOL",
            "imap.mail.yahoo.com",
            993,
            "ssl",
            "smtp.mail.yahoo.com",
            465,
            "ssl",
            "authres",
            "*.yahoo.com",
            "Yahoo: Account Info → Account Security → Generate app password (or 'Manage app passwords'); "
            "name it TaskPing and copy the 16 letters.",
        ),
        Provider(
            "outlook",
            "Outlook.com / Hotmail / Microsoft 365",
            "outlook.office365.com",
            993,
            "ssl",
            "smtp-mail.outlook.com",
            587,
            "starttls",
            "dkim",
            None,
            "",
            unsupported=(
                "Outlook.com and Microsoft 365 accept only OAuth2 (XOAUTH2) for IMAP/SMTP, which TaskPing does not "
                "support yet: use a mailbox at another provider (e.g. --provider fastmail or gmail) as TaskPing's "
                "relay address; replies FROM your Outlook address work there with SENDER_AUTH=dkim."
            ),
        ),
        Provider(
            "other",
            "another provider or your own server",
            None,
            993,
            "ssl",
            None,
            465,
            "ssl",
            "dkim",
            None,
            "Use the password your provider gives for mail apps (an app password where it has them).",
        ),
    )
}

NAMES = tuple(PROVIDERS)
