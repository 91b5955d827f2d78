"""The consult queue (CaseConsultant): questions by mail or the web become tickets; consultants take them,
edit the draft CasePilot made, and reply by mail with threading headers; every change is an audit event.

medcode never answers mail by itself (no acknowledgement, no auto-reply): a mail loop cannot start. Mail from
an address with no account goes to the review folder, not the queue. Functions take the application database
engine; message text is never logged.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from medcode.app import mail
from medcode.app.consult_mail import Attachment, Incoming
from medcode.app.consult_read import attachment_file, full_ticket, queue, ticket, tickets_of
from medcode.app.consult_views import (
    AttachmentInfo,
    ConsultError,
    MessageInfo,
    Ticket,
    TicketNotFound,
    message_info,
    ticket_info,
    writing,
)
from medcode.app.models import User
from medcode.app.models_consults import STATES, ConsultAttachment, ConsultEvent, ConsultMessage, ConsultTicket

__all__ = [
    "AttachmentInfo",
    "ConsultError",
    "MessageInfo",
    "Ticket",
    "TicketNotFound",
    "attachment_file",
    "create_from_web",
    "due_time",
    "purge",
    "purge_older",
    "queue",
    "receive",
    "release",
    "reply",
    "save_draft",
    "set_state",
    "take",
    "ticket",
    "tickets_of",
]

TAG = re.compile(r"\[(MC-[A-Z0-9]{6})\]")
STAFF = ("consultant", "admin")
_TAG_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_TEXT = 200_000  # characters of a message body kept
Actor = User | str


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


def _actor(actor: Actor) -> str:
    return actor if isinstance(actor, str) else str(actor.id)


def _event(s: Session, ticket_id: int, actor: Actor, at: int, action: str, detail: str = "") -> None:
    s.add(ConsultEvent(ticket_id=ticket_id, actor=_actor(actor), at=at, action=action, detail=detail[:2000]))


def due_time(conf: Any, plan: str, created: int) -> int:
    """``created`` plus the plan's business days (Mon-Fri, UTC): MEDCODE_CONSULT_DUE_DAYS (2), pro
    MEDCODE_CONSULT_DUE_DAYS_PRO (1)."""
    pro = plan == "pro"
    days = int(getattr(conf, "consult_due_days_pro" if pro else "consult_due_days", 1 if pro else 2))
    at = datetime.fromtimestamp(created, UTC)
    while at.weekday() >= 5:  # asked on a weekend: the count starts on Monday
        at += timedelta(days=1)
    while days:
        at += timedelta(days=1)
        if at.weekday() < 5:
            days -= 1
    return int(at.timestamp())


def _new_tag() -> str:
    return "MC-" + "".join(secrets.choice(_TAG_CHARS) for _ in range(6))


def _folder(conf: Any, ticket_id: int) -> Path:
    return Path(conf.home) / "consults" / str(ticket_id)


def _thread_ticket(s: Session, incoming: Incoming) -> ConsultTicket | None:
    ids = [i for i in (*incoming.in_reply_to.split(), *reversed(incoming.references)) if i]
    if ids:
        tid = s.scalars(
            select(ConsultMessage.ticket_id)
            .where(ConsultMessage.message_id.in_(ids))
            .order_by(ConsultMessage.id.desc())
        ).first()
        if tid is not None:
            return s.get(ConsultTicket, tid)
    m = TAG.search(incoming.subject or "")
    if m:
        return s.scalars(select(ConsultTicket).where(ConsultTicket.tag == m.group(1))).first()
    return None


def receive(db: Engine, conf: Any, incoming: Incoming, *, now: float | None = None) -> Ticket:
    """Store one message: it joins the ticket it answers (Message-ID in In-Reply-To/References, or the
    ``[MC-XXXXXX]`` tag in the subject) when it comes from that ticket's requester or staff; else it opens a
    ticket (in review when the sender has no account, or the mail could not be read). A Message-ID seen
    before returns its ticket unchanged (a re-delivered or re-polled message)."""
    at = _now(now)
    with writing(db) as s, s.begin():
        if incoming.message_id:
            seen = s.scalars(
                select(ConsultMessage.ticket_id).where(ConsultMessage.message_id == incoming.message_id)
            ).first()
            if seen is not None:
                row = s.get(ConsultTicket, seen)
                assert row is not None
                return ticket_info(row, at)
        sender = s.scalars(select(User).where(User.email == incoming.from_addr)).first() if incoming.from_addr else None
        row = _thread_ticket(s, incoming)
        staff = sender is not None and sender.role in STAFF
        if row is not None and row.purged_at is None and (incoming.from_addr == row.requester_email or staff):
            _add_message(s, conf, row, incoming, "in", at)
            if row.state in ("waiting", "answered") and not incoming.auto:
                old, row.state = row.state, "assigned" if row.assignee_id else "new"
                _event(s, row.id, "mail", at, "state", f"{old} -> {row.state}: the customer wrote back")
            row.updated_at = at
            return ticket_info(row, at)
        review = sender is None or incoming.malformed or incoming.auto
        row = _open(s, conf, incoming, sender, at, review=review)
        _add_message(s, conf, row, incoming, "in", at)
        return ticket_info(row, at)


def _open(s: Session, conf: Any, inc: Incoming, user: User | None, at: int, *, review: bool) -> ConsultTicket:
    plan = user.plan if user is not None else "guest"
    subject = TAG.sub("", inc.subject).strip() or "(no subject)"
    row = ConsultTicket(
        subject=subject[:900],
        state="new",
        requester_email=inc.from_addr or "(unknown sender)",
        user_id=user.id if user is not None else None,
        plan=plan,
        created_at=at,
        due_at=due_time(conf, plan, at),
        updated_at=at,
        draft="",
        draft_citations="[]",
        draft_state="none" if review else "pending",
        review=review,
        tag=_new_tag(),
    )
    s.add(row)
    s.flush()
    why = "unknown sender" if user is None else ("unreadable mail" if inc.malformed else "automatic mail")
    _event(
        s,
        row.id,
        "mail" if inc.message_id or inc.malformed else _actor(user or "system"),
        at,
        "opened",
        f"in review: {why}" if review else "in the queue",
    )
    return row


def _add_message(s: Session, conf: Any, row: ConsultTicket, inc: Incoming, direction: str, at: int) -> ConsultMessage:
    msg = ConsultMessage(
        ticket_id=row.id,
        direction=direction,
        message_id=inc.message_id or make_msgid(domain="medcode.invalid"),
        in_reply_to=inc.in_reply_to,
        references=" ".join(inc.references),
        from_addr=inc.from_addr[:900],
        to_addr=inc.to_addr,
        subject=inc.subject,
        body_text=inc.text[:MAX_TEXT],
        created_at=at,
        auto=inc.auto,
    )
    s.add(msg)
    s.flush()
    for att in inc.attachments:
        s.add(_store_attachment(conf, row.id, msg.id, att))
    actor = "mail" if direction == "in" and not inc.message_id.endswith("@medcode.web>") else "system"
    detail = f"message {msg.id} ({direction}, {len(inc.attachments)} attachment(s))"
    _event(s, row.id, actor, at, "message", detail + ("; " + "; ".join(inc.notes) if inc.notes else ""))
    return msg


def _store_attachment(conf: Any, ticket_id: int, message_id: int, att: Attachment) -> ConsultAttachment:
    if att.dropped:
        return ConsultAttachment(
            message_id=message_id, filename=att.filename, content_type=att.content_type, size=att.size
        )
    folder = _folder(conf, ticket_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{secrets.token_hex(8)}-{re.sub(r'[^A-Za-z0-9._-]', '_', att.filename)[:80]}"
    path.write_bytes(att.data)
    text = None
    if att.content_type.startswith("text/plain") or att.filename.lower().endswith(".txt"):
        text = att.data.decode("utf-8", errors="replace")[:MAX_TEXT]
    return ConsultAttachment(
        message_id=message_id,
        filename=att.filename,
        content_type=att.content_type,
        size=att.size,
        stored_path=str(path),
        text=text,
    )


def create_from_web(
    db: Engine,
    conf: Any,
    user: User,
    subject: str,
    text: str,
    attachment: tuple[str, str, bytes] | None = None,
    *,
    now: float | None = None,
) -> Ticket:
    """A ticket asked on the web form or the API by a signed-in account (never in review).
    ``attachment``: (file name, content type, bytes) of a note; ConsultError for an empty question or
    a note over MEDCODE_CONSULT_MAX_ATTACHMENT_MB."""
    subject, text = " ".join((subject or "").split()), (text or "").strip()
    if not text:
        raise ConsultError("text", "write the question")
    if len(text) > MAX_TEXT:
        raise ConsultError("text", f"the question has at most {MAX_TEXT:,} characters")
    atts: tuple[Attachment, ...] = ()
    if attachment is not None:
        name, ctype, data = attachment
        limit = int(getattr(conf, "consult_max_attachment_mb", 10)) * 1024 * 1024
        if len(data) > limit:
            raise ConsultError("attachment", f"the note is larger than {limit // (1024 * 1024)} MB")
        from medcode.app.consult_mail import _safe_name

        atts = (Attachment(_safe_name(name or "note"), ctype or "application/octet-stream", len(data), data),)
    at = _now(now)
    inc = Incoming(
        from_addr=user.email,
        to_addr="",
        subject=subject[:900] or text[:80],
        message_id=make_msgid(domain="medcode.web"),
        in_reply_to="",
        references=(),
        text=text,
        attachments=atts,
    )
    with writing(db) as s, s.begin():
        row = _open(s, conf, inc, user, at, review=False)
        _add_message(s, conf, row, inc, "in", at)
        return ticket_info(row, at)


def _load(s: Session, ticket_id: int) -> ConsultTicket:
    row = s.get(ConsultTicket, ticket_id)
    if row is None:
        raise TicketNotFound(f"no consult ticket {ticket_id}")
    return row


def _change(db: Engine, ticket_id: int, actor: Actor, now: float | None, work: Any) -> Ticket:
    at = _now(now)
    with writing(db) as s, s.begin():
        row = _load(s, ticket_id)
        if row.purged_at is not None:
            raise ConsultError("ticket", "this ticket was purged")
        work(s, row, at)
        row.updated_at = at
        s.flush()
        return full_ticket(s, row, at)


def take(db: Engine, ticket_id: int, consultant: User, *, now: float | None = None) -> Ticket:
    """The consultant takes the ticket: assignee and state ``assigned``."""

    def work(s: Session, row: ConsultTicket, at: int) -> None:
        row.assignee_id = consultant.id
        old, row.state = row.state, "assigned"
        _event(s, row.id, consultant, at, "take", f"{old} -> assigned")

    return _change(db, ticket_id, consultant, now, work)


def set_state(db: Engine, ticket_id: int, actor: Actor, state: str, *, now: float | None = None) -> Ticket:
    """Move the ticket to ``state`` (new, assigned, waiting, answered, closed); ConsultError otherwise."""
    if state not in STATES:
        raise ConsultError("state", f"state is one of {', '.join(STATES)}")

    def work(s: Session, row: ConsultTicket, at: int) -> None:
        old, row.state = row.state, state
        _event(s, row.id, actor, at, "state", f"{old} -> {state}")

    return _change(db, ticket_id, actor, now, work)


def save_draft(db: Engine, ticket_id: int, actor: Actor, text: str, *, now: float | None = None) -> Ticket:
    """Replace the draft with the consultant's edit (its citations stay)."""

    def work(s: Session, row: ConsultTicket, at: int) -> None:
        row.draft = (text or "")[:MAX_TEXT]
        row.draft_state = "done"
        _event(s, row.id, actor, at, "draft", f"edited ({len(row.draft)} characters)")

    return _change(db, ticket_id, actor, now, work)


