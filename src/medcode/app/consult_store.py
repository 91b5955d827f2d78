"""Files and the audit log of consult tickets: attachments kept under MEDCODE_HOME/consults/<ticket>/ (never under
the web root), events, and purging (one ticket, or every ticket older than MEDCODE_CONSULT_KEEP_DAYS).
(``purge`` and ``purge_older`` are re-exported by :mod:`medcode.app.consults`.)"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from medcode.app.consult_mail import Attachment
from medcode.app.consult_views import writing
from medcode.app.models import User
from medcode.app.models_consults import ConsultAttachment, ConsultEvent, ConsultMessage, ConsultTicket

MAX_TEXT = 200_000  # characters of a message body or a note kept
Actor = User | str


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


def actor_name(actor: Actor) -> str:
    return actor if isinstance(actor, str) else str(actor.id)


def add_event(s: Session, ticket_id: int, actor: Actor, at: int, action: str, detail: str = "") -> None:
    s.add(ConsultEvent(ticket_id=ticket_id, actor=actor_name(actor), at=at, action=action, detail=detail[:2000]))


def folder_of(conf: Any, ticket_id: int) -> Path:
    return Path(conf.home) / "consults" / str(ticket_id)


def store_attachment(conf: Any, ticket_id: int, message_id: int, att: Attachment) -> ConsultAttachment:
    if att.dropped:
        return ConsultAttachment(
            message_id=message_id, filename=att.filename, content_type=att.content_type, size=att.size
        )
    folder = folder_of(conf, ticket_id)
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


def purge(db: Engine, conf: Any, ticket_id: int, actor: Actor, *, now: float | None = None) -> bool:
    """Delete a ticket's messages, attachments (files too), subject and draft; the ticket number and its
    audit events stay, with an event ``purged``. False when there is no such ticket."""
    at = _now(now)
    with writing(db) as s, s.begin():
        row = s.get(ConsultTicket, ticket_id)
        if row is None:
            return False
        ids = select(ConsultMessage.id).where(ConsultMessage.ticket_id == ticket_id).scalar_subquery()
        s.execute(delete(ConsultAttachment).where(ConsultAttachment.message_id.in_(ids)))
        s.execute(delete(ConsultMessage).where(ConsultMessage.ticket_id == ticket_id))
        row.subject, row.draft, row.draft_citations, row.draft_state = "(purged)", "", "[]", "none"
        row.purged_at, row.updated_at = at, at
        add_event(s, row.id, actor, at, "purged", "messages, attachments and draft deleted")
    shutil.rmtree(folder_of(conf, ticket_id), ignore_errors=True)
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
