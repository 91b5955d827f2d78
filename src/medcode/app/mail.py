"""Outgoing mail (verification and password-reset links) over SMTP, or to the log in development."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("medcode.mail")


class MailError(RuntimeError):
    """The mail server refused or could not be reached."""


def send(
    conf: Any,
    to: str,
    subject: str,
    text: str,
    *,
    headers: Mapping[str, str] | None = None,
    log_text: bool = True,
) -> str:
    """Send one plain-text message to MEDCODE_SMTP_URL; without one, log it at WARNING on ``medcode.mail``
    (subject and text: the text of medcode's own mail is a short note and a link, no user content).
    ``headers``: more headers (Message-ID, In-Reply-To, References, Auto-Submitted ...; a Message-ID is made
    when none is given); ``log_text=False`` keeps the text out of that log line (a consultant's reply may
    hold patient data). Returns the Message-ID."""
    url = str(getattr(conf, "smtp_url", "") or "")
    sender = str(getattr(conf, "mail_from", "") or "medcode@localhost")
    extra = dict(headers or {})
    msgid = extra.pop("Message-ID", "") or make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    if not url:
        shown = text if log_text else f"({len(text)} characters not logged)"
        log.warning("mail not sent (MEDCODE_SMTP_URL is unset): to=%s subject=%s\n%s", to, subject, shown)
        return msgid
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    for name, value in extra.items():
        msg[name] = value
    msg.set_content(text)
    parts = urlsplit(url)
    tls = parts.scheme == "smtps"
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "on", "yes")
    host = parts.hostname or "localhost"
    port = parts.port or (465 if tls else 25)
    try:
        smtp: smtplib.SMTP
        if tls:
            smtp = smtplib.SMTP_SSL(host, port, timeout=20, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=20)
        with smtp:
            if starttls:
                smtp.starttls(context=ssl.create_default_context())
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"could not send mail through {host}:{port}: {exc}") from exc
    return msgid
