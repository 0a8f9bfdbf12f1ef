"""The FastAPI application: :func:`create_app` wires the service, the routers, the dashboard and the middlewares.

Middlewares, outermost first: the body limit (413 before a large body is read), security headers (a strict
Content-Security-Policy: the dashboard loads scripts only from this server), request metrics, and CORS only when
origins are configured. Every error answers with :class:`~wattbit.api.errors.ErrorBody`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wattbit import __version__
from wattbit.api.errors import ApiError
from wattbit.api.reads import FastReads

log = logging.getLogger(__name__)

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class BodyLimit:
    """Answer 413 to a request whose body exceeds ``limit`` bytes, before it is read (pure ASGI middleware)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._reject(send, int(length) if length.isdigit() else None)
            return
        seen = 0
        sent_error = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            if not sent_error:
                await self._reject(send, seen)

    async def _reject(self, send: Send, size: int | None) -> None:
        body = ApiError(
            413,
            "too_large",
            f"the request body is larger than {self.limit:,} bytes",
            value=size,
            expected=f"at most {self.limit:,} bytes",
        ).body()
        resp = JSONResponse(body, status_code=413)
        await send({"type": "http.response.start", "status": 413, "headers": resp.raw_headers})
        await send({"type": "http.response.body", "body": resp.body})


class _TooLarge(Exception):
    pass


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Measured:
    """Security headers on every answer, its latency and status in the service's metrics, and the read cache
    cleared after every write (pure ASGI middleware: no task or stream per request, unlike ``@app.middleware``).

    Headers: a strict Content-Security-Policy (unless the endpoint set one), ``nosniff``, no referrer, no framing
    (same origin for reports), and ``Cache-Control: no-store`` on the API. Latency is measured to the start of the
    answer (the first byte of a stream)."""

    def __init__(
        self, app: ASGIApp, observe: Callable[[str, str, int, float], None], on_write: Callable[[], None]
    ) -> None:
        self.app, self.observe, self.on_write = app, observe, on_write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]

        async def send_headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = _secured(list(message.get("headers", [])), path)
                route = getattr(scope.get("route"), "path", "unmatched")
                self.observe(method, route, status, time.perf_counter() - t0)
                if method not in SAFE_METHODS and status < 400:
                    self.on_write()
            await send(message)

        await self.app(scope, receive, send_headed)


def _secured(headers: list[tuple[bytes, bytes]], path: str) -> list[tuple[bytes, bytes]]:
    """``headers`` with the security headers :class:`Measured` adds."""
    present = {k.lower() for k, _ in headers}
    out = [h for h in headers if h[0].lower() not in (b"x-content-type-options", b"referrer-policy")]
    out += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    if b"content-security-policy" not in present:
        out.append((b"content-security-policy", PAGE_CSP.encode()))
    if b"x-frame-options" not in present:
        out.append((b"x-frame-options", b"SAMEORIGIN" if "report" in path else b"DENY"))
    if path.startswith("/api/") and b"cache-control" not in present:
        out.append((b"cache-control", b"no-store"))
    return out


def create_app(config: Any) -> FastAPI:
    """The service's application for ``config`` (:class:`~wattbit.api.service.ServiceConfig`)."""
    from wattbit.api import dashboard, routes_api, routes_ops
    from wattbit.api.service import Service

    service = Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # a few worker threads for the synchronous endpoints, fewer than the database pool's connections: dozens of
        # threads fighting for the GIL and for pooled connections answer slower than a short queue does
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.request_threads
        service.hub.bind(asyncio.get_running_loop())
        await asyncio.to_thread(service.start)
        log.info("wattbit service ready (fleet: %s)", service.fleet.kind)
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)

    app = FastAPI(
        title="wattbit service",
        version=__version__,
        description="Scenarios, background runs (simulate, bench, plan), the live fleet and operations of wattbit. "
        "Authenticate with `Authorization: Bearer TOKEN` (`wattbit token create --role ROLE --name NAME`); "
        "roles viewer < operator < admin. Errors answer with `ErrorBody`.",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.service = service
    _metrics(app, service)
    _handlers(app)
    app.include_router(routes_api.router)
    app.include_router(routes_api.api)
    app.include_router(routes_ops.api)
    app.include_router(dashboard.router)
    app.add_middleware(FastReads, cache=service.reads, known=service.principals.get)  # inside CORS and Measured
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Wattbit-CSRF"],
        )

    app.add_middleware(Measured, observe=app.state.observe, on_write=service.reads.clear)
    app.add_middleware(BodyLimit, limit=config.max_upload_bytes + 64 * 1024)
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            value = err.get("input")
            shown = value if isinstance(value, str | int | float | bool) or value is None else repr(value)[:200]
            problems.append({"field": ".".join(loc) or None, "value": shown, "message": err.get("msg", "")})
        first = problems[0] if problems else {"field": None, "value": None, "message": "invalid request"}
        body = ApiError(
            422,
            "invalid_request",
            f"{first['field'] or 'request'}: {first['message']}",
            field=first["field"],
            value=first["value"],
            expected=first["message"],
            problems=problems,
        ).body()
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": code, "message": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal", "message": "internal error; see the server's log"}, status_code=500)


def _metrics(app: FastAPI, service: Any) -> None:
    """The service's own metrics on ``GET /metrics`` (a registry of its own, no global state)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from wattbit.api.db import Run

    registry = CollectorRegistry()
    requests = Counter(
        "wattbit_api_requests", "HTTP requests answered.", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "wattbit_api_request_duration_seconds",
        "Time to answer a request (to the first byte of a stream).",
        ["route"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0),
        registry=registry,
    )

    class _State:
        def collect(self) -> Any:
            runs = GaugeMetricFamily("wattbit_api_runs", "Runs by state.", labels=["state"])
            try:
                with service.sessions() as db:
                    for state, n in db.execute(select(Run.state, func.count()).group_by(Run.state)):
                        runs.add_metric([state], n)
            except Exception:  # a scrape must not fail because the database is busy
                log.debug("runs gauge skipped", exc_info=True)
            yield runs
            yield GaugeMetricFamily("wattbit_api_event_streams", "Open event streams.", value=service.hub.subscribers)
            yield GaugeMetricFamily("wattbit_api_ready", "1 when the service is ready.", value=float(service.ready))
            status = service.fleet.status()
            if "steps_done" in status:
                yield GaugeMetricFamily(
                    "wattbit_api_twin_steps", "Steps of the embedded twin.", value=status["steps_done"]
                )

    registry.register(_State())

    def observe(method: str, route: str, status: int, seconds: float) -> None:
        latency.labels(route).observe(seconds)
        requests.labels(method, route, str(status)).inc()

    app.state.observe = observe

    @app.get(
        "/metrics",
        tags=["health"],
        summary="The service's own metrics (Prometheus text format)",
        responses={200: {"content": {"text/plain": {}}}},
    )
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
