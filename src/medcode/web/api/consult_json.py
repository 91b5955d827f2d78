"""The JSON shape of consult tickets, shared by the consult API and pages: a member sees the thread (without
automatic mail); consultants and admins also the draft, its sources, attachments and the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from medcode.app import accounts
from medcode.app.consult_views import MessageInfo, Ticket


def message_view(m: MessageInfo) -> dict[str, Any]:
    return {
        "id": m.id,
        "message_id": m.message_id,
        "from": m.from_addr,
        "to": m.to_addr,
        "direction": m.direction,
        "subject": m.subject,
        "text": m.text,
        "at": m.at,
        "auto": m.auto,
    }


def people(db: Engine, tickets: list[Ticket]) -> dict[str, str]:
    """E-mail addresses of the users named in tickets (assignees, actors of the audit log), by user id."""
    ids = {t.assignee_id for t in tickets if t.assignee_id is not None}
    ids |= {int(e.actor) for t in tickets for e in t.events if e.actor.isdigit() and len(e.actor) < 12}
    found = (accounts.get_user(db, i) for i in sorted(ids)[:200])
    return {str(u.id): u.email for u in found if u is not None}


def ticket_view(t: Ticket, *, full: bool, names: dict[str, str] | None = None) -> dict[str, Any]:
    """A ticket; ``full`` (consultants, admins) adds the draft, its sources, attachments and the audit log
    (``names``: e-mail addresses by user id, for the assignee and the log)."""
    names = names or {}
    out: dict[str, Any] = {
        "id": t.id,
        "subject": t.subject,
        "state": t.state,
        "from": t.requester_email,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "due_at": t.due_at,
        "overdue": t.overdue,
        "tag": t.tag,
        "purged": t.purged,
        "messages": [message_view(m) for m in t.messages if full or not m.auto],
    }
    if full:
        out.update(
            assignee_id=t.assignee_id,
            assignee=names.get(str(t.assignee_id)) if t.assignee_id is not None else None,
            review=t.review,
            draft=t.draft,
            draft_state=t.draft_state,
            citations=list(t.citations),
            attachments=[
                {
                    "id": a.id,
                    "message_id": m.id,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "kept": not a.dropped,
                }
                for m in t.messages
                for a in m.attachments
            ],
            events=[
                {
                    "actor": e.actor,
                    "who": names.get(e.actor, e.actor),
                    "at": e.at,
                    "action": e.action,
                    "detail": e.detail,
                }
                for e in t.events
            ],
        )
    return out
