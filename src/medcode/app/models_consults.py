"""Tables of the consult queue (CaseConsultant): tickets, their messages, attachments and audit events.

Times are whole seconds since the epoch (UTC), as in :mod:`medcode.app.models`. Made by migration 0002_consults.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medcode.app.models import Base

STATES = ("new", "assigned", "waiting", "answered", "closed")
DRAFT_STATES = ("none", "pending", "running", "done", "failed")
DIRECTIONS = ("in", "out")
HEADER_MAX = 998  # longest header line RFC 5322 allows


class ConsultTicket(Base):
    __tablename__ = "consult_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(HEADER_MAX))
    state: Mapped[str] = mapped_column(String(16), index=True)
    requester_email: Mapped[str] = mapped_column(String(254), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    plan: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger, index=True)
    due_at: Mapped[int] = mapped_column(BigInteger, index=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    draft: Mapped[str] = mapped_column(Text, default="")
    draft_citations: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of sources
    draft_state: Mapped[str] = mapped_column(String(16), default="none", index=True)
    review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)  # unknown sender: not in the queue
    tag: Mapped[str] = mapped_column(String(16), unique=True)  # MC-XXXXXX, in the subject of replies
    purged_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ConsultMessage(Base):
    __tablename__ = "consult_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("consult_tickets.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))
    message_id: Mapped[str] = mapped_column(String(HEADER_MAX), unique=True)
    in_reply_to: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column("refs", Text, default="")  # space-separated Message-IDs
    from_addr: Mapped[str] = mapped_column(String(HEADER_MAX))
    to_addr: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    auto: Mapped[bool] = mapped_column(Boolean, default=False)  # auto-reply or list mail: never answered


class ConsultAttachment(Base):
    __tablename__ = "consult_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("consult_messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    stored_path: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: dropped (too big)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # text of a .txt or PDF note


class ConsultEvent(Base):
    """The audit log of a ticket: who did what when (never message text)."""

    __tablename__ = "consult_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("consult_tickets.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(64))  # user id, "mail" or "system"
    at: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
