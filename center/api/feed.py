"""`/v1/stream`: the live feed as server-sent events."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import StreamingResponse

from center.api.deps import Center, get_center, require
from center.auth import Principal

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["feed"])


@router.get("/stream", summary="Live feed of alert changes and chain events (text/event-stream)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(center: Annotated[Center, Depends(get_center)],
                 principal: Annotated[Principal, Depends(require("read"))],
                 last_event_id: Annotated[str | None, Header(
                     description="the id of the last message seen: what came after is sent "
                                 "first, or a `reset` event if it is no longer kept")] = None,
                 ) -> StreamingResponse:
    return StreamingResponse(center.feed.stream(last_event_id, principal.scope),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
