"""Browser defences around the whole application (an ASGI wrapper outside every other layer, so
that error answers carry them too):

- security headers on every answer: a Content-Security-Policy that allows the site's own files
  only (no inline script or style, no framing, no plugin, forms posting to the site only),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``, ``X-Frame-Options``;
- a request that changes something (POST ...) from another site is refused with 403: a page on
  any site could otherwise post a form to a server that a user runs on their own machine;
- ``HEAD`` is answered for every ``GET`` address, with the headers of ``GET`` and no body.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site(headers: Headers) -> str | None:
    """Why a request comes from a page of another site, or None."""
    if headers.get("sec-fetch-site") == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = headers.get("origin")
    if origin is None:
        return None
    host = headers.get("x-forwarded-host") or headers.get("host") or ""
    if origin == "null" or urlsplit(origin).netloc.lower() != host.split(",")[0].strip().lower():
        return f"Origin {origin[:100]} is not this site"
    return None


class Guard:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        if scope["method"] not in SAFE_METHODS:
            why = cross_site(Headers(scope=scope))
            if why is not None:
                body = orjson.dumps({"error": {"type": "cross_site", "message": f"refused: {why}"}})
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, guarded)