def release(db: Engine, ticket_id: int, actor: Actor, *, now: float | None = None) -> Ticket:
    """Move a ticket from the review folder into the queue (its draft is then made)."""

    def work(s: Session, row: ConsultTicket, at: int) -> None:
        row.review = False
        if row.draft_state == "none":
            row.draft_state = "pending"
        _event(s, row.id, actor, at, "release", "review -> queue")

    return _change(db, ticket_id, actor, now, work)


def reply(
    db: Engine, conf: Any, ticket_id: int, consultant: User, text: str, *, now: float | None = None
) -> MessageInfo:
    """Send ``text`` to the requester over SMTP (MEDCODE_SMTP_URL) as a reply in the thread (In-Reply-To the
    last message received, References the chain, ``[MC-XXXXXX]`` in the subject, Auto-Submitted: no), keep
    it, and mark the ticket answered. ConsultError for an empty reply; mail.MailError when sending failed
    (nothing is stored then)."""
    body = (text or "").strip()
    if not body:
        raise ConsultError("text", "the reply is empty")
    with Session(db) as s:
        row = _load(s, ticket_id)
        if row.purged_at is not None or "@" not in row.requester_email:
            raise ConsultError("ticket", "this ticket has no address to reply to")
        thread = list(
            s.scalars(select(ConsultMessage).where(ConsultMessage.ticket_id == ticket_id).order_by(ConsultMessage.id))
        )
        to, subject = row.requester_email, _reply_subject(row.subject, row.tag)
    inbound = [m for m in thread if m.direction == "in" and not m.auto] or thread
    last = inbound[-1] if inbound else None
    # References: the whole thread as kept (the first message and the newest ones), so that a message that
    # joined by its tag alone is still in the chain
    chain = list(dict.fromkeys([*(last.references.split() if last else ()), *(m.message_id for m in thread)]))
    refs = tuple(chain[:1] + chain[1:][-29:])
    domain = str(getattr(conf, "mail_from", "") or "medcode@localhost").rpartition("@")[2] or "localhost"
    msgid = make_msgid(domain=domain)
    headers = {"Message-ID": msgid, "Auto-Submitted": "no"}
    if last is not None:
        headers["In-Reply-To"] = last.message_id
        headers["References"] = " ".join(refs)
    mail.send(conf, to, subject, body, headers=headers, log_text=False)
    at = _now(now)
    out = Incoming(
        from_addr=str(getattr(conf, "mail_from", "") or "medcode@localhost"),
        to_addr=to,
        subject=subject,
        message_id=msgid,
        in_reply_to=headers.get("In-Reply-To", ""),
        references=refs,
        text=body,
    )
    with writing(db) as s, s.begin():
        row = _load(s, ticket_id)
        msg = _add_message(s, conf, row, out, "out", at)
        if row.assignee_id is None:
            row.assignee_id = consultant.id
        old, row.state, row.updated_at = row.state, "answered", at
        _event(s, row.id, consultant, at, "reply", f"sent message {msg.id}; {old} -> answered")
        return message_info(msg, [])


