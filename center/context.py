"""What a center process shares: its ledger, metrics, live feed, the tokens it checked and the
board's answers it keeps."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from center.answers import Answers
from center.auth import Principal, authenticate
from center.feed import Feed
from center.ledger import Ledger
from center.metrics import CenterMetrics
from center.store import Store
from engine.messages import PackStatus

__all__ = ["Center", "TokenCache"]


@dataclass
class Center:
    ledger: Ledger
    metrics: CenterMetrics = field(default_factory=CenterMetrics)
    feed: Feed = field(default_factory=Feed)
    timezone: str = "Asia/Shanghai"       # the city's: how the board shows times
    rules: Callable[[], PackStatus] | None = None   # the worker's pack, when one runs beside
    # Open311: the services (report categories) and the ingest's `submit(body, source)`, when
    # the process takes events.
    services: list[dict] = field(default_factory=list)
    submit: Callable[[bytes, str], Awaitable[Any]] | None = None

    tokens: TokenCache = field(init=False)
    answers: Answers = field(default_factory=Answers)

    def __post_init__(self) -> None:
        self.ledger.store.listen(self.feed.publish)
        # Another replica's changes arrive as notifications; this process's at once.
        self.ledger.store.listen(self.answers.changed)
        self.ledger.on_change.append(self.answers.changed)
        self.tokens = TokenCache(self.ledger.store, clock=self.ledger.clock)


class TokenCache:
    """Checked tokens for a few seconds, so a busy board does not ask the database each time.
    Refused tokens are not cached: one created a moment ago works at once. A cached token
    still expires on time."""

    def __init__(self, store: Store, *, clock: Callable[[], int], ttl_s: float = 10.0) -> None:
        self.store = store
        self.clock = clock
        self.ttl_s = ttl_s
        self._known: dict[str, tuple[float, Principal]] = {}

    def forget(self) -> None:
        """Drop what was checked (a token was revoked): other processes notice within ttl_s."""
        self._known.clear()

    async def authenticate(self, token: str) -> Principal:
        """The token's holder, or `TokenRefused` with the reason."""
        checked_at = time.monotonic()
        cached = self._known.get(token)
        if cached is not None and checked_at - cached[0] < self.ttl_s:
            principal = cached[1]
            if (refusal := principal.refusal(self.clock())) is not None:
                raise refusal
            return principal
        principal = await asyncio.to_thread(authenticate, self.store, token, now=self.clock())
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[token] = (checked_at, principal)
        return principal
