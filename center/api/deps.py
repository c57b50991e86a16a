"""What every endpoint shares: the center it serves and the caller's checked token."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from center.auth import PERMISSIONS, Principal, authenticate
from center.errors import Forbidden, Unauthorized
from center.feed import Feed
from center.ledger import BadRequest, Ledger
from center.metrics import CenterMetrics

__all__ = ["Center", "get_center", "require", "epoch_ms"]


@dataclass
class Center:
    ledger: Ledger
    metrics: CenterMetrics = field(default_factory=CenterMetrics)
    feed: Feed = field(default_factory=Feed)

    def __post_init__(self) -> None:
        self.ledger.listeners.append(self.feed.publish)


def get_center(request: Request) -> Center:
    return request.app.state.center


_bearer = HTTPBearer(auto_error=False, description="An API token: `ewe token create`.")


def require(permission: str) -> Callable[..., Principal]:
    """A dependency that admits callers whose role has `permission`."""
    roles = ", ".join(sorted(PERMISSIONS[permission]))

    def check(center: Annotated[Center, Depends(get_center)],
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
              ) -> Principal:
        if credentials is None:
            raise Unauthorized("missing token: send `Authorization: Bearer <token>`")
        principal = authenticate(center.ledger.store, credentials.credentials)
        if principal is None:
            raise Unauthorized("unknown token")
        if not principal.may(permission):
            raise Forbidden(f"role {principal.role} may not {permission.replace('_', ' ')}; "
                            f"roles allowed: {roles}")
        return principal

    return check


def epoch_ms(moment: datetime | None, name: str) -> int | None:
    """An API instant as milliseconds; a time without a zone is refused, not guessed."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise BadRequest(f"{name} needs a time zone, e.g. 2026-07-01T08:00:00+08:00")
    return int(moment.timestamp() * 1000)
