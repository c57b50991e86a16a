"""`/open311/v2/`: Open311 GeoReport v2 in JSON, errors in the standard's shape
(`[{"code": 400, "description": "..."}]`). Described by the standard, not by `/openapi.json`."""
from __future__ import annotations

import asyncio
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from center.api.deps import Center, get_center, nul_in_url
from center.auth import TokenRefused
from center.open311 import Open311Error, definition, new_request, request_view
from engine.events import EventError
from engine.timestamps import from_datetime

__all__ = ["router"]

router = APIRouter(prefix="/open311/v2", include_in_schema=False)

_MAX_FORM_BYTES = 64 * 1024
_DEFAULT_SPAN_MS = 90 * 86_400_000      # the standard's default window
_MAX_RESULTS = 1000


def georeport(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Response]]:
    """Answer JSON in the standard's shapes, a refusal as its error list; only `.json`."""
    async def answer(request: Request, center: Annotated[Center, Depends(get_center)]
                     ) -> Response:
        try:
            if nul_in_url(request):
                raise Open311Error(400, "NUL characters are not allowed in the URL")
            if request.path_params["fmt"] != "json":
                raise Open311Error(400, f"format {request.path_params['fmt']!r} is not "
                                        "served: ask for .json")
            status, body = await handler(request, center)
        except Open311Error as error:
            return JSONResponse(error.body(), error.code)
        return JSONResponse(body, status)
    answer.__name__ = handler.__name__
    return answer


async def _services(request: Request, center: Center) -> tuple[int, Any]:
    return 200, center.services


async def _service(request: Request, center: Center) -> tuple[int, Any]:
    code = request.path_params["service_code"]
    if code not in {service["service_code"] for service in center.services}:
        raise Open311Error(404, f"no service {code!r}")
    return 200, definition(code)


async def _post(request: Request, center: Center) -> tuple[int, Any]:
    form = await _form(request)
    await _check_key(center, form.get("api_key", ""))
    ledger = center.ledger
    event, row = new_request(form, (service["service_code"] for service in center.services),
                             now=ledger.clock(), rid=f"o311-{secrets.token_hex(8)}")
    if center.submit is None:
        raise Open311Error(503, "this process takes no events: post to a worker's address")
    # Kept first, so that the alert its report raises finds it.
    await asyncio.to_thread(ledger.add_request, row)
    try:
        receipt = await center.submit(orjson.dumps(event), "open311")
    except Exception as error:     # the ingest's busy or unavailable, whatever its kind
        await asyncio.to_thread(ledger.drop_request, row["id"])
        raise Open311Error(503, f"the service cannot take reports now ({error}): send again "
                                "shortly") from None
    if not receipt.accepted:
        await asyncio.to_thread(ledger.drop_request, row["id"])
        raise Open311Error(400, "; ".join(item["reason"] for item in receipt.rejections))
    return 200, [{"service_request_id": row["id"], "service_notice": None, "account_id": None}]


async def _list(request: Request, center: Center) -> tuple[int, Any]:
    query = request.query_params
    ids = [part for part in query.get("service_request_id", "").split(",") if part]
    statuses = {part for part in query.get("status", "").split(",") if part}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status is open, closed or both")
    now = center.ledger.clock()
    end = _instant(query.get("end_date"), "end_date")
    start = _instant(query.get("start_date"), "start_date")
    if not ids:
        end = end if end is not None else now + 1
        start = start if start is not None else end - _DEFAULT_SPAN_MS
        if end - start > _DEFAULT_SPAN_MS:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    found = await asyncio.to_thread(
        center.ledger.service_requests, ids=ids or None,
        service_code=query.get("service_code") or None, since=start, until=end,
        limit=_MAX_RESULTS)
    names = _names(center)
    views = [_view(center, item, names) for item in found]
    return 200, [view for view in views if not statuses or view["status"] in statuses]


async def _feedback(request: Request, center: Center) -> tuple[int, Any]:
    """An extension of the standard: the resident's satisfaction (1 to 5) with the answer,
    recorded on every alert the request raised."""
    form = await _form(request)
    await _check_key(center, form.get("api_key", ""))
    score = form.get("satisfaction", "")
    if score not in ("1", "2", "3", "4", "5"):
        raise Open311Error(400, "satisfaction is 1 to 5")
    alerts = (await _found(center, request.path_params["request_id"]))["alerts"]
    if not alerts:
        raise Open311Error(409, "the request has not been taken up yet: nothing to rate")
    for alert in alerts:
        await asyncio.to_thread(center.ledger.feedback, alert["id"], actor="resident (open311)",
                                satisfaction=int(score))
    return await _one(request, center)


async def _one(request: Request, center: Center) -> tuple[int, Any]:
    found = await _found(center, request.path_params["request_id"])
    return 200, [_view(center, found, _names(center))]


async def _found(center: Center, request_id: str) -> dict:
    found = await asyncio.to_thread(center.ledger.service_requests, ids=[request_id])
    if not found:
        raise Open311Error(404, f"no service request {request_id!r}")
    return found[0]


for path, method, handler in (("/services.{fmt}", "GET", _services),
                              ("/services/{service_code}.{fmt}", "GET", _service),
                              ("/requests.{fmt}", "POST", _post),
                              ("/requests.{fmt}", "GET", _list),
                              ("/requests/{request_id}.{fmt}", "GET", _one),
                              ("/requests/{request_id}/feedback.{fmt}", "POST", _feedback)):
    router.add_api_route(path, georeport(handler), methods=[method])


def _names(center: Center) -> dict[str, str]:
    return {service["service_code"]: service["service_name"] for service in center.services}


def _view(center: Center, request: dict, names: dict[str, str]) -> dict:
    return request_view(request, names, center.ledger.duty, center.timezone)


async def _form(request: Request) -> dict[str, str]:
    """The request's fields: the query's, then the urlencoded body's (the standard's form)."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise Open311Error(413, f"a request is at most {_MAX_FORM_BYTES} bytes")
    fields = dict(request.query_params)
    try:
        fields.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True,
                                             strict_parsing=False))
    except UnicodeDecodeError:
        raise Open311Error(400, "the body is not UTF-8") from None
    if any("\x00" in key or "\x00" in value for key, value in fields.items()):
        raise Open311Error(400, "NUL characters are not allowed")
    return fields


async def _check_key(center: Center, api_key: str) -> None:
    if not api_key:
        raise Open311Error(403, "api_key is required: an ingest token (ewe token create "
                                "--role ingest)")
    try:
        principal = await center.tokens.authenticate(api_key)
    except TokenRefused as refused:
        raise Open311Error(403, f"invalid api_key: {refused}") from None
    if not principal.may("ingest"):
        raise Open311Error(403, f"api_key of role {principal.role} may not post requests: use "
                                "an ingest token")


def _instant(text: str | None, name: str) -> int | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return from_datetime(moment, name)
    except (ValueError, EventError) as error:
        raise Open311Error(400, f"{name}: {error}") from None
