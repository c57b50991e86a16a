"""`/v1/alerts`: the list with filters, one alert's detail, chain actions and feedback."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from center.api.deps import (
    YEARS_PATTERN,
    Center,
    Json,
    Text,
    authenticated,
    epoch_ms,
    get_center,
    kept,
    require,
)
from center.auth import Principal
from center.errors import NotFound
from center.ledger import AlertFilter
from center.ledger.queries import CURSOR_OR_EMPTY
from engine.chain import ACTIONS, ChainError, State
from engine.privacy import mask_contact, mask_text

__all__ = ["router"]

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

Severity = Literal["blue", "yellow", "orange", "red"]


class Action(BaseModel):
    """One chain step. `dispatch` needs `department`, `resolve` a `note` (the disposal done),
    `reply` a `message` (the answer to residents), `assign` a `handler`, `comment` a `text`."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["acknowledge", "dispatch", "resolve", "reply", "close", "false_positive",
                    "assign", "comment"]
    department: Text | None = Field(None, max_length=200)
    handler: Text | None = Field(None, max_length=200)
    note: Text | None = Field(None, max_length=4000)
    message: Text | None = Field(None, max_length=4000)
    text: Text | None = Field(None, max_length=4000)


class Feedback(BaseModel):
    """Staff verdict, resident satisfaction (1–5) or a corrected category; at least one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["verdict"]}, {"required": ["satisfaction"]},
        {"required": ["corrected_category"]}]})
    verdict: Literal["true_positive", "false_positive"] = None  # type: ignore[assignment]
    satisfaction: int = Field(None, ge=1, le=5)
    corrected_category: Text = Field(None, min_length=1, max_length=100)
    comment: Text = Field(None, max_length=4000)


async def alert_filter(     # async: no I/O, and no thread to wait for
    principal: Annotated[Principal, Depends(authenticated)],
    severity: Severity | None = None,
    condition: Literal["firing", "resolved"] | None = None,
    state: State | None = None,
    open: Annotated[bool | None, Query(
        description="true: the chain has not ended (neither closed nor a false positive)")
    ] = None,
    category: str | None = None,
    rule: str | None = None,
    department: str | None = None,
    district: str | None = None,
    street: str | None = None,
    community: str | None = None,
    grid: str | None = None,
    building: str | None = None,
    incident: str | None = None,
    since: Annotated[datetime | None, Query(description="episode started at or after",
                                            json_schema_extra={"pattern": YEARS_PATTERN})] = None,
    until: Annotated[datetime | None, Query(description="episode started before",
                                            json_schema_extra={"pattern": YEARS_PATTERN})] = None,
) -> AlertFilter:
    """The filter of the list, the counts, the area tree and the exports alike: within the
    area of a scoped token."""
    return AlertFilter(severity=severity, condition=condition,
                       state=state.value if state else None, open=open, category=category,
                       rule=rule, department=department, district=district, street=street,
                       community=community, grid=grid, building=building, incident=incident,
                       since=epoch_ms(since, "since"), until=epoch_ms(until, "until"),
                       scope=principal.scope)


Filter = Annotated[AlertFilter, Depends(alert_filter)]


@router.get("", summary="List alerts, newest first (or red first: order=severity)")
async def list_alerts(
    request: Request,
    center: Annotated[Center, Depends(get_center)],
    _: Annotated[Principal, Depends(require("read"))],
    where: Filter,
    order: Annotated[Literal["opened", "severity"], Query(
        description="opened: newest first; severity: red first, newest first within a colour"
    )] = "opened",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page",
                                        pattern=CURSOR_OR_EMPTY)] = None,
) -> Response:
    def answer() -> dict:
        page = center.ledger.alerts(where, limit=limit, cursor=cursor, order=order)
        return {"items": page.items, "next_cursor": page.next_cursor}
    return await kept(center, request, answer, where.scope)


@router.get("/counts", summary="How many alerts the filter selects, by colour and chain state")
async def counts(request: Request, center: Annotated[Center, Depends(get_center)],
                 _: Annotated[Principal, Depends(require("read"))], where: Filter) -> Response:
    return await kept(center, request, lambda: center.ledger.counts(where), where.scope)


@router.get("/{alert_id}", summary="One alert: evidence, incident, department, SLA, timeline")
def get_alert(alert_id: str, center: Annotated[Center, Depends(get_center)],
              principal: Annotated[Principal, Depends(require("read"))]) -> Json:
    return Json(_shown(visible(center, alert_id, principal, contacts=True), principal))


@router.post("/{alert_id}/actions", summary="Take a chain step",
             responses={409: {"description": "the alert's state does not allow the action"}})
def act(alert_id: str, body: Action, center: Annotated[Center, Depends(get_center)],
        principal: Annotated[Principal, Depends(require("act"))]) -> Json:
    fields = body.model_dump(exclude={"action"}, exclude_none=True)
    _in_scope(center, alert_id, principal)
    try:
        alert = center.ledger.act(alert_id, body.action, fields, actor=principal.name)
    except ChainError:
        center.metrics.refusals.labels(body.action).inc()
        raise
    center.metrics.actions.labels(body.action).inc()
    return Json(_shown(alert, principal))


@router.post("/{alert_id}/feedback", summary="Record feedback on an alert")
def feedback(alert_id: str, body: Feedback, center: Annotated[Center, Depends(get_center)],
             principal: Annotated[Principal, Depends(require("act"))]) -> Json:
    _in_scope(center, alert_id, principal)
    alert = center.ledger.feedback(alert_id, actor=principal.name, **body.model_dump())
    center.metrics.feedback.labels(body.verdict or "none").inc()
    return Json(_shown(alert, principal))


def visible(center: Center, alert_id: str, principal: Principal, *,
            contacts: bool = False) -> dict[str, Any]:
    """The alert, if it is in the caller's area; NotFound otherwise, as if it did not exist
    (an office learns nothing of another's alerts, not even that they are there)."""
    alert = center.ledger.alert(alert_id, contacts=contacts)
    if not principal.sees(alert["location"]):
        raise NotFound(f"no alert {alert_id!r}")
    return alert


def _in_scope(center: Center, alert_id: str, principal: Principal) -> None:
    """NotFound for an alert outside a scoped token's area (a city-wide token reads nothing
    more before it acts)."""
    if principal.scope is not None:
        visible(center, alert_id, principal)


def _shown(alert: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The alert as the caller's role may see it: reporters and texts in full for those who
    answer residents, masked for everyone else; with the actions the caller may take now."""
    shown = {**alert, "actions": actions_for(State(alert["state"]), principal)}
    if not principal.may("contacts"):
        shown["evidence"] = [_masked(item) for item in alert["evidence"]]
    return shown


def actions_for(state: State, principal: Principal) -> list[str]:
    """What the caller may do to an alert in `state`: the chain actions the state allows,
    feedback and silence, as the role permits.

    >>> actions_for(State.open, Principal("tok-1", "ops", "operator"))
    ['acknowledge', 'false_positive', 'assign', 'comment', 'feedback', 'silence']
    >>> actions_for(State.open, Principal("tok-2", "wall", "viewer"))
    []
    """
    actions = []
    if principal.may("act"):
        actions += [name for name, action in ACTIONS.items() if state in action.allowed_from]
        actions.append("feedback")
    if principal.may("silence"):
        actions.append("silence")
    return actions


def _masked(item: dict[str, Any]) -> dict[str, Any]:
    masked = dict(item)
    if isinstance(item.get("text"), str):
        masked["text"] = mask_text(item["text"])
    if item.get("reporter"):
        masked["reporter"] = mask_contact(item["reporter"])
    return masked
