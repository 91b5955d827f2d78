"""The FastAPI application. ``create_app`` opens the knowledge base read-only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from medcode import settings, vocab
from medcode.claims import Checker
from medcode.codes import MalformedCode, UnknownCode
from medcode.kb.store import open_kb
from medcode.pricing import PricingError, UnknownLocality
from medcode.web import pages
from medcode.web.api import claims, codes, price, releases, search
from medcode.web.deps import AnswerCache, BadInput, error
from medcode.web.pages import SYSTEMS
from medcode.web.pages.jobs import Jobs
from medcode.web.pages.render import STATIC, Pages


def create_app(home: Path | None = None, cache_mb: int | None = None) -> FastAPI:
    conf = settings.load()
    kb = open_kb(home if home is not None else conf.home)
    app = FastAPI(title="medcode", version="0.1.0",
                  description="Medical coding reference and Medicare pricing from official CMS "
                              "and CDC files. Every fact cites its file and release.")
    app.state.kb = kb
    app.state.checker = Checker(kb)  # reference tables load on first use and are shared by requests
    app.state.cache = AnswerCache(kb.path.name, (conf.cache_mb if cache_mb is None else cache_mb) << 20)
    vocab.code_documentation()  # rules as data: a bad file stops the server here, not on a page
    app.state.pages = Pages(kb.path.name)
    app.state.jobs = Jobs(kb, (home if home is not None else conf.home) / "jobs")
    for module in (codes, search, price, claims, releases, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or exc.status_code != 404:
            return error(exc.status_code, "not_found" if exc.status_code == 404 else "http_error", str(exc.detail))
        return app.state.pages.page(request, "not_found.html", status=404, code=request.url.path,
                                    message="There is no page at this address.", suggestions=[],
                                    systems=SYSTEMS, chosen=())

    @app.exception_handler(UnknownCode)
    async def unknown_code(_: Request, exc: UnknownCode) -> Response:
        return error(404, "not_found", str(exc), code=exc.code, suggestions=exc.suggestions)

    @app.exception_handler(MalformedCode)
    async def malformed(_: Request, exc: MalformedCode) -> Response:
        return error(422, "malformed_code", str(exc), field="code")

    @app.exception_handler(UnknownLocality)
    async def unknown_locality(_: Request, exc: UnknownLocality) -> Response:
        return error(404, "unknown_locality", str(exc))

    @app.exception_handler(PricingError)
    async def pricing(_: Request, exc: PricingError) -> Response:
        return error(422, "bad_input", str(exc))

    @app.exception_handler(BadInput)
    async def bad_input(_: Request, exc: BadInput) -> Response:
        return error(422, "bad_input", str(exc), field=exc.field)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        if not request.url.path.startswith("/api/"):  # a page: answer with a page
            return app.state.pages.page(request, "not_found.html", status=422, code=request.url.path,
                                        message=f"This address has a parameter that cannot be used ({message}).",
                                        suggestions=[], systems=SYSTEMS, chosen=())
        return error(422, "bad_input", message, field=where)

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
