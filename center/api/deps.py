"""What every endpoint shares: the center it serves and the caller's checked token."""
from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, Field

from center.auth import PERMISSIONS, Principal, TokenRefused
from center.context import Center
from center.errors import BadRequest, Forbidden, Unauthorized
from engine.events import EventError
from engine.roles import ACTIVITIES
from engine.timestamps import from_datetime

__all__ = ["Center", "Json", "Text", "Instant", "YEARS_PATTERN", "get_center", "authenticated",
           "require", "epoch_ms", "no_nul_in_url", "nul_in_url", "kept"]


class Json(Response):
    """A JSON answer encoded by orjson as it is: the ledger's views are plain dicts already,
    and FastAPI's generic encoder would walk every one of them again."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def kept(center: Center, request: Request, answer: Callable[[], Any],
               scope: tuple[str, str] | None = None) -> Response:
    """`answer()` (a read of the ledger, run in a worker thread) as JSON; or, asked again
    before the ledger changed, the same bytes without a thread (the boards' reads: the same few
    questions, over and over). An answer for an area is kept apart from the city's."""
    query = urllib.parse.urlencode(sorted(request.query_params.multi_items()))
    key = f"{request.url.path}?{query}#{scope}"
    answers = center.answers
    body = answers.get(key)
    if body is None:
        generation = answers.generation    # before the query: a change meanwhile wins
        # Boards asking the same question at once (after a change) wait for one query.
        pending = answers.pending.get((key, generation))
        if pending is None:
            pending = answers.pending[key, generation] = asyncio.ensure_future(
                run_in_threadpool(lambda: orjson.dumps(answer())))
            pending.add_done_callback(lambda _: answers.pending.pop((key, generation), None))
        body = await asyncio.shield(pending)
        answers.keep(key, body, generation)
    return Response(body, media_type="application/json")


async def get_center(request: Request) -> Center:
    return request.app.state.center


_bearer = HTTPBearer(auto_error=False, description="An API token: `ewe token create`.")


async def authenticated(center: Annotated[Center, Depends(get_center)],
                        credentials: Annotated[HTTPAuthorizationCredentials | None,
                                               Depends(_bearer)]) -> Principal:
    """The caller (once per request, however many dependencies ask)."""
    if credentials is None:
        raise Unauthorized("missing token: send `Authorization: Bearer <token>`")
    try:
        return await center.tokens.authenticate(credentials.credentials)
    except TokenRefused as refused:
        raise Unauthorized(str(refused)) from None


def require(permission: str) -> Callable[..., Principal]:
    """A dependency that admits callers whose role has `permission`."""
    roles = ", ".join(sorted(PERMISSIONS[permission]))

    async def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if not principal.may(permission):
            raise Forbidden(f"role {principal.role} may not {ACTIVITIES[permission]}; "
                            f"roles allowed: {roles}")
        return principal

    return check


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    return text


# Text as the API takes it: PostgreSQL cannot store NUL characters, and no person types them.
Text = Annotated[str, AfterValidator(_no_nul)]

# Times ewe takes: with a zone, in the years 2000..2199 (`engine.timestamps`), as the schema says.
YEARS_PATTERN = r"^2[01]\d\d-"
Instant = Annotated[datetime, Field(json_schema_extra={"pattern": YEARS_PATTERN})]


def nul_in_url(request: Request) -> bool:
    return "\x00" in request.url.path or "\x00" in urllib.parse.unquote(
        request.scope.get("query_string", b"").decode("latin-1"))


async def no_nul_in_url(request: Request) -> None:
    """Refuse NUL characters in the path or the query (every endpoint; Open311's answer in
    the shape of its standard)."""
    if nul_in_url(request) and not request.url.path.startswith("/open311/"):
        raise BadRequest("NUL characters are not allowed in the URL")


def epoch_ms(moment: datetime | None, name: str) -> int | None:
    """An API instant as milliseconds; a time without a zone is refused, not guessed."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise BadRequest(f"{name} needs a time zone, e.g. 2026-07-01T08:00:00+08:00")
    try:
        return from_datetime(moment, name)
    except EventError as error:
        raise BadRequest(str(error)) from None
