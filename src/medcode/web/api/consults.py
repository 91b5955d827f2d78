"""The consult queue over JSON (CaseConsultant): members ask and read their own tickets; consultants and
admins see the queue, take tickets, reply (medcode mails the answer) and set states; an admin purges.

Authentication is the rest of the API's: the session cookie (state-changing requests carry its
``X-CSRF-Token``) or ``Authorization: Bearer KEY``. Handlers are plain functions (FastAPI runs them in a
worker thread): the application database is reached synchronously. Message bodies are never logged.
"""

from __future__ import annotations

import logging
from email.utils import make_msgid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from medcode.app import accounts, consults, keys, mail
from medcode.app.consult_mail import Incoming
from medcode.app.consult_views import MessageInfo, Ticket
from medcode.web.api.account import CsrfHeader, Refused, _guarded
from medcode.web.api.consult_json import message_view, people, ticket_view
from medcode.web.api.schemas import errors
from medcode.web.auth import SESSION_COOKIE, Auth, auth_of, check_csrf, policy_of
from medcode.web.deps import json

router = APIRouter(prefix="/api", tags=["consults"])
log = logging.getLogger("medcode.web.consults")

STAFF = frozenset({"consultant", "admin"})
STATES = ("new", "assigned", "waiting", "answered", "closed")
SUBJECT_CHARS = 300
TEXT_CHARS = 100_000  # characters of a question or reply sent over the API
NO_AUTH = "no session (or it has ended), or an unknown or revoked key"
NOT_STAFF = "not a consultant or admin, or a missing or wrong X-CSRF-Token"
NOT_OWNER = "not a consultant or admin, and not the ticket's own requester"
PURGED = "the ticket was purged"
BAD = "a body or parameter that is not as described (the field is named)"


class Question(BaseModel):
    subject: str = Field(min_length=1, max_length=SUBJECT_CHARS)
    text: str = Field(min_length=1, max_length=TEXT_CHARS)


class Reply(BaseModel):
    text: str = Field(min_length=1, max_length=TEXT_CHARS)


class StateBody(BaseModel):
    state: str = Field(max_length=20)


# --- who asks ----------------------------------------------------------------------------------------------


def requester(request: Request) -> Auth:
    """The signed-in user of a consult request. The accounts middleware looks up sessions of the account
    API and of pages; with quotas off it passes the rest of the API by, so the session or key is read here."""
    auth = auth_of(request)
    if auth.user is not None:
        return auth
    db = policy_of(request).engine
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        found = keys.key_owner(db, header[7:].strip()[:200])
        if found is None:
            raise Refused(401, "bad_key", "this API key is unknown or revoked")
        return Auth(user=found[1], key_id=found[0])
    cookie = request.cookies.get(SESSION_COOKIE, "")[:200]
    session = accounts.session_user(db, cookie) if cookie else None
    if session is not None:
        return Auth(user=session[0], csrf=session[1], token=cookie)
    return Auth()


def signed_in(request: Request, csrf: str | None = None, *, write: bool) -> Auth:
    auth = requester(request)
    if auth.user is None:
        raise Refused(401, "auth_required", "log in first, or send an API key")
    if write and not check_csrf(auth, csrf):
        raise Refused(403, "csrf", "missing or wrong X-CSRF-Token: take it from GET /api/account")
    return auth


def staff(request: Request, csrf: str | None = None, *, write: bool, admin: bool = False) -> Auth:
    auth = signed_in(request, csrf, write=write)
    assert auth.user is not None
    if auth.user.role not in (("admin",) if admin else STAFF):
        who = "an admin" if admin else "consultants and admins"
        raise Refused(403, "forbidden", f"only {who} may do this")
    return auth


def may_ask(auth: Auth) -> bool:
    return auth.user is not None and auth.user.role != "guest"


# --- what is shown ------------------------------------------------------------------------------------------


def staff_view(request: Request, t: Ticket) -> dict[str, Any]:
    return ticket_view(t, full=True, names=people(policy_of(request).engine, [t]))


def find_ticket(request: Request, auth: Auth, ticket_id: int) -> tuple[Ticket, bool]:
    """(the ticket, whether the requester sees all of it); 404 when it is not theirs to see."""
    assert auth.user is not None
    found = consults.ticket(policy_of(request).engine, ticket_id)
    is_staff = auth.user.role in STAFF
    own = found is not None and not found.review and found.user_id == auth.user.id
    if found is None or not (is_staff or own):
        raise Refused(404, "not_found", "no such ticket")
    return found, is_staff


def queue_filters(auth: Auth, state: str | None, assignee: str, overdue: bool, review: bool) -> dict[str, Any]:
    """Arguments of ``consults.queue``; assignee ``me``, ``none`` (nobody), a user id, or anything else: anyone."""
    assert auth.user is not None
    if state is not None and state not in STATES:
        raise Refused(422, "bad_input", f"state must be one of {', '.join(STATES)}", field="state")
    who = auth.user.id if assignee == "me" else int(assignee) if assignee.isdigit() and len(assignee) < 12 else None
    return {
        "state": state,
        "assignee": who,
        "unassigned": assignee == "none",
        "overdue": True if overdue else None,
        "review": review,
    }


