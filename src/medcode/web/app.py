"""The FastAPI application. ``create_app`` opens the knowledge base read-only.

Handlers that read the knowledge base or check claims run in worker threads (each with its own
SQLite connection), never on the event loop, so that one slow request does not hold up the others.
``guard.Guard`` wraps the whole application with the browser defences.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp

from medcode import casenote, settings, vocab
from medcode.app import db as appdb
from medcode.app import job_apply
from medcode.app.plans import plans, window_seconds
from medcode.audit import catalogue as audit_catalogue
from medcode.claims import Checker
from medcode.codes import MalformedCode, UnknownCode
from medcode.kb.store import open_kb
from medcode.pricing import PricingError, UnknownLocality
from medcode.web import pages
from medcode.web.api import account as account_api
from medcode.web.api import ask, audit, claims, codes, price, releases, search, suggest
from medcode.web.api import consults as consults_api
from medcode.web.api import jobboard as jobboard_api
from medcode.web.api import keys as keys_api
from medcode.web.auth import GUEST_NAV, Accounts, Policy
from medcode.web.deps import AnswerCache, BadInput, error
from medcode.web.guard import Guard
from medcode.web.pages import SYSTEMS, apidocs
from medcode.web.pages import account as account_page
from medcode.web.pages import admin as admin_page
from medcode.web.pages import ask as ask_page
from medcode.web.pages import audit as audit_page
from medcode.web.pages import consults as consults_page
from medcode.web.pages import jobboard as jobboard_page
from medcode.web.pages import suggest as suggest_page
from medcode.web.pages.jobs import Jobs
from medcode.web.pages.render import STATIC, Pages


@dataclass(frozen=True)
class Limits:
    max_upload: int  # bytes of a claim file sent to the claim checker page
    max_body: int  # bytes of a body sent to POST /api/claims/check


class App(FastAPI):
    """FastAPI with ``Guard`` outside every layer (error answers carry its headers too)."""

    def build_middleware_stack(self) -> ASGIApp:
        return Guard(super().build_middleware_stack())


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route answers at the request's path (the router names only the first)."""
    allowed: set[str] = set()
    todo = list(app.router.routes)
    while todo:
        route = todo.pop()
        inner = getattr(route, "original_router", None)  # a router included with include_router
        if inner is not None:
            todo.extend(inner.routes)
            continue
        methods = getattr(route, "methods", None)
        if methods and route.matches(request.scope)[0] != Match.NONE:
            allowed |= set(methods)
    if "GET" in allowed:
        allowed.add("HEAD")  # the guard answers HEAD for every GET address
    return sorted(allowed)


def open_appdb(conf: settings.Settings) -> Policy:
    """The application database (accounts, keys, usage) and the quota policy. A self-hosted install (quotas
    off) without a SQLite file yet gets one; a database behind the newest migration stops start-up."""
    url = appdb.database_url(conf)
    path = appdb.sqlite_path(url)
    if path is not None and not path.exists() and not conf.quotas:
        appdb.upgrade(url)
    appdb.require_current(url)  # NotMigrated: run `medcode db upgrade`
    return Policy(
        engine=appdb.engine(url),
        quotas=conf.quotas,
        plans=plans(conf),
        window=window_seconds(conf),
        trust_proxy=conf.trust_proxy,
        secure_cookies=conf.secure_cookies,
    )


