"""The consult queue (CaseConsultant): questions by mail or the web become tickets; consultants take them,
edit the draft CasePilot made, and reply by mail with threading headers; every change is an audit event.

medcode never answers mail by itself (no acknowledgement, no auto-reply): a mail loop cannot start. Mail from
an address with no account goes to the review folder, not the queue. Functions take the application database
engine; message text is never logged.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from medcode.app import mail
from medcode.app.consult_mail import Attachment, Incoming
from medcode.app.consult_read import attachment_file, full_ticket, queue, ticket, tickets_of
from medcode.app.consult_store import Actor, actor_name, add_event, purge, purge_older, store_attachment
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
from medcode.app.models_consults import STATES, ConsultMessage, ConsultTicket

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


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


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
                add_event(s, row.id, "mail", at, "state", f"{old} -> {row.state}: the customer wrote back")
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
    by_web = inc.message_id.endswith("@medcode.web>") and user is not None
    add_event(
        s,
        row.id,
        actor_name(user) if by_web and user is not None else "mail",
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
        s.add(store_attachment(conf, row.id, msg.id, att))
    web = inc.message_id.endswith("@medcode.web>") and row.user_id is not None
    actor = "system" if direction == "out" else (str(row.user_id) if web else "mail")
    detail = f"message {msg.id} ({direction}, {len(inc.attachments)} attachment(s))"
    add_event(s, row.id, actor, at, "message", detail + ("; " + "; ".join(inc.notes) if inc.notes else ""))
    return msg


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
        add_event(s, row.id, consultant, at, "take", f"{old} -> assigned")

    return _change(db, ticket_id, consultant, now, work)


def set_state(db: Engine, ticket_id: int, actor: Actor, state: str, *, now: float | None = None) -> Ticket:
    """Move the ticket to ``state`` (new, assigned, waiting, answered, closed); ConsultError otherwise."""
    if state not in STATES:
        raise ConsultError("state", f"state is one of {', '.join(STATES)}")

    def work(s: Session, row: ConsultTicket, at: int) -> None:
        old, row.state = row.state, state
        add_event(s, row.id, actor, at, "state", f"{old} -> {state}")

    return _change(db, ticket_id, actor, now, work)


def save_draft(db: Engine, ticket_id: int, actor: Actor, text: str, *, now: float | None = None) -> Ticket:
    """Replace the draft with the consultant's edit (its citations stay)."""

    def work(s: Session, row: ConsultTicket, at: int) -> None:
        row.draft = (text or "")[:MAX_TEXT]
        row.draft_state = "done"
        add_event(s, row.id, actor, at, "draft", f"edited ({len(row.draft)} characters)")

    return _change(db, ticket_id, actor, now, work)


def release(db: Engine, ticket_id: int, actor: Actor, *, now: float | None = None) -> Ticket:
    """Move a ticket from the review folder into the queue (its draft is then made)."""

    def work(s: Session, row: ConsultTicket, at: int) -> None:
        row.review = False
        if row.draft_state == "none":
            row.draft_state = "pending"
        add_event(s, row.id, actor, at, "release", "review -> queue")

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
        add_event(s, row.id, consultant, at, "reply", f"sent message {msg.id}; {old} -> answered")
        return message_info(msg, [])


def _reply_subject(subject: str, tag: str) -> str:
    base = re.sub(r"^\s*((re|aw|sv|fwd?)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip()
    return f"Re: {base} [{tag}]"