def changed(work: Any) -> Ticket:
    """Run a change of the consult core, answering its refusals."""
    try:
        out: Ticket = work()
    except consults.TicketNotFound:
        raise Refused(404, "not_found", "no such ticket") from None
    except consults.ConsultError as exc:
        raise Refused(409 if exc.field == "ticket" else 422, "bad_input", exc.message, field=exc.field) from None
    return out


def send_reply(request: Request, auth: Auth, ticket_id: int, text: str) -> MessageInfo:
    """Mail the answer and keep it in the thread; Refused when the mail server is down."""
    assert auth.user is not None
    try:
        return consults.reply(policy_of(request).engine, request.app.state.conf, ticket_id, auth.user, text)
    except consults.TicketNotFound:
        raise Refused(404, "not_found", "no such ticket") from None
    except consults.ConsultError as exc:
        raise Refused(409 if exc.field == "ticket" else 422, "bad_input", exc.message, field=exc.field) from None
    except mail.MailError as exc:
        log.error("reply to ticket %s not sent: %s", ticket_id, exc)
        raise Refused(502, "mail_failed", "the mail server did not take the answer: try again") from None


def write_back(request: Request, auth: Auth, ticket_id: int, text: str) -> Ticket:
    """The requester adds a message to their own ticket, as if they answered the mail (the consult core's
    ``receive`` threads it): a waiting or answered ticket goes back to the consultant."""
    assert auth.user is not None
    found = consults.ticket(policy_of(request).engine, ticket_id)
    if found is None or found.review or found.user_id != auth.user.id:
        raise Refused(404, "not_found", "no such ticket of yours")
    if found.purged:
        raise Refused(409, "bad_input", "the ticket was purged", field="ticket")
    if not text.strip() or len(text) > TEXT_CHARS:
        raise Refused(422, "bad_input", f"write a message (at most {TEXT_CHARS:,} characters)", field="text")
    ids = tuple(m.message_id for m in found.messages)
    incoming = Incoming(
        from_addr=auth.user.email,
        to_addr="",
        subject=f"Re: {found.subject} [{found.tag}]",
        message_id=make_msgid(domain="medcode.web"),
        in_reply_to=ids[-1] if ids else "",
        references=ids[-30:],
        text=text.strip(),
    )
    return consults.receive(policy_of(request).engine, request.app.state.conf, incoming)


# --- routes -------------------------------------------------------------------------------------------------


