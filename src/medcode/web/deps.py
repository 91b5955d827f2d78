"""Shared request parsing and the knowledge base dependency."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request
from fastapi.responses import Response

from medcode.kb.store import KnowledgeBase


class BadInput(ValueError):
    """A query parameter that cannot be used (answered with 422)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


KB = Annotated[KnowledgeBase, Depends(get_kb)]
DateParam = Annotated[str | None, Query(description="date of service, YYYY-MM-DD; default: newest release")]
ZipParam = Annotated[str | None, Query(description="ZIP code (five digits) for locality payment")]
LocalityParam = Annotated[str | None, Query(description="locality as MAC-LOCALITY, e.g. 13202-01")]


def parse_date(text: str | None) -> date | None:
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput("date", f"{text!r} is not a date (YYYY-MM-DD)") from None


def json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type="application/json", headers=headers)


def error(status: int, kind: str, message: str, **extra: Any) -> Response:
    return json({"error": {"type": kind, "message": message, **extra}}, status)
