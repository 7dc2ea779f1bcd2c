"""The application factory: one bundle, one database, the /v1 API and the reviewers' pages."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proposal_router.model.errors import ProposalRouterError, SetupError
from proposal_router.model.explain import Explainer
from proposal_router.model.router import Router
from proposal_router.model.taxonomy import load_taxonomy
from proposal_router.service import store
from proposal_router.service.api.batch_worker import BatchWorker
from proposal_router.service.api.docs import OPENAPI_URL, install_docs
from proposal_router.service.api.errors import http_failed, server_fault, user_error, validation_failed
from proposal_router.service.api.routes import (
    analysis,
    assignments,
    batches,
    department,
    health,
    keys,
    metrics,
    proposals,
    quality,
    review,
)
from proposal_router.service.api.state import AppState
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.config import Settings
from proposal_router.service.db.engine import make_engine, session_factory
from proposal_router.service.db.migrate import upgrade
from proposal_router.service.domain.quality import figures as quality_figures
from proposal_router.service.engine import BatchEngine, LocalEngine
from proposal_router.service.engines import batch_engine
from proposal_router.service.metrics import Metrics
from proposal_router.service.similar import Lookup, StoredFilings
from proposal_router.service.trust import Arrival, Gate
from proposal_router.service.web import batches as web_batches
from proposal_router.service.web import department as web_department
from proposal_router.service.web import quality as web_quality
from proposal_router.service.web import routes as web
from proposal_router.service.web.session import SessionSigner

log = logging.getLogger("proposal_router")

DESCRIPTION = """
Routes Chinese government proposals (提案/建议) to a lead department (主办单位) and co-handlers (协办单位).
Confident proposals are routed at once (`decision: auto`); uncertain ones wait in the review queue until a
reviewer accepts, corrects or rejects (不予立案) them. Every endpoint except `/healthz`, `/readyz` and these
docs (served only with PROPOSAL_ROUTER_API_DOCS=true) needs an API key (`X-API-Key` or `Authorization: Bearer`);
roles: screener < reviewer < analyst < admin.
"""


UPLOADS = frozenset({"/v1/batches", "/ui/batches"})  # the API's batch upload and the page's: the upload limit


class BodyLimit:
    """Refuse request bodies above a size with 413, before the app reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int, upload_paths: frozenset[str] = UPLOADS) -> None:
        self.app, self.max_bytes, self.upload_bytes, self.upload_paths = app, max_bytes, upload_bytes, upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if scope.get("path") in self.upload_paths else self.max_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        detail = {"detail": f"请求体超过 {limit:,} 字节的上限"}
        response = JSONResponse(detail, status.HTTP_413_CONTENT_TOO_LARGE)
        await response({"type": "http"}, _no_receive, send)


class _TooLarge(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _batch_engine(settings: Settings, router: Router) -> BatchEngine:
    """Uploads are routed in-process by the serving router, or on Ray when PROPOSAL_ROUTER_ENGINE=ray."""
    if settings.engine == "local":
        return LocalEngine(router)
    return batch_engine(
        "ray",
        router.directory,
        settings.threads,
        settings.encoder,
        settings.ray_workers,
        settings.ray_address,
        router.taxonomy if router.reform is not None else None,
    )


def build_state(settings: Settings, router: Router | None = None) -> AppState:
    if router is None:
        if not settings.model:
            raise SetupError("没有指定模型包", option="model")
        path = settings.checked_taxonomy(None)
        taxonomy = load_taxonomy(path) if path is not None else None
        router = Router(settings.model, threads=settings.threads, precision=settings.encoder, taxonomy=taxonomy)
    if router.reform is not None:  # a 机构改革 between the bundle and the taxonomy: say what routing does about it
        log.warning("%s", router.reform.message(router.manifest))
    engine = make_engine(settings.database_url)
    upgrade(engine)
    sessions = session_factory(engine)

    def queue_size() -> float:
        with sessions() as session:
            return float(store.queue_size(session))

    budget = timedelta(seconds=settings.job_time_budget_seconds)
    arrival = Arrival(Lookup(StoredFilings(), settings.similar_threshold), Gate(settings.audit_rate))
    worker = BatchWorker(
        sessions,
        _batch_engine(settings, router),
        settings.max_text_chars,
        settings.read_limits,
        budget,
        lease=timedelta(seconds=settings.job_lease_seconds),
        poll_seconds=settings.job_poll_seconds,
        arrival=arrival,
    )  # started by the app's lifespan, so that building an app (a test, a script) routes nothing by itself
    state = AppState(
        settings=settings,
        router=router,
        engine=engine,
        sessions=sessions,
        catalogue=Catalogue.of(router),
        metrics=Metrics(queue_size),
        explainer=Explainer(router),
        signer=SessionSigner(settings.session_secret),
        batch_worker=worker,
        arrival=arrival,
    )

    def figures() -> dict[str, Any]:
        with sessions() as session:
            return quality_figures(session, state.breaker(), settings.audit_rate, settings.timezone).model_dump()

    state.metrics.watch_quality(figures)
    return state


def _error(code: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=code)


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SECURITY_HEADERS = {
    # No page may be framed: a page on another port of the same host framed the review page and a
    # reviewer's click accepted a proposal (SameSite cookies do not help within one site).
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _has_nul(request: Request) -> bool:
    return "\x00" in request.scope.get("path", "") or b"%00" in request.scope.get("query_string", b"")


def create_app(settings: Settings | None = None, router: Router | None = None) -> FastAPI:
    settings = settings or Settings()
    state = build_state(settings, router)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.batch_worker.start()  # claims new uploads and jobs that a stop or crash left unfinished
        try:
            yield
        finally:
            state.batch_worker.stop()  # the chunk in hand is committed; the rest is released for another claim

    app = FastAPI(
        title="proposal-router",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=OPENAPI_URL if settings.api_docs else None,
        docs_url=None,  # install_docs serves Swagger UI from local files, not FastAPI's CDN
        redoc_url=None,
    )
    if settings.api_docs:
        install_docs(app)
    app.state.services = state
    for module in (health, proposals, department, review, assignments, batches, analysis, quality, keys, metrics):
        app.include_router(module.router)
    app.include_router(web.router)
    app.include_router(web_batches.router)
    app.include_router(web_department.router)
    app.include_router(web_quality.router)
    app.mount("/ui/static", StaticFiles(packages=[("proposal_router.service.web", "static")]), name="static")

    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        if _has_nul(request):  # PostgreSQL cannot hold a NUL: refuse it here rather than fail there
            response: Any = _error(status.HTTP_400_BAD_REQUEST, "请求的地址或参数中含有 NUL 字符")
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        # Labels come from fixed sets: a client's made-up method names must not mint new series.
        method = request.method if request.method in HTTP_METHODS else "other"
        state.metrics.requests.labels(method, path, str(response.status_code)).inc()
        state.metrics.latency.labels(path).observe(time.perf_counter() - started)
        response.headers.update(SECURITY_HEADERS)
        return response

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_upload_bytes)

    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(HTTPException, http_failed)

    @app.exception_handler(web.LoginRequired)
    async def login_required(_: Request, exc: web.LoginRequired) -> RedirectResponse:
        return web.login_redirect(exc)

    app.add_exception_handler(ProposalRouterError, user_error)
    app.add_exception_handler(Exception, server_fault)

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc)
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, "数据库暂时不可用，请稍后重试")

    return app
