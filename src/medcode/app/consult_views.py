"""What the consult functions return: frozen views of tickets, messages, attachments and events (no ORM)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from medcode.app.models_consults import ConsultAttachment, ConsultEvent, ConsultMessage, ConsultTicket


class ConsultError(ValueError):
    """A request the consult queue refuses (bad state, empty reply ...); ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class TicketNotFound(LookupError):
    """No ticket with this id."""


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    filename: str
    content_type: str
    size: int
    dropped: bool  # bigger than MEDCODE_CONSULT_MAX_ATTACHMENT_MB: only the name and size were kept
    has_text: bool  # a note whose text was read (drafts, Case2Code and the audit use it)


@dataclass(frozen=True)
class MessageInfo:
    id: int
    direction: str  # in | out
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    from_addr: str
    to_addr: str
    subject: str
    text: str
    at: int
    auto: bool
    attachments: tuple[AttachmentInfo, ...] = ()


@dataclass(frozen=True)
class EventInfo:
    at: int
    actor: str  # a user id, "mail" or "system"
    action: str
    detail: str


@dataclass(frozen=True)
class Ticket:
    id: int
    subject: str
    state: str  # new | assigned | waiting | answered | closed
    requester_email: str
    user_id: int | None
    assignee_id: int | None
    plan: str
    created_at: int
    due_at: int
    updated_at: int
    draft: str
    citations: tuple[dict[str, Any], ...]
    draft_state: str  # none | pending | running | done | failed
    review: bool  # unknown sender (or unreadable mail): in the review folder, not the queue
    tag: str  # MC-XXXXXX
    purged: bool
    overdue: bool
    messages: tuple[MessageInfo, ...] = ()
    events: tuple[EventInfo, ...] = ()


def attachment_info(row: ConsultAttachment) -> AttachmentInfo:
    return AttachmentInfo(
        row.id, row.filename, row.content_type, row.size, row.stored_path is None, bool(row.text and row.text.strip())
    )


def message_info(row: ConsultMessage, attachments: list[ConsultAttachment]) -> MessageInfo:
    return MessageInfo(
        id=row.id,
        direction=row.direction,
        message_id=row.message_id,
        in_reply_to=row.in_reply_to,
        references=tuple(row.references.split()),
        from_addr=row.from_addr,
        to_addr=row.to_addr,
        subject=row.subject,
        text=row.body_text,
        at=row.created_at,
        auto=row.auto,
        attachments=tuple(attachment_info(a) for a in attachments),
    )


def event_info(row: ConsultEvent) -> EventInfo:
    return EventInfo(row.at, row.actor, row.action, row.detail)


def ticket_info(
    row: ConsultTicket, now: int, messages: tuple[MessageInfo, ...] = (), events: tuple[EventInfo, ...] = ()
) -> Ticket:
    try:
        cites = json.loads(row.draft_citations or "[]")
    except ValueError:
        cites = []
    return Ticket(
        id=row.id,
        subject=row.subject,
        state=row.state,
        requester_email=row.requester_email,
        user_id=row.user_id,
        assignee_id=row.assignee_id,
        plan=row.plan,
        created_at=row.created_at,
        due_at=row.due_at,
        updated_at=row.updated_at,
        draft=row.draft,
        citations=tuple(c for c in cites if isinstance(c, dict)),
        draft_state=row.draft_state,
        review=row.review,
        tag=row.tag,
        purged=row.purged_at is not None,
        overdue=is_overdue(row.state, row.due_at, now),
        messages=messages,
        events=events,
    )


def is_overdue(state: str, due_at: int, now: int) -> bool:
    """Past its due time and still waiting for the consultant (new or assigned)."""
    return state in ("new", "assigned") and now > due_at


def writing(db: Engine) -> Session:
    """A session for a write transaction: on SQLite it begins IMMEDIATE (takes the write lock first), so a
    read-then-write transaction waits for another writer instead of failing with "database is locked"."""
    return Session(db.execution_options(immediate=True), expire_on_commit=False)
