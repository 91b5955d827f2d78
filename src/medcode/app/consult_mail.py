"""Incoming consult mail: parse a raw RFC 5322 message into an :class:`Incoming` (never raises).

Text/plain is preferred; HTML-only mail is turned into text (no script or style content). Attachments are
kept with their bytes; one bigger than the limit is kept as a name and size only (``dropped``). Auto-replies,
bounces and list mail are marked ``auto``: medcode never answers mail by itself, so loops cannot start.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from html.parser import HTMLParser

MB = 1024 * 1024
_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    data: bytes  # empty when dropped
    dropped: bool = False


@dataclass(frozen=True)
class Incoming:
    from_addr: str  # the bare address, lower-cased ("" when none could be read)
    to_addr: str
    subject: str
    message_id: str  # "<...>"; "" when the message had none (receive makes one)
    in_reply_to: str
    references: tuple[str, ...]
    text: str
    attachments: tuple[Attachment, ...] = ()
    auto: bool = False
    malformed: bool = False  # could not be parsed: kept as raw text for review
    notes: tuple[str, ...] = field(default=())  # what parsing dropped or changed (no message content)


def parse(raw: bytes, *, max_attachment: int = 10 * MB) -> Incoming:
    """The parts medcode keeps of a raw message. A message the email package cannot read is returned as
    ``malformed`` with its raw text (undecodable bytes replaced)."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return _read(msg, max_attachment)
    except Exception as exc:  # malformed MIME must never stop the receiver
        text = raw.decode("utf-8", errors="replace")
        return Incoming(
            from_addr=_loose_from(text),
            to_addr="",
            subject="(unreadable message)",
            message_id="",
            in_reply_to="",
            references=(),
            text=text[: 2 * MB],
            malformed=True,
            notes=(f"the message could not be parsed ({exc.__class__.__name__}); kept as raw text",),
        )


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse
        value = None
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                value = raw
                break
    return " ".join(str(value or "").split())


def _address(value: str) -> str:
    addrs = [a for _n, a in email.utils.getaddresses([value]) if "@" in a]
    return addrs[0].strip().lower() if addrs else ""


def _loose_from(text: str) -> str:
    m = re.search(r"^from:(.*)$", text[:20000], re.IGNORECASE | re.MULTILINE)
    return _address(m.group(1)) if m else ""


def message_ids(value: str) -> tuple[str, ...]:
    """The ``<id>`` tokens of a Message-ID, In-Reply-To or References header."""
    return tuple(_ID.findall(value or ""))


def is_auto(msg: Message) -> bool:
    """Auto-replies, bounces and list mail (RFC 3834 Auto-Submitted, Precedence, Microsoft's suppress header)."""
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return True
    if _header(msg, "Precedence").lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if _header(msg, "X-Auto-Response-Suppress") or _header(msg, "List-Id") or _header(msg, "X-Autoreply"):
        return True
    sender = _address(_header(msg, "From"))
    return sender.startswith(("mailer-daemon@", "postmaster@")) or _header(msg, "Return-Path") == "<>"


def _read(msg: EmailMessage, max_attachment: int) -> Incoming:
    notes: list[str] = []
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        name = part.get_filename()
        if disposition == "attachment" or (name and ctype not in ("text/plain", "text/html")):
            attachments.append(_attachment(part, name or "attachment", ctype, max_attachment, notes))
            continue
        if ctype == "text/plain":
            plain.append(_text(part, notes))
        elif ctype == "text/html":
            html.append(_text(part, notes))
    text = "\n\n".join(t for t in plain if t.strip())
    if not text and html:
        text = "\n\n".join(html_to_text(h) for h in html)
        notes.append("HTML-only message: turned into text")
    return Incoming(
        from_addr=_address(_header(msg, "From")),
        to_addr=_header(msg, "To")[:2000],
        subject=_header(msg, "Subject")[:900],
        message_id=(message_ids(_header(msg, "Message-ID")) or ("",))[0][:990],
        in_reply_to=" ".join(message_ids(_header(msg, "In-Reply-To")))[:4000],
        references=message_ids(_header(msg, "References"))[-50:],
        text=text.strip(),
        attachments=tuple(attachments),
        auto=is_auto(msg),
        notes=tuple(notes),
    )


def _text(part: Message, notes: list[str]) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        return content if isinstance(content, str) else content.decode("utf-8", errors="replace")
    except Exception:
        payload = part.get_payload(decode=True)
        notes.append("a text part had a bad charset or encoding: read as UTF-8 with replacements")
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload or "")


def _attachment(part: Message, name: str, ctype: str, limit: int, notes: list[str]) -> Attachment:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = b""
    name = _safe_name(name)
    if len(data) > limit:
        notes.append(f"attachment {name!r} dropped: {len(data):,} bytes, more than {limit // MB} MB")
        return Attachment(name, ctype, len(data), b"", dropped=True)
    return Attachment(name, ctype, len(data), data)


def _safe_name(name: str) -> str:
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip(" .") or "attachment"
    return base[:200]


class _Text(HTMLParser):
    SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
    BREAK = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML body: no tags, no script or style content, paragraphs kept."""
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; anything else leaves what was read
        pass
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
