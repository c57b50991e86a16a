"""What a board needs beside the alerts: who is signed in, the duty list's departments, the
area tree, and the rule pack with each rule's record."""
from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Request, Response

from center.api.alerts import Filter
from center.api.deps import Center, Json, get_center, kept, require
from center.auth import PERMISSIONS, Principal
from center.errors import NotFound
from engine.events import format_timestamp

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["board"])


@router.get("/me", summary="The caller: token, name, role, what it permits, its area; the city's "
                         "time zone")
def me(center: Annotated[Center, Depends(get_center)],
       principal: Annotated[Principal, Depends(require("read"))]) -> Json:
    return Json({"token_id": principal.token_id, "name": principal.name,
                 "role": principal.role,
                 "permissions": sorted(name for name in PERMISSIONS if principal.may(name)),
                 "expires_at": format_timestamp(principal.expires_at)
                 if principal.expires_at is not None else None,
                 "scope": dict([principal.scope]) if principal.scope else None,
                 "timezone": center.timezone})


@router.get("/duty", summary="The duty list: departments to dispatch to, who is on duty now, "
                           "SLA per colour")
def duty(center: Annotated[Center, Depends(get_center)],
         _: Annotated[Principal, Depends(require("read"))]) -> Json:
    duty_list = center.ledger.duty
    departments = dict.fromkeys(name for route in duty_list.routes
                                for name in (route.department, route.escalate_to) if name)
    departments.update(dict.fromkeys(duty_list.rosters))
    now = center.ledger.clock()
    return Json({"departments": list(departments),
                 "on_duty": {name: list(duty_list.on_duty(name, now))
                             for name in duty_list.rosters},
                 "sla": duty_list.sla})


@router.get("/areas", summary="The area tree (district › street › community › grid) of the "
                              "alerts the filter selects, with counts and worst colours")
async def areas(request: Request, center: Annotated[Center, Depends(get_center)],
                _: Annotated[Principal, Depends(require("read"))], where: Filter) -> Response:
    return await kept(center, request, lambda: center.ledger.areas(where), where.scope)


@router.get("/rules", summary="The rule pack in force: each rule's alerts and precision, what is "
                              "quarantined, which pushes were refused",
            responses={404: {"description": "no worker runs beside this center"}})
def rules(center: Annotated[Center, Depends(get_center)],
          _: Annotated[Principal, Depends(require("read"))]) -> Json:
    if center.rules is None:
        raise NotFound("no worker runs in this process: the rule view is served by `ewe run` "
                       "or `ewe worker --center`")
    status = msgspec.to_builtins(center.rules())
    records = center.ledger.rule_records()
    quiet = {"alerts": 0, "firing": 0, "open": 0, "true_positive": 0, "false_positive": 0,
             "precision": None, "last_opened_at": None}
    for rule in status["rules"]:
        record = records.pop(rule["id"], quiet)
        rule["record"] = {**record, "last_opened_at": format_timestamp(record["last_opened_at"])
                          if record["last_opened_at"] is not None else None}
    for held in status["quarantined"]:
        held["at"] = format_timestamp(held["at"]) if held["at"] is not None else None
    for refusal in status["refused"]:
        refusal["at"] = format_timestamp(refusal["at"])
    status["retired"] = sorted(records)       # rules with alerts in the ledger, not in the pack
    return Json(status)
