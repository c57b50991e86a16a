"""`/v1/incidents`: alerts grouped by category and building within the duty list's window."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from center.api.deps import Center, Json, get_center, require
from center.auth import Principal
from center.ledger import IncidentFilter
from center.ledger.queries import CURSOR_OR_EMPTY

__all__ = ["router"]

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


@router.get("", summary="List incidents, newest first")
def list_incidents(center: Annotated[Center, Depends(get_center)],
                   principal: Annotated[Principal, Depends(require("read"))],
                   category: str | None = None, building: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: Annotated[str | None, Query(
                       description="`next_cursor` of the previous page",
                       pattern=CURSOR_OR_EMPTY)] = None) -> Json:
    page = center.ledger.incidents(IncidentFilter(category=category, building=building,
                                                  scope=principal.scope),
                                   limit=limit, cursor=cursor)
    return Json({"items": page.items, "next_cursor": page.next_cursor})


@router.get("/{incident_id}", summary="One incident with its alerts")
def get_incident(incident_id: str, center: Annotated[Center, Depends(get_center)],
                 principal: Annotated[Principal, Depends(require("read"))]) -> Json:
    return Json(center.ledger.incident(incident_id, scope=principal.scope))
