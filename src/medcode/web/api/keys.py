"""API keys and the admin's user list over JSON (the rest of the account API is in ``account.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from medcode.app import accounts, keys
from medcode.app.models import PLAN_NAMES, ROLES, User
from medcode.web.api.account import (
    BAD,
    CSRF,
    NO_SESSION,
    CsrfHeader,
    Refused,
    _guarded,
    require_user,
)
from medcode.web.api.schemas import errors
from medcode.web.auth import KEYS, policy_of
from medcode.web.deps import json

router = APIRouter(prefix="/api", tags=["accounts"])
ADMIN = "not an admin, or a missing or wrong X-CSRF-Token"


class KeyBody(BaseModel):
    name: str = Field("", max_length=100)


class Grant(BaseModel):
    role: str | None = Field(None, max_length=20)
    plan: str | None = Field(None, max_length=20)


@router.post(
    "/keys",
    status_code=201,
    summary="Create an API key (shown once)",
    responses=errors(e401=NO_SESSION, e403=CSRF + ", or a plan without keys", e422=BAD),
)
def api_key_create(request: Request, body: KeyBody, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Response:
        auth = require_user(request, x_csrf_token, write=True)
        assert auth.user is not None
        policy = policy_of(request)
        plan = policy.plans.get(auth.user.plan) or policy.plans["guest"]
        if plan.rate_per_minute <= 0:
            raise Refused(403, "plan", f"the {plan.name} plan has no API keys")
        try:
            key_id, key = keys.create_key(policy.engine, auth.user, body.name.strip() or "key")
        except accounts.AccountError as exc:
            raise Refused(422, "bad_input", exc.message, field=exc.field) from None
        return json({"id": key_id, "key": key, "name": body.name.strip() or "key"}, 201)

    return _guarded(work)


@router.get("/keys", summary="The account's API keys and their use per day", responses=errors(e401=NO_SESSION))
def api_keys(request: Request) -> Response:
    def work() -> dict[str, Any]:
        auth = require_user(request, write=False, session=False)
        assert auth.user is not None
        return {"data": [key_view(k) for k in keys.list_keys(policy_of(request).engine, auth.user)]}

    return _guarded(work)


@router.get(
    "/keys/{key_id}",
    summary="One of the account's API keys and its use per day",
    responses=errors(e401=NO_SESSION, e404="no such key of this account", e422="a key id that is not a number"),
)
def api_key(request: Request, key_id: int) -> Response:
    def work() -> dict[str, Any]:
        auth = require_user(request, write=False, session=False)
        assert auth.user is not None
        found = next((k for k in keys.list_keys(policy_of(request).engine, auth.user) if k.id == key_id), None)
        if found is None:
            raise Refused(404, "not_found", "no such key")
        return key_view(found)

    return _guarded(work)


def key_view(k: Any) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "created": k.created_at,
        "revoked": k.revoked_at,
        "usage": [{"day": d, "requests": n} for d, n in k.usage],
    }


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    summary="Revoke an API key",
    responses=errors(
        e401=NO_SESSION, e403=CSRF, e404="no such live key of this account", e422="a key id that is not a number"
    ),
)
def api_key_revoke(request: Request, key_id: int, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> Response:
        auth = require_user(request, x_csrf_token, write=True)
        assert auth.user is not None
        if not keys.revoke_key(policy_of(request).engine, auth.user, key_id):
            raise Refused(404, "not_found", "no such key")
        KEYS.forget(auth.user.id)
        return Response(status_code=204)

    return _guarded(work)


@router.get(
    "/admin/users",
    summary="Users (admin only)",
    responses=errors(e401=NO_SESSION, e403="not an admin", e422="an offset or limit that is not a number"),
)
def api_users(request: Request, offset: int = 0, limit: int = 100) -> Response:
    def work() -> dict[str, Any]:
        auth = require_user(request, write=False)
        if auth.user is None or auth.user.role != "admin":
            raise Refused(403, "forbidden", "only an admin may list users")
        users = accounts.list_users(policy_of(request).engine, max(0, offset), min(max(1, limit), 500))
        return {"data": [user_view(u) for u in users]}

    return _guarded(work)


def user_view(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "email": u.email,
        "role": u.role,
        "plan": u.plan,
        "verified": u.verified,
        "created": u.created_at,
    }


def grant(request: Request, user_id: int, role: str | None, plan: str | None) -> None:
    """An admin sets a user's role and plan (the seam a payment provider would call for plans)."""
    if role is not None and role not in ROLES:
        raise Refused(422, "bad_input", f"role must be one of {', '.join(ROLES)}", field="role")
    if plan is not None and plan not in PLAN_NAMES:
        raise Refused(422, "bad_input", f"plan must be one of {', '.join(PLAN_NAMES)}", field="plan")
    db = policy_of(request).engine
    if role is not None and not accounts.set_role(db, user_id, role):
        raise Refused(404, "not_found", "no such user")
    if plan is not None and not accounts.set_plan(db, user_id, plan):
        raise Refused(404, "not_found", "no such user")
    KEYS.forget(user_id)


@router.post(
    "/admin/users/{user_id}",
    summary="Change a user's role or plan (admin only)",
    responses=errors(e401=NO_SESSION, e403=ADMIN, e404="no such user", e422=BAD),
)
def api_grant(request: Request, user_id: int, body: Grant, x_csrf_token: CsrfHeader = None) -> Response:
    def work() -> dict[str, Any]:
        auth = require_user(request, x_csrf_token, write=True)
        if auth.user is None or auth.user.role != "admin":
            raise Refused(403, "forbidden", "only an admin may change users")
        grant(request, user_id, body.role, body.plan)
        return {"id": user_id, "role": body.role, "plan": body.plan}

    return _guarded(work)
