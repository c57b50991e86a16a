"""The center's ASGI application: the board at `/`, the routers, `/metrics`, the API's own
documentation at `/docs` (every asset served from here: an operations network may have no
way out) and the error handlers.

`routes` and `exposition` let the composition root serve the worker's ingest, health and
metrics under the same base URL, so one `ewe run` answers everything on one port.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.routing import BaseRoute

from center.api import alerts, feed, incidents, open311, overview, reports, silences, tokens
from center.api.deps import Center, no_nul_in_url
from center.api.handlers import install_handlers
from center.openapi import complete

__all__ = ["create_app"]

BOARD = Path(__file__).parent / "board"
# The board runs only its own files: no inline script, nothing from elsewhere.
_BOARD_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; media-src 'none'; object-src 'none'; base-uri 'none'; "
                 "frame-ancestors 'none'; form-action 'self'")


def create_app(center: Center, *, routes: Sequence[BaseRoute] = (),
               exposition: Sequence[Callable[[], bytes]] = ()) -> FastAPI:
    app = FastAPIOffline(title="ewe operations center", version="1",
                         description="Alerts, incidents and the warning chain of an ewe "
                                     "deployment.",
                         static_url="/docs/assets", redoc_url=None,
                         dependencies=[Depends(no_nul_in_url)])
    app.state.center = center
    install_handlers(app)
    # Reports before alerts: `/v1/alerts/export` is not the alert of id "export".
    for router in (reports.router, alerts.router, incidents.router, silences.router, feed.router,
                   tokens.router, overview.router, open311.router):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def board() -> FileResponse:
        return FileResponse(BOARD / "index.html", headers={
            "Content-Security-Policy": _BOARD_POLICY, "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    app.mount("/board", StaticFiles(directory=BOARD), name="board")
    app.router.routes.extend(routes)
    ingest = any(getattr(route, "path", None) == "/v1/events" for route in routes)

    def contract() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes), ingest=ingest)
        return app.openapi_schema

    app.openapi = contract  # type: ignore[method-assign]

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics",
             response_class=Response)
    def metrics() -> Response:
        center.metrics.feed_subscribers.set(center.feed.subscribers)
        center.metrics.alerts.clear()
        for severity, state, count in center.ledger.tally():
            center.metrics.alerts.labels(severity, state).set(count)
        body = b"".join(source() for source in (*exposition, center.metrics.exposition))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
