"""`/v1/alerts/export` and `/v1/alerts/summary`: the monthly report, the ledger left intact."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from center.api.alerts import Filter
from center.api.deps import Center, Json, get_center, require
from center.auth import Principal
from center.exports import EXPORT_COLUMNS, csv_chunks

__all__ = ["router"]

router = APIRouter(prefix="/v1/alerts", tags=["reports"])

_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_COLUMNS = ", ".join(EXPORT_COLUMNS)


@router.get("/export", summary="The alerts the filter selects, oldest first, with their chain",
            response_class=StreamingResponse, responses={200: {
                "description": f"one row an alert; columns {_COLUMNS}; times in the city's zone",
                "content": {media: {"schema": {"type": "string"}} for media in _MEDIA.values()}}})
def export(center: Annotated[Center, Depends(get_center)],
           _: Annotated[Principal, Depends(require("read"))], where: Filter,
           format: Annotated[Literal["csv", "jsonl"], Query(
               description="csv: UTF-8 with a byte-order mark, for spreadsheet programs; "
                           "jsonl: one JSON object a line")] = "csv") -> StreamingResponse:
    batches = center.ledger.export(where, center.timezone)
    if format == "csv":
        body: Iterator[bytes] = csv_chunks(batches)
    else:
        body = (b"".join(orjson.dumps(row) + b"\n" for row in batch) for batch in batches)
    return StreamingResponse(body, media_type=_MEDIA[format], headers={
        "Content-Disposition": f'attachment; filename="ewe-alerts.{format}"'})


@router.get("/summary", summary="Per department and category: counts, times, SLA, satisfaction")
def summary(center: Annotated[Center, Depends(get_center)],
            _: Annotated[Principal, Depends(require("read"))], where: Filter) -> Json:
    return Json(center.ledger.summary(where, center.timezone))
