"""`/v1/tokens`: admins create API tokens for people and systems."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from center.api.deps import Center, Text, get_center, require
from center.auth import Principal, create_token

__all__ = ["router"]

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["viewer", "operator", "rule_author", "admin"]
    name: Text = Field(min_length=1, max_length=200, description="who or what uses it")


@router.post("", status_code=201, summary="Create a token; its text is shown only here")
def new_token(body: NewToken, center: Annotated[Center, Depends(get_center)],
              _: Annotated[Principal, Depends(require("tokens"))]) -> dict[str, str]:
    token = create_token(center.ledger.store, role=body.role, name=body.name,
                         now=center.ledger.clock())
    return {"token": token, "role": body.role, "name": body.name}
