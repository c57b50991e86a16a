"""`/v1/tokens`: admins create API tokens for people and systems, list and revoke them."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from center.api.deps import Center, Json, Text, get_center, require
from center.auth import (
    SCOPE_LEVELS,
    Principal,
    check_scope,
    create_token,
    list_tokens,
    revoke_token,
    token_id,
)
from center.errors import NotFound
from engine.durations import parse_duration
from engine.events import format_timestamp

__all__ = ["router"]

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


def _a_duration(text: str) -> str:
    if parse_duration(text) <= 0:
        raise ValueError("a token must be valid for some time")
    return text


# 1..8784 hours, 1..366 days or 1..52 weeks: exactly what a token's lifetime may be.
EXPIRY_PATTERN = (r"^(?:(?:[1-9]\d{0,2}|[1-7]\d{3}|8[0-6]\d\d|87[0-7]\d|878[0-4])h"
                  r"|(?:[1-9]\d?|[12]\d\d|3[0-5]\d|36[0-6])d|(?:[1-9]|[1-4]\d|5[0-2])w)$")


class NewToken(BaseModel):
    # A scope is for the roles that work alerts (`center.auth.check_scope`), as the schema says.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"not": {"required": ["scope"]}},
        {"properties": {"role": {"enum": ["viewer", "operator", "rule_author"]}}}]})
    role: Literal["viewer", "operator", "rule_author", "admin", "ingest"]
    name: Text = Field(min_length=1, max_length=200, description="who or what uses it")
    expires_in: Annotated[str, AfterValidator(_a_duration)] = Field(
        None, pattern=EXPIRY_PATTERN, description="valid for this long, in hours, days or "
                                                  "weeks, at most a year (e.g. 12h, 30d, 8w); "
                                                  "default: until revoked")
    scope: dict[Literal[SCOPE_LEVELS], Annotated[Text, Field(min_length=1, max_length=256)]] = (
        Field(None, min_length=1, max_length=1, description=(
            "one area, e.g. {\"district\": \"渝中区\"}: the token sees and acts on that "
            "area's alerts only (viewer, operator and rule_author tokens); default: the city")))

    @model_validator(mode="after")
    def scoped_role(self) -> NewToken:
        if self.scope:
            check_scope(self.role, next(iter(self.scope.items())))
        return self


@router.post("", status_code=201, summary="Create a token; its text is shown only here")
def new_token(body: NewToken, center: Annotated[Center, Depends(get_center)],
              _: Annotated[Principal, Depends(require("tokens"))]) -> Json:
    now = center.ledger.clock()
    expires_at = now + parse_duration(body.expires_in) if body.expires_in else None
    scope = next(iter(body.scope.items())) if body.scope else None
    token = create_token(center.ledger.store, role=body.role, name=body.name, now=now,
                         expires_at=expires_at, scope=scope)
    return Json({"id": token_id(token), "token": token, "role": body.role, "name": body.name,
                 "expires_at": format_timestamp(expires_at) if expires_at else None,
                 "scope": body.scope}, status_code=201)


@router.get("", summary="List tokens: id, holder, role, area, created and revoked (never the "
                        "text)")
def tokens(center: Annotated[Center, Depends(get_center)],
           _: Annotated[Principal, Depends(require("tokens"))]) -> Json:
    return Json([{**row, **{moment: format_timestamp(row[moment])
                            for moment in ("created_at", "expires_at", "revoked_at")
                            if row[moment] is not None}}
                 for row in list_tokens(center.ledger.store)])


@router.delete("/{identifier}", status_code=204,
               summary="Revoke a token: it is refused from now on")
def revoke(identifier: str, center: Annotated[Center, Depends(get_center)],
           _: Annotated[Principal, Depends(require("tokens"))]) -> Response:
    if not revoke_token(center.ledger.store, identifier, now=center.ledger.clock()):
        raise NotFound(f"no token {identifier!r}")
    center.tokens.forget()
    return Response(status_code=204)
