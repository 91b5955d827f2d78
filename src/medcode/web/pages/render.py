"""Jinja2 rendering and the caching headers of HTML pages."""

from __future__ import annotations

import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
_ICD_IN_TEXT = re.compile(r"\b([A-TV-Z][0-9][0-9AB](?:\.[0-9A-Z]{1,4})?)(-?)")


def _yyyymmdd(value: int | None) -> str:
    if not value:
        return ""
    s = str(value)
    return f"{s[:4]}-{s[4:6]}-{s[6:]}" if len(s) == 8 else s


def _codelinks(text: str) -> Markup:
    """Note text with the ICD-10-CM codes in it linked to their pages."""
    out, last = [], 0
    for m in _ICD_IN_TEXT.finditer(text):
        out.append(escape(text[last : m.start()]))
        out.append(Markup('<a href="/codes/{0}">{1}</a>').format(m.group(1), m.group(0)))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _asset_version() -> str:
    data = b"".join(p.read_bytes() for p in sorted(STATIC.iterdir()) if p.is_file())
    return f"{zlib.crc32(data):08x}"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["yyyymmdd"] = _yyyymmdd
    env.filters["codelinks"] = _codelinks
    env.globals["asset_version"] = _asset_version()
    return env


class Pages:
    """Renders templates; keeps recently rendered release-bound pages (they change only with a
    new knowledge base) and answers revalidation with 304."""

    def __init__(self, build: str, max_pages: int = 512):
        self.env = environment()
        self.build = build
        self.max_pages = max_pages
        self._cache: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()  # pages render in worker threads

    def html(self, request: Request, template: str, **context: Any) -> str:
        context.setdefault("canonical", str(request.url.path))
        context.setdefault("build", self.build)
        context.setdefault("query", None)
        return self.env.get_template(template).render(**context)

    def page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        cache: bool = True,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        body = self.html(request, template, **context).encode()
        return self.respond(request, body, status, cache=cache, headers=headers)

    def respond(
        self,
        request: Request,
        body: bytes,
        status: int = 200,
        *,
        cache: bool = True,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
    ) -> Response:
        out = dict(headers or {})
        if not cache or status != 200:
            out["Cache-Control"] = "no-store" if not cache else "public, max-age=60"
            return HTMLResponse(body, status_code=status, headers=out)
        tag = etag or f'"{self.build}-{zlib.crc32(body):08x}"'
        out.update({"ETag": tag, "Cache-Control": "public, max-age=300", "Vary": "Cookie"})
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=out)
        return HTMLResponse(body, status_code=status, headers=out)

    def cached(self, request: Request, key: str, render: Callable[[], tuple[bytes, dict[str, str]]]) -> Response:
        """A release-bound page by ``key`` (the path, query and anything else it depends on)."""
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is None:
            body, headers = render()
            if headers:  # a page that sets a cookie is not kept
                return self.respond(request, body, headers=headers)
            hit = body, f'"{self.build}-{zlib.crc32(body):08x}"'
            with self._lock:
                self._cache[key] = hit
                while len(self._cache) > self.max_pages:
                    self._cache.popitem(last=False)
        return self.respond(request, hit[0], etag=hit[1])