def _reply_subject(subject: str, tag: str) -> str:
    base = re.sub(r"^\s*((re|aw|sv|fwd?)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip()
    return f"Re: {base} [{tag}]"


def purge(db: Engine, conf: Any, ticket_id: int, actor: Actor, *, now: float | None = None) -> bool:
    """Delete a ticket's messages, attachments (files too), subject and draft; the ticket number and its
    audit events stay, with an event ``purged``. False when there is no such ticket."""
    at = _now(now)
    with writing(db) as s, s.begin():
        row = s.get(ConsultTicket, ticket_id)
        if row is None:
            return False
        for msg in s.scalars(select(ConsultMessage).where(ConsultMessage.ticket_id == ticket_id)):
            s.delete(msg)  # attachments go with their message (ON DELETE CASCADE; ORM cascade below)
        s.flush()
        row.subject, row.draft, row.draft_citations, row.draft_state = "(purged)", "", "[]", "none"
        row.purged_at, row.updated_at = at, at
        _event(s, row.id, actor, at, "purged", "messages, attachments and draft deleted")
    shutil.rmtree(_folder(conf, ticket_id), ignore_errors=True)
    return True


def purge_older(db: Engine, conf: Any, days: int | None = None, *, now: float | None = None) -> int:
    """Purge every ticket last changed more than ``days`` (MEDCODE_CONSULT_KEEP_DAYS, 365) ago; how many."""
    keep = int(days if days is not None else getattr(conf, "consult_keep_days", 365))
    cutoff = _now(now) - keep * 86400
    with Session(db) as s:
        ids = list(
            s.scalars(
                select(ConsultTicket.id).where(ConsultTicket.updated_at < cutoff, ConsultTicket.purged_at.is_(None))
            )
        )
    return sum(purge(db, conf, tid, "system", now=now) for tid in ids)
