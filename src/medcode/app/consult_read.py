"""Reading the consult queue: one ticket with its thread, the queue with filters, an account's tickets, an
attachment's file. (Re-exported by :mod:`medcode.app.consults`.)"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from medcode.app.consult_views import (
    AttachmentInfo,
    ConsultError,
    Ticket,
    attachment_info,
    event_info,
    message_info,
    ticket_info,
)
from medcode.app.models import User
from medcode.app.models_consults import STATES, ConsultAttachment, ConsultEvent, ConsultMessage, ConsultTicket


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


def ticket(db: Engine, ticket_id: int, *, now: float | None = None) -> Ticket | None:
    """One ticket with its thread (oldest first), attachments and events; None when there is none."""
    with Session(db) as s:
        row = s.get(ConsultTicket, ticket_id)
        return None if row is None else full_ticket(s, row, _now(now))


def full_ticket(s: Session, row: ConsultTicket, at: int) -> Ticket:
    return full_tickets(s, [row], at)[0]


def full_tickets(s: Session, rows: list[ConsultTicket], at: int) -> list[Ticket]:
    """Tickets with their threads, attachments and events, in three statements whatever their number."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    msgs: dict[int, list[ConsultMessage]] = {}
    for m in s.scalars(select(ConsultMessage).where(ConsultMessage.ticket_id.in_(ids)).order_by(ConsultMessage.id)):
        msgs.setdefault(m.ticket_id, []).append(m)
    atts: dict[int, list[ConsultAttachment]] = {}
    wanted = select(ConsultMessage.id).where(ConsultMessage.ticket_id.in_(ids))
    for a in s.scalars(
        select(ConsultAttachment).where(ConsultAttachment.message_id.in_(wanted)).order_by(ConsultAttachment.id)
    ):
        atts.setdefault(a.message_id, []).append(a)
    events: dict[int, list[ConsultEvent]] = {}
    for e in s.scalars(select(ConsultEvent).where(ConsultEvent.ticket_id.in_(ids)).order_by(ConsultEvent.id)):
        events.setdefault(e.ticket_id, []).append(e)
    return [
        ticket_info(
            row,
            at,
            tuple(message_info(m, atts.get(m.id, [])) for m in msgs.get(row.id, [])),
            tuple(event_info(e) for e in events.get(row.id, [])),
        )
        for row in rows
    ]


def queue(
    db: Engine,
    *,
    state: str | None = None,
    assignee: int | None = None,
    unassigned: bool = False,
    overdue: bool | None = None,
    review: bool = False,
    limit: int = 100,
    offset: int = 0,
    now: float | None = None,
) -> list[Ticket]:
    """Tickets of the queue (``review=True``: the review folder), due soonest first, each with its thread.
    ``state``: one state; ``assignee``: a consultant's user id; ``unassigned``: nobody's; ``overdue``: only
    (True) or no (False) overdue tickets; purged tickets are left out."""
    if state is not None and state not in STATES:
        raise ConsultError("state", f"state is one of {', '.join(STATES)}")
    at = _now(now)
    stmt = select(ConsultTicket).where(ConsultTicket.review == review, ConsultTicket.purged_at.is_(None))
    if state is not None:
        stmt = stmt.where(ConsultTicket.state == state)
    if assignee is not None:
        stmt = stmt.where(ConsultTicket.assignee_id == assignee)
    if unassigned:
        stmt = stmt.where(ConsultTicket.assignee_id.is_(None))
    late = ConsultTicket.state.in_(("new", "assigned")) & (ConsultTicket.due_at < at)
    if overdue is True:
        stmt = stmt.where(late)
    elif overdue is False:
        stmt = stmt.where(~late)
    stmt = stmt.order_by(ConsultTicket.due_at, ConsultTicket.id).offset(max(0, offset)).limit(max(1, min(limit, 500)))
    with Session(db) as s:
        return full_tickets(s, list(s.scalars(stmt)), at)


def tickets_of(db: Engine, user: User, *, now: float | None = None) -> list[Ticket]:
    """The tickets an account asked (by account, or by its e-mail address), newest first."""
    at = _now(now)
    stmt = (
        select(ConsultTicket)
        .where((ConsultTicket.user_id == user.id) | (ConsultTicket.requester_email == user.email))
        .where(ConsultTicket.purged_at.is_(None), ConsultTicket.review.is_(False))
        .order_by(ConsultTicket.id.desc())
        .limit(200)
    )
    with Session(db) as s:
        return full_tickets(s, list(s.scalars(stmt)), at)


def attachment_file(db: Engine, attachment_id: int) -> tuple[int, AttachmentInfo, Path | None] | None:
    """(ticket id, the attachment, its file or None when dropped/purged) for a download; None: no such id."""
    with Session(db) as s:
        att = s.get(ConsultAttachment, attachment_id)
        if att is None:
            return None
        msg = s.get(ConsultMessage, att.message_id)
        assert msg is not None
        path = Path(att.stored_path) if att.stored_path and Path(att.stored_path).is_file() else None
        return msg.ticket_id, attachment_info(att), path