def _fewer_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and a large claim
    check in worker threads leaves each of them holding freed memory: two arenas keep a server's peak far
    lower. Nothing happens on other C libraries."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def create_app(home: Path | None = None, cache_mb: int | None = None) -> FastAPI:
    _fewer_malloc_arenas()
    conf = settings.load()
    if home is not None:
        conf = dataclasses.replace(conf, home=home)
    policy = open_appdb(conf)
    # Background checks run beside the requests: one batch piece at a time keeps a job of a
    # million lines near 1.3 GB (three at a time, the command line's default, take 1.7 GB).
    os.environ.setdefault("MEDCODE_BATCH_THREADS", "1")
    kb = open_kb(home if home is not None else conf.home)
    # at start-up: jobs cut short by a restart are failed and their uploads deleted, old reports go
    job_store = Jobs(
        kb,
        (home if home is not None else conf.home) / "jobs",
        slots=conf.jobs,
        queue=conf.job_queue,
        keep_seconds=conf.keep_minutes * 60,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # checks of request bodies (the API, the page's inline checks) run CHECK_SLOTS at a time in
        # worker threads, the others wait: memory stays bounded (a 20 MB body takes about 0.8 GB)
        app.state.check_slots = anyio.CapacityLimiter(claims.CHECK_SLOTS)
        # Case2Code's language layer loads in the background (the server answers, /healthz too, meanwhile)
        # and starts the embedding cache build when it is missing (MEDCODE_EMBED)
        casenote.start_warming(kb, home if home is not None else conf.home, conf.embed)
        yield
        job_store.close()

    app = App(
        title="medcode",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        description="Medical coding reference and Medicare pricing from official CMS "
        "and CDC files. Every fact cites its file and release.",
    )
    app.state.kb = kb
    app.state.limits = Limits(conf.max_upload_mb << 20, conf.max_body_mb << 20)
    app.state.checker = Checker(kb)  # reference tables load on first use and are shared by requests
    app.state.cache = AnswerCache(kb.path.name, (conf.cache_mb if cache_mb is None else cache_mb) << 20)
    vocab.code_documentation()  # rules as data: a bad file stops the server here, not on a page
    audit_catalogue.validate(kb)  # the audit's requirement catalogue: a bad file or unknown code stops it too
    app.state.pages = Pages(kb.path.name)
    app.state.pages.env.globals["account_nav"] = GUEST_NAV  # Accounts puts the signed-in user's in its place
    app.state.accounts = policy
    app.state.conf = conf
    # links in mail: MEDCODE_PUBLIC_URL when set, else the address the server listens on
    app.state.public_url = conf.public_url if os.environ.get("MEDCODE_PUBLIC_URL") else ""
    app.state.jobs = job_store
    app.state.resume_limit = job_apply.resume_limit(conf.resume_max_mb)  # bytes of a job application's resume
    app.state.note_limit = casenote.max_bytes(conf.max_note_kb)  # bytes of a note Case2Code reads
    app.state.llm = casenote.llm_config(conf)  # optional re-rank (MEDCODE_LLM_URL); a bad URL stops start-up
    api = (codes, search, price, claims, releases, suggest, audit, ask)
    for module in (
        *api,
        account_api,
        keys_api,
        jobboard_api,
        consults_api,
        pages,
        suggest_page,
        audit_page,
        ask_page,
        apidocs,
        account_page,
        admin_page,
        consults_page,
        jobboard_page,
    ):
        app.include_router(module.router)
    app.add_middleware(Accounts)  # sessions, keys, quotas and rate limits (nothing at all for a guest when off)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or exc.status_code != 404:
            headers = dict(exc.headers or {})
            if exc.status_code == 405:
                headers["Allow"] = ", ".join(allowed_methods(app, request))
            kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            response = error(exc.status_code, kind, str(exc.detail))
            response.headers.update(headers)
            return response
        return app.state.pages.page(
            request,
            "not_found.html",
            status=404,
            code=request.url.path,
            message="There is no page at this address.",
            suggestions=[],
            systems=SYSTEMS,
            chosen=(),
        )

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
            return app.state.pages.page(
                request,
                "not_found.html",
                status=422,
                code=request.url.path,
                heading=f"A parameter of {request.url.path} cannot be used",
                message=f"This address has a parameter that cannot be used ({message}).",
                suggestions=[],
                systems=SYSTEMS,
                chosen=(),
            )
        return error(422, "bad_input", message, field=where)

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
