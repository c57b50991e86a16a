"""The HTTP face of a worker: `POST /v1/events`, `GET /metrics`, `GET /healthz`.

Served by uvicorn inside the worker's event loop, so one process answers under one base URL.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streams.ingest import Ingest, IngestBusy, IngestUnavailable
from streams.metrics import CONTENT_TYPE_LATEST, PipelineMetrics

__all__ = ["http_app", "ingest_route", "health_route", "HttpServer", "MAX_BODY_BYTES",
           "IngestGuard"]

MAX_BODY_BYTES = 16 * 1024 * 1024

# Who may post events: given the Authorization header, None to admit the caller, or the
# (status, reason) of the refusal.
IngestGuard = Callable[[str | None], Awaitable[tuple[int, str] | None]]


def ingest_route(ingest: Ingest, guard: IngestGuard | None) -> Route:
    """`POST /v1/events`: 202 with what was accepted and why the rest was not; 400 when the
    body holds no event at all; 401/403 without an ingest token (unless `guard` is None: an
    open ingest); 413 past the size limit; 503 when what it needs is down."""

    async def post_events(request: Request) -> Response:
        refused = await guard(request.headers.get("authorization")) if guard else None
        if refused is not None:
            status, reason = refused
            return JSONResponse({"error": reason, "code": "unauthorized" if status == 401
                                 else "forbidden"}, status,
                                headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
        # Read to the end even past the limit (keeping nothing of the excess): a client still
        # sending would otherwise see its connection reset instead of the 413.
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size <= MAX_BODY_BYTES:
                chunks.append(chunk)
        if size > MAX_BODY_BYTES:
            return JSONResponse({"error": f"body larger than {MAX_BODY_BYTES} bytes",
                                 "code": "too_large"}, 413)
        body = b"".join(chunks)
        try:
            receipt = await ingest.submit(body, "http",
                                          wait=request.query_params.get("wait") == "1")
        except IngestUnavailable as error:
            return JSONResponse({"error": str(error), "code": "unavailable"}, 503,
                                headers={"Retry-After": "5"})
        except IngestBusy as error:
            return JSONResponse({"error": str(error), "code": "busy"}, 429,
                                headers={"Retry-After": "1"})
        if not receipt.accepted and receipt.rejected:
            return JSONResponse(receipt.as_dict(), 400)
        return JSONResponse(receipt.as_dict(), 202)

    return Route("/v1/events", post_events, methods=["POST"])


def health_route(health: Callable[[], dict]) -> Route:
    """`GET /healthz`: 200 with the service's status when it can do its job, 503 otherwise."""

    async def get_health(_: Request) -> Response:
        status = health()
        return JSONResponse(status, 200 if status["status"] == "ok" else 503)

    return Route("/healthz", get_health, methods=["GET"])


def http_app(ingest: Ingest, guard: IngestGuard | None, metrics: PipelineMetrics,
             health: Callable[[], dict]) -> Starlette:
    """The worker's own HTTP face, when it runs without the center."""

    async def get_metrics(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[
        ingest_route(ingest, guard),
        Route("/metrics", get_metrics, methods=["GET"]),
        health_route(health),
    ])


class HttpServer:
    """uvicorn without its own signal handling: the worker owns the process's signals."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                     lifespan="off", access_log=False)
        self.server = uvicorn.Server(self.config)
        self._main: asyncio.Task | None = None

    async def start(self) -> None:
        self.config.load()
        self.server.lifespan = self.config.lifespan_class(self.config)
        await self.server.startup()
        if not self.server.started:
            raise OSError(f"cannot listen on {self.config.host}:{self.config.port}")
        self._main = asyncio.ensure_future(self.server.main_loop())

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._main is not None:
            await self._main
        if self.server.started:
            await self.server.shutdown()
