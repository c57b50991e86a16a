"""What a center process shares: its ledger, metrics, live feed and the tokens it checked."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from center.auth import Principal, authenticate
from center.feed import Feed
from center.ledger import Ledger
from center.metrics import CenterMetrics
from center.store import Store

__all__ = ["Center", "TokenCache"]


@dataclass
class Center:
    ledger: Ledger
    metrics: CenterMetrics = field(default_factory=CenterMetrics)
    feed: Feed = field(default_factory=Feed)

    tokens: TokenCache = field(init=False)

    def __post_init__(self) -> None:
        self.ledger.store.listen(self.feed.publish)
        self.tokens = TokenCache(self.ledger.store)


class TokenCache:
    """Checked tokens for a few seconds, so a busy board does not ask the database each time.
    Unknown tokens are not cached: one created a moment ago works at once."""

    def __init__(self, store: Store, *, ttl_s: float = 10.0) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._known: dict[str, tuple[float, Principal]] = {}

    def forget(self) -> None:
        """Drop what was checked (a token was revoked): other processes notice within ttl_s."""
        self._known.clear()

    async def authenticate(self, token: str) -> Principal | None:
        now = time.monotonic()
        cached = self._known.get(token)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        principal = await asyncio.to_thread(authenticate, self.store, token)
        if principal is not None:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[token] = (now, principal)
        return principal
