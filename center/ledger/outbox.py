"""The ledger's way out: chain events not yet on `ewe.alert-events` (an outbox: marked
published only once the broker has them), and committed changes for the live feed."""
from __future__ import annotations

from collections.abc import Sequence

import orjson

from center import notices
from center.ledger.rows import summary
from engine.events import format_timestamp
from engine.messages import ChainEvent

__all__ = ["Outbox"]


class Outbox:
    """(A part of `Ledger`.)"""

    def unpublished(self, limit: int = 500) -> list[ChainEvent]:
        """Chain events not yet on `ewe.alert-events`, oldest first, with their alert's rule."""
        with self.store.transaction() as tx:
            rows = tx.execute(
                "SELECT e.seq, e.alert_id, e.at, e.actor, e.kind, e.data, a.rule, a.alert_key "
                "FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
                "WHERE e.published = 0 ORDER BY e.seq LIMIT ?", (limit,)).fetchall()
        return [ChainEvent(seq=row["seq"], alert_id=row["alert_id"], rule=row["rule"],
                           key=row["alert_key"], kind=row["kind"], actor=row["actor"],
                           at=format_timestamp(row["at"]), data=orjson.loads(row["data"]))
                for row in rows]

    def mark_published(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        with self.store.transaction() as tx:
            tx.execute(f"UPDATE alert_events SET published = 1 WHERE seq IN "
                       f"({', '.join('?' for _ in seqs)})", list(seqs))

    def firing_notices(self, limit: int = 50_000) -> list[dict]:
        """A firing notice for every alert whose firing was notified and not yet its end (what
        an Alertmanager is told again and again while it lasts)."""
        with self.store.transaction() as tx:
            rows = tx.execute("SELECT * FROM alerts WHERE notified = 'firing' ORDER BY id "
                              "LIMIT ?", (limit,)).fetchall()
        return [notices.notice("firing", summary(row), orjson.loads(row["body"]),
                               receiver=row["department"]) for row in rows]

    def _publish(self, feed: list[dict]) -> None:
        """Changes for the live feed, once committed: through the store, which reaches the
        feeds of every replica; and at once to this process's `on_change` hooks."""
        if feed:
            self._changed()
            if self.store.listened:
                self.store.notify([orjson.dumps(item) for item in feed])

    def _changed(self) -> None:
        for hook in self.on_change:
            hook()
