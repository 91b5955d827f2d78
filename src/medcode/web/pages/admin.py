"""The admin's page: users, and their role and plan (payments are not part of medcode: an admin, or a
payment provider through ``medcode.app.accounts.set_plan``, sets the plan)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medcode.app import accounts
from medcode.app.models import PLAN_NAMES, ROLES
from medcode.web.api import account as flows
from medcode.web.api import keys as key_api
from medcode.web.auth import Auth, auth_of, policy_of
from medcode.web.pages.account import _message, _pages, _run, _session_form, _to_login

router = APIRouter(include_in_schema=False)


def _admin(request: Request, auth: Auth, offset: int = 0, status: int = 200, **extra: Any) -> Response:
    limit = 100
    users = [key_api.user_view(u) for u in accounts.list_users(policy_of(request).engine, offset, limit)]
    for u in users:
        u["created"] = time.strftime("%Y-%m-%d", time.gmtime(u["created"]))
    return _pages(request).page(
        request,
        "admin.html",
        status=status,
        cache=False,
        users=users,
        roles=ROLES,
        plan_names=PLAN_NAMES,
        csrf=auth.csrf,
        offset=offset,
        limit=limit,
        **extra,
    )


def _not_admin(request: Request) -> Response:
    return _message(request, "Not allowed", "Only an administrator may see this page.", 403, failed=True)


@router.get("/admin")
def admin_page(request: Request, offset: int = 0) -> Response:
    auth = auth_of(request)
    if auth.user is None or auth.token is None:
        return _to_login()
    if auth.user.role != "admin":
        return _not_admin(request)
    return _admin(request, auth, max(0, min(offset, 10**9)))


@router.post("/admin/users/{user_id}")
async def admin_grant(request: Request, user_id: int) -> Response:
    found = await _session_form(request)
    if isinstance(found, Response):
        return found
    auth, form = found
    if auth.user is None or auth.user.role != "admin":
        return _not_admin(request)

    def work() -> Response:
        try:
            key_api.grant(request, user_id, form.get("role") or None, form.get("plan") or None)
        except flows.Refused as exc:
            return _admin(request, auth, status=exc.status, error=exc.message)
        return _admin(request, auth, message=f"User {user_id}: role and plan saved.")

    return await _run(work)
