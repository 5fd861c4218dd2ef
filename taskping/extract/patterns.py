"""The vocabulary of reply mail: what clients write around a quoted message.

Every pattern here is anchored and built from bounded repetitions only, so a
hostile 1 MB line can never cause catastrophic backtracking. Patterns are
matched against one line (or a few joined lines) at a time, never the whole body.

Languages covered: English and Chinese first (the clients TaskPing's users run:
Gmail, Apple Mail, Outlook desktop/mobile/web, Samsung/Android, Thunderbird,
QQ Mail, Foxmail, NetEase 163 / Mail Master), plus the common European forms
that the same clients emit when set to those languages.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------
# Quote prefix: ">" (optionally repeated / spaced), as every client writes it.
QUOTE_RE = re.compile(r"^[ \t]{0,8}>")

# ---------------------------------------------------------------------------
# Attribution lines ("On <date>, <name> wrote:"). A line that *ends* with one of
# these verbs (plus a colon) introduces a quoted message, whatever precedes it.
WROTE_VERBS: tuple[str, ...] = (
    "wrote",
    "writes",  # en
    "写道",
    "寫道",
    "來信",
    "来信",
    "写了",
    "寫了",  # zh
    "schrieb",
    "a écrit",
    "a ecrit",
    "escribió",
    "escribio",
    "ha scritto",
    "scrisse",
    "skrev",
    "schreef",
    "geschreven",
    "napisał",
    "napisal",
    "napisał(a)",
    "escreveu",
    "kirjoitti",
    "írta",
    "yazdı",
    "написал",
    "написала",
    "написал(а)",
    "пише",
    "писал",
    "viết",
)
_VERB = "(?:" + "|".join(re.escape(v) for v in WROTE_VERBS) + ")"
_TRAILING = " \t\u00a0"


def wrote_end(text: str) -> bool:
    """Whether ``text`` ends with an attribution verb and a colon ("wrote:", "写道：").

    Plain string tests, no regex: this runs on every line ending in a colon.
    """
    tail = text.rstrip(_TRAILING)
    if not tail.endswith((":", "：")):
        return False
    return tail[:-1].rstrip(_TRAILING).casefold().endswith(WROTE_VERBS)


# The verb anywhere (for "Name <a@b> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:").
WROTE_ANY_RE = re.compile(r"(?:^|[\s\"'>)])" + _VERB + r"(?:$|[\s:：])", re.IGNORECASE)
# "---- On Tue, 22 Dec 2015 ... wrote ----", "---- John Smith wrote ----"
WROTE_DASHES_RE = re.compile(r"^[ \t]{0,8}-{2,}.{0,200}?\b" + _VERB + r"[ \t]{0,3}-{2,}[ \t]{0,8}$", re.IGNORECASE)
EMAILISH_RE = re.compile(r"[^\s@<>]{1,64}@[^\s@<>]{1,255}")
# "2013/7/20 sam via Discourse Meta <info@discourse.org>" (date first, address last)
DATE_FIRST_ADDR_LAST_RE = re.compile(
    r"^\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\b.{0,200}@[^\s<>]{1,200}>?[ \t]{0,3}[:：]?[ \t]{0,3}$"
)

# Lines that start an attribution which may be wrapped over several lines.
ATTRIB_START_RE = re.compile(
    r"^(?:On|Le|Am|El|Il|Em|Op|Den|Dnia|W dniu|At|在|于)[ \t\u3000]",
    re.IGNORECASE,
)
# Something that looks like a date or time: a 4-digit year, a clock time, or a
# month name. Wrapped attributions must contain one of these.
DATEISH_RE = re.compile(
    r"\d{4}|\d{1,2}:\d{2}|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\b|年|月",
    re.IGNORECASE,
)
# Gmail's old style, and other "date, name:" attributions without a verb:
# "2016-03-03 17:21 GMT+01:00 Some One" (optionally ending with ":").
ISO_ATTRIB_RE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}(?::\d{2})? GMT[+-]\d{1,2}:\d{2}\b")
# mail.ru and friends: "Thu, 26 Jun 2014 14:00:51 +0400 от Name <a@b>:"
DATE_FROM_ATTRIB_RE = re.compile(
    r"^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3,9} \d{4} \d{1,2}:\d{2}(?::\d{2})? [+-]\d{4}.{0,200}[:：]$"
)

# "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:" (one line).
SHARED_ATTRIB_RE = re.compile(
    r"^(?P<pre>.{1,200}?)(?:[ \t]+|-{2,}[ \t]*)(?P<attr>(?:On|Le|Am|El|Il|Op|在)[ \t].{5,250})$"
)

# ---------------------------------------------------------------------------
# Delimiters that introduce an original or forwarded message.
ORIGINAL_DELIM_RE = re.compile(
    r"^[ \t>]{0,8}(?:[-=_*~]{2,40}[ \t\u00a0]{0,5})?"
    r"(?:Original Message|Original message|Forwarded message|Forwarded Message|Begin forwarded message"
    r"|Reply message|Message d'origine|Message transféré|Ursprüngliche Nachricht|Weitergeleitete Nachricht"
    r"|Mensaje original|Mensaje reenviado|Messaggio originale|Messaggio inoltrato|Oorspronkelijk bericht"
    r"|Mensagem original|Oprindelig meddelelse|Ursprungligt meddelande|Исходное сообщение|Пересылаемое сообщение"
    r"|原始邮件|原始郵件|原邮件|回复的原邮件|转发的邮件|轉寄的郵件|转发邮件|邮件原文|原始信件)"
    r"[ \t\u00a0]{0,5}(?:[-=_*~]{2,40})?[ \t]{0,3}:?[ \t]{0,3}$",
    re.IGNORECASE,
)
# "-----Antwort Nachricht-----", "---- 回复的原邮件 ----": a short title between rules.
DASHED_TITLE_RE = re.compile(r"^[ \t]{0,8}-{3,}[ \t\u00a0]{0,3}[^-\s][^-]{0,40}?[ \t\u00a0]{0,3}-{3,}[ \t]{0,8}$")
# Outlook's line of underscores (and the same drawn with other characters).
UNDERSCORE_DELIM_RE = re.compile(r"^[ \t]{0,8}_{5,}[ \t]{0,8}$")

# Bare rule lines: a line made only of one repeated punctuation character.
RULE_LINE_RE = re.compile(r"^[ \t]{0,8}(?:-{2,}|_{2,}|\*{3,}|#{3,}|~{3,}|={3,}|\+{3,})[ \t]{0,8}$")

# ---------------------------------------------------------------------------
# Embedded header blocks: "From: x" / "Sent: y" / "To: z" / "Subject: w".
_HEADER_KEYS_FROM = r"From|De|Von|Da|Van|Fra|Från|Od|От|Lähettäjä|Feladó|Kimden|发件人|發件人|寄件者|发信人|發信人"
_HEADER_KEYS_OTHER = (
    r"Sent|Date|To|Cc|Bcc|Subject|Reply-To|Envoyé|Date d'envoi|À|A|Objet|Sujet|Copie à|Message du|Répondre à|Gesendet|Datum|An|Betreff|Kopie"
    r"|Enviado|Fecha|Para|Asunto|CC|Inviato|Data|Oggetto|Verzonden|Aan|Onderwerp|Sendt|Til|Emne|Skickat|Ämne"
    r"|Wysłano|Do|Temat|Enviada|Assunto|Отправлено|Дата|Кому|Тема|Копия"
    r"|发送时间|發送時間|日期|时间|時間|收件人|收件者|抄送|副本|主题|主題|标题"
)
_STAR = r"[*\s]{0,3}"
HEADER_FROM_RE = re.compile(
    r"^[ \t>]{0,8}" + _STAR + r"(?:" + _HEADER_KEYS_FROM + r")" + _STAR + r"[ \t\u00a0]{0,3}[:：]",
    re.IGNORECASE,
)
HEADER_DATE_RE = re.compile(
    r"^[ \t>]{0,8}"
    + _STAR
    + r"(?:Date|Sent|Datum|Fecha|Data|Gesendet|Envoyé|发送时间|發送時間|日期)"
    + _STAR
    + r"[ \t\u00a0]{0,3}[:：].{0,80}(?:\d{1,2}:\d{2}|\d{4})",
    re.IGNORECASE,
)
HEADER_ANY_RE = re.compile(
    r"^[ \t>]{0,8}"
    + _STAR
    + r"(?:"
    + _HEADER_KEYS_FROM
    + "|"
    + _HEADER_KEYS_OTHER
    + r")"
    + _STAR
    + r"[ \t\u00a0]{0,3}[:：]",
    re.IGNORECASE,
)

# ---------------------------------------------------------------------------
# Signatures.
SIG_DELIM_RE = re.compile(r"^(?:-- ?|--\u00a0|—|__|ᐧ)[ \t]{0,3}$")
# Mobile taglines; the whole line must be the tagline (short), so a sentence
# that merely mentions an iPhone is untouched.
_DEVICE = r"[A-Za-z0-9][\w.+&'’ -]{0,40}"
TAGLINE_RE = re.compile(
    r"^[ \t]{0,8}(?:"
    r"Sent (?:from|via|with) (?:my |the |(?-i:[A-Z])|Outlook|Yahoo|Mail|AOL|Samsung|Huawei|Xiaomi)"
    + _DEVICE
    + r"|Get Outlook for "
    + _DEVICE
    + r"|(?:Envoyé|Envoye) (?:de|depuis) (?:mon|ma) "
    + _DEVICE
    + r"|Enviado (?:desde|do|de) (?:mi|meu|o meu) "
    + _DEVICE
    + r"|(?:Von|Gesendet von|Gesendet mit) (?:meinem )?"
    + _DEVICE
    + r"(?: gesendet)?"
    + r"|(?:Envoyé|Envoye) (?:à partir de|avec|via) "
    + _DEVICE
    + r"|(?:Obtenir|Télécharger) Outlook pour "
    + _DEVICE
    + r"|Holen Sie sich Outlook für "
    + _DEVICE
    + r"|Inviato (?:da|dal) (?:mio )?"
    + _DEVICE
    + r"|(?:Verzonden|Verstuurd) (?:met|vanaf) (?:mijn )?"
    + _DEVICE
    + r"|(?:Skickat|Sendt) (?:från|fra) (?:min|mitt) "
    + _DEVICE
    + r"|发自我的.{1,30}|發自我的.{1,30}|来自我的.{1,30}|來自我的.{1,30}"
    r"|从 ?.{1,30}发送|從 ?.{1,30}傳送|发自.{1,20}(?:邮箱|郵箱|邮件|Mail|客户端|手机|大师).{0,10}"
    r"|来自.{1,20}(?:邮箱|郵箱|邮件|Mail|客户端|手机|大师).{0,10}|來自.{1,20}(?:郵箱|郵件|Mail).{0,10}"
    r"|签名由.{1,20}定制|簽名由.{1,20}定制"  # NetEase Mail Master's line under its signature table
    r")(?:<[^<>\s]{1,200}>)?[ \t.。!]{0,3}$",
    re.IGNORECASE,
)

# Sign-offs in other languages: a last short paragraph that opens with a valediction, or a lone
# "-Name" / "/Name" line. (See signoff.py for where they are cut.)
VALEDICTION_RE = re.compile(
    r"^[ \t]{0,8}(?:"
    r"mvh|med vänlig hälsning|med vänliga hälsningar|vänliga hälsningar|hälsningar|hilsen|med venlig hilsen"
    r"|venlig hilsen|kh|mvh|vh|groeten|met vriendelijke groet|mit freundlichen grüßen|viele grüße|gruß|grüße|lg"
    r"|cordialement|bien à vous|saludos|un saludo|atentamente|cordiali saluti|saluti|pozdrawiam|pozdrowienia"
    r"|此致|此致敬礼|谢谢|謝謝|祝好|顺祝商祺|敬上"
    r")[ \t]{0,3}[,.!:，。！]?[ \t]{0,3}$",
    re.IGNORECASE,
)
SIGNOFF_NAME_RE = re.compile(
    r"^[ \t]{0,8}(?:-{1,2}|/{1,2}|~)[ \t]?\w[\w.'’-]{0,30}(?: \w[\w.'’-]{0,30}){0,3}[ \t]{0,3}$"
)

# English closings (see signoff.py for when they are cut). WEAK ones are common
# words too, so they count only with a comma or a name after them.
_EN_CLOSINGS = (
    r"(?:best|kind|kindest|warm|warmest|many|with best|with kind|with warm)[ \t]{1,3}(?:regards|rgds)"
    r"|thanks[ \t]{0,3}(?:&|and)[ \t]{0,3}(?:best[ \t]{1,3})?regards|regards|rgds|best[ \t]{1,3}wishes"
    r"|all[ \t]{1,3}the[ \t]{1,3}best|cheers|sincerely|yours[ \t]{1,3}sincerely|sincerely[ \t]{1,3}yours"
    r"|yours[ \t]{1,3}truly|respectfully|cordially|take[ \t]{1,3}care|talk[ \t]{1,3}soon"
    r"|best|yours|greetings|br|kr"
)
EN_WEAK_CLOSINGS = frozenset({"best", "yours", "greetings", "br", "kr"})
EN_CLOSING_RE = re.compile(
    r"^[ \t]{0,8}(?P<closing>" + _EN_CLOSINGS + r")(?:[ \t]{0,3}(?P<punct>[,.!]))?[ \t]{0,3}(?P<rest>\S.{0,40})?$",
    re.IGNORECASE,
)
# Thanks: a sign-off only as a closing formula ("Thanks," or a name after them).
GRATITUDE_RE = re.compile(
    r"^[ \t]{0,8}(?:many[ \t]{1,3}thanks|thanks[ \t]{1,3}(?:again|a lot|so much|in advance)"
    r"|thank[ \t]{1,3}you(?:[ \t]{1,3}(?:again|very much|so much))?|thanks|thx|tia)"
    r"[ \t]{0,3}(?P<punct>[,.!]{0,3})[ \t]{0,3}$",
    re.IGNORECASE,
)
# A line that is an address: "jane@163.com", "Email: jane@163.com", "邮箱：jane@163.com",
# "Jane Doe <jane@example.com>", "jane@example.com<mailto:jane@example.com>".
_ADDR = r"[^\s@<>]{1,64}@[^\s@<>:\uff1a]{1,255}"  # no colon: "a@b:" may end an attribution
ADDRESS_LINE_RE = re.compile(
    r"^[ \t]{0,8}(?:(?:e-?mail|mail|邮箱|郵箱|邮件|郵件|电邮|電郵)[ \t]{0,3}[:：][ \t]{0,3})?"
    r"(?:(?P<name>[^<>@\s][^<>@]{0,40}?)[ \t]{0,3}<" + _ADDR + r">|<?" + _ADDR + r">?(?:<mailto:[^\s<>]{1,300}>)?)"
    r"[ \t]{0,3}$",
    re.IGNORECASE,
)
# A line of a table drawn in text: "|", "| |" (NetEase Mail Master's signature card).
PIPE_LINE_RE = re.compile(r"^[ \t]{0,8}[|\uff5c](?:[ \t]{0,8}[|\uff5c]){0,8}[ \t]{0,8}$")  # | or full-width

# ---------------------------------------------------------------------------
# Fences.
FENCE_RE = re.compile(r"^[ \t]{0,8}(```|~~~)")
CMD_PREFIX_RE = re.compile(r"^[ \t]*CMD:[ \t]?", re.IGNORECASE)
