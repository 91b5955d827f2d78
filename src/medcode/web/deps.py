"""Shared request parsing and the knowledge base dependency."""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request
from fastapi.responses import Response

from medcode.dates import iso_day
from medcode.kb.store import KnowledgeBase


class BadInput(ValueError):
    """A query parameter that cannot be used (answered with 422)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


async def get_kb(request: Request) -> KnowledgeBase:
    kb: KnowledgeBase = request.app.state.kb
    return kb


KB = Annotated[KnowledgeBase, Depends(get_kb)]
MAX_OFFSET = 10**9  # the largest page offset a query may ask for (larger ones are refused with 422)
# The forms the parameters take, declared in the OpenAPI schema (not enforced by FastAPI: the
# handlers answer a value outside them with their own 422 naming the field). [0-9], not \d: a
# schema's \d also matches other scripts' digits, which are not dates, ZIP codes or localities.
DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
CODE_PATTERN = "^([0-9A-Za-z]{5}|[A-Za-z][0-9A-Za-z]{2}([.]?[0-9A-Za-z]{1,4})?)$"  # CPT, HCPCS or ICD-10-CM
DateParam = Annotated[
    str | None,
    Query(
        description="date of service, YYYY-MM-DD; default: newest release",
        json_schema_extra={"format": "date", "pattern": DATE_PATTERN},
    ),
]
ZipParam = Annotated[
    str | None,
    Query(
        description="ZIP code (five digits, or ZIP+4) for locality payment",
        json_schema_extra={"pattern": "^[0-9]{5}(-?[0-9]{4})?$"},
    ),
]
LocalityParam = Annotated[
    str | None,
    Query(description="locality as MAC-LOCALITY, e.g. 13202-01", json_schema_extra={"pattern": "^[0-9]{5}-[0-9]{2}$"}),
]


def parse_date(text: str | None) -> date | None:
    if text is None:  # (an empty date= is refused like any other value that is not a date)
        return None
    try:
        return iso_day(text)
    except ValueError:
        raise BadInput("date", f"{text!r} is not a date (YYYY-MM-DD)") from None


def json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


class AnswerCache:
    """Encoded answers by request (path and query), least recently used out first.

    The knowledge base a server opened never changes, so an answer is right for the life of the
    process; the ETag names the build, so clients revalidate for free after a new ingest.
    """

    def __init__(self, build: str, max_bytes: int):
        self.build = build
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()  # requests run in worker threads

    def answer(self, request: Request, compute: Callable[[], Any]) -> Response:
        key = f"{request.url.path}?{request.url.query}"
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
        if hit is None:
            body = orjson.dumps(compute(), option=orjson.OPT_NON_STR_KEYS)
            hit = body, f'"{self.build}-{zlib.crc32(key.encode()):08x}"'
            if len(body) <= self.max_bytes // 8:
                with self._lock:
                    if key not in self._items:
                        self._items[key] = hit
                        self.bytes += len(body)
                    while self.bytes > self.max_bytes:
                        self.bytes -= len(self._items.popitem(last=False)[1][0])
        body, etag = hit
        headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)


async def get_cache(request: Request) -> AnswerCache:
    cache: AnswerCache = request.app.state.cache
    return cache


Cache = Annotated[AnswerCache, Depends(get_cache)]


def error(status: int, kind: str, message: str, **extra: Any) -> Response:
    return json({"error": {"type": kind, "message": message, **extra}}, status)
