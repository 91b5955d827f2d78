"""Consult pages (no JavaScript needed): members ask on ``/consult`` and read their tickets and the answers on
``/consult/mine`` and ``/consult/{id}``; consultants and admins work the queue on ``/consults`` (filters by
state, assignee and due time; the review folder of mail from unknown senders) and a ticket on
``/consults/{id}``: the thread, attachments, the draft with its sources, take, reply, state, and (admins)
purge. Forms carry the session's CSRF token in a ``csrf`` field.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from medcode.app import consults
from medcode.app.consult_views import Ticket
from medcode.web.api import account as flows
from medcode.web.api import consults as api
from medcode.web.api.consult_json import people, ticket_view
from medcode.web.auth import Auth, auth_of, check_csrf, policy_of
from medcode.web.pages.account import _message, _pages, _run, _session_form, _stale_form, _to_login
from medcode.web.pages.consult_form import NOTE_TYPES, check_note, read_multipart

router = APIRouter(include_in_schema=False)
FILTERS = {"state": ("", *api.STATES), "assignee": ("any", "me", "none")}


def when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch else ""


def _conf(request: Request) -> Any:
    return request.app.state.conf


def note_limit(request: Request) -> int:
    """Bytes of a note attached on the form (MEDCODE_CONSULT_MAX_ATTACHMENT_MB)."""
    return int(getattr(_conf(request), "consult_max_attachment_mb", 10)) << 20


def _signed_in(request: Request) -> Auth | Response:
    auth = auth_of(request)
    if auth.user is None or auth.token is None:
        return _to_login()
    return auth


def _forbidden(request: Request, who: str = "consultants and admins") -> Response:
    return _message(request, "Not allowed", f"Only {who} may see this page.", 403, failed=True)


def _staff(request: Request) -> Auth | Response:
    auth = _signed_in(request)
    if isinstance(auth, Auth) and (auth.user is None or auth.user.role not in api.STAFF):
        return _forbidden(request)
    return auth


# --- members ------------------------------------------------------------------------------------------------


def _ask_form(request: Request, auth: Auth, status: int = 200, **extra: Any) -> Response:
    return _pages(request).page(
        request,
        "consult_ask.html",
        status=status,
        cache=False,
        csrf=auth.csrf,
        limit_mb=note_limit(request) >> 20,
        subject_chars=api.SUBJECT_CHARS,
        **extra,
    )


@router.get("/consult")
def ask_page(request: Request) -> Response:
    auth = _signed_in(request)
    if isinstance(auth, Response):
        return auth
    if not api.may_ask(auth):
        return _forbidden(request, "members")
    return _ask_form(request, auth)


@router.post("/consult")
async def ask_submit(request: Request) -> Response:
    auth = _signed_in(request)
    if isinstance(auth, Response):
        return auth
    limit = note_limit(request)
    form = await read_multipart(request, limit + (1 << 20))
    if form is None:
        return _ask_form(request, auth, 413, error=f"The question and note are larger than {limit >> 20} MB.")
    if not check_csrf(auth, form.get("csrf")):
        return _stale_form(request)
    if not api.may_ask(auth):
        return _forbidden(request, "members")
    subject, text = str(form.get("subject", "")).strip(), str(form.get("question", ""))
    keep = {"subject": subject[: api.SUBJECT_CHARS], "question": text[: api.TEXT_CHARS]}
    if not subject or not text.strip():
        return _ask_form(request, auth, 422, error="Write a subject and a question.", **keep)
    if len(subject) > api.SUBJECT_CHARS or len(text) > api.TEXT_CHARS:
        return _ask_form(request, auth, 422, error="The subject or the question is too long.", **keep)
    note = None
    if "note" in form:
        name, data = form["note"]
        checked = check_note(name, data, limit)
        if isinstance(checked, str):
            return _ask_form(request, auth, 422, error=checked, **keep)
        note = checked

    def work() -> Response:
        assert auth.user is not None
        try:
            made = consults.create_from_web(policy_of(request).engine, _conf(request), auth.user, subject, text, note)
        except consults.ConsultError as exc:
            return _ask_form(request, auth, 422, error=exc.message, **keep)
        return RedirectResponse(f"/consult/{made.id}?asked=1", status_code=303)

    return await _run(work)


@router.get("/consult/mine")
def mine_page(request: Request) -> Response:
    auth = _signed_in(request)
    if isinstance(auth, Response):
        return auth
    assert auth.user is not None
    tickets = [ticket_view(t, full=False) for t in consults.tickets_of(policy_of(request).engine, auth.user)]
    return _pages(request).page(request, "consult_mine.html", cache=False, tickets=tickets, when=when)


@router.get("/consult/{ticket_id}")
def member_ticket(request: Request, ticket_id: int, asked: int = 0) -> Response:
    auth = _signed_in(request)
    if isinstance(auth, Response):
        return auth
    try:
        found, _ = api.find_ticket(request, auth, ticket_id)
    except flows.Refused:
        return _message(request, "No such ticket", "There is no ticket of yours with this number.", 404, failed=True)
    return _member_page(request, found, auth, asked=bool(asked))


def _member_page(request: Request, found: Ticket, auth: Auth, status: int = 200, **extra: Any) -> Response:
    return _pages(request).page(
        request,
        "consult_ticket.html",
        status=status,
        cache=False,
        t=ticket_view(found, full=False),
        csrf=auth.csrf,
        mine=auth.user is not None and found.user_id == auth.user.id,
        when=when,
        **extra,
    )


@router.post("/consult/{ticket_id}")
async def member_writes_back(request: Request, ticket_id: int) -> Response:
    """The member adds a message to their ticket (as if they answered the mail): it joins the thread, and a
    waiting or answered ticket goes back to the consultant."""
    found = await _session_form(request)
    if isinstance(found, Response):
        return found
    auth, form = found
    text = form.get("text", "").strip()

    def work() -> Response:
        try:
            api.write_back(request, auth, ticket_id, text)
        except flows.Refused as exc:
            if exc.status == 404:
                return _message(
                    request, "No such ticket", "There is no ticket of yours with this number.", 404, failed=True
                )
            ticket, _ = api.find_ticket(request, auth, ticket_id)
            return _member_page(request, ticket, auth, exc.status, error=exc.message)
        return RedirectResponse(f"/consult/{ticket_id}", status_code=303)

    return await _run(work)


# --- consultants and admins ---------------------------------------------------------------------------------


@router.get("/consults")
def queue_page(request: Request, state: str = "", assignee: str = "any", overdue: int = 0, review: int = 0) -> Response:
    auth = _staff(request)
    if isinstance(auth, Response):
        return auth
    state = state if state in api.STATES else ""
    assignee = assignee if assignee in FILTERS["assignee"] else "any"
    filters = api.queue_filters(auth, state or None, assignee, bool(overdue), bool(review))
    found = consults.queue(policy_of(request).engine, **filters)
    names = people(policy_of(request).engine, found)
    return _pages(request).page(
        request,
        "consult_queue.html",
        cache=False,
        tickets=[ticket_view(t, full=True, names=names) for t in found],
        chosen={"state": state, "assignee": assignee, "overdue": bool(overdue), "review": bool(review)},
        filters=FILTERS,
        when=when,
    )


def _staff_ticket(request: Request, auth: Auth, ticket_id: int, status: int = 200, **extra: Any) -> Response:
    try:
        found, _ = api.find_ticket(request, auth, ticket_id)
    except flows.Refused:
        return _message(request, "No such ticket", "There is no ticket with this number.", 404, failed=True)
    assert auth.user is not None
    return _pages(request).page(
        request,
        "consult_staff.html",
        status=status,
        cache=False,
        t=api.staff_view(request, found),
        csrf=auth.csrf,
        states=api.STATES,
        is_admin=auth.user.role == "admin",
        me=auth.user.id,
        when=when,
        **extra,
    )


@router.get("/consults/{ticket_id}")
def staff_ticket(request: Request, ticket_id: int, sent: int = 0, saved: int = 0) -> Response:
    auth = _staff(request)
    if isinstance(auth, Response):
        return auth
    return _staff_ticket(request, auth, ticket_id, sent=bool(sent), saved=bool(saved))


async def _staff_form(request: Request) -> tuple[Auth, dict[str, str]] | Response:
    found = await _session_form(request)
    if isinstance(found, Response):
        return found
    auth, form = found
    if auth.user is None or auth.user.role not in api.STAFF:
        return _forbidden(request)
    return auth, form


def _change(db: Any, ticket_id: int, user: Any, action: str, form: dict[str, str]) -> Any:
    """The consult core's change for a ticket page's button: take, state, draft (save the edit), release."""
    if action == "take":
        return consults.take(db, ticket_id, user)
    if action == "state":
        return consults.set_state(db, ticket_id, user, form.get("state", ""))
    if action == "draft":
        return consults.save_draft(db, ticket_id, user, form.get("text", "")[: api.TEXT_CHARS])
    return consults.release(db, ticket_id, user)


@router.post("/consults/{ticket_id}/reply")
async def reply(request: Request, ticket_id: int) -> Response:
    found = await _staff_form(request)
    if isinstance(found, Response):
        return found
    auth, form = found
    return await _run(lambda: reply_work(request, auth, ticket_id, form.get("text", "")))


def reply_work(request: Request, auth: Auth, ticket_id: int, text: str) -> Response:
    if not text.strip() or len(text) > api.TEXT_CHARS:
        return _staff_ticket(request, auth, ticket_id, 422, error="Write an answer (at most 100,000 characters).")
    try:
        api.send_reply(request, auth, ticket_id, text)
    except flows.Refused as exc:
        return _staff_ticket(request, auth, ticket_id, exc.status, error=exc.message, text=text)
    return RedirectResponse(f"/consults/{ticket_id}?sent=1", status_code=303)


@router.post("/consults/{ticket_id}/purge")
async def purge(request: Request, ticket_id: int) -> Response:
    found = await _staff_form(request)
    if isinstance(found, Response):
        return found
    auth, _ = found
    if auth.user is None or auth.user.role != "admin":
        return _forbidden(request, "admins")

    def work() -> Response:
        assert auth.user is not None
        if not consults.purge(policy_of(request).engine, _conf(request), ticket_id, auth.user):
            return _message(request, "No such ticket", "There is no ticket with this number.", 404, failed=True)
        return _message(
            request,
            "Ticket purged",
            f"Ticket {ticket_id}: its messages and attachments are erased; the audit log keeps that it was purged.",
            links=[("/consults", "The queue")],
        )

    return await _run(work)


@router.get("/consults/{ticket_id}/attachments/{attachment_id}")
def attachment(request: Request, ticket_id: int, attachment_id: int) -> Response:
    auth = _staff(request)
    if isinstance(auth, Response):
        return auth
    found = consults.attachment_file(policy_of(request).engine, attachment_id)
    if found is None or found[0] != ticket_id or found[2] is None:
        return _message(request, "No such file", "This attachment is not kept (or was purged).", 404, failed=True)
    _, info, path = found
    assert path is not None
    kind = info.content_type if info.content_type in NOTE_TYPES.values() else "application/octet-stream"
    return FileResponse(
        path,
        media_type=kind,
        filename=Path(info.filename or "attachment").name,
        content_disposition_type="attachment",
        headers={"Cache-Control": "no-store"},
    )


# take, state, draft, release: after /reply and /purge (the router takes the first route that matches)
@router.post("/consults/{ticket_id}/{action}")
async def change(request: Request, ticket_id: int, action: str) -> Response:
    if action not in ("take", "state", "draft", "release"):
        return _message(request, "No such page", "There is no page at this address.", 404, failed=True)
    found = await _staff_form(request)
    if isinstance(found, Response):
        return found
    auth, form = found

    def work() -> Response:
        user, db = auth.user, policy_of(request).engine
        try:
            api.changed(lambda: _change(db, ticket_id, user, action, form))
        except flows.Refused as exc:
            return _staff_ticket(request, auth, ticket_id, exc.status, error=exc.message, text=form.get("text"))
        done = "?saved=1" if action == "draft" else ""
        return RedirectResponse(f"/consults/{ticket_id}{done}", status_code=303)

    return await _run(work)
