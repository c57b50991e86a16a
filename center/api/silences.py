"""`/v1/silences`: maintenance windows; silenced alerts are recorded but not notified."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator

from center.api.deps import Center, Instant, Json, Text, epoch_ms, get_center, require
from center.auth import Principal
from engine.matchers import check_path

__all__ = ["router"]

router = APIRouter(prefix="/v1/silences", tags=["silences"])


# The fields a matcher may name (engine.matchers.check_path).
MATCHER_PATH = (r"^(?:rule|severity|key|labels\.[^\x00]+"
                r"|location\.(?:district|street|community|grid|building))$")


class NewSilence(BaseModel):
    """Alerts whose fields equal every matcher are silenced from `starts_at` (default: now) until
    `ends_at`. Fields: rule, severity, key, labels.<name>, location.<level>."""

    model_config = ConfigDict(extra="forbid")
    # The schema names the fields by pattern; `known_fields` refuses others in plain words.
    matchers: dict[str, Text] = Field(min_length=1, json_schema_extra={
        "patternProperties": {MATCHER_PATH: {"type": "string"}}, "additionalProperties": False})
    starts_at: Instant | None = None
    ends_at: Instant
    reason: Text = Field(min_length=1, max_length=1000)

    @field_validator("matchers")
    @classmethod
    def known_fields(cls, matchers: dict[str, str]) -> dict[str, str]:
        for path in matchers:
            check_path(path)
        return matchers


@router.get("", summary="List silences, active, pending and expired")
def list_silences(center: Annotated[Center, Depends(get_center)],
                  principal: Annotated[Principal, Depends(require("read"))]) -> Json:
    return Json(center.ledger.silences(principal.scope))


@router.post("", status_code=201, summary="Create a silence")
def create_silence(body: NewSilence, center: Annotated[Center, Depends(get_center)],
                   principal: Annotated[Principal, Depends(require("silence"))]
                   ) -> Json:
    starts_at = epoch_ms(body.starts_at, "starts_at") or center.ledger.clock()
    silence = center.ledger.add_silence(matchers=body.matchers, starts_at=starts_at,
                                        ends_at=epoch_ms(body.ends_at, "ends_at"),
                                        author=principal.name, role=principal.role,
                                        reason=body.reason, scope=principal.scope)
    return Json(silence, status_code=201)


@router.delete("/{silence_id}", summary="End a silence now")
def expire_silence(silence_id: str, center: Annotated[Center, Depends(get_center)],
                   principal: Annotated[Principal, Depends(require("silence"))]) -> Json:
    return Json(center.ledger.expire_silence(silence_id, principal.scope))