@router.get(
    "/consults",
    summary="The consult queue (consultants and admins)",
    responses=errors(e401=NO_AUTH, e403="not a consultant or admin", e422=BAD),
)
def api_queue(
    request: Request,
    state: Annotated[str | None, Query(max_length=20)] = None,
    assignee: Annotated[str, Query(max_length=20, description="me, none, any or a user id")] = "any",
    overdue_only: Annotated[bool, Query(alias="overdue")] = False,
    review: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    def work() -> dict[str, Any]:
        auth = staff(request, write=False)
        filters = queue_filters(auth, state, assignee, overdue_only, review)
        found = consults.queue(policy_of(request).engine, limit=limit, offset=offset, **filters)
        names = people(policy_of(request).engine, found)
        return {"data": [ticket_view(t, full=True, names=names) for t in found], "limit": limit, "offset": offset}

    return _guarded(work)


@router.get(
    "/consults/mine",
    summary="The signed-in member's own tickets and their replies",
    responses=errors(e401=NO_AUTH),
)
def api_mine(request: Request) -> Response:
    def work() -> dict[str, Any]:
        auth = signed_in(request, write=False)
        assert auth.user is not None
        found = consults.tickets_of(policy_of(request).engine, auth.user)
        return {"data": [ticket_view(t, full=False) for t in found]}

    return _guarded(work)


@router.post(
    "/consults",
    status_code=201,
    summary="Ask a coding question (members); a consultant answers by mail",
    responses=errors(e401=NO_AUTH, e403="a guest account, or a missing or wrong X-CSRF-Token", e422=BAD),
)
def api_ask(request: Request, body: Question, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Response:
        auth = signed_in(request, x_csrf_token, write=True)
        if not may_ask(auth):
            raise Refused(403, "forbidden", "a guest account cannot ask: ask the administrator for membership")
        assert auth.user is not None
        user, conf = auth.user, request.app.state.conf
        made = changed(lambda: consults.create_from_web(policy_of(request).engine, conf, user, body.subject, body.text))
        return json({"id": made.id, "state": made.state, "tag": made.tag, "due_at": made.due_at}, 201)

    return _guarded(work)


@router.post(
    "/consults/{ticket_id}/messages",
    status_code=201,
    summary="Write back on your own ticket (as if answering the mail); it goes back to the consultant",
    responses=errors(
        e401=NO_AUTH,
        e403="a missing or wrong X-CSRF-Token",
        e404="no such ticket of yours",
        e409=PURGED,
        e422=BAD,
    ),
)
def api_write_back(request: Request, ticket_id: int, body: Reply, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Response:
        auth = signed_in(request, x_csrf_token, write=True)
        write_back(request, auth, ticket_id, body.text)
        found, full = find_ticket(request, auth, ticket_id)
        return json(staff_view(request, found) if full else ticket_view(found, full=False), 201)

    return _guarded(work)


@router.get(
    "/consults/{ticket_id}",
    summary="One ticket: the thread; for consultants also the draft, attachments and audit log",
    responses=errors(e401=NO_AUTH, e404="no such ticket, or not yours", e422="a ticket id that is not a number"),
)
def api_ticket(request: Request, ticket_id: int) -> Response:
    def work() -> dict[str, Any]:
        auth = signed_in(request, write=False)
        found, full = find_ticket(request, auth, ticket_id)
        return staff_view(request, found) if full else ticket_view(found, full=False)

    return _guarded(work)


@router.post(
    "/consults/{ticket_id}/take",
    summary="Take a ticket (it is assigned to you)",
    responses=errors(
        e401=NO_AUTH, e403=NOT_STAFF, e404="no such ticket", e409=PURGED, e422="a ticket id that is not a number"
    ),
)
def api_take(request: Request, ticket_id: int, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> dict[str, Any]:
        user = staff(request, x_csrf_token, write=True).user
        assert user is not None
        return staff_view(request, changed(lambda: consults.take(policy_of(request).engine, ticket_id, user)))

    return _guarded(work)


@router.post(
    "/consults/{ticket_id}/reply",
    summary="Send the answer by mail (threaded with the question) and keep it in the ticket",
    responses=errors(
        e401=NO_AUTH,
        e403=NOT_STAFF,
        e404="no such ticket",
        e409=PURGED + ", or one with no address to answer",
        e422=BAD,
        e502="the mail server did not take the answer",
    ),
)
def api_reply(request: Request, ticket_id: int, body: Reply, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> dict[str, Any]:
        auth = staff(request, x_csrf_token, write=True)
        sent = send_reply(request, auth, ticket_id, body.text)
        found, _ = find_ticket(request, auth, ticket_id)
        return {"message": message_view(sent), "ticket": staff_view(request, found)}

    return _guarded(work)


@router.post(
    "/consults/{ticket_id}/state",
    summary="Set a ticket's state (new, assigned, waiting, answered, closed)",
    responses=errors(e401=NO_AUTH, e403=NOT_STAFF, e404="no such ticket", e409=PURGED, e422=BAD),
)
def api_state(request: Request, ticket_id: int, body: StateBody, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> dict[str, Any]:
        user = staff(request, x_csrf_token, write=True).user
        assert user is not None
        if body.state not in STATES:
            raise Refused(422, "bad_input", f"state must be one of {', '.join(STATES)}", field="state")
        db = policy_of(request).engine
        return staff_view(request, changed(lambda: consults.set_state(db, ticket_id, user, body.state)))

    return _guarded(work)


@router.post(
    "/consults/{ticket_id}/draft",
    summary="Save the consultant's edit of the draft (it is not sent)",
    responses=errors(e401=NO_AUTH, e403=NOT_STAFF, e404="no such ticket", e409=PURGED, e422=BAD),
)
def api_draft(request: Request, ticket_id: int, body: Reply, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> dict[str, Any]:
        user = staff(request, x_csrf_token, write=True).user
        assert user is not None
        db = policy_of(request).engine
        return staff_view(request, changed(lambda: consults.save_draft(db, ticket_id, user, body.text)))

    return _guarded(work)


@router.post(
    "/consults/{ticket_id}/release",
    summary="Move a ticket from the review folder (unknown sender) into the queue",
    responses=errors(
        e401=NO_AUTH, e403=NOT_STAFF, e404="no such ticket", e409=PURGED, e422="a ticket id that is not a number"
    ),
)
def api_release(request: Request, ticket_id: int, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> dict[str, Any]:
        user = staff(request, x_csrf_token, write=True).user
        assert user is not None
        return staff_view(request, changed(lambda: consults.release(policy_of(request).engine, ticket_id, user)))

    return _guarded(work)


@router.delete(
    "/consults/{ticket_id}",
    status_code=204,
    summary="Purge a ticket: its messages and attachments are erased, an audit entry stays (admins)",
    responses=errors(
        e401=NO_AUTH,
        e403="not an admin, or a missing or wrong X-CSRF-Token",
        e404="no such ticket",
        e422="a ticket id that is not a number",
    ),
)
def api_purge(request: Request, ticket_id: int, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Response:
        auth = staff(request, x_csrf_token, write=True, admin=True)
        assert auth.user is not None
        if not consults.purge(policy_of(request).engine, request.app.state.conf, ticket_id, auth.user):
            raise Refused(404, "not_found", "no such ticket")
        return Response(status_code=204)

    return _guarded(work)
