"""The center's ASGI application: the routers, `/metrics` and the error handlers.

`routes` and `exposition` let the composition root serve the worker's ingest, health and
metrics under the same base URL, so one `ewe run` answers everything on one port.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import Depends, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.routing import BaseRoute

from center.api import alerts, feed, incidents, silences, tokens
from center.api.deps import Center, no_nul_in_url
from center.api.handlers import install_handlers

__all__ = ["create_app"]


def create_app(center: Center, *, routes: Sequence[BaseRoute] = (),
               exposition: Sequence[Callable[[], bytes]] = ()) -> FastAPI:
    app = FastAPI(title="ewe operations center", version="1",
                  description="Alerts, incidents and the warning chain of an ewe deployment.",
                  dependencies=[Depends(no_nul_in_url)])
    app.state.center = center
    install_handlers(app)
    for router in (alerts.router, incidents.router, silences.router, feed.router, tokens.router):
        app.include_router(router)
    app.router.routes.extend(routes)

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics",
             response_class=Response)
    def metrics() -> Response:
        center.metrics.feed_subscribers.set(center.feed.subscribers)
        body = b"".join(source() for source in (*exposition, center.metrics.exposition))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
